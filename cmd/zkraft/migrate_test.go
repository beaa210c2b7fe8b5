package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/storage/zkdata"
	"github.com/zkraft/zkraft/zkproto"
)

// The migration tests run the reference ZooKeeper 3.8.0 and the zkraft binary.

// znode is everything a client can read of a node.
type znode struct {
	Data []byte
	ACL  []zk.ACL
	Stat zk.Stat
}

const migUser, migPass = "mig", "pw"

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			c.Close()
			t.Fatalf("no session with %s", addr)
		}
	}
	if err := c.AddAuth("digest", []byte(migUser+":"+migPass)); err != nil {
		t.Fatal(err)
	}
	return c
}

// captureTree reads every znode a client can reach from the root.
func captureTree(t *testing.T, addr string) map[string]znode {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	out := map[string]znode{}
	queue := []string{"/"}
	for len(queue) > 0 && len(out) < 200000 {
		p := queue[0]
		queue = queue[1:]
		data, stat, err := c.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone since its parent was listed (a session expired)
		}
		if err != nil {
			t.Fatalf("get %s on %s: %v", p, addr, err)
		}
		acl, _, err := c.GetACL(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			t.Fatalf("getACL %s on %s: %v", p, addr, err)
		}
		if data == nil {
			data = []byte{}
		}
		out[p] = znode{Data: data, ACL: acl, Stat: *stat}
		kids, _, err := c.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			delete(out, p)
			continue
		}
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		for _, k := range kids {
			queue = append(queue, strings.TrimSuffix(p, "/")+"/"+k)
		}
	}
	return out
}

// compareTrees reports every difference between two captured trees.
func compareTrees(t *testing.T, wantName string, want map[string]znode, gotName string, got map[string]znode) {
	t.Helper()
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: only on %s", p, wantName))
		case !bytes.Equal(w.Data, g.Data):
			diffs = append(diffs, fmt.Sprintf("%s: data %q on %s, %q on %s", p, w.Data, wantName, g.Data, gotName))
		case !reflect.DeepEqual(w.ACL, g.ACL):
			diffs = append(diffs, fmt.Sprintf("%s: ACL %v on %s, %v on %s", p, w.ACL, wantName, g.ACL, gotName))
		case w.Stat != g.Stat:
			diffs = append(diffs, fmt.Sprintf("%s: stat %+v on %s, %+v on %s", p, w.Stat, wantName, g.Stat, gotName))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only on %s", p, gotName))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 30 {
			diffs = append(diffs[:30], fmt.Sprintf("... %d more", len(diffs)-30))
		}
		t.Errorf("%d znodes of %d differ between %s and %s:\n%s", len(diffs), len(want), wantName, gotName, strings.Join(diffs, "\n"))
	}
}

