package recipes

import (
	"context"
	"errors"
	"sync"

	"github.com/go-zookeeper/zk"
)

// LeaderElection elects one leader among the processes campaigning on a path.
//
// Layout: with LayoutKazoo (the default) it is kazoo's Election, which is a kazoo
// Lock whose node data is the candidate's identifier: nodes
// "<dir>/<uuid4 hex>__lock__<seq>"; the leader is the lowest sequence. With
// LayoutCurator its node is Curator LeaderLatch's "_c_<uuid>-latch-<seq>" (the
// data is the participant id). Both namings count as candidates, ordered by
// sequence number; as with Mutex, use LayoutKazoo on a path shared with kazoo and
// LayoutCurator on a path shared with Curator (each of them sees only its own
// naming correctly).
//
// Campaign blocks until this process leads; a candidate watches only its
// predecessor. Lost closes when leadership ends for any reason but Resign (session
// expiry, disconnection for a session timeout, the node or the path deleted).
// Leader and Observe show who leads, for any process.
type LeaderElection struct {
	spec lockSpec
	id   string
	mu   sync.Mutex
	h    *holding
}

// NewLeaderElection returns a candidate identified by id on the election path.
func NewLeaderElection(s *Session, path, id string, opts ...Option) *LeaderElection {
	o := buildOptions(s, opts)
	spec := lockSpec{s: s, dir: path, data: []byte(id), acl: o.acl,
		blockers: []string{kazooLock, curatorLatch}, all: []string{kazooLock, curatorLatch}}
	if o.layout == LayoutCurator {
		spec.marker = curatorLatch
		spec.newName = func() string { return curatorPrefix + uuidString() + curatorLatch }
	} else {
		spec.marker = kazooLock
		spec.newName = func() string { return uuidHex() + kazooLock }
	}
	return &LeaderElection{spec: spec, id: id}
}

// ID returns the candidate's id.
func (e *LeaderElection) ID() string { return e.id }

// Campaign blocks until this candidate is the leader, ctx ends or the session is
// lost. Leading already is not an error.
func (e *LeaderElection) Campaign(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h != nil && !e.h.isLost() {
		return nil
	}
	h, err := e.spec.acquire(ctx, true)
	if err != nil {
		return err
	}
	e.h = h
	return nil
}

// Resign gives up leadership (or nothing, if not leading).
func (e *LeaderElection) Resign(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return nil
	}
	h := e.h
	e.h = nil
	if err := h.release(ctx); err != nil && !errors.Is(err, ErrLost) {
		return err
	}
	return nil
}

// IsLeader reports whether this candidate currently leads.
func (e *LeaderElection) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.h != nil && !e.h.isLost()
}

// Lost returns a channel that closes when leadership won by Campaign is lost.
// It is already closed when not leading.
func (e *LeaderElection) Lost() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return closedChan
	}
	return e.h.lost
}

// Token returns the leader's fencing token (its node's czxid), or 0.
func (e *LeaderElection) Token() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil {
		return 0
	}
	return e.h.czxid
}

// Guard applies ops only while this candidate leads (see Mutex.Guard).
func (e *LeaderElection) Guard(ctx context.Context, ops ...any) ([]zk.MultiResponse, error) {
	e.mu.Lock()
	h := e.h
	e.mu.Unlock()
	return guard(ctx, e.spec.s.conn, h, ops)
}

// Leader returns the current leader's id (its node's data) and whether there is a
// leader.
func (e *LeaderElection) Leader(ctx context.Context) (string, bool, error) {
	id, ok, _, err := e.leader(ctx, false)
	return id, ok, err
}

// leader reads the lowest candidate; with watch it also returns a channel that
// fires when the candidates change.
func (e *LeaderElection) leader(ctx context.Context, watch bool) (string, bool, <-chan zk.Event, error) {
	c := e.spec.s.conn
	for i := 0; i < maxAttempts; i++ {
		var children []string
		var ch <-chan zk.Event
		var err error
		if watch {
			err = do(ctx, func() (err error) { children, _, ch, err = c.ChildrenW(e.spec.dir); return err })
			if errors.Is(err, zk.ErrNoNode) {
				var ok bool
				err = do(ctx, func() (err error) { ok, _, ch, err = c.ExistsW(e.spec.dir); return err })
				if err == nil && ok {
					continue // created meanwhile
				}
				if err == nil {
					return "", false, ch, nil
				}
			}
		} else {
			err = do(ctx, func() (err error) { children, _, err = c.Children(e.spec.dir); return err })
			if errors.Is(err, zk.ErrNoNode) {
				return "", false, nil, nil
			}
		}
		if err != nil {
			return "", false, nil, err
		}
		cs := contenders(children, e.spec.all)
		if len(cs) == 0 {
			return "", false, ch, nil
		}
		var data []byte
		err = do(ctx, func() (err error) { data, _, err = c.Get(e.spec.dir + "/" + cs[0].name); return err })
		if errors.Is(err, zk.ErrNoNode) {
			continue // the leader left between the two reads
		}
		if err != nil {
			return "", false, nil, err
		}
		return string(data), true, ch, nil
	}
	return "", false, nil, errors.New("recipes: election membership kept changing")
}

// Observe reports the leader's id each time it changes ("" while there is none),
// starting with the current one, until ctx ends; then the channel closes. It only
// reads: the observer is no candidate.
func (e *LeaderElection) Observe(ctx context.Context) <-chan string {
	out := make(chan string, 1)
	go func() {
		defer close(out)
		last, first := "", true
		for ctx.Err() == nil {
			id, _, ch, err := e.leader(ctx, true)
			if err != nil {
				if sleepCtx(ctx, retryDelay) != nil {
					return
				}
				continue
			}
			if first || id != last {
				first, last = false, id
				select {
				case out <- id:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
	}()
	return out
}
