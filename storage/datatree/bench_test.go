package datatree

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// benchTree is a tree with n children under /b, each with 100 bytes of data.
func benchTree(b *testing.B, n int) (*Tree, []string) {
	b.Helper()
	tr := New()
	mustApply(b, tr, createTxn("/b", "", 0))
	paths := make([]string, n)
	data := bytes.Repeat([]byte("x"), 100)
	for i := range paths {
		paths[i] = "/b/node-" + strconv.Itoa(i)
		mustApply(b, tr, reqTxn(zkproto.OpCreate, &zkproto.CreateRequest{Path: paths[i], Data: data, ACL: worldAll}))
	}
	return tr, paths
}

// BenchmarkCreate creates sequential nodes under one parent that ends up with
// b.N children (so it also measures a large children set).
func BenchmarkCreate(b *testing.B) {
	tr := New()
	mustApply(b, tr, createTxn("/b", "", 0))
	req := &zkproto.CreateRequest{Path: "/b/n-", Data: []byte("0123456789"), ACL: worldAll, Flags: zkproto.ModePersistentSequential}
	txn := reqTxn(zkproto.OpCreate, req)
	b.ReportAllocs()
	for b.Loop() {
		if res := tr.Apply(txn); res.Err != 0 {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkCreateDelete creates and deletes a child of a parent with 100k children.
func BenchmarkCreateDelete(b *testing.B) {
	tr, _ := benchTree(b, 100_000)
	create := createTxn("/b/tmp", "", 0)
	del := deleteTxn("/b/tmp", -1)
	b.ReportAllocs()
	for b.Loop() {
		if tr.Apply(create).Err != 0 || tr.Apply(del).Err != 0 {
			b.Fatal("failed")
		}
	}
}

func BenchmarkSetData(b *testing.B) {
	tr, paths := benchTree(b, 100_000)
	txn := setDataTxn(paths[0], "", -1)
	req := txn.Request.(*zkproto.SetDataRequest)
	req.Data = bytes.Repeat([]byte("y"), 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req.Path = paths[i%len(paths)]
		i++
		if res := tr.Apply(txn); res.Err != 0 {
			b.Fatal(res.Err)
		}
	}
}

func BenchmarkGetData(b *testing.B) {
	tr, paths := benchTree(b, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, code := tr.GetData(paths[i%len(paths)], nil); code != 0 {
			b.Fatal(code)
		}
		i++
	}
}

func BenchmarkMulti(b *testing.B) {
	tr, _ := benchTree(b, 1000)
	multi := reqTxn(zkproto.OpMulti, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
		{Header: zkproto.MultiHeader{Type: zkproto.OpCheck}, Request: &zkproto.CheckVersionRequest{Path: "/b", Version: -1}},
		{Header: zkproto.MultiHeader{Type: zkproto.OpSetData}, Request: &zkproto.SetDataRequest{Path: "/b/node-1", Data: []byte("x"), Version: -1}},
		{Header: zkproto.MultiHeader{Type: zkproto.OpCreate}, Request: &zkproto.CreateRequest{Path: "/b/s-", ACL: worldAll, Flags: zkproto.ModePersistentSequential}},
	}})
	b.ReportAllocs()
	for b.Loop() {
		if res := tr.Apply(multi); res.Err != 0 {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkSnapshotTake is the part that runs under the server's lock.
func BenchmarkSnapshotTake(b *testing.B) {
	tr, _ := benchTree(b, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		tr.Snapshot()
	}
}

// BenchmarkSnapshotWrite serializes a 100k-node tree (outside the lock).
func BenchmarkSnapshotWrite(b *testing.B) {
	tr, _ := benchTree(b, 100_000)
	benchSnapshotWrite(b, tr)
}

func benchSnapshotWrite(b *testing.B, tr *Tree) {
	snap := tr.Snapshot()
	b.ReportAllocs()
	for b.Loop() {
		n, err := snap.WriteTo(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
	}
}

func BenchmarkRestore(b *testing.B) {
	tr, _ := benchTree(b, 100_000)
	benchRestore(b, tr)
}

// BenchmarkRestore1M restores the tree zkraft bench --op fill builds (1,000 znodes
// of 100 B under each parent) with 1,000,000 znodes. Building it takes a while.
func BenchmarkRestore1M(b *testing.B) {
	benchRestore(b, fillTree(b))
}

// BenchmarkSnapshotWrite1M serializes the tree of BenchmarkRestore1M.
func BenchmarkSnapshotWrite1M(b *testing.B) {
	benchSnapshotWrite(b, fillTree(b))
}

// fillTree is the tree zkraft bench --op fill builds with 1,000,000 znodes.
func fillTree(b *testing.B) *Tree {
	tr := New()
	mustApply(b, tr, createTxn("/f", "", 0))
	data := bytes.Repeat([]byte("x"), 100)
	for i := range 1_000_000 {
		if i%1000 == 0 {
			mustApply(b, tr, createTxn("/f/p"+strconv.Itoa(i/1000), "", 0))
		}
		path := "/f/p" + strconv.Itoa(i/1000) + "/n" + strconv.Itoa(i%1000)
		mustApply(b, tr, reqTxn(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, Data: data, ACL: worldAll}))
	}
	return tr
}

func benchRestore(b *testing.B, tr *Tree) {
	var buf bytes.Buffer
	if _, err := tr.Snapshot().WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetDataAfterSnapshot is a write while a snapshot is alive, when the
// first write to each block of records clones it (the worst case for writes).
func BenchmarkSetDataAfterSnapshot(b *testing.B) {
	tr, paths := benchTree(b, 100_000)
	txn := setDataTxn(paths[0], "z", -1)
	req := txn.Request.(*zkproto.SetDataRequest)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%1024 == 0 {
			tr.Snapshot()
		}
		req.Path = paths[i%len(paths)]
		i++
		if res := tr.Apply(txn); res.Err != 0 {
			b.Fatal(res.Err)
		}
	}
}
