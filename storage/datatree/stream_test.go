package datatree

import (
	"bytes"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// A session's writes apply as a prefix of what its connection sent: once one is
// missing from the log (refused in a leader change), the later ones of the same
// stream are refused too, changing nothing; a new connection starts a new stream.
func TestStreamWritesApplyAsAPrefix(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(1))
	on := func(txn *Txn, stream, seq uint64) *Txn {
		txn.Stream, txn.StreamSeq = stream, seq
		return txn
	}
	mustApply(t, tr, on(createTxn("/a", "", zkproto.ModePersistent), 7, 1))
	// A write that fails validation took its place in the log: the next one follows it.
	if res := tr.Apply(on(createTxn("/a", "", zkproto.ModePersistent), 7, 2)); res.Err != zkproto.ErrNodeExists || res.OutOfOrder {
		t.Fatalf("failed create: %+v", res)
	}
	mustApply(t, tr, on(setDataTxn("/a", "x", -1), 7, 3))

	// Write 4 never reached the log: 5 is refused, and so is everything after it.
	for _, seq := range []uint64{5, 6} {
		before := snapBytes(t, tr)
		zxid := tr.LastZxid()
		res := tr.Apply(on(setDataTxn("/a", "late", -1), 7, seq))
		if !res.OutOfOrder || res.Err == zkproto.ErrOK || res.Zxid != zxid || tr.LastZxid() != zxid {
			t.Fatalf("write %d after a gap: %+v (zxid %d → %d)", seq, res, zxid, tr.LastZxid())
		}
		if !bytes.Equal(before, snapBytes(t, tr)) {
			t.Fatalf("write %d after a gap changed the tree", seq)
		}
	}
	// A stream's first write must be its first: a new connection whose first write
	// was lost is refused too.
	if res := tr.Apply(on(setDataTxn("/a", "y", -1), 8, 2)); !res.OutOfOrder {
		t.Fatalf("a new stream starting at 2: %+v", res)
	}
	mustApply(t, tr, on(setDataTxn("/a", "y", -1), 9, 1))
	mustApply(t, tr, on(setDataTxn("/a", "z", -1), 9, 2))
	// The old stream's late writes stay refused.
	if res := tr.Apply(on(setDataTxn("/a", "old", -1), 7, 4)); !res.OutOfOrder {
		t.Fatalf("a superseded stream's write: %+v", res)
	}
	// Server-internal txns carry no stream and are not checked.
	mustApply(t, tr, setDataTxn("/a", "internal", -1))

	// The stream position is replicated state: it survives a snapshot.
	restored, err := Restore(bytes.NewReader(snapBytes(t, tr)))
	if err != nil {
		t.Fatal(err)
	}
	if si, _ := restored.Session(1); si.Stream != 9 || si.StreamSeq != 2 {
		t.Fatalf("restored session stream %d/%d, want 9/2", si.Stream, si.StreamSeq)
	}
	mustApply(t, restored, on(setDataTxn("/a", "after", -1), 9, 3))
}
