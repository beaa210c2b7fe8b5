package recipes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-zookeeper/zk"
)

// Queue is a distributed FIFO queue with priorities.
//
// Layout: kazoo's Queue: an entry is a persistent sequential child
// "entry-<priority, 3 digits>-<seq>" of path; consumers take the lowest name
// (lower priority number first, then FIFO) by reading and deleting it; the
// consumer whose delete succeeds owns the entry.
//
// Delivery: if the reply to Put is lost with the connection, Put returns the error
// and does not retry (the entry may exist; the name holds no unique id to find it
// by). If the reply to a consumer's delete is lost and the entry is gone
// afterwards, Get returns it: an entry may then be delivered twice, never lost.
type Queue struct {
	s    *Session
	path string
	acl  []zk.ACL
}

const queuePrefix = "entry-"

// NewQueue returns the queue at path.
func NewQueue(s *Session, path string, opts ...Option) *Queue {
	o := buildOptions(s, opts)
	return &Queue{s: s, path: path, acl: o.acl}
}

// Put appends data with priority (0–999; kazoo's default is 100).
func (q *Queue) Put(ctx context.Context, data []byte, priority int) error {
	if priority < 0 || priority > 999 {
		return fmt.Errorf("recipes: queue priority %d out of 0..999", priority)
	}
	c := q.s.conn
	p := fmt.Sprintf("%s/%s%03d-", q.path, queuePrefix, priority)
	_, err := c.Create(p, data, zk.FlagSequence, q.acl)
	if errors.Is(err, zk.ErrNoNode) {
		if err := ensurePath(ctx, c, q.path, q.acl); err != nil {
			return err
		}
		_, err = c.Create(p, data, zk.FlagSequence, q.acl)
	}
	return err
}

// TryGet takes the head entry, or returns ErrEmpty.
func (q *Queue) TryGet(ctx context.Context) ([]byte, error) {
	data, _, err := q.take(ctx, false)
	return data, err
}

// Get takes the head entry, waiting for one until ctx ends.
func (q *Queue) Get(ctx context.Context) ([]byte, error) {
	for {
		data, ch, err := q.take(ctx, true)
		if !errors.Is(err, ErrEmpty) {
			return data, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

func (q *Queue) take(ctx context.Context, watch bool) ([]byte, <-chan zk.Event, error) {
	c := q.s.conn
	var kids []string
	var ch <-chan zk.Event
	var err error
	if watch {
		if err := ensurePath(ctx, c, q.path, q.acl); err != nil {
			return nil, nil, err
		}
		err = do(ctx, func() (err error) { kids, _, ch, err = c.ChildrenW(q.path); return err })
	} else {
		err = do(ctx, func() (err error) { kids, _, err = c.Children(q.path); return err })
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil, ErrEmpty
		}
	}
	if err != nil {
		return nil, nil, err
	}
	kids = slices.DeleteFunc(kids, func(k string) bool { return !strings.HasPrefix(k, queuePrefix) })
	slices.Sort(kids)
	for _, k := range kids {
		p := q.path + "/" + k
		var data []byte
		err := do(ctx, func() (err error) { data, _, err = c.Get(p); return err })
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		err = c.Delete(p, -1)
		if retryable(err) {
			var ok bool
			err = do(ctx, func() (err error) { ok, _, err = c.Exists(p); return err })
			if err == nil && ok {
				err = deleteQuietly(ctx, c, p)
			}
		}
		if errors.Is(err, zk.ErrNoNode) {
			continue // another consumer took it
		}
		if err != nil {
			return nil, nil, err
		}
		return data, nil, nil
	}
	return nil, ch, ErrEmpty
}

// Len returns the number of entries.
func (q *Queue) Len(ctx context.Context) (int, error) {
	var st *zk.Stat
	err := do(ctx, func() (err error) { _, st, err = q.s.conn.Exists(q.path); return err })
	if err != nil || st == nil {
		return 0, err
	}
	return int(st.NumChildren), nil
}
