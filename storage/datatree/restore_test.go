package datatree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// pipelined runs fn with every restore decoding on a goroutine of its own.
func pipelined(t *testing.T, fn func()) {
	t.Helper()
	defer func(n int64) { pipelineFrom = n }(pipelineFrom)
	pipelineFrom = 0
	fn()
}

// TestRestorePipelined restores a tree of many batches with the decoder on its own
// goroutine — nodes of several ACLs, an ephemeral, a node too large for a batch's
// room — and checks it is the tree that was saved; damage found by the decoder or
// by the inserter in a later batch is an error, and leaves no goroutine behind.
func TestRestorePipelined(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(5))
	data := strings.Repeat("d", 300)
	ipACL := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "ip", ID: "10.0.0.0/8"}}}
	for i := range 20 {
		mustApply(t, tr, createTxn(fmt.Sprintf("/p%02d", i), "", 0))
		for j := range 500 { // 10,000 nodes: several batches by count and by bytes
			txn := createTxn(fmt.Sprintf("/p%02d/n%03d", i, j), data, 0)
			if j%7 == 0 {
				txn.Request.(*zkproto.CreateRequest).ACL = ipACL
			}
			mustApply(t, tr, txn)
		}
	}
	mustApply(t, tr, createTxn("/p05/big", strings.Repeat("b", 3*batchRoom), 0))
	eph := createTxn("/p07/eph", "e", zkproto.ModeEphemeral)
	eph.Session = 5
	mustApply(t, tr, eph)
	saved := snapBytes(t, tr)
	before := runtime.NumGoroutine()

	pipelined(t, func() {
		r, err := Restore(bytes.NewReader(saved))
		if err != nil {
			t.Fatal(err)
		}
		if again := snapBytes(t, r); !bytes.Equal(saved, again) {
			t.Fatal("snapshot → restore (pipelined) → snapshot differs")
		}
		sameReads(t, tr, r)

		// The decoder finds a truncation, several batches in.
		if _, err := Restore(bytes.NewReader(saved[:len(saved)*3/4])); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("truncated: %v", err)
		}
		// The inserter finds a wrong parent several batches in, while the decoder
		// is ahead (the CRC made right: only the tree can tell).
		b := bytes.Clone(saved)
		at := bytes.Index(b, []byte("/p15/n250")) + len("/p15/n250")
		binary.BigEndian.PutUint32(b[at:], 1) // the node after "/", /p00: not its parent
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		if _, err := Restore(bytes.NewReader(b)); !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), "the parent given is") {
			t.Errorf("wrong parent: %v", err)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the restores, %d before", runtime.NumGoroutine(), before)
		}
	}
}

// TestCorruptSnapshotPipelined: every damage TestCorruptSnapshot makes is found with
// the decoder on its own goroutine too.
func TestCorruptSnapshotPipelined(t *testing.T) {
	pipelined(t, func() { TestCorruptSnapshot(t); TestCorruptParentPlace(t) })
}
