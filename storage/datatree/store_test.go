package datatree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// checkStore verifies the node store's internal bookkeeping against its records:
// the index finds every live record by its path and holds nothing else, each arena
// chunk's live count is the size of the blobs records point into it, ACL
// reference counts match the records, and children lists match the parent links.
func checkStore(t *testing.T, tr *Tree) {
	t.Helper()
	live := 0
	arenaLive := make([]int, len(tr.arena))
	aclRefs := make([]int, len(tr.acls))
	kids := map[nodeID][]nodeID{}
	for id := nodeID(1); id < tr.nextID; id++ {
		r := tr.rec(id)
		if r.flags&flagLive == 0 {
			continue
		}
		live++
		p := tr.pathOf(id)
		if got := tr.lookup(p); got != id {
			t.Fatalf("lookup(%q) = %d, want %d", p, got, id)
		}
		arenaLive[r.chunk] += blobSize(tr.arena, r.chunk, r.off)
		aclRefs[r.acl]++
		if r.parent != 0 {
			kids[r.parent] = append(kids[r.parent], id)
			if tr.kidsOf(tr.rec(r.parent))[r.pos] != id {
				t.Fatalf("%s: not at its place %d in its parent's list", p, r.pos)
			}
		}
	}
	if live != tr.count || live != tr.indexed {
		t.Fatalf("%d live records, count %d, indexed %d", live, tr.count, tr.indexed)
	}
	for c, n := range arenaLive {
		if tr.arenaLive[c] != n {
			t.Fatalf("chunk %d: live %d, records point to %d bytes", c, tr.arenaLive[c], n)
		}
		if tr.arena[c] == nil && n > 0 {
			t.Fatalf("chunk %d dropped with %d live bytes", c, n)
		}
	}
	for id := aclOpen + 1; id < len(aclRefs); id++ {
		if tr.aclRefs[id] != aclRefs[id] {
			t.Fatalf("ACL %d: %d references, records hold %d", id, tr.aclRefs[id], aclRefs[id])
		}
		if (tr.acls[id] == nil) != (aclRefs[id] == 0) {
			t.Fatalf("ACL %d: list %v with %d references", id, tr.acls[id], aclRefs[id])
		}
	}
	for id := nodeID(1); id < tr.nextID; id++ {
		r := tr.rec(id)
		if r.flags&flagLive == 0 {
			continue
		}
		got := slices.Clone(tr.kidsOf(r))
		slices.Sort(got)
		want := kids[id]
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: children %v, want %v", tr.pathOf(id), got, want)
		}
	}
}

