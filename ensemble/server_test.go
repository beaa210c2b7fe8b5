package ensemble

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/zkraft/zkraft/ensemble/internal/testlog"
	"github.com/zkraft/zkraft/storage/raftstore"
	"github.com/zkraft/zkraft/zkproto"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startTest(t *testing.T, mutate func(*Config)) *Server {
	t.Helper()
	cfg := NewConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.TickTime = 100 * time.Millisecond
	// A short tick makes reaping quick; sessions keep the timeout their clients ask
	// for, since 20 ticks (2 s, a 1.3 s client read timeout) is shorter than an fsync
	// can stall on a loaded CI machine.
	cfg.MaxSessionTimeout = 30 * time.Second
	cfg.Logger = testlog.New(t)
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	return s
}

func dial(t *testing.T, s *Server) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{s.Addr().String()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !fn(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *Server) connCount() int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return len(s.conns)
}

// A client that vanishes without closing its session frees its connection at once;
// the session lives on until it expires.
func TestDroppedConnectionIsReleased(t *testing.T) {
	s := startTest(t, nil)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	req := zkproto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}
	body := zkproto.Marshal(&req)
	frame := append([]byte{0, 0, 0, byte(len(body))}, body...)
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := nc.Read(buf); err != nil {
		t.Fatal(err)
	}
	eventually(t, "connection registered", func() bool { return s.connCount() == 1 })
	nc.Close()
	eventually(t, "connection released", func() bool { return s.connCount() == 0 })
	if n := s.sessions.count(); n != 1 {
		t.Fatalf("sessions after drop = %d, want 1 (it expires later, not on disconnect)", n)
	}
}

// Raft snapshots (taken every few entries here) restore the whole tree and the
// sequence counters after a restart.
func TestSnapshotRestoreAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *Config) { c.DataDir = dir; c.SnapshotThreshold = 16 }
	s := startTest(t, cfg)
	c := dial(t, s)
	if _, err := c.Create("/q", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := c.Create(fmt.Sprintf("/n%03d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create("/q/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	for i := 100; i < 110; i++ { // entries after the snapshot come from the log
		if _, err := c.Create(fmt.Sprintf("/n%03d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	addr := s.Addr().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := startTest(t, func(c *Config) { cfg(c); c.ClientAddr = addr })
	c2 := dial(t, s2)
	for i := 0; i < 110; i++ {
		data, _, err := c2.Get(fmt.Sprintf("/n%03d", i))
		if err != nil || len(data) != 1 || data[0] != byte(i) {
			t.Fatalf("/n%03d after restart: %v %v", i, data, err)
		}
	}
	p, err := c2.Create("/q/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/q/s-0000000100" {
		t.Fatalf("sequential after restart = %q, %v; want /q/s-0000000100", p, err)
	}
	// The snapshot was read once: restored while the log was checked, and raft's
	// restore took that tree (raftstore's Preload) instead of reading it again.
	if n := s2.obs.metrics.StartupSnapLoadTime.Snapshot().Count; n != 1 {
		t.Fatalf("the snapshot was read %d times at the restart, want once", n)
	}
}

// A member whose newest snapshot is damaged refuses to start, naming its state.bin,
// rather than restoring the older snapshot (which raft would do without a word).
func TestCorruptSnapshotRefusesStart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *Config) { c.DataDir = dir }
	s := startTest(t, cfg)
	c := dial(t, s)
	marker := "snapshot-marker-0123456789"
	for i, p := range []string{"/older", "/newer"} {
		if _, err := c.Create(p, []byte(marker[:len(marker)-i]), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if err := s.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	metas, err := s.stores.Snapshot.List()
	if err != nil || len(metas) != 2 {
		t.Fatalf("want two snapshots: %v %v", metas, err)
	}
	state := filepath.Join(dir, "snapshots", metas[0].ID, "state.bin")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	j := strings.Index(string(b), marker[:len(marker)-1]+"\x00") // /newer's data, then its ACL count
	if j < 0 {
		t.Fatalf("/newer's data is not in %s", state)
	}
	b[j+3] ^= 0x20
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2 := NewConfig()
	cfg2.ClientAddr, cfg2.DataDir, cfg2.Logger = "127.0.0.1:0", dir, testlog.New(t)
	s2, err := Start(cfg2)
	if err == nil {
		s2.Close()
		t.Fatal("a member whose newest snapshot is damaged started")
	}
	if !errors.Is(err, raftstore.ErrCorrupt) || !strings.Contains(err.Error(), state) {
		t.Fatalf("Start: %v; want the damaged state.bin named", err)
	}
	t.Logf("refused: %v", err)
}

// The leader reaps a container once its last child is gone, and a TTL node once its
// TTL passes without modification, with ordinary replicated deletes.
func TestContainerAndTTLReaping(t *testing.T) {
	s := startTest(t, func(c *Config) {
		c.ContainerCheckInterval = 20 * time.Millisecond
		c.ExtendedTypesEnabled = true
	})
	c := dial(t, s)
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.CreateContainer("/box", nil, zk.FlagContainer, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer("/never-used", nil, zk.FlagContainer, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/box/item", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, acl, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if ok, _, _ := c.Exists("/box"); !ok {
		t.Fatal("container with a child was reaped")
	}
	if err := c.Delete("/box/item", -1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "empty container reaped", func() bool { ok, _, _ := c.Exists("/box"); return !ok })
	eventually(t, "TTL node reaped", func() bool { ok, _, _ := c.Exists("/ttl"); return !ok })
	if ok, _, _ := c.Exists("/never-used"); !ok {
		t.Fatal("a container that never had a child was reaped")
	}
}