// workload writes a seeded mix of every kind of write on the reference: creates of
// every mode, sequential names, setData and setACL with and without versions,
// deletes, multis that succeed and fail, sessions that close with ephemerals, and
// containers and TTL nodes that the reaper deletes.
func workload(t *testing.T, addr string, steps int, seed int64) (doomed []string) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	c := connect(t, addr)
	defer c.Close()
	world := zk.WorldACL(zk.PermAll)
	mixed := append(zk.WorldACL(zk.PermRead), zk.DigestACL(zk.PermAll, migUser, migPass)...)
	private := zk.DigestACL(zk.PermAll, migUser, migPass)
	acls := [][]zk.ACL{world, mixed, private}
	must := func(what string, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, zk.ErrNodeExists) && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) && !errors.Is(err, zk.ErrNotEmpty) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, p := range []string{"/app", "/seq", "/eph", "/cont", "/ttl"} {
		_, err := c.Create(p, []byte(p), 0, world)
		must("create "+p, err)
	}
	var live []string
	for i := 0; i < steps; i++ {
		data := []byte(fmt.Sprintf("v%d-%d", i, rng.Intn(1000)))
		switch op := rng.Intn(12); op {
		case 0, 1:
			p := fmt.Sprintf("/app/n%d", rng.Intn(60))
			_, err := c.Create(p, data, 0, acls[rng.Intn(len(acls))])
			must("create", err)
			if err == nil {
				live = append(live, p)
			}
		case 2:
			p, err := c.Create("/seq/s-", data, zk.FlagSequence, world)
			must("create sequential", err)
			live = append(live, p)
		case 3:
			if len(live) > 0 {
				p := live[rng.Intn(len(live))]
				_, err := c.Create(p+"/kid", data, 0, world)
				must("create kid", err)
			}
		case 4, 5:
			if len(live) > 0 {
				_, err := c.Set(live[rng.Intn(len(live))], data, -1)
				must("set", err)
			}
		case 6:
			if len(live) > 0 {
				p := live[rng.Intn(len(live))]
				_, st, err := c.Get(p)
				if err == nil {
					_, err = c.Set(p, data, st.Version)
				}
				must("set versioned", err)
			}
		case 7:
			if len(live) > 0 {
				_, err := c.SetACL(live[rng.Intn(len(live))], acls[rng.Intn(len(acls))], -1)
				must("setACL", err)
			}
		case 8:
			if len(live) > 0 {
				j := rng.Intn(len(live))
				must("delete", c.Delete(live[j], -1))
				live = slices.Delete(live, j, j+1)
			}
		case 9:
			p := fmt.Sprintf("/app/m%d-%d", seed, i)
			ok := rng.Intn(2) == 0
			version := int32(1) // after the create and the set
			if !ok {
				version = 7
			}
			_, err := c.Multi(
				&zk.CreateRequest{Path: p, Data: data, Acl: world},
				&zk.SetDataRequest{Path: p, Data: []byte("multi"), Version: -1},
				&zk.CheckVersionRequest{Path: p, Version: version},
				&zk.CreateRequest{Path: "/seq/m-", Data: data, Acl: world, Flags: zk.FlagSequence},
			)
			if ok && err != nil {
				t.Fatalf("multi: %v", err)
			}
			if ok {
				live = append(live, p)
			}
		case 10:
			// A session that creates ephemerals and closes.
			s := connect(t, addr)
			for k := 0; k < 3; k++ {
				_, err := s.Create("/eph/e-", data, zk.FlagEphemeral|zk.FlagSequence, world)
				must("ephemeral", err)
			}
			s.Close()
		case 11:
			// A container that gets a child, which goes (the reaper deletes the
			// container), and TTL nodes: short ones (reaped) and long ones.
			cp := fmt.Sprintf("/cont/c%d-%d", seed, i)
			_, err := c.CreateContainer(cp, data, zk.FlagContainer, world)
			must("container", err)
			_, err = c.Create(cp+"/x", nil, 0, world)
			must("container kid", err)
			if rng.Intn(2) == 0 {
				must("container kid delete", c.Delete(cp+"/x", -1))
				doomed = append(doomed, cp)
			}
			ttl := 100 * time.Millisecond
			tp := fmt.Sprintf("/ttl/t%d-%d", seed, i)
			if rng.Intn(2) == 0 {
				ttl = time.Hour
			} else {
				doomed = append(doomed, tp)
			}
			_, err = c.CreateTTL(tp, data, zk.FlagTTL, world, ttl)
			must("ttl", err)
		}
	}
	return doomed
}