// TestStoreChurn drives the store through creates, deletes, setData of sizes from
// empty to dedicated chunks, ACL changes and failed multis, so that chunks are
// compacted and ids, children lists and ACLs are reused, and compares everything
// with a plain model; a snapshot taken halfway must not change while it is alive,
// its overlay must fold back a few records at a time once it is released, and the
// maintained digest must equal the one Restore recomputes.
func TestStoreChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tr := New()
	mustApply(t, tr, sessionTxn(1))
	type mnode struct {
		data []byte
		acl  []zkproto.ACL
	}
	model := map[string]mnode{}
	acls := [][]zkproto.ACL{worldAll,
		{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "ip", ID: "10.0.0.0/8"}}},
		{{Perms: zkproto.PermRead, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}, {Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "ip", ID: "10.1.0.0/16"}}},
	}
	randData := func() []byte {
		switch r.IntN(8) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return bytes.Repeat([]byte{byte(r.Uint32())}, chunkSize/4+r.IntN(1000))
		}
		b := make([]byte, r.IntN(6000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	path := func() string {
		if r.IntN(4) == 0 {
			return fmt.Sprintf("/d%d", r.IntN(20))
		}
		return fmt.Sprintf("/d%d/k%d", r.IntN(20), r.IntN(40))
	}
	var snap *Snapshot
	var snapWant []byte
	for i := range 20000 {
		p := path()
		txn := &Txn{Kind: TxnRequest, Time: testTime, Auth: superAuth}
		m, exists := model[p]
		switch k := r.IntN(10); {
		case k < 4:
			acl := acls[r.IntN(len(acls))]
			txn.Op, txn.Request = zkproto.OpCreate, &zkproto.CreateRequest{Path: p, Data: randData(), ACL: slices.Clone(acl)}
		case k < 6:
			txn.Op, txn.Request = zkproto.OpDelete, &zkproto.DeleteRequest{Path: p, Version: -1}
		case k < 8:
			txn.Op, txn.Request = zkproto.OpSetData, &zkproto.SetDataRequest{Path: p, Data: randData(), Version: -1}
		case k < 9:
			txn.Op, txn.Request = zkproto.OpSetACL, &zkproto.SetACLRequest{Path: p, ACL: slices.Clone(acls[r.IntN(len(acls))]), Version: -1}
		default:
			// A multi that changes p and then fails: nothing may change.
			txn.Op, txn.Request = zkproto.OpMulti, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
				{Header: zkproto.MultiHeader{Type: zkproto.OpSetData}, Request: &zkproto.SetDataRequest{Path: p, Data: randData(), Version: -1}},
				{Header: zkproto.MultiHeader{Type: zkproto.OpCreate}, Request: &zkproto.CreateRequest{Path: p + "/x", Data: randData(), ACL: worldAll}},
				{Header: zkproto.MultiHeader{Type: zkproto.OpCheck}, Request: &zkproto.CheckVersionRequest{Path: "/missing", Version: -1}},
			}}
		}
		res := tr.Apply(txn)
		if res.Err == zkproto.ErrOK {
			switch q := txn.Request.(type) {
			case *zkproto.CreateRequest:
				model[p] = mnode{q.Data, q.ACL}
			case *zkproto.DeleteRequest:
				delete(model, p)
			case *zkproto.SetDataRequest:
				model[p] = mnode{q.Data, m.acl}
			case *zkproto.SetACLRequest:
				model[p] = mnode{m.data, q.ACL}
			}
		} else if _, ok := txn.Request.(*zkproto.SetDataRequest); ok && exists {
			t.Fatalf("setData %s: %v", p, res.Err)
		}
		switch i {
		case 10000:
			snapWant = snapBytes(t, tr)
			snap = tr.Snapshot()
		case 16000:
			// Released: the overlay folds back a few records per transaction.
			var got bytes.Buffer
			if _, err := snap.WriteTo(&got); err != nil || !bytes.Equal(got.Bytes(), snapWant) {
				t.Fatalf("the snapshot changed under 6,000 writes (%v)", err)
			}
			snap.Release()
			if tr.dirtyLen == 0 {
				t.Fatal("nothing in the overlay after 6,000 writes under a snapshot")
			}
			defer func(step int) { foldStep = step }(foldStep)
			foldStep = 3
		}
		if i == 16010 && len(tr.dirty) == 0 {
			t.Fatal("the overlay folded back at once")
		}
		if i%2000 == 1999 || i == 16010 {
			checkStore(t, tr)
			for p, m := range model {
				data, _, code := tr.GetData(p, superAuth)
				acl, _, _ := tr.GetACL(p, superAuth)
				if code != zkproto.ErrOK || !bytes.Equal(data, m.data) || (data == nil) != (m.data == nil) || !slices.Equal(acl, m.acl) {
					t.Fatalf("txn %d: %s: %v, %d bytes (nil %v), ACL %v; want %d bytes (nil %v), ACL %v",
						i, p, code, len(data), data == nil, acl, len(m.data), m.data == nil, m.acl)
				}
			}
			if tr.NodeCount() != len(model)+4 {
				t.Fatalf("%d nodes, model has %d+4", tr.NodeCount(), len(model))
			}
		}
	}
	if len(tr.arenaSpare) == 0 {
		t.Error("no arena chunk was ever dropped: compaction was not exercised")
	}
	if tr.dirtyLen != 0 {
		t.Errorf("the overlay still holds records 4,000 transactions after the release")
	}
	if d := recomputeDigest(tr); d != tr.Digest() {
		t.Fatalf("maintained digest %x, recomputed %x", tr.Digest(), d)
	}
}

