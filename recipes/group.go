package recipes

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/go-zookeeper/zk"
)

// GroupMembership is a set of live processes, each an ephemeral node with data.
//
// Layout: kazoo's Party: members are "<path>/<uuid4 hex>__party__", ephemeral,
// data = the member's data; children without "__party__" are ignored. A member
// disappears when it leaves or its session ends.
type GroupMembership struct {
	s    *Session
	path string
	acl  []zk.ACL
}

// Member is one member as others see it.
type Member struct {
	Name string // node name
	Data []byte
}

// Membership is this process's place in the group.
type Membership struct {
	h *holding
}

const partyMarker = "__party__"

// NewGroupMembership returns the group at path.
func NewGroupMembership(s *Session, path string, opts ...Option) *GroupMembership {
	o := buildOptions(s, opts)
	return &GroupMembership{s: s, path: path, acl: o.acl}
}

// Join adds this process to the group with data.
func (g *GroupMembership) Join(ctx context.Context, data []byte) (*Membership, error) {
	c := g.s.conn
	ep := g.s.epoch()
	if ep.ended() {
		return nil, ErrSessionLost
	}
	if err := ensurePath(ctx, c, g.path, g.acl); err != nil {
		return nil, err
	}
	node := g.path + "/" + uuidHex() + partyMarker
	err := do(ctx, func() error { _, err := c.Create(node, data, zk.FlagEphemeral, g.acl); return err })
	if err != nil && !errors.Is(err, zk.ErrNodeExists) { // exists: our create, reply lost
		return nil, err
	}
	var st *zk.Stat
	var ok bool
	if err := do(ctx, func() (err error) { ok, st, err = c.Exists(node); return err }); err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrSessionLost
	}
	return &Membership{h: hold(g.s, ep, node, st)}, nil
}

// Leave removes this member (ErrLost if it had already gone).
func (m *Membership) Leave(ctx context.Context) error { return m.h.release(ctx) }

// Lost closes when the membership ends without Leave (session expiry, node deleted).
func (m *Membership) Lost() <-chan struct{} { return m.h.lost }

// Node returns the member's node path.
func (m *Membership) Node() string { return m.h.node }

// Members returns the current members, sorted by name.
func (g *GroupMembership) Members(ctx context.Context) ([]Member, error) {
	ms, _, err := g.members(ctx, false)
	return ms, err
}

func (g *GroupMembership) members(ctx context.Context, watch bool) ([]Member, <-chan zk.Event, error) {
	c := g.s.conn
	var kids []string
	var ch <-chan zk.Event
	var err error
	if watch {
		if err := ensurePath(ctx, c, g.path, g.acl); err != nil {
			return nil, nil, err
		}
		err = do(ctx, func() (err error) { kids, _, ch, err = c.ChildrenW(g.path); return err })
	} else {
		err = do(ctx, func() (err error) { kids, _, err = c.Children(g.path); return err })
		if errors.Is(err, zk.ErrNoNode) {
			return nil, nil, nil
		}
	}
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(kids)
	var out []Member
	for _, k := range kids {
		if !strings.Contains(k, partyMarker) {
			continue
		}
		var data []byte
		err := do(ctx, func() (err error) { data, _, err = c.Get(g.path + "/" + k); return err })
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, Member{Name: k, Data: data})
	}
	return out, ch, nil
}

// Watch sends the member list now and after every change, until ctx ends; then
// the channel closes. A slow reader sees the latest list, not every one.
func (g *GroupMembership) Watch(ctx context.Context) <-chan []Member {
	out := make(chan []Member, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			ms, ch, err := g.members(ctx, true)
			if err != nil {
				if sleepCtx(ctx, retryDelay) != nil {
					return
				}
				continue
			}
			select { // replace an unread list with the newer one
			case <-out:
			default:
			}
			out <- ms
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
	}()
	return out
}
