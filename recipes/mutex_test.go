package recipes_test

import (
	"context"
	"errors"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/recipes"
)

func TestMutexExcludes(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		lockPath := root(t) + "/lock"
		const workers, rounds = 4, 5
		var mu sync.Mutex
		inside, maxInside, total := 0, 0, 0
		var tokens []int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			s := session(t, addr, 5*time.Second)
			layout := recipes.LayoutKazoo
			if w%2 == 1 {
				layout = recipes.LayoutCurator
			}
			m := recipes.NewMutex(s, lockPath, recipes.WithLayout(layout))
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for r := 0; r < rounds; r++ {
					if err := m.Lock(ctx); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					inside++
					maxInside = max(maxInside, inside)
					total++
					tokens = append(tokens, m.Token())
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					mu.Lock()
					inside--
					mu.Unlock()
					if err := m.Unlock(ctx); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if maxInside != 1 || total != workers*rounds {
			t.Fatalf("max holders %d (want 1), acquisitions %d (want %d)", maxInside, total, workers*rounds)
		}
		// Fencing tokens strictly increase in acquisition order.
		for i := 1; i < len(tokens); i++ {
			if tokens[i] <= tokens[i-1] {
				t.Fatalf("fencing tokens not increasing: %v", tokens)
			}
		}
		if left := children(t, rawConn(t, addr), lockPath); len(left) != 0 {
			t.Fatalf("nodes left behind: %v", left)
		}
	})
}