// waitReaped waits until the reaper has deleted the containers and TTL nodes it
// must, so that the tree stays put.
func waitReaped(t *testing.T, addr string, doomed []string) {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range doomed {
		for {
			ok, _, err := c.Exists(p)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not reaped after 60s", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// waitSnapshotsWritten waits until the reference has finished writing its newest
// snapshot (it writes in the background), so that killing it leaves a whole one.
func waitSnapshotsWritten(t *testing.T, zkData string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		snaps, _ := filepath.Glob(filepath.Join(zkData, "version-2", "snapshot.*"))
		slices.SortFunc(snaps, func(a, b string) int {
			za, _ := strconv.ParseUint(strings.Split(filepath.Base(a), ".")[1], 16, 64)
			zb, _ := strconv.ParseUint(strings.Split(filepath.Base(b), ".")[1], 16, 64)
			return cmpInt(za, zb)
		})
		if len(snaps) == 0 {
			return
		}
		_, _, err := zkdata.ReadSnapshot(snaps[len(snaps)-1], nil)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("newest snapshot still unreadable after 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func cmpInt(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func runZkraft(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("zkraft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startReference starts the reference server, keeping its files; cfg may name its
// dataDir.
func startReference(t *testing.T, cfg, props map[string]string) *testkit.ZooKeeper {
	t.Helper()
	allProps := map[string]string{
		"zookeeper.extendedTypesEnabled":    "true",
		"znode.container.checkIntervalMs":   "200",
		"zookeeper.snapCount":               "40",
		"zookeeper.snapSizeLimitInKb":       "-1",
		"zookeeper.digest.enabled":          "true",
		"zookeeper.closeSessionTxn.enabled": "true",
	}
	for k, v := range props {
		allProps[k] = v
	}
	z, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{Config: cfg, Props: allProps, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		z.Stop()
		os.RemoveAll(z.Dir)
	})
	return z
}

// serveDir starts zkraft serve on a data directory and waits until it serves.
func serveDir(t *testing.T, dir string) (*testkit.Process, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startServe(t, "--data-dir", dir, "--client-addr", addr)
	waitServing(t, p, addr)
	return p, addr
}

func TestImportFromReference(t *testing.T) {
	for _, compression := range []string{"", "gz", "snappy"} {
		t.Run("snapshots="+cmp(compression, "plain"), func(t *testing.T) {
			testImport(t, compression)
		})
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func testImport(t *testing.T, compression string) {
	props := map[string]string{}
	if compression != "" {
		props["zookeeper.snapshot.compression.method"] = compression
	}
	z := startReference(t, nil, props)
	zkData := filepath.Join(z.Dir, "data")

	doomed := workload(t, z.Addr, 700, 11)
	// Sessions open at the end with an ephemeral each: one is resumed on zkraft
	// after the import, the other expires there.
	held := heldSession(t, z.Addr, "/eph/held", 30000)
	lapsed := heldSession(t, z.Addr, "/eph/lapsed", 20000)
	waitReaped(t, z.Addr, doomed)
	want := captureTree(t, z.Addr)
	waitSnapshotsWritten(t, zkData)
	snaps, _ := filepath.Glob(filepath.Join(zkData, "version-2", "snapshot.*"))
	if len(snaps) < 3 {
		t.Fatalf("the reference took %d snapshots; the test wants snapshots taken mid-workload", len(snaps))
	}
	if compression != "" && !strings.HasSuffix(snaps[len(snaps)-1], "."+compression) {
		t.Fatalf("newest snapshot %s is not %s-compressed", snaps[len(snaps)-1], compression)
	}
	z.Stop() // SIGKILL, as a crash: the newest snapshot is fuzzy, logs follow it

	dir := filepath.Join(t.TempDir(), "zkraft")
	out := runZkraft(t, "import", "--from", zkData, "--to", dir)
	t.Logf("import:\n%s", out)
	if !strings.Contains(out, "matched the replay") {
		t.Errorf("import checked no ZooKeeper digest:\n%s", out)
	}
	read, written := digestLine(out, "tree read:"), digestLine(out, "tree written:")
	if read == "" || read != written {
		t.Errorf("digest read %q, written %q", read, written)
	}
	if !strings.Contains(out, fmt.Sprintf("%d znodes", len(want))) {
		t.Errorf("import does not report the %d znodes the reference served", len(want))
	}

	_, addr := serveDir(t, dir)
	got := captureTree(t, addr)
	compareTrees(t, "reference", want, "zkraft after import", got)

	// The held session resumes with the id and password ZooKeeper gave it.
	resumed, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 30000, SessionID: held.Session.SessionID, Passwd: held.Session.Passwd, LastZxidSeen: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if resumed.Session.TimeOut <= 0 || resumed.Session.SessionID != held.Session.SessionID {
		t.Fatalf("session %#x not resumed on zkraft: %+v", held.Session.SessionID, resumed.Session)
	}
	if s := got["/eph/held"].Stat; s.EphemeralOwner != int64(held.Session.SessionID) {
		t.Errorf("/eph/held owner %#x, want the held session %#x", s.EphemeralOwner, held.Session.SessionID)
	}
	if s := got["/eph/lapsed"].Stat; s.EphemeralOwner != int64(lapsed.Session.SessionID) {
		t.Errorf("/eph/lapsed owner %#x, want the lapsed session %#x", s.EphemeralOwner, lapsed.Session.SessionID)
	}

	// The session nobody resumed expires after its timeout, with its ephemeral;
	// the resumed one keeps its own.
	watcher := connect(t, addr)
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok, _, err := watcher.Exists("/eph/lapsed")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the imported session that no client resumed did not expire within 90s")
		}
		keepAlive(t, resumed)
		time.Sleep(500 * time.Millisecond)
	}
	if ok, _, err := watcher.Exists("/eph/held"); err != nil || !ok {
		t.Errorf("the resumed session's ephemeral is gone (%v)", err)
	}
	watcher.Close()

	// The next sequential names continue where the reference left them.
	zr := startReference(t, map[string]string{"dataDir": zkData}, props)
	for _, parent := range []string{"/seq", "/eph", "/app"} {
		name := parent + "/next-"
		cz, cr := connect(t, zr.Addr), connect(t, addr)
		pz, err := cz.Create(name, nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		pr, err := cr.Create(name, nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		if pz != pr {
			t.Errorf("next sequential name under %s: reference %s, zkraft %s", parent, pz, pr)
		}
		cz.Close()
		cr.Close()
	}
}

// heldSession opens a session with an ephemeral node at path and keeps it alive
// with pings until the test ends or the server goes.
func heldSession(t *testing.T, addr, path string, timeout int32) *rawzk.Conn {
	t.Helper()
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: timeout, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	world := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, Data: []byte("mine"), ACL: world, Flags: zkproto.CreateMode(1)}, &zkproto.CreateResponse{}); err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if c.SendXid(zkproto.XidPing, zkproto.OpPing, nil) != nil {
					return
				}
				if _, err := c.Recv(zkproto.XidPing, nil); err != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		c.Close()
		<-done
	})
	return c
}

// keepAlive pings a session once.
func keepAlive(t *testing.T, c *rawzk.Conn) {
	t.Helper()
	if err := c.SendXid(zkproto.XidPing, zkproto.OpPing, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(zkproto.XidPing, nil); err != nil {
		t.Fatal(err)
	}
}

func digestLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			if i := strings.Index(l, "digest "); i >= 0 {
				return strings.TrimRight(strings.Fields(l[i+len("digest "):])[0], ",")
			}
		}
	}
	return ""
}

