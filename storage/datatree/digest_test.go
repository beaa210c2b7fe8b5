package datatree

import (
	"bytes"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// TestDigestFollowsContent: equal histories give equal digests, any difference in a
// node's replicated content changes it, undoing a change restores it, and Restore
// rebuilds it.
func TestDigestFollowsContent(t *testing.T) {
	build := func() *Tree {
		tr := New()
		mustApply(t, tr, sessionTxn(7))
		mustApply(t, tr, createTxn("/a", "x", zkproto.ModePersistent))
		mustApply(t, tr, createTxn("/a/s-", "", zkproto.ModePersistentSequential))
		mustApply(t, tr, setDataTxn("/a", "y", 0))
		return tr
	}
	a, b := build(), build()
	if a.Digest() != b.Digest() || a.Digest() == New().Digest() {
		t.Fatalf("digests %x, %x (empty tree %x): equal histories must agree, and differ from an empty tree", a.Digest(), b.Digest(), New().Digest())
	}

	// One more sequential create (what a member that applied an extra entry has).
	base := a.Digest()
	mustApply(t, b, createTxn("/a/s-", "", zkproto.ModePersistentSequential))
	if b.Digest() == base {
		t.Fatal("an extra node left the digest unchanged")
	}
	mustApply(t, b, deleteTxn("/a/s-0000000001", -1))
	if b.Digest() == base {
		t.Fatal("the parent's child counter and pzxid are replicated: deleting the extra node must not restore the digest")
	}

	// Each replicated field counts: data, version and the ACL.
	for _, txn := range []*Txn{
		setDataTxn("/a", "z", -1),
		reqTxn(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: "/a", ACL: []zkproto.ACL{{Perms: zkproto.PermRead, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}, Version: -1}),
	} {
		c := build()
		before := c.Digest()
		mustApply(t, c, txn)
		if c.Digest() == before {
			t.Errorf("%v left the digest unchanged", txn.Op)
		}
	}

	// A multi that fails is rolled back, digest included (mustFail checks it).
	c := build()
	mustFail(t, c, reqTxn(zkproto.OpMulti, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
		{Header: zkproto.MultiHeader{Type: zkproto.OpCreate}, Request: &zkproto.CreateRequest{Path: "/m", ACL: worldAll}},
		{Header: zkproto.MultiHeader{Type: zkproto.OpSetData}, Request: &zkproto.SetDataRequest{Path: "/a", Data: []byte("q"), Version: -1}},
		{Header: zkproto.MultiHeader{Type: zkproto.OpDelete}, Request: &zkproto.DeleteRequest{Path: "/missing", Version: -1}},
	}}), zkproto.ErrNoNode)

	// The digest kept through the writes (and the failed multi's rollback) is the
	// one computed anew from the nodes; a restore carries it.
	if d := recomputeDigest(a); d != a.Digest() {
		t.Fatalf("maintained digest %x, recomputed %x", a.Digest(), d)
	}
	var buf bytes.Buffer
	if _, err := a.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest() != a.Digest() {
		t.Fatalf("restored digest %x, want %x", r.Digest(), a.Digest())
	}
}

// TestDigestReusedID: put remembers the digest of the node it changed last; a node
// removed and its id reused by another must not have the other subtract it.
func TestDigestReusedID(t *testing.T) {
	tr := New()
	mustApply(t, tr, createTxn("/a", "a", 0))
	a := tr.lookup("/a")
	n := tr.view(a)
	n.data = []byte("changed")
	tr.put("/a", n) // remembered
	tr.rawRemove("/a", n)
	tr.rawInsert("/b", node{data: []byte("b"), acl: worldAll})
	if b := tr.lookup("/b"); b != a {
		t.Fatalf("/b got id %d, not /a's %d: the test needs the id reused", b, a)
	}
	n = tr.view(tr.lookup("/b"))
	n.version++
	tr.put("/b", n)
	if got, want := tr.Digest(), recomputeDigest(tr); got != want {
		t.Fatalf("digest %x after a reused id, recomputed %x", got, want)
	}
}