// TestSnapshotReleaseStopsCopying: while a snapshot is alive the first write to a
// record copies it into the overlay; a snapshot taken while an older one is alive
// sees the overlay's records; once all are released, the overlay is folded back and
// writes go in place. Each snapshot keeps showing the tree as it was.
func TestSnapshotReleaseStopsCopying(t *testing.T) {
	tr := New()
	for i := range 3 * recBlockLen {
		mustApply(t, tr, createTxn(fmt.Sprintf("/n%d", i), "v", 0))
	}
	blocks := slices.Clone(tr.recs)
	setAll := func(v string) {
		for i := 0; i < 3*recBlockLen; i += 97 {
			mustApply(t, tr, setDataTxn(fmt.Sprintf("/n%d", i), v, -1))
		}
	}
	written := 1 + (3*recBlockLen-1)/97
	wantA := snapBytes(t, tr)
	a := tr.Snapshot()
	setAll("w1")
	// The parent "/" is not written by setData: one overlay record per node set.
	if int(tr.dirtyLen) != written {
		t.Fatalf("%d records in the overlay after %d writes under a live snapshot", tr.dirtyLen, written)
	}
	setAll("w2")
	if int(tr.dirtyLen) != written {
		t.Fatalf("%d records in the overlay: a record was copied twice", tr.dirtyLen)
	}
	wantB := snapBytes(t, tr)
	b := tr.Snapshot()
	mustApply(t, tr, createTxn("/new", "", 0))
	setAll("w3")
	a.Release()
	setAll("w4")
	if tr.dirtyLen == 0 {
		t.Fatal("the overlay was folded while a snapshot is alive")
	}
	for _, c := range []struct {
		s    *Snapshot
		want []byte
	}{{a, wantA}, {b, wantB}} {
		var buf bytes.Buffer
		if _, err := c.s.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), c.want) {
			t.Fatalf("a snapshot changed (%v)", err)
		}
	}
	b.Release()
	b.Release() // idempotent
	setAll("w5")
	if tr.dirtyLen != 0 {
		t.Fatalf("%d records in the overlay with no snapshot alive", tr.dirtyLen)
	}
	for i, blk := range blocks {
		if tr.recs[i] != blk {
			t.Fatalf("block %d was replaced", i)
		}
	}
	checkStore(t, tr)
	if d, _, _ := tr.GetData("/n97", nil); string(d) != "w5" {
		t.Fatalf("/n97 = %q after the fold", d)
	}
	if d := recomputeDigest(tr); d != tr.Digest() {
		t.Fatalf("maintained digest %x, recomputed %x", tr.Digest(), d)
	}
}

// TestRestoreKeepsNilAndEmptyData: nil and empty data are different on the wire
// (-1 and 0 lengths) and in the snapshot; a restore keeps each as it was, the
// first node read included.
func TestRestoreKeepsNilAndEmptyData(t *testing.T) {
	tr := New()
	mustApply(t, tr, reqTxn(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/nil", ACL: worldAll}))
	mustApply(t, tr, createTxn("/empty", "", 0))
	r := restore(t, tr)
	for p, wantNil := range map[string]bool{"/": false, "/nil": true, "/empty": false, "/zookeeper": false} {
		d, _, code := r.GetData(p, nil)
		if code != zkproto.ErrOK || len(d) != 0 || (d == nil) != wantNil {
			t.Errorf("%s: %v, %q (nil %v), want nil %v", p, code, d, d == nil, wantNil)
		}
	}
	if !bytes.Equal(snapBytes(t, tr), snapBytes(t, r)) {
		t.Fatal("snapshot → restore → snapshot differs")
	}
}

// TestIndexMigration: the index grows and shrinks a few slots per write; inserts,
// deletes and lookups in the middle of a move find every node and no other.
func TestIndexMigration(t *testing.T) {
	tr := New()
	mustApply(t, tr, createTxn("/p", "", 0))
	r := rand.New(rand.NewPCG(3, 4))
	live := map[int]bool{}
	path := func(i int) string { return fmt.Sprintf("/p/n%d", i) }
	check := func(when string) {
		t.Helper()
		checkStore(t, tr)
		for range 200 {
			i := r.IntN(20000)
			if _, ok := tr.Exists(path(i)); ok != live[i] {
				t.Fatalf("%s: %s exists %v, want %v", when, path(i), ok, live[i])
			}
		}
	}
	migrations := 0
	step := func(create bool, i int) {
		if create {
			mustApply(t, tr, createTxn(path(i), "", 0))
			live[i] = true
		} else {
			mustApply(t, tr, deleteTxn(path(i), -1))
			delete(live, i)
		}
		if tr.oldSlots != nil {
			migrations++
			if migrations%97 == 0 {
				check("migrating")
			}
		}
	}
	for i := range 12000 {
		step(true, i)
		if i%3 == 2 { // some deletes while growing, of old and new entries
			step(false, i-r.IntN(2)*2)
			step(true, i-r.IntN(2)*2+20000)
		}
	}
	check("grown")
	for i := range 32000 {
		if live[i] {
			step(false, i)
		}
	}
	check("shrunk")
	if migrations < 1000 {
		t.Fatalf("only %d writes ran during a move of the index", migrations)
	}
	if len(tr.slots) > 8*minIndexSlots || tr.indexed != tr.count {
		t.Fatalf("index of %d slots, %d entries for %d nodes after the deletes", len(tr.slots), tr.indexed, tr.count)
	}
}