// serveConfig starts zkraft serve with a zoo.cfg for dir (TTL nodes on, a fast
// container reaper, a low snapCount) and waits until it serves.
func serveConfig(t *testing.T, dir string) (*testkit.Process, string) {
	t.Helper()
	port := freePort(t)
	cfgDir := t.TempDir()
	cfg := writeCfg(t, cfgDir, fmt.Sprintf("dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nextendedTypesEnabled=true\nznode.container.checkIntervalMs=200\nsnapCount=100\n", dir, port))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := startServe(t, "--config", cfg)
	waitServing(t, p, addr)
	return p, addr
}

func stopServe(t *testing.T, p *testkit.Process) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, ok := p.Wait(20 * time.Second); !ok || err != nil {
		t.Fatalf("zkraft did not stop cleanly (%v):\n%s", err, p.Output())
	}
}

// The reference loads what zkraft export writes, from a running node and from a
// stopped one, and serves the same znodes; sequential names go on alike.
func TestExportToReference(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zkraft")
	p, addr := serveConfig(t, dir)
	doomed := workload(t, addr, 500, 23)
	waitReaped(t, addr, doomed)
	want := captureTree(t, addr)

	live := filepath.Join(t.TempDir(), "zk-live")
	out := runZkraft(t, "export", "--data-dir", dir, "--to", live)
	if !strings.Contains(out, "the running node") {
		t.Errorf("export of a running node did not use its admin socket:\n%s", out)
	}
	stopServe(t, p)
	stopped := filepath.Join(t.TempDir(), "zk-stopped")
	out = runZkraft(t, "export", "--data-dir", dir, "--to", stopped)
	if !strings.Contains(out, "the data directory") {
		t.Errorf("export of a stopped node did not read its data directory:\n%s", out)
	}
	for _, f := range []string{"currentEpoch", "acceptedEpoch"} {
		if _, err := os.Stat(filepath.Join(stopped, "version-2", f)); err != nil {
			t.Error(err)
		}
	}
	for _, zkDir := range []string{live, stopped} {
		z := startReference(t, map[string]string{"dataDir": zkDir}, nil)
		compareTrees(t, "zkraft", want, "reference on "+filepath.Base(zkDir), captureTree(t, z.Addr))
		if t.Failed() {
			t.Logf("reference log:\n%s", z.LogTail(40))
		}
		z.Stop()
	}

	// Sequential names continue alike on both.
	z := startReference(t, map[string]string{"dataDir": stopped}, nil)
	_, addr = serveConfig(t, dir)
	cz, cr := connect(t, z.Addr), connect(t, addr)
	defer cz.Close()
	defer cr.Close()
	for _, parent := range []string{"/seq", "/app"} {
		pz, err := cz.Create(parent+"/next-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		pr, err := cr.Create(parent+"/next-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		if pz != pr {
			t.Errorf("next sequential name under %s: reference %s, zkraft %s", parent, pz, pr)
		}
	}
	if out, err := exec.Command(binary, "export", "--data-dir", dir, "--to", stopped).CombinedOutput(); err == nil {
		t.Errorf("export into a ZooKeeper directory that has a snapshot succeeded:\n%s", out)
	}
}

// A backup taken online restores into a new data directory with exactly the tree of
// the moment it was taken.
func TestBackupRestore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	_, addr := serveConfig(t, dir)
	doomed := workload(t, addr, 300, 5)
	waitReaped(t, addr, doomed)
	want := captureTree(t, addr)
	file := filepath.Join(t.TempDir(), "backup.zkr")
	out := runZkraft(t, "backup", "--data-dir", dir, "--to", file)
	if !strings.Contains(out, fmt.Sprintf("%d znodes", len(want))) {
		t.Errorf("backup does not report the %d znodes served:\n%s", len(want), out)
	}
	c := connect(t, addr)
	if _, err := c.Create("/after-backup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	restored := filepath.Join(t.TempDir(), "b")
	runZkraft(t, "restore", "--from", file, "--to", restored)
	_, addr2 := serveConfig(t, restored)
	compareTrees(t, "node at backup", want, "restored node", captureTree(t, addr2))

	// The restored node is a node like any other: it writes, with zxids after the
	// backup's.
	c2 := connect(t, addr2)
	defer c2.Close()
	if _, err := c2.Create("/after-restore", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, st, err := c2.Get("/after-restore"); err != nil || st.Czxid <= want["/"].Stat.Pzxid {
		t.Errorf("write after restore: czxid %v (err %v), backup's last pzxid %#x", st, err, want["/"].Stat.Pzxid)
	}
	// Restoring over data is refused.
	if out, err := exec.Command(binary, "restore", "--from", file, "--to", restored).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("restore into a used data directory: %v\n%s", err, out)
	}
	// A damaged backup is refused and writes nothing.
	b, _ := os.ReadFile(file)
	b[len(b)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.zkr")
	os.WriteFile(bad, b, 0o600)
	target := filepath.Join(t.TempDir(), "c")
	if out, err := exec.Command(binary, "restore", "--from", bad, "--to", target).CombinedOutput(); err == nil || !strings.Contains(string(out), "corrupt") {
		t.Errorf("restore of a damaged backup: %v\n%s", err, out)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed restore left %s behind", target)
	}
}

// A damaged ZooKeeper directory fails the import, naming the file and offset, and
// writes nothing; an import into a used data directory is refused.
func TestImportBadInput(t *testing.T) {
	tree := datatree.New()
	for i := 0; i < 100; i++ {
		tree.Apply(&datatree.Txn{Kind: datatree.TxnRequest, Op: zkproto.OpCreate,
			Request: &zkproto.CreateRequest{Path: fmt.Sprintf("/n%d", i), Data: []byte("some data"),
				ACL: []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}}})
	}
	zkDir := t.TempDir()
	res, err := zkdata.Export(zkDir, tree.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good")
	out := runZkraft(t, "import", "--from", zkDir, "--to", good)
	if !strings.Contains(out, "104 znodes") {
		t.Errorf("import of a good directory:\n%s", out)
	}
	if out, err := exec.Command(binary, "import", "--from", zkDir, "--to", good).CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("import into a used data directory: %v\n%s", err, out)
	}

	b, _ := os.ReadFile(res.Snapshot)
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(res.Snapshot, b, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "bad")
	out2, err := exec.Command(binary, "import", "--from", zkDir, "--to", target).CombinedOutput()
	if err == nil || !strings.Contains(string(out2), filepath.Base(res.Snapshot)+" at offset") || !strings.Contains(string(out2), "nothing written") {
		t.Errorf("import of a damaged snapshot: %v\n%s", err, out2)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed import left %s behind", target)
	}
}

// content is a captured tree without what a mirror cannot carry: Stats, ephemeral
// nodes and /zookeeper; and without ACLs unless acls (ZooKeeper sends no event for
// an ACL change: the mirror copies them at its full copies only).
func content(tree map[string]znode, acls bool) map[string]znode {
	out := map[string]znode{}
	for p, n := range tree {
		if n.Stat.EphemeralOwner != 0 || p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") {
			continue
		}
		c := znode{Data: n.Data}
		if acls {
			c.ACL = n.ACL
		}
		out[p] = c
	}
	return out
}

