package recipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// Absent is the version to pass to Config.CompareAndSet to create a value that
// does not exist yet.
const Absent int32 = -1

// Config is a typed value kept as JSON in one znode: read it, watch it, and update
// it with compare-and-set on the znode's version. (No kazoo or Curator
// counterpart; the layout is the JSON encoding of T as the node's data.)
type Config[T any] struct {
	s    *Session
	path string
	acl  []zk.ACL
}

// Versioned is a value with the znode version it was read at.
type Versioned[T any] struct {
	Value   T
	Version int32 // Absent when the node does not exist
	Err     error // a decode error (Value is then the zero value)
}

// NewConfig returns the config value at path.
func NewConfig[T any](s *Session, path string, opts ...Option) *Config[T] {
	o := buildOptions(s, opts)
	return &Config[T]{s: s, path: path, acl: o.acl}
}

func (c *Config[T]) decode(data []byte, st *zk.Stat) Versioned[T] {
	v := Versioned[T]{Version: st.Version}
	if err := json.Unmarshal(data, &v.Value); err != nil {
		v.Err = fmt.Errorf("config %s: %w", c.path, err)
	}
	return v
}

// Get reads the value. A missing node gives the zero value and Version Absent.
func (c *Config[T]) Get(ctx context.Context) (Versioned[T], error) {
	v, _, err := c.get(ctx, false)
	return v, err
}

func (c *Config[T]) get(ctx context.Context, watch bool) (Versioned[T], <-chan zk.Event, error) {
	conn := c.s.conn
	for i := 0; i < maxAttempts; i++ {
		var data []byte
		var st *zk.Stat
		var ch <-chan zk.Event
		var err error
		if watch {
			err = do(ctx, func() (err error) { data, st, ch, err = conn.GetW(c.path); return err })
		} else {
			err = do(ctx, func() (err error) { data, st, err = conn.Get(c.path); return err })
		}
		if errors.Is(err, zk.ErrNoNode) {
			if !watch {
				return Versioned[T]{Version: Absent}, nil, nil
			}
			var ok bool
			err = do(ctx, func() (err error) { ok, _, ch, err = conn.ExistsW(c.path); return err })
			if err == nil && ok {
				continue // created in between
			}
			if err == nil {
				return Versioned[T]{Version: Absent}, ch, nil
			}
		}
		if err != nil {
			return Versioned[T]{}, nil, err
		}
		return c.decode(data, st), ch, nil
	}
	return Versioned[T]{}, nil, fmt.Errorf("config %s: keeps changing", c.path)
}

// CompareAndSet writes v if the node is still at version (Absent: if it does not
// exist) and returns the new version. It returns ErrVersionConflict if another
// writer got there first.
func (c *Config[T]) CompareAndSet(ctx context.Context, v T, version int32) (int32, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	conn := c.s.conn
	if version == Absent {
		if err := ensurePath(ctx, conn, parentOf(c.path), c.acl); err != nil {
			return 0, err
		}
		_, err := conn.Create(c.path, data, 0, c.acl)
		if errors.Is(err, zk.ErrNodeExists) {
			return 0, ErrVersionConflict
		}
		return 0, err
	}
	st, err := conn.Set(c.path, data, version)
	if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
		return 0, ErrVersionConflict
	}
	if err != nil {
		return 0, err
	}
	return st.Version, nil
}

// Update applies fn to the current value and writes the result with
// compare-and-set, retrying on conflict (a bounded number of times). fn may run
// several times and must not have side effects.
func (c *Config[T]) Update(ctx context.Context, fn func(cur T, exists bool) (T, error)) (Versioned[T], error) {
	for i := 0; i < maxAttempts; i++ {
		cur, err := c.Get(ctx)
		if err != nil {
			return Versioned[T]{}, err
		}
		if cur.Err != nil {
			return Versioned[T]{}, cur.Err
		}
		next, err := fn(cur.Value, cur.Version != Absent)
		if err != nil {
			return Versioned[T]{}, err
		}
		ver, err := c.CompareAndSet(ctx, next, cur.Version)
		if errors.Is(err, ErrVersionConflict) || retryable(err) {
			// On connection loss the write may have applied: re-read and let fn
			// decide again against the value actually stored.
			if err := sleepCtx(ctx, retryDelay/5); err != nil {
				return Versioned[T]{}, err
			}
			continue
		}
		if err != nil {
			return Versioned[T]{}, err
		}
		return Versioned[T]{Value: next, Version: ver}, nil
	}
	return Versioned[T]{}, fmt.Errorf("config %s: %w after %d attempts", c.path, ErrVersionConflict, maxAttempts)
}

// Watch sends the value now and after every change until ctx ends; then the
// channel closes. A slow reader sees the latest value, not every one.
func (c *Config[T]) Watch(ctx context.Context) <-chan Versioned[T] {
	out := make(chan Versioned[T], 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			v, ch, err := c.get(ctx, true)
			if err != nil {
				if sleepCtx(ctx, retryDelay) != nil {
					return
				}
				continue
			}
			select {
			case <-out:
			default:
			}
			out <- v
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
	}()
	return out
}
