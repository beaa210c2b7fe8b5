package recipes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Semaphore hands out at most a fixed number of leases at once.
//
// Layout: kazoo's Semaphore. The semaphore node's data is the maximum number of
// leases (decimal ASCII; a different stored maximum is an error); a lease is an
// ephemeral child "<uuid4 hex>" with the holder's data; acquirers serialise
// through a kazoo Lock at "<path>-__lock__", and only that lock's holder watches
// the lease children, so waiting acquirers cause no herd.
type Semaphore struct {
	s    *Session
	path string
	max  int
	o    options
	lock *Mutex
	// local serialises this process's acquirers on the one Mutex.
	local sync.Mutex
}

// Lease is one slot of a Semaphore.
type Lease struct {
	h *holding
}

// NewSemaphore returns a semaphore of maxLeases at path.
func NewSemaphore(s *Session, path string, maxLeases int, opts ...Option) *Semaphore {
	o := buildOptions(s, opts)
	return &Semaphore{s: s, path: path, max: maxLeases, o: o,
		lock: NewMutex(s, path+"-"+kazooLock, WithData(o.data), WithACL(o.acl))}
}

func (sem *Semaphore) ensure(ctx context.Context) error {
	c := sem.s.conn
	want := strconv.Itoa(sem.max)
	if err := ensurePath(ctx, c, parentOf(sem.path), sem.o.acl); err != nil {
		return err
	}
	err := do(ctx, func() error { _, err := c.Create(sem.path, []byte(want), 0, sem.o.acl); return err })
	if err == nil {
		return nil
	}
	if !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	var data []byte
	if err := do(ctx, func() (err error) { data, _, err = c.Get(sem.path); return err }); err != nil {
		return err
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && n != sem.max {
		return fmt.Errorf("recipes: semaphore %s has %d leases, want %d", sem.path, n, sem.max)
	} else if err != nil && len(data) == 0 {
		_, err = c.Set(sem.path, []byte(want), -1)
		return err
	}
	return nil
}

// Acquire blocks until a lease is free and takes it.
func (sem *Semaphore) Acquire(ctx context.Context) (*Lease, error) { return sem.acquire(ctx, true) }

// TryAcquire takes a lease if one is free now; it returns nil, nil if none is.
func (sem *Semaphore) TryAcquire(ctx context.Context) (*Lease, error) {
	return sem.acquire(ctx, false)
}

func (sem *Semaphore) acquire(ctx context.Context, wait bool) (*Lease, error) {
	if err := sem.ensure(ctx); err != nil {
		return nil, err
	}
	sem.local.Lock()
	defer sem.local.Unlock()
	ep := sem.s.epoch()
	if err := sem.lock.Lock(ctx); err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := cleanupCtx()
		defer cancel()
		_ = sem.lock.Unlock(cctx)
	}()
	c := sem.s.conn
	node := sem.path + "/" + uuidHex()
	for {
		if ep.ended() {
			return nil, ErrSessionLost
		}
		var kids []string
		var ch <-chan zk.Event
		if err := do(ctx, func() (err error) { kids, _, ch, err = c.ChildrenW(sem.path); return err }); err != nil {
			return nil, err
		}
		if len(kids) < sem.max {
			err := do(ctx, func() error { _, err := c.Create(node, sem.o.data, zk.FlagEphemeral, sem.o.acl); return err })
			if err != nil && !errors.Is(err, zk.ErrNodeExists) { // exists: our create, reply lost
				return nil, err
			}
			var ok bool
			var st *zk.Stat
			if err := do(ctx, func() (err error) { ok, st, err = c.Exists(node); return err }); err != nil {
				return nil, err
			}
			if ok {
				return &Lease{h: hold(sem.s, ep, node, st)}, nil
			}
			continue
		}
		if !wait {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ep.done:
			return nil, ErrSessionLost
		case <-sem.lock.Lost():
			return nil, ErrSessionLost
		case <-ch:
		}
	}
}

// Holders returns the data of every lease holder.
func (sem *Semaphore) Holders(ctx context.Context) ([]string, error) {
	c := sem.s.conn
	var kids []string
	err := do(ctx, func() (err error) { kids, _, err = c.Children(sem.path); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range kids {
		var data []byte
		err := do(ctx, func() (err error) { data, _, err = c.Get(sem.path + "/" + k); return err })
		if err == nil {
			out = append(out, string(data))
		}
	}
	return out, nil
}

// Release gives the lease back (ErrLost if it had been lost).
func (l *Lease) Release(ctx context.Context) error { return l.h.release(ctx) }

// Lost closes when the lease is lost (session expiry, node deleted).
func (l *Lease) Lost() <-chan struct{} { return l.h.lost }

func parentOf(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
