package ensemble_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// seedTree is a tree as an import leaves it: a zxid from another epoch, a parent
// whose child counter is far ahead of its children, a session with an ephemeral.
func seedTree(t *testing.T) *datatree.Tree {
	t.Helper()
	world := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	const zxid = 0x5_0000_0100
	nodes := []datatree.NodeRecord{
		{Path: "/", ACL: world, Cversion: 2, Pzxid: zxid},
		{Path: "/q", Data: []byte("queue"), ACL: world, Czxid: 7, Mzxid: 8, Pzxid: zxid, Ctime: 1, Mtime: 2, Version: 1, Cversion: 41},
		{Path: "/q/item-0000000040", ACL: world, Czxid: zxid, Mzxid: zxid, Pzxid: zxid, EphemeralOwner: 0x77},
		{Path: "/zookeeper", ACL: world},
		{Path: "/zookeeper/quota", ACL: world},
	}
	tr, err := datatree.Build(zxid, []datatree.SessionInfo{{ID: 0x77, Timeout: 20000, Password: make([]byte, 16)}}, func(yield func(datatree.NodeRecord) bool) {
		for _, n := range nodes {
			if !yield(n) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Every member of an ensemble seeded with the same tree serves it; writes go on
// with the next zxid and the next sequential name; a restarted member reads the
// seeded snapshot and the log after it.
func TestSeededEnsemble(t *testing.T) {
	tr := seedTree(t)
	c := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(cfg *ensemble.Config) {
		if err := ensemble.Seed(*cfg, tr); err != nil {
			t.Fatal(err)
		}
	}))
	for i, addr := range c.Addrs() {
		z := connectTo(t, addr)
		data, st, err := z.Get("/q")
		if err != nil || string(data) != "queue" || st.Cversion != 2*41-1 || st.Czxid != 7 {
			t.Fatalf("member %d: /q %q %+v %v", i+1, data, st, err)
		}
	}
	z := connectTo(t, c.Addrs()[1])
	p, err := z.Create("/q/item-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/q/item-0000000041" {
		t.Fatalf("sequential create: %q %v", p, err)
	}
	// (Member incarnations and the clients' sessions took zxids before it.)
	if _, st, err := z.Exists(p); err != nil || st.Czxid <= 0x5_0000_0100 || st.Czxid > 0x5_0000_0200 {
		t.Fatalf("czxid %#x after a seeded zxid of 0x500000100 (%v)", st.Czxid, err)
	}
	c.Stop(2)
	c.Start(2)
	z3 := connectTo(t, c.Addrs()[2])
	if _, err := z3.Sync("/q"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := z3.Exists(p); err != nil || !ok {
		t.Fatalf("restarted member lacks %s (%v)", p, err)
	}
}

// Seed refuses a data directory in use; ReadDataDir reads a stopped node's tree
// back.
func TestSeedAndReadDataDir(t *testing.T) {
	tr := seedTree(t)
	dir := t.TempDir()
	cfg := ensemble.NewConfig()
	cfg.DataDir = dir
	if err := ensemble.Seed(cfg, tr); err != nil {
		t.Fatal(err)
	}
	if err := ensemble.Seed(cfg, tr); !errors.Is(err, ensemble.ErrNotEmpty) {
		t.Fatalf("second seed: %v", err)
	}
	back, err := ensemble.ReadDataDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() != tr.Digest() || back.LastZxid() != tr.LastZxid() {
		t.Errorf("read back digest %x zxid %#x, seeded %x %#x", back.Digest(), back.LastZxid(), tr.Digest(), tr.LastZxid())
	}
	if _, err := ensemble.ReadDataDir(filepath.Join(dir, "nothing"), ""); err == nil {
		t.Error("ReadDataDir of a missing directory succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots")); err != nil {
		t.Error(fmt.Errorf("no snapshot written: %w", err))
	}
}
