package recipes

import (
	"context"
	"errors"
	"slices"

	"github.com/go-zookeeper/zk"
)

// Barrier holds processes back while it is up.
//
// Layout: kazoo's Barrier: the barrier is up while the node at path exists.
type Barrier struct {
	s    *Session
	path string
	acl  []zk.ACL
}

// NewBarrier returns the barrier at path.
func NewBarrier(s *Session, path string, opts ...Option) *Barrier {
	o := buildOptions(s, opts)
	return &Barrier{s: s, path: path, acl: o.acl}
}

// Set raises the barrier (creates its node; already up is fine).
func (b *Barrier) Set(ctx context.Context) error { return ensurePath(ctx, b.s.conn, b.path, b.acl) }

// Remove lowers the barrier, releasing every waiter.
func (b *Barrier) Remove(ctx context.Context) error { return deleteQuietly(ctx, b.s.conn, b.path) }

// Wait blocks until the barrier is down (its node absent) or ctx ends.
func (b *Barrier) Wait(ctx context.Context) error {
	c := b.s.conn
	for {
		var ok bool
		var ch <-chan zk.Event
		if err := do(ctx, func() (err error) { ok, _, ch, err = c.ExistsW(b.path); return err }); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// DoubleBarrier lets a fixed number of processes start together (Enter) and
// finish together (Leave).
//
// Layout: kazoo's DoubleBarrier: each participant is an ephemeral child
// "<uuid4 hex>" of path with its identifier as data; the last to enter creates
// "<path>/ready", which releases the others. On Leave the participants delete
// their nodes, the lowest-named one last; each waits on a single node, not on the
// children. One deliberate difference: kazoo deletes "ready" as the first
// participant starts to leave, so a participant that had not yet seen it (its
// watch not yet set) waits forever; here the last participant to leave deletes it.
type DoubleBarrier struct {
	s    *Session
	path string
	n    int
	name string
	data []byte
	acl  []zk.ACL
}

const readyNode = "ready"

// NewDoubleBarrier returns a participant of the barrier at path for n processes.
func NewDoubleBarrier(s *Session, path string, n int, opts ...Option) *DoubleBarrier {
	o := buildOptions(s, opts)
	return &DoubleBarrier{s: s, path: path, n: n, name: uuidHex(), data: o.data, acl: o.acl}
}

// Enter joins the barrier and blocks until n participants have joined.
func (d *DoubleBarrier) Enter(ctx context.Context) error {
	c := d.s.conn
	if err := ensurePath(ctx, c, d.path, d.acl); err != nil {
		return err
	}
	err := do(ctx, func() error {
		_, err := c.Create(d.path+"/"+d.name, d.data, zk.FlagEphemeral, d.acl)
		return err
	})
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	for {
		var ok bool
		var ch <-chan zk.Event
		if err := do(ctx, func() (err error) { ok, _, ch, err = c.ExistsW(d.path + "/" + readyNode); return err }); err != nil {
			return err
		}
		if ok {
			return nil
		}
		var kids []string
		if err := do(ctx, func() (err error) { kids, _, err = c.Children(d.path); return err }); err != nil {
			return err
		}
		if len(kids) >= d.n {
			err := do(ctx, func() error { _, err := c.Create(d.path+"/"+readyNode, nil, 0, d.acl); return err })
			if err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return err
			}
			return nil
		}
		select {
		case <-ctx.Done():
			d.cleanup()
			return ctx.Err()
		case ev := <-ch:
			if ev.Type == zk.EventNodeCreated {
				return nil // "ready" appeared: everyone has arrived
			}
		}
	}
}

func (d *DoubleBarrier) cleanup() {
	ctx, cancel := cleanupCtx()
	defer cancel()
	_ = deleteQuietly(ctx, d.s.conn, d.path+"/"+d.name)
}

// Leave blocks until every participant has left the barrier.
func (d *DoubleBarrier) Leave(ctx context.Context) error {
	c := d.s.conn
	last := func() error {
		if err := deleteQuietly(ctx, c, d.path+"/"+readyNode); err != nil {
			return err
		}
		return deleteQuietly(ctx, c, d.path+"/"+d.name)
	}
	for {
		var kids []string
		if err := do(ctx, func() (err error) { kids, _, err = c.Children(d.path); return err }); err != nil {
			return err
		}
		kids = slices.DeleteFunc(kids, func(k string) bool { return k == readyNode })
		if len(kids) == 0 || len(kids) == 1 && kids[0] == d.name {
			return last()
		}
		slices.Sort(kids)
		wait := kids[0]
		if kids[0] == d.name {
			wait = kids[len(kids)-1] // the lowest waits for the highest
		} else if err := deleteQuietly(ctx, c, d.path+"/"+d.name); err != nil {
			return err
		}
		var ok bool
		var ch <-chan zk.Event
		if err := do(ctx, func() (err error) { ok, _, ch, err = c.ExistsW(d.path + "/" + wait); return err }); err != nil {
			return err
		}
		if !ok {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
