package ensemble_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/storage/raftstore"
)

// fsyncFault fails one write of the Raft log under dir with EIO, as bbolt reports a
// failed fdatasync, once armed.
type fsyncFault struct {
	mu    sync.Mutex
	dir   string // the member whose disk fails; "" for none
	after int    // log writes to let through first
	fired atomic.Bool
}

func (f *fsyncFault) hook(op raftstore.WriteOp, write func() error) error {
	f.mu.Lock()
	hit := f.dir != "" && strings.HasPrefix(op.Path, f.dir) && op.Kind == "store logs"
	if hit {
		if f.after > 0 {
			f.after--
			hit = false
		} else {
			f.dir = ""
		}
	}
	f.mu.Unlock()
	if !hit {
		return write()
	}
	// The write reaches the file, but its fsync fails: what was written may or may
	// not be on disk, and must not be trusted or retried.
	if err := write(); err != nil {
		return err
	}
	f.fired.Store(true)
	return syscall.EIO
}

func (f *fsyncFault) arm(dir string, after int) {
	f.mu.Lock()
	f.dir, f.after = dir, after
	f.mu.Unlock()
}

// writeUntil creates /w-N nodes until stop is closed, and returns the ones acknowledged.
func writeUntil(c *zk.Conn, stop <-chan struct{}) []string {
	var acked []string
	for i := 0; ; i++ {
		select {
		case <-stop:
			return acked
		default:
		}
		p := fmt.Sprintf("/w-%05d", i)
		if _, err := c.Create(p, []byte("v"), 0, zk.WorldACL(zk.PermAll)); err == nil {
			acked = append(acked, p)
		} else if errors.Is(err, zk.ErrNodeExists) {
			acked = append(acked, p) // a retried create that had been applied
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func requireAll(t *testing.T, c *zk.Conn, acked []string, when string) {
	t.Helper()
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}
	for _, p := range acked {
		if ok, _, err := c.Exists(p); !ok || err != nil {
			t.Fatalf("acknowledged %s missing %s: %v %v", p, when, ok, err)
		}
	}
}

// A failed fsync of the Raft log stops a standalone server with an error that says
// so (it does not retry), and nothing it acknowledged is lost across a restart.
func TestFsyncErrorStopsServer(t *testing.T) {
	fault := &fsyncFault{}
	dir := t.TempDir()
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(dir), ensembletest.WithConfig(func(c *ensemble.Config) {
		c.StorageWriteHook = fault.hook
	}))
	c := connectTo(t, srv.Addr)
	stop := make(chan struct{})
	done := make(chan []string)
	go func() { done <- writeUntil(c, stop) }()
	fault.arm(dir, 50)
	select {
	case <-srv.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("the server still runs 20s after the fault (fired %v)", fault.fired.Load())
	}
	close(stop)
	acked := <-done
	err := srv.Err()
	if err == nil || !errors.Is(err, syscall.EIO) || !errors.Is(err, raftstore.ErrWriteFailed) ||
		!strings.Contains(err.Error(), "store log entries") || !strings.Contains(err.Error(), raftstore.LogPath(dir)) {
		t.Fatalf("Err() = %v; want the failed fsync, naming the file", err)
	}
	t.Logf("stopped with: %v", err)
	c.Close()
	if err := srv.Close(); err != srv.Err() {
		t.Fatalf("Close after the stop: %v", err)
	}
	cfg := srv.Config
	cfg.ClientAddr = srv.Addr
	srv = ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { *c = cfg }))
	requireAll(t, connectTo(t, srv.Addr), acked, "after the restart")
}

// A follower whose fsync fails stops; the others go on taking writes, and nothing
// acknowledged is lost, also once it is back.
func TestFsyncErrorStopsFollower(t *testing.T) {
	fault := &fsyncFault{}
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.StorageWriteHook = fault.hook
	}))
	leader := cl.Leader()
	f := (leader + 1) % 3
	c := connectTo(t, cl.Members[leader].Addr)
	stop := make(chan struct{})
	done := make(chan []string)
	go func() { done <- writeUntil(c, stop) }()
	fault.arm(cl.Members[f].Config.DataDir, 30)
	select {
	case <-cl.Members[f].Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("the follower still runs 20s after the fault (fired %v)", fault.fired.Load())
	}
	if err := cl.Members[f].Err(); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), raftstore.LogPath(cl.Members[f].Config.DataDir)) {
		t.Fatalf("follower's Err() = %v", err)
	}
	time.Sleep(500 * time.Millisecond) // the others keep writing
	close(stop)
	acked := <-done
	requireAll(t, c, acked, "on the leader")
	cl.Stop(f)
	cl.Start(f)
	fc := connectTo(t, cl.Members[f].Addr)
	if _, err := fc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	requireAll(t, fc, acked, "on the restarted follower")
}

