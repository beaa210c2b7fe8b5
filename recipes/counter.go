package recipes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
)

// CounterEncoding is how a Counter's value is stored in its znode.
type CounterEncoding int

const (
	// CounterKazoo stores decimal ASCII, as kazoo's Counter (default=int).
	// An empty node reads as 0.
	CounterKazoo CounterEncoding = iota
	// CounterCurator stores a 4-byte big-endian int32, as Curator's SharedCount
	// (and kazoo's Counter with support_curator=True).
	CounterCurator
)

// Counter is a shared integer changed with compare-and-set on the znode version.
//
// Layout: kazoo's Counter (decimal ASCII) or Curator's SharedCount (int32 big
// endian), by encoding. A missing node reads as 0.
type Counter struct {
	s    *Session
	path string
	enc  CounterEncoding
	acl  []zk.ACL
}

// NewCounter returns the counter at path.
func NewCounter(s *Session, path string, enc CounterEncoding, opts ...Option) *Counter {
	o := buildOptions(s, opts)
	return &Counter{s: s, path: path, enc: enc, acl: o.acl}
}

func (c *Counter) encode(v int64) ([]byte, error) {
	if c.enc == CounterCurator {
		if v != int64(int32(v)) {
			return nil, fmt.Errorf("recipes: counter %s: %d overflows int32", c.path, v)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(v))), nil
	}
	return []byte(strconv.FormatInt(v, 10)), nil
}

func (c *Counter) decode(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if c.enc == CounterCurator {
		if len(b) != 4 {
			return 0, fmt.Errorf("recipes: counter %s: %d bytes, want 4", c.path, len(b))
		}
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// Value returns the value and the znode version (Absent if the node is missing).
func (c *Counter) Value(ctx context.Context) (int64, int32, error) {
	var data []byte
	var st *zk.Stat
	err := do(ctx, func() (err error) { data, st, err = c.s.conn.Get(c.path); return err })
	if errors.Is(err, zk.ErrNoNode) {
		return 0, Absent, nil
	}
	if err != nil {
		return 0, 0, err
	}
	v, err := c.decode(data)
	return v, st.Version, err
}

// CompareAndSet stores v if the node is still at version (Absent: missing); it
// returns ErrVersionConflict otherwise.
func (c *Counter) CompareAndSet(ctx context.Context, version int32, v int64) error {
	data, err := c.encode(v)
	if err != nil {
		return err
	}
	conn := c.s.conn
	if version == Absent {
		if err := ensurePath(ctx, conn, parentOf(c.path), c.acl); err != nil {
			return err
		}
		_, err = conn.Create(c.path, data, 0, c.acl)
		if errors.Is(err, zk.ErrNodeExists) {
			return ErrVersionConflict
		}
		return err
	}
	_, err = conn.Set(c.path, data, version)
	if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
		return ErrVersionConflict
	}
	return err
}

// Add adds delta and returns the new value, retrying on conflict (bounded). If the
// connection is lost during the write, Add returns that error without retrying:
// the add may have been applied. Use Value and CompareAndSet to settle it.
func (c *Counter) Add(ctx context.Context, delta int64) (int64, error) {
	for i := 0; i < maxAttempts; i++ {
		v, ver, err := c.Value(ctx)
		if err != nil {
			return 0, err
		}
		err = c.CompareAndSet(ctx, ver, v+delta)
		if err == nil {
			return v + delta, nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return 0, err
		}
		if err := sleepCtx(ctx, retryDelay/5); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("counter %s: %w after %d attempts", c.path, ErrVersionConflict, maxAttempts)
}
