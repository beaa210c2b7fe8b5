package recipes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Node markers of lock-like recipes. kazoo's Lock regex and Curator's
// StandardLockInternalsDriver both identify a contender by what precedes its
// ten-digit sequence suffix.
const (
	kazooLock     = "__lock__"
	kazooReadLock = "__rlock__"
	curatorLock   = "-lock-"
	curatorLatch  = "-latch-"
	curatorPrefix = "_c_"
)

// lockSpec is the contention protocol shared by Mutex, RWMutex and LeaderElection:
// an ephemeral sequential node per contender; the contender holds the lock when no
// node of a blocking kind has a lower sequence; a waiter watches only the nearest
// blocking predecessor (no herd effect).
type lockSpec struct {
	s        *Session
	dir      string
	newName  func() string // a fresh unique prefix (UUID + marker)
	marker   string        // marker of this contender's own node
	blockers []string      // markers of nodes that exclude this contender
	all      []string      // markers of every contender kind at dir
	data     []byte
	acl      []zk.ACL
}

// acquire runs the protocol. With wait false it gives up (returns nil, nil) when
// another contender is ahead.
func (l *lockSpec) acquire(ctx context.Context, wait bool) (*holding, error) {
	c := l.s.conn
	for attempt := 0; attempt < maxAttempts; attempt++ {
		ep := l.s.epoch()
		if ep.ended() {
			return nil, ErrSessionLost
		}
		h, retry, err := l.attempt(ctx, c, ep, wait)
		if err != nil || !retry {
			return h, err
		}
	}
	return nil, fmt.Errorf("lock %s: too many retries", l.dir)
}

// attempt creates one contender node and waits with it; retry reports that the
// node vanished (session expiry, a deleted lock path) and a new attempt is due.
func (l *lockSpec) attempt(ctx context.Context, c Conn, ep *epoch, wait bool) (h *holding, retry bool, err error) {
	name, err := createProtected(ctx, c, l.dir, l.newName(), l.data, zk.FlagEphemeral, l.acl)
	if err != nil {
		return nil, false, err
	}
	node := l.dir + "/" + name
	abandon := func() {
		cctx, cancel := cleanupCtx()
		defer cancel()
		_ = deleteQuietly(cctx, c, node)
	}
	for {
		if ep.ended() {
			abandon()
			return nil, true, nil
		}
		var children []string
		err := do(ctx, func() (err error) { children, _, err = c.Children(l.dir); return err })
		if errors.Is(err, zk.ErrNoNode) {
			return nil, true, nil // the lock path was deleted, and our node with it
		}
		if err != nil {
			abandon()
			return nil, false, err
		}
		cs := contenders(children, l.all)
		me := slices.IndexFunc(cs, func(x contender) bool { return x.name == name })
		if me < 0 {
			return nil, true, nil // our node is gone
		}
		pred := ""
		for i := me - 1; i >= 0; i-- {
			if slices.Contains(l.blockers, cs[i].marker) {
				pred = cs[i].name
				break
			}
		}
		if pred == "" {
			var ok bool
			var st *zk.Stat
			err := do(ctx, func() (err error) { ok, st, err = c.Exists(node); return err })
			if err != nil {
				abandon()
				return nil, false, err
			}
			if !ok {
				return nil, true, nil
			}
			return hold(l.s, ep, node, st), false, nil
		}
		if !wait {
			abandon()
			return nil, false, nil
		}
		ok, _, ch, err := c.ExistsW(l.dir + "/" + pred)
		if err != nil {
			if retryable(err) {
				if err := sleepCtx(ctx, retryDelay); err != nil {
					abandon()
					return nil, false, err
				}
				continue
			}
			abandon()
			return nil, false, err
		}
		if !ok {
			continue
		}
		select {
		case <-ctx.Done():
			abandon()
			return nil, false, ctx.Err()
		case <-ep.done:
		case <-ch:
		}
	}
}