// A member whose files are damaged refuses to start, naming the file.
func TestCorruptLogRefusesStart(t *testing.T) {
	dir := t.TempDir()
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(dir))
	c := connectTo(t, srv.Addr)
	marker := "corrupt-me-0123456789"
	// More writes after it: damage to the last batch of the log is taken for a
	// write torn by a crash, and dropped.
	for _, p := range []string{"/x", "/y"} {
		if _, err := c.Create(p, []byte(marker), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		marker = strings.ToUpper(marker)
	}
	marker = strings.ToLower(marker)
	c.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(raftstore.LogPath(dir), "*.wal"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("log segments: %v %v", segs, err)
	}
	db := segs[0]
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	j := strings.Index(string(b), marker)
	if j < 0 {
		t.Fatalf("the znode's data is not in %s", db)
	}
	b[j+3] ^= 0x20
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config
	cfg.ClientAddr = "127.0.0.1:0"
	s, err := ensemble.Start(cfg)
	if err == nil {
		s.Close()
		t.Fatal("a member with a damaged log entry started")
	}
	if !errors.Is(err, raftstore.ErrCorrupt) || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "reconfig -remove") {
		t.Fatalf("Start: %v; want the corrupt file named and what to do", err)
	}
	t.Logf("refused: %v", err)
}

// A member that cannot persist a new term stops with an error, instead of the panic
// hashicorp/raft raises there (which would take down every server in the process).
func TestTermWriteErrorStopsMember(t *testing.T) {
	var failDir atomic.Value
	failDir.Store("")
	hook := func(op raftstore.WriteOp, write func() error) error {
		if d := failDir.Load().(string); d != "" && strings.HasPrefix(op.Path, d) && op.Kind == "set" {
			return syscall.EIO
		}
		return write()
	}
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) { c.StorageWriteHook = hook }))
	leader := cl.Leader()
	f := (leader + 1) % 3
	failDir.Store(cl.Members[f].Config.DataDir)
	cl.Stop(leader) // an election: the follower must persist a new term
	select {
	case <-cl.Members[f].Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the member still runs 20s after it could not persist a term")
	}
	if err := cl.Members[f].Err(); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "set CurrentTerm") {
		t.Fatalf("Err() = %v", err)
	}
}

// toLegacy rewrites a stopped server's log as the versions before checksums wrote
// it: raft.db of raft-boltdb, and no wal/.
func toLegacy(t *testing.T, dir string) {
	t.Helper()
	s, err := raftstore.Open(dir, raftstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.Log.FirstIndex()
	last, _ := s.Log.LastIndex()
	for i := first; i <= last && i > 0; i++ {
		var l raft.Log
		if err := s.Log.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if err := db.StoreLog(&l); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"} {
		if v, err := s.Stable.Get([]byte(k)); err == nil {
			if err := db.Set([]byte(k), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(db.Close(), s.Close(), os.RemoveAll(raftstore.LogPath(dir))); err != nil {
		t.Fatal(err)
	}
}

// A data directory of the versions on raft-boltdb starts with its tree: the log is
// moved into wal/ at start.
func TestLegacyDataDirMigrates(t *testing.T) {
	dir := t.TempDir()
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(dir), ensembletest.WithConfig(func(c *ensemble.Config) {
		c.SnapshotThreshold = 50 // a snapshot, and entries after it
	}))
	c := connectTo(t, srv.Addr)
	for i := range 120 {
		if _, err := c.Create(fmt.Sprintf("/m%03d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	cfg := srv.Config
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	toLegacy(t, dir)
	cfg.ClientAddr = srv.Addr
	srv = ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { *c = cfg }))
	c = connectTo(t, srv.Addr)
	for i := range 120 {
		if d, _, err := c.Get(fmt.Sprintf("/m%03d", i)); err != nil || len(d) != 1 || d[0] != byte(i) {
			t.Fatalf("/m%03d after the migration: %v %v", i, d, err)
		}
	}
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "raft.db.migrated")); err != nil {
		t.Fatal(err)
	}
}