// waitMirrored polls until the target holds the source's content.
func waitMirrored(t *testing.T, src, dst string) map[string]znode {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		want, got := content(captureTree(t, src), false), content(captureTree(t, dst), false)
		if reflect.DeepEqual(want, got) {
			return want
		}
		if time.Now().After(deadline) {
			compareTrees(t, "source", want, "mirror", got)
			t.Fatal("the mirror did not catch up within 90s")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The mirror copies a live tree, follows its changes, resumes after the source
// restarts, and at cut-over leaves the sequence counters where the source's are.
func TestMirrorFromReference(t *testing.T) {
	z := startReference(t, nil, nil)
	zkData := filepath.Join(z.Dir, "data")
	doomed := workload(t, z.Addr, 200, 3)
	heldSession(t, z.Addr, "/eph/not-carried", 30000)

	_, addr := serveConfig(t, filepath.Join(t.TempDir(), "zkraft"))
	m := testkit.Start(t, exec.Command(binary, "mirror", "--from", z.Addr, "--to", addr, "--report", "500ms", "--auth", "digest:"+migUser+":"+migPass))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mirror output:\n%s", m.Output())
		}
	})
	doomed = append(doomed, workload(t, z.Addr, 300, 4)...)
	waitReaped(t, z.Addr, doomed)
	waitMirrored(t, z.Addr, addr)

	// The source restarts on the same port: the mirror resumes.
	port := strings.Split(z.Addr, ":")[1]
	z.Stop()
	z2 := startReference(t, map[string]string{"dataDir": zkData, "clientPort": port}, nil)
	doomed = workload(t, z2.Addr, 150, 5)
	waitReaped(t, z2.Addr, doomed)
	waitMirrored(t, z2.Addr, addr)
	if !strings.Contains(m.Output(), "resuming") {
		t.Errorf("the mirror did not say it resumed:\n%s", m.Output())
	}

	// Cut-over: the mirror stops cleanly and the next sequential names agree.
	if err := m.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, ok := m.Wait(60 * time.Second); !ok || err != nil {
		t.Fatalf("mirror did not stop cleanly (%v):\n%s", err, m.Output())
	}
	if !strings.Contains(m.Output(), "final") {
		t.Errorf("no final report:\n%s", m.Output())
	}
	// The final copy brought the ACLs too.
	compareTrees(t, "source", content(captureTree(t, z2.Addr), true), "mirror", content(captureTree(t, addr), true))
	cz, cr := connect(t, z2.Addr), connect(t, addr)
	defer cz.Close()
	defer cr.Close()
	for _, parent := range []string{"/seq", "/eph", "/app"} {
		pz, err := cz.Create(parent+"/next-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		pr, err := cr.Create(parent+"/next-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		if pz != pr {
			t.Errorf("next sequential name under %s: source %s, mirror %s", parent, pz, pr)
		}
	}
	t.Logf("mirror output:\n%s", m.Output())

	// --once copies into a fresh node and exits.
	_, addr3 := serveConfig(t, filepath.Join(t.TempDir(), "zkraft-once"))
	out := runZkraft(t, "mirror", "--once", "--from", z2.Addr, "--to", addr3, "--auth", "digest:"+migUser+":"+migPass)
	if !strings.Contains(out, "copied in") {
		t.Errorf("mirror --once:\n%s", out)
	}
	compareTrees(t, "source", content(captureTree(t, z2.Addr), true), "mirror --once", content(captureTree(t, addr3), true))
}