// Mutex is a distributed exclusive lock.
//
// Layout: with LayoutKazoo (the default) it is kazoo's Lock: contender nodes
// "<dir>/<uuid4 hex>__lock__<seq>", ephemeral sequential, data = WithData. With
// LayoutCurator its own node is Curator InterProcessMutex's "_c_<uuid>-lock-<seq>".
// Either way it treats nodes of both namings as contenders, ordered by sequence
// number. Which layout to pick depends on the other side: kazoo's Lock ignores
// children that do not match "__lock__<seq>" (unless given
// extra_lock_patterns=["-lock-"]), and Curator orders every child by the text after
// its last "lock-", which for a kazoo-named node is the whole name. So use
// LayoutKazoo on a path shared with kazoo, LayoutCurator on a path shared with
// Curator, and LayoutCurator plus kazoo's extra_lock_patterns=["-lock-"] when all
// three share it.
//
// A waiter watches only its nearest predecessor. A contender node created during a
// connection loss is found again by its UUID prefix, never leaked. A held lock is
// lost when the session expires (or the connection stays down for the session
// timeout) or when its node is deleted: Lost closes then. Fence writes with Token
// or Guard.
type Mutex struct {
	spec lockSpec
	mu   sync.Mutex
	h    *holding
}

// NewMutex returns a mutex on the lock directory path.
func NewMutex(s *Session, path string, opts ...Option) *Mutex {
	o := buildOptions(s, opts)
	spec := lockSpec{s: s, dir: path, data: o.data, acl: o.acl,
		blockers: []string{kazooLock, curatorLock}, all: []string{kazooLock, curatorLock}}
	if o.layout == LayoutCurator {
		spec.marker = curatorLock
		spec.newName = func() string { return curatorPrefix + uuidString() + curatorLock }
	} else {
		spec.marker = kazooLock
		spec.newName = func() string { return uuidHex() + kazooLock }
	}
	return &Mutex{spec: spec}
}

// Lock blocks until the lock is held, ctx ends or the session is lost.
func (m *Mutex) Lock(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil && !m.h.isLost() {
		return errors.New("recipes: Mutex already held by this process")
	}
	h, err := m.spec.acquire(ctx, true)
	if err != nil {
		return err
	}
	m.h = h
	return nil
}

// TryLock takes the lock if no other contender holds or waits for it, without
// waiting. It reports whether the lock is now held.
func (m *Mutex) TryLock(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil && !m.h.isLost() {
		return false, nil
	}
	h, err := m.spec.acquire(ctx, false)
	if err != nil || h == nil {
		return false, err
	}
	m.h = h
	return true, nil
}

// Unlock releases the lock by deleting its node. It returns ErrLost if the lock had
// been lost meanwhile (the caller's critical section was not protected), and
// ErrNotHeld if it was not held.
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return ErrNotHeld
	}
	h := m.h
	m.h = nil
	return h.release(ctx)
}

// Lost returns a channel that closes when the held lock is lost. If the lock is not
// held, the channel is already closed.
func (m *Mutex) Lost() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return closedChan
	}
	return m.h.lost
}

// Token returns the fencing token of the held lock: the czxid of its node, which
// grows with every acquisition of any lock in the ensemble. It is 0 when not held.
// Pass it to the resource being protected so it rejects writes from a past holder.
func (m *Mutex) Token() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return 0
	}
	return m.h.czxid
}

// Node returns the full path of the held lock's node, or "".
func (m *Mutex) Node() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return ""
	}
	return m.h.node
}

// Guard applies ops (*zk.CreateRequest, *zk.SetDataRequest, *zk.DeleteRequest,
// *zk.CheckVersionRequest) atomically, and only if the lock is still held:
// it sends multi{check(lock node), ops...}. If the lock node is gone it returns an
// error wrapping ErrLost and nothing is applied. The responses returned are those
// of ops (the check's is dropped).
func (m *Mutex) Guard(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	m.mu.Lock()
	h := m.h
	m.mu.Unlock()
	return guard(ctx, m.spec.s.conn, h, ops)
}

func guard(ctx context.Context, c Conn, h *holding, ops []any) ([]zk.MultiResponse, error) {
	if h == nil {
		return nil, ErrNotHeld
	}
	if h.isLost() {
		return nil, ErrLost
	}
	all := append([]any{&zk.CheckVersionRequest{Path: h.node, Version: h.ver}}, ops...)
	var res []zk.MultiResponse
	// A multi is not retried blindly after connection loss: it may have applied.
	res, err := c.Multi(all...)
	if err != nil {
		if len(res) > 0 && (errors.Is(res[0].Error, zk.ErrNoNode) || errors.Is(res[0].Error, zk.ErrBadVersion)) {
			return nil, fmt.Errorf("guarded write on %s: %w", h.node, ErrLost)
		}
		if len(res) > 1 {
			return res[1:], err
		}
		return nil, err
	}
	_ = ctx
	return res[1:], nil
}
