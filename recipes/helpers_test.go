package recipes_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/recipes"
)

// Each scenario runs against zkraft (a fresh in-process server per test) and
// against the reference Apache ZooKeeper 3.8.0 (one JVM for the whole package run,
// started on first use and killed in TestMain).

func TestMain(m *testing.M) {
	code := m.Run()
	stopReference()
	if code == 0 {
		// Every recipe goroutine (lock watchers, Observe/Watch loops, the Session's
		// event loop, the registry's re-registration) must end with its owner.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type backend struct {
	name string
	addr string
}

// forBackends runs fn as a subtest against each server.
func forBackends(t *testing.T, fn func(t *testing.T, addr string)) {
	t.Helper()
	t.Run("zkraft", func(t *testing.T) {
		fn(t, ensembletest.RunServer(t).Addr)
	})
	t.Run("zookeeper", func(t *testing.T) {
		fn(t, referenceAddr(t))
	})
}

var roots struct {
	sync.Mutex
	n  int
	of map[*testing.T]string
}

// root returns a path unique to the test and to this run of it (the reference
// server lives across -count repetitions), so tests sharing a server do not see
// each other's nodes.
func root(t *testing.T) string {
	roots.Lock()
	defer roots.Unlock()
	if r, ok := roots.of[t]; ok {
		return r
	}
	if roots.of == nil {
		roots.of = map[*testing.T]string{}
	}
	roots.n++
	r := fmt.Sprintf("/t_%s_%d_%d", strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name()), os.Getpid(), roots.n)
	roots.of[t] = r
	return r
}

// session connects to addr and closes the session with the test.
func session(t *testing.T, addr string, timeout time.Duration) *recipes.Session {
	t.Helper()
	s, err := recipes.Connect([]string{addr}, timeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	waitConnected(t, s.Conn())
	return s
}

func waitConnected(t *testing.T, c recipes.Conn) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if c.State() != zk.StateHasSession {
			return fmt.Errorf("state %v", c.State())
		}
		return nil
	})
}

// rawConn is a plain go-zookeeper connection for inspecting the tree.
func rawConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitConnected(t, c)
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls fn until it returns nil, failing the test after total.
func eventually(t *testing.T, total time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %v", total, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

func children(t *testing.T, c *zk.Conn, p string) []string {
	t.Helper()
	ch, _, err := c.Children(p)
	if err != nil {
		t.Fatalf("children %s: %v", p, err)
	}
	return ch
}

// deleteAll removes p and everything under it.
func deleteAll(c *zk.Conn, p string) error {
	ch, _, err := c.Children(p)
	if err == zk.ErrNoNode {
		return nil
	}
	if err != nil {
		return err
	}
	for _, x := range ch {
		if err := deleteAll(c, p+"/"+x); err != nil {
			return err
		}
	}
	if err := c.Delete(p, -1); err != nil && err != zk.ErrNoNode {
		return err
	}
	return nil
}

// proxy forwards TCP connections to a server and can cut them all, so that a
// client loses its connection for as long as the test wants (its session expires
// on the server while the client cannot reach it).
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close(); c.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, s); s.Close(); c.Close() }()
	}
}

// setCut closes every forwarded connection and refuses new ones (true), or lets
// connections through again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// countingConn records the watches a recipe sets and the nodes it creates.
type countingConn struct {
	recipes.Conn
	mu        sync.Mutex
	existsW   []string
	childrenW int
	created   []string
}

func (c *countingConn) ExistsW(p string) (bool, *zk.Stat, <-chan zk.Event, error) {
	c.mu.Lock()
	c.existsW = append(c.existsW, p)
	c.mu.Unlock()
	return c.Conn.ExistsW(p)
}

func (c *countingConn) ChildrenW(p string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	c.mu.Lock()
	c.childrenW++
	c.mu.Unlock()
	return c.Conn.ChildrenW(p)
}

func (c *countingConn) Create(p string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	got, err := c.Conn.Create(p, data, flags, acl)
	if err == nil {
		c.mu.Lock()
		c.created = append(c.created, got)
		c.mu.Unlock()
	}
	return got, err
}

// flakyConn lets the next n creates reach the server and then reports connection
// loss, as when the connection drops before the reply arrives.
type flakyConn struct {
	recipes.Conn
	failCreates atomic.Int32
	failed      atomic.Int32
}

func (c *flakyConn) Create(p string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	got, err := c.Conn.Create(p, data, flags, acl)
	if err == nil && c.failCreates.Add(-1) >= 0 {
		c.failed.Add(1)
		return "", zk.ErrConnectionClosed
	}
	return got, err
}

// wrappedSession connects to addr and builds a Session over wrap(conn).
func wrappedSession(t *testing.T, addr string, timeout time.Duration, wrap func(recipes.Conn) recipes.Conn) *recipes.Session {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, timeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	s := recipes.NewSession(wrap(c), events, timeout)
	t.Cleanup(func() { c.Close(); s.Close() })
	waitConnected(t, c)
	return s
}

// The reference server: Apache ZooKeeper 3.8.0 from Debian, started by
// integration/testkit on first use and stopped by TestMain.

var ref struct {
	once sync.Once
	zk   *testkit.ZooKeeper
	err  error
}

// referenceAddr starts Apache ZooKeeper once per package run and returns its
// address. A missing java or jar fails the test: CI installs them.
func referenceAddr(t *testing.T) string {
	t.Helper()
	ref.once.Do(func() {
		ref.zk, ref.err = testkit.StartZooKeeper(testkit.ZooKeeperOptions{Config: map[string]string{"tickTime": "100"}})
	})
	if ref.err != nil {
		t.Fatalf("reference ZooKeeper: %v", ref.err)
	}
	return ref.zk.Addr
}

func stopReference() {
	if ref.zk != nil {
		ref.zk.Stop()
	}
}
