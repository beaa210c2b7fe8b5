package datatree

import (
	"bytes"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

const testTime = 1_700_000_000_000

var (
	worldAll  = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	superAuth = []zkproto.Id{{Scheme: "super", ID: ""}}
)

func reqTxn(op zkproto.OpCode, r zkproto.Record) *Txn {
	return &Txn{Kind: TxnRequest, Session: 1, Time: testTime, Op: op, Request: r}
}

func createTxn(path string, data string, mode zkproto.CreateMode) *Txn {
	return reqTxn(zkproto.OpCreate2, &zkproto.CreateRequest{Path: path, Data: []byte(data), ACL: worldAll, Flags: mode})
}

func deleteTxn(path string, version int32) *Txn {
	return reqTxn(zkproto.OpDelete, &zkproto.DeleteRequest{Path: path, Version: version})
}

func setDataTxn(path, data string, version int32) *Txn {
	return reqTxn(zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: []byte(data), Version: version})
}

func sessionTxn(id zkproto.SessionID) *Txn {
	return &Txn{Kind: TxnCreateSession, Session: id, Timeout: 30000, Password: bytes.Repeat([]byte{byte(id)}, 16)}
}

// mustApply applies txn and fails the test unless it succeeds.
func mustApply(t testing.TB, tr *Tree, txn *Txn) Result {
	t.Helper()
	before := tr.LastZxid()
	res := tr.Apply(txn)
	if res.Err != zkproto.ErrOK {
		t.Fatalf("Apply(%v %+v): %v", txn.Op, txn.Request, res.Err)
	}
	if res.Zxid != before+1 || tr.LastZxid() != res.Zxid {
		t.Fatalf("zxid %d after %d (tree says %d)", res.Zxid, before, tr.LastZxid())
	}
	return res
}

// mustFail applies txn, expects code, and checks that nothing changed.
func mustFail(t testing.TB, tr *Tree, txn *Txn, code zkproto.ErrCode) Result {
	t.Helper()
	before := snapBytes(t, tr)
	zxid, digest := tr.LastZxid(), tr.Digest()
	res := tr.Apply(txn)
	if res.Err != code {
		t.Fatalf("Apply(%v %+v) = %v, want %v", txn.Op, txn.Request, res.Err, code)
	}
	if res.Zxid != zxid || tr.LastZxid() != zxid {
		t.Fatalf("failed txn moved zxid %d → %d/%d", zxid, res.Zxid, tr.LastZxid())
	}
	if len(res.Events) != 0 {
		t.Fatalf("failed txn has events %v", res.Events)
	}
	if tr.Digest() != digest {
		t.Fatalf("failed txn changed the digest %x → %x", digest, tr.Digest())
	}
	if after := snapBytes(t, tr); !bytes.Equal(before, after) {
		t.Fatalf("failed txn changed the tree")
	}
	return res
}

func snapBytes(t testing.TB, tr *Tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	snap := tr.Snapshot()
	defer snap.Release()
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func stat(t testing.TB, tr *Tree, path string) zkproto.Stat {
	t.Helper()
	st, ok := tr.Exists(path)
	if !ok {
		t.Fatalf("%s does not exist", path)
	}
	return st
}

func restore(t testing.TB, tr *Tree) *Tree {
	t.Helper()
	r, err := Restore(bytes.NewReader(snapBytes(t, tr)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// withoutACL is evs with the ACLs left out, for tests about types and paths.
func withoutACL(evs []Event) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = Event{Type: e.Type, Path: e.Path}
	}
	return out
}

// recomputeDigest sums the digest of every node anew (Restore takes a version-3
// snapshot's from the file).
func recomputeDigest(tr *Tree) uint64 {
	var d uint64
	for id := nodeID(1); id < tr.nextID; id++ {
		if tr.rec(id).flags&flagLive != 0 {
			n := tr.view(id)
			d += nodeDigest(tr.pathOf(id), &n)
		}
	}
	return d
}
