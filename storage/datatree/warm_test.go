package datatree

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestRestoreWarm restores a tree spanning several arena chunks and record blocks
// with the warmer handing out the memory, and checks that it is the tree that was
// saved.
func TestRestoreWarm(t *testing.T) {
	defer func(n int64) { warmFrom = n }(warmFrom)
	warmFrom = 0
	tr := New()
	data := strings.Repeat("d", 1000)
	for i := range 40 {
		mustApply(t, tr, createTxn(fmt.Sprintf("/p%d", i), "", 0))
		for j := range 100 { // 4,000 nodes of 1 kB: 4 chunks, 4 record blocks
			mustApply(t, tr, createTxn(fmt.Sprintf("/p%d/n%d", i, j), data, 0))
		}
	}
	saved := snapBytes(t, tr)
	r, err := Restore(bytes.NewReader(saved))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.arena) < 4 || len(r.recs) < 4 {
		t.Fatalf("%d chunks and %d record blocks: the test does not span several", len(r.arena), len(r.recs))
	}
	if again := snapBytes(t, r); !bytes.Equal(saved, again) {
		t.Fatal("snapshot → restore (warmed) → snapshot differs")
	}
	sameReads(t, tr, r)
	// The restored tree takes writes like any other.
	mustApply(t, r, createTxn("/p0/after", data, 0))
	mustApply(t, r, deleteTxn("/p1/n5", -1))
}