func TestMutexTryLockAndLayout(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 10*time.Second)
		lockPath := root(t) + "/lock"
		a := recipes.NewMutex(session(t, addr, 5*time.Second), lockPath, recipes.WithData([]byte("a")))
		b := recipes.NewMutex(session(t, addr, 5*time.Second), lockPath, recipes.WithLayout(recipes.LayoutCurator))
		if ok, err := a.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock on a free lock: %v %v", ok, err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}__lock__\d{10}$`).MatchString(path.Base(a.Node())) {
			t.Fatalf("kazoo layout node %q", a.Node())
		}
		if ok, err := b.TryLock(ctx); ok || err != nil {
			t.Fatalf("TryLock on a held lock: %v %v", ok, err)
		}
		raw := rawConn(t, addr)
		if ch := children(t, raw, lockPath); len(ch) != 1 {
			t.Fatalf("failed TryLock left a node: %v", ch)
		}
		if err := a.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Unlock(ctx); !errors.Is(err, recipes.ErrNotHeld) {
			t.Fatalf("second Unlock: %v", err)
		}
		if ok, err := b.TryLock(ctx); !ok || err != nil {
			t.Fatalf("TryLock after release: %v %v", ok, err)
		}
		if !regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$`).MatchString(path.Base(b.Node())) {
			t.Fatalf("Curator layout node %q", b.Node())
		}
		if data, _, _ := raw.Get(a.Node()); a.Node() != "" || data != nil {
			t.Fatalf("released mutex still reports node %q", a.Node())
		}
		b.Unlock(ctx)
	})
}

// A waiter watches only its predecessor: with five contenders queued, each watches
// exactly the node just before its own, and nobody watches the children.
func TestMutexNoHerd(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		lockPath := root(t) + "/lock"
		const n = 5
		conns := make([]*countingConn, n)
		ms := make([]*recipes.Mutex, n)
		for i := range n {
			s := wrappedSession(t, addr, 5*time.Second, func(c recipes.Conn) recipes.Conn {
				conns[i] = &countingConn{Conn: c}
				return conns[i]
			})
			ms[i] = recipes.NewMutex(s, lockPath)
		}
		ctx := ctxT(t, 20*time.Second)
		if err := ms[0].Lock(ctx); err != nil {
			t.Fatal(err)
		}
		acquired := make(chan int, n)
		var wg sync.WaitGroup
		for i := 1; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ms[i].Lock(ctx); err != nil {
					t.Error(err)
					return
				}
				acquired <- i
			}()
			// Queue them in order: wait until i's node exists.
			eventually(t, 5*time.Second, func() error {
				conns[i].mu.Lock()
				defer conns[i].mu.Unlock()
				if len(conns[i].created) == 0 {
					return errors.New("not queued")
				}
				return nil
			})
		}
		for i := 1; i < n; i++ {
			if err := ms[i-1].Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-acquired:
				if got != i {
					t.Fatalf("contender %d acquired, want %d (FIFO)", got, i)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("contender %d did not acquire", i)
			}
		}
		ms[n-1].Unlock(ctx)
		wg.Wait()
		for i := 1; i < n; i++ {
			c := conns[i]
			c.mu.Lock()
			own, pred := lockNode(c), lockNode(conns[i-1])
			for _, w := range c.existsW {
				if w != pred && w != own {
					t.Errorf("contender %d watched %s; only its predecessor %s (or its own node) is allowed", i, w, pred)
				}
			}
			if !slices.Contains(c.existsW, pred) {
				t.Errorf("contender %d never watched its predecessor %s: %v", i, pred, c.existsW)
			}
			if c.childrenW != 0 {
				t.Errorf("contender %d set %d child watches", i, c.childrenW)
			}
			c.mu.Unlock()
		}
	})
}

// The create of the contender node reaches the server but its reply is lost: the
// recipe finds its node by its UUID prefix instead of creating a second one.
func TestMutexConnectionLossOnCreate(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		for _, layout := range []recipes.Layout{recipes.LayoutKazoo, recipes.LayoutCurator} {
			lockPath := root(t) + "/lock" + string(rune('0'+layout))
			var fc *flakyConn
			s := wrappedSession(t, addr, 5*time.Second, func(c recipes.Conn) recipes.Conn {
				fc = &flakyConn{Conn: c}
				return fc
			})
			ctx := ctxT(t, 10*time.Second)
			// Create the lock path first, so the failing create is the contender's.
			other := recipes.NewMutex(session(t, addr, 5*time.Second), lockPath)
			if err := other.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			fc.failCreates.Store(1)
			m := recipes.NewMutex(s, lockPath, recipes.WithLayout(layout))
			done := make(chan error, 1)
			go func() { done <- m.Lock(ctx) }()
			raw := rawConn(t, addr)
			eventually(t, 5*time.Second, func() error {
				if fc.failed.Load() != 1 {
					return errors.New("create not failed yet")
				}
				return nil
			})
			// While waiting, exactly two nodes: the holder's and ours (not leaked).
			eventually(t, 5*time.Second, func() error {
				if ch := children(t, raw, lockPath); len(ch) != 2 {
					return errors.New("want 2 nodes, have " + string(rune('0'+len(ch))))
				}
				return nil
			})
			if err := other.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if ch := children(t, raw, lockPath); len(ch) != 1 || lockPath+"/"+ch[0] != m.Node() {
				t.Fatalf("after acquiring: %v, own node %s", ch, m.Node())
			}
			if err := m.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if ch := children(t, raw, lockPath); len(ch) != 0 {
				t.Fatalf("leaked: %v", ch)
			}
		}
	})
}

// Session expiry while holding the lock closes Lost; another process then gets
// the lock; the old holder's Unlock reports the loss.
func TestMutexSessionExpiry(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		lockPath := root(t) + "/lock"
		px := newProxy(t, addr)
		s := session(t, px.Addr(), 600*time.Millisecond)
		m := recipes.NewMutex(s, lockPath)
		ctx := ctxT(t, 20*time.Second)
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if closed(m.Lost()) {
			t.Fatal("Lost closed while held")
		}
		other := recipes.NewMutex(session(t, addr, 5*time.Second), lockPath)
		got := make(chan error, 1)
		go func() { got <- other.Lock(ctx) }()

		px.setCut(true)
		waitClosed(t, m.Lost(), 5*time.Second, "Lost after the session expired")
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the other process did not get the lock after expiry")
		}
		if _, err := m.Guard(ctx, &zk.CreateRequest{Path: root(t) + "/x", Data: nil, Acl: zk.WorldACL(zk.PermAll)}); !errors.Is(err, recipes.ErrLost) {
			t.Fatalf("guarded write after loss: %v", err)
		}
		px.setCut(false)
		if err := m.Unlock(ctx); !errors.Is(err, recipes.ErrLost) {
			t.Fatalf("Unlock after loss: %v, want ErrLost", err)
		}
		// The client gets a new session and can contend again.
		if err := other.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.Lock(ctx); err != nil {
			t.Fatalf("Lock in the new session: %v", err)
		}
		m.Unlock(ctx)
	})
}

// Deleting the lock path (and the holder's node with it) is a loss for the holder;
// a waiter recreates the path and takes the lock.
func TestMutexLockPathDeleted(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		lockPath := root(t) + "/lock"
		ctx := ctxT(t, 20*time.Second)
		a := recipes.NewMutex(session(t, addr, 5*time.Second), lockPath)
		b := recipes.NewMutex(session(t, addr, 5*time.Second), lockPath)
		if err := a.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { got <- b.Lock(ctx) }()
		raw := rawConn(t, addr)
		eventually(t, 5*time.Second, func() error {
			if len(children(t, raw, lockPath)) != 2 {
				return errors.New("b not queued")
			}
			return nil
		})
		// Delete the path and both nodes at once (as one transaction, so that the
		// waiter cannot see its node still there and briefly hold the lock).
		var ops []any
		for _, c := range children(t, raw, lockPath) {
			ops = append(ops, &zk.DeleteRequest{Path: lockPath + "/" + c, Version: -1})
		}
		if _, err := raw.Multi(append(ops, &zk.DeleteRequest{Path: lockPath, Version: -1})...); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, a.Lost(), 5*time.Second, "Lost after the lock path was deleted")
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("waiter did not take the lock after the path was deleted")
		}
		if closed(b.Lost()) {
			t.Fatal("new holder reports loss")
		}
		if err := a.Unlock(ctx); !errors.Is(err, recipes.ErrLost) {
			t.Fatalf("Unlock after loss: %v", err)
		}
		if err := b.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Guard applies its ops only while the lock is held, atomically with a check of
// the lock node.
func TestMutexGuard(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 10*time.Second)
		raw := rawConn(t, addr)
		r := root(t)
		m := recipes.NewMutex(session(t, addr, 5*time.Second), r+"/lock")
		if _, err := m.Guard(ctx, &zk.CreateRequest{Path: r + "/a", Acl: zk.WorldACL(zk.PermAll)}); !errors.Is(err, recipes.ErrNotHeld) {
			t.Fatalf("Guard unheld: %v", err)
		}
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := m.Guard(ctx, &zk.CreateRequest{Path: r + "/a", Data: []byte("1"), Acl: zk.WorldACL(zk.PermAll)})
		if err != nil || len(res) != 1 || res[0].String != r+"/a" {
			t.Fatalf("Guard held: %v %+v", err, res)
		}
		// Someone deletes the lock node: the guarded write must not apply.
		if err := raw.Delete(m.Node(), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Guard(ctx, &zk.SetDataRequest{Path: r + "/a", Data: []byte("2"), Version: -1}); !errors.Is(err, recipes.ErrLost) {
			t.Fatalf("Guard after the node was deleted: %v", err)
		}
		if data, _, _ := raw.Get(r + "/a"); string(data) != "1" {
			t.Fatalf("guarded write applied without the lock: %q", data)
		}
		waitClosed(t, m.Lost(), 5*time.Second, "Lost after node deletion")
	})
}

// lockNode returns the contender node a countingConn created.
func lockNode(c *countingConn) string {
	for _, p := range c.created {
		if strings.Contains(p, "__lock__") {
			return p
		}
	}
	return ""
}

// The server expires the session while the client cannot reach it, and the client
// learns it from StateExpired on reconnecting (its own disconnection timer is set
// longer than that here): the lock is reported lost then.
func TestMutexLostOnExpiredEvent(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		px := newProxy(t, addr)
		s := wrappedSession2(t, px.Addr(), 400*time.Millisecond, time.Minute)
		m := recipes.NewMutex(s, root(t)+"/lock")
		ctx := ctxT(t, 20*time.Second)
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		px.setCut(true)
		time.Sleep(1500 * time.Millisecond) // well past the 400ms session timeout
		if closed(m.Lost()) {
			t.Fatal("lost before the client could know (the disconnection timer is 1m)")
		}
		px.setCut(false)
		waitClosed(t, m.Lost(), 10*time.Second, "Lost after StateExpired")
		if err := m.Lock(ctx); err != nil {
			t.Fatalf("Lock in the new session: %v", err)
		}
		m.Unlock(ctx)
	})
}

// wrappedSession2 connects with a session timeout and gives the Session a
// different disconnection allowance.
func wrappedSession2(t *testing.T, addr string, sessionTimeout, allowance time.Duration) *recipes.Session {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	s := recipes.NewSession(c, events, allowance)
	t.Cleanup(func() { c.Close(); s.Close() })
	waitConnected(t, c)
	return s
}
