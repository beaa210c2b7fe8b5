//go:build explore

package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/testkit"
)

var importNodes = flag.Int("import.nodes", 1_000_000, "znodes the reference writes for TestImportLarge")

// TestImportLarge measures an import of a large data directory the reference
// ZooKeeper wrote (snapCount 4000, so snapshots are taken while it is written),
// checks ZooKeeper's digests and the written tree's, compares a sample of znodes
// and the next sequential name:
//
//	go test -tags explore -run TestImportLarge -v -timeout 60m ./cmd/zkraft -import.nodes 1000000
func TestImportLarge(t *testing.T) {
	total := *importNodes
	props := map[string]string{
		"zookeeper.snapCount":         "4000",
		"zookeeper.snapSizeLimitInKb": "-1",
		"zookeeper.digest.enabled":    "true",
	}
	z, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{Props: props, Keep: true, MaxHeap: "3g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Stop(); os.RemoveAll(z.Dir) })

	// 1000 parents; children created by multis of 100 creates, 8 writers at once,
	// and a sequential parent.
	start := time.Now()
	c := connect(t, z.Addr)
	world := zk.WorldACL(zk.PermAll)
	parents := 1000
	for i := 0; i < parents; i++ {
		if _, err := c.Create(fmt.Sprintf("/p%04d", i), nil, 0, world); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/seq", nil, 0, world); err != nil {
		t.Fatal(err)
	}
	perParent := (total - parents - 1) / parents
	const batch = 100
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cw := connect(t, z.Addr)
			defer cw.Close()
			for p := w; p < parents; p += 8 {
				for k := 0; k < perParent; k += batch {
					var ops []any
					for j := k; j < min(k+batch, perParent); j++ {
						ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("/p%04d/n%06d", p, j), Data: []byte(fmt.Sprintf("value-%d-%d", p, j)), Acl: world})
					}
					if _, err := cw.Multi(ops...); err != nil {
						errs <- err
						return
					}
				}
				if _, err := cw.Create("/seq/s-", nil, zk.FlagSequence, world); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c.Close()
	written := time.Since(start)
	out, _ := testkit.FourLetter(z.Addr, "mntr", 10*time.Second)
	var count string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "zk_znode_count") {
			count = l
		}
	}
	snaps, _ := filepath.Glob(filepath.Join(z.Dir, "data", "version-2", "snapshot.*"))
	logs, _ := filepath.Glob(filepath.Join(z.Dir, "data", "version-2", "log.*"))
	t.Logf("reference wrote %d znodes in %s (%s); %d snapshots, %d logs", total, written.Round(time.Second), count, len(snaps), len(logs))
	sample := map[string]znode{}
	cs := connect(t, z.Addr)
	for _, p := range []string{"/", "/seq", "/p0000", "/p0999", "/p0500/n000000", fmt.Sprintf("/p0777/n%06d", perParent-1)} {
		d, st, err := cs.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		acl, _, _ := cs.GetACL(p)
		if d == nil {
			d = []byte{}
		}
		sample[p] = znode{Data: d, ACL: acl, Stat: *st}
	}
	cs.Close()
	waitSnapshotsWritten(t, filepath.Join(z.Dir, "data"))
	z.Stop()

	dir := filepath.Join(t.TempDir(), "zkraft")
	istart := time.Now()
	ic := exec.Command(binary, "import", "--from", filepath.Join(z.Dir, "data"), "--to", dir)
	impOut, err := ic.CombinedOutput()
	imp := string(impOut)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, imp)
	}
	ru, _ := ic.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss / 1024
	}
	t.Logf("import took %s wall, %s user + %s sys CPU, max RSS %d MiB (load average: %s):\n%s", time.Since(istart).Round(time.Millisecond),
		ic.ProcessState.UserTime().Round(time.Millisecond), ic.ProcessState.SystemTime().Round(time.Millisecond), rss, loadAvg(), imp)
	if !strings.Contains(imp, "matched the replay") || digestLine(imp, "tree read:") != digestLine(imp, "tree written:") {
		t.Errorf("digests do not match")
	}

	sstart := time.Now()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	sp := startServe(t, "--data-dir", dir, "--client-addr", addr)
	if err := testkit.WaitFourLetter(addr, "srvr", "Mode: standalone", 10*time.Minute, sp.Done()); err != nil {
		t.Fatalf("zkraft not serving: %v\n%s", err, sp.Output())
	}
	t.Logf("zkraft serves the imported tree %s after start", time.Since(sstart).Round(time.Millisecond))
	got := map[string]znode{}
	cr := connect(t, addr)
	for p := range sample {
		d, st, err := cr.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		acl, _, _ := cr.GetACL(p)
		if d == nil {
			d = []byte{}
		}
		got[p] = znode{Data: d, ACL: acl, Stat: *st}
	}
	compareTrees(t, "reference", sample, "zkraft", got)
	zr, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{Config: map[string]string{"dataDir": filepath.Join(z.Dir, "data")}, Props: props, MaxHeap: "3g"})
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Stop()
	cz := connect(t, zr.Addr)
	pz, err := cz.Create("/seq/s-", nil, zk.FlagSequence, world)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := cr.Create("/seq/s-", nil, zk.FlagSequence, world)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("next sequential name: reference %s, zkraft %s", pz, pr)
	if pz != pr {
		t.Errorf("next sequential names differ")
	}
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
