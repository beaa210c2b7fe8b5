package recipes

import (
	"context"
	"errors"
	"sync"
)

// RWMutex is a distributed readers-writer lock: many readers or one writer.
//
// Layout: kazoo's ReadLock and WriteLock on the same path. A writer's node is
// "<uuid4 hex>__lock__<seq>" and waits for every lower node; a reader's node is
// "<uuid4 hex>__rlock__<seq>" and waits only for lower "__lock__" nodes. A Mutex
// (kazoo's Lock) on the same path excludes writers but not readers, as in kazoo.
// Curator's InterProcessReadWriteLock uses other names ("__WRIT__", "__READ__") and
// does not contend with this layout.
type RWMutex struct {
	w, r   lockSpec
	mu     sync.Mutex
	wh, rh *holding
}

// NewRWMutex returns a readers-writer lock on the lock directory path.
func NewRWMutex(s *Session, path string, opts ...Option) *RWMutex {
	o := buildOptions(s, opts)
	all := []string{kazooLock, kazooReadLock}
	return &RWMutex{
		w: lockSpec{s: s, dir: path, data: o.data, acl: o.acl, marker: kazooLock, all: all,
			blockers: all, newName: func() string { return uuidHex() + kazooLock }},
		r: lockSpec{s: s, dir: path, data: o.data, acl: o.acl, marker: kazooReadLock, all: all,
			blockers: []string{kazooLock}, newName: func() string { return uuidHex() + kazooReadLock }},
	}
}

// Lock takes the write lock, waiting for earlier readers and writers.
func (m *RWMutex) Lock(ctx context.Context) error { return m.take(ctx, &m.w, &m.wh) }

// RLock takes a read lock, waiting for earlier writers only.
func (m *RWMutex) RLock(ctx context.Context) error { return m.take(ctx, &m.r, &m.rh) }

// Unlock releases the write lock (ErrLost if it had been lost).
func (m *RWMutex) Unlock(ctx context.Context) error { return m.drop(ctx, &m.wh) }

// RUnlock releases the read lock (ErrLost if it had been lost).
func (m *RWMutex) RUnlock(ctx context.Context) error { return m.drop(ctx, &m.rh) }

// Lost closes when the held write lock is lost (already closed if not held).
func (m *RWMutex) Lost() <-chan struct{} { return m.lost(&m.wh) }

// RLost closes when the held read lock is lost (already closed if not held).
func (m *RWMutex) RLost() <-chan struct{} { return m.lost(&m.rh) }

func (m *RWMutex) take(ctx context.Context, spec *lockSpec, slot **holding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if *slot != nil && !(*slot).isLost() {
		return errors.New("recipes: RWMutex side already held by this process")
	}
	h, err := spec.acquire(ctx, true)
	if err != nil {
		return err
	}
	*slot = h
	return nil
}

func (m *RWMutex) drop(ctx context.Context, slot **holding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if *slot == nil {
		return ErrNotHeld
	}
	h := *slot
	*slot = nil
	return h.release(ctx)
}

func (m *RWMutex) lost(slot **holding) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if *slot == nil {
		return closedChan
	}
	return (*slot).lost
}
