package recipes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// maxAttempts bounds every retry loop on connection loss, besides the caller's ctx.
const maxAttempts = 50

// retryDelay is the pause before retrying after connection loss.
const retryDelay = 50 * time.Millisecond

// uuidHex returns 32 random hex digits, as Python's uuid4().hex (kazoo's prefixes).
func uuidHex() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// uuidString returns a random version-4 UUID in its dashed form, as Java's
// UUID.randomUUID().toString() (Curator's protected names and instance ids).
func uuidString() string {
	h := uuidHex()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// retryable reports whether err is a connection loss after which the request
// may or may not have been applied.
func retryable(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do runs op, retrying on connection loss (bounded by maxAttempts and ctx).
func do(ctx context.Context, op func() error) error {
	var err error
	for i := 0; i < maxAttempts; i++ {
		if err = op(); !retryable(err) {
			return err
		}
		if e := sleepCtx(ctx, retryDelay); e != nil {
			return e
		}
	}
	return err
}

// ensurePath creates p and its missing ancestors as persistent nodes.
func ensurePath(ctx context.Context, c Conn, p string, acl []zk.ACL) error {
	if p == "/" || p == "" {
		return nil
	}
	var ok bool
	err := do(ctx, func() (err error) { ok, _, err = c.Exists(p); return err })
	if err != nil {
		return fmt.Errorf("exists %s: %w", p, err)
	}
	if ok {
		return nil
	}
	if err := ensurePath(ctx, c, path.Dir(p), acl); err != nil {
		return err
	}
	err = do(ctx, func() error { _, err := c.Create(p, nil, 0, acl); return err })
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", p, err)
	}
	return nil
}

// contender is one sequential child taking part in a lock-like recipe.
type contender struct {
	name   string
	marker string
	seq    int64
}

// contenders picks the children whose name ends in one of markers followed by a
// ten-digit sequence (signed, as ZooKeeper prints it past 2^31), and sorts them by
// that sequence number, as kazoo's lock regex and Curator's fixForSorting do. Names
// that are not contenders are ignored.
func contenders(children []string, markers []string) []contender {
	var out []contender
	for _, c := range children {
		for _, m := range markers {
			i := strings.LastIndex(c, m)
			if i < 0 {
				continue
			}
			suffix := c[i+len(m):]
			digits := strings.TrimPrefix(suffix, "-")
			if len(digits) != 10 || strings.Trim(digits, "0123456789") != "" {
				continue
			}
			n, err := strconv.ParseInt(suffix, 10, 64)
			if err != nil {
				continue
			}
			out = append(out, contender{name: c, marker: m, seq: n})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].seq != out[j].seq {
			return out[i].seq < out[j].seq
		}
		return out[i].name < out[j].name
	})
	return out
}

// findByPrefix returns the child of dir whose name starts with prefix, or "".
func findByPrefix(ctx context.Context, c Conn, dir, prefix string) (string, error) {
	var children []string
	err := do(ctx, func() (err error) { children, _, err = c.Children(dir); return err })
	if err != nil {
		return "", err
	}
	for _, ch := range children {
		if strings.HasPrefix(ch, prefix) {
			return ch, nil
		}
	}
	return "", nil
}

// createProtected creates dir/prefix<seq> (sequential, with flags) and returns the
// child's name. prefix must be unique to this caller (it holds a UUID): after a
// connection loss the create may have happened, so the node is looked up by prefix
// before trying again, and never created twice. A missing dir is created.
func createProtected(ctx context.Context, c Conn, dir, prefix string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	tried := false
	for i := 0; i < maxAttempts; i++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if tried {
			name, err := findByPrefix(ctx, c, dir, prefix)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return "", err
			}
			if name != "" {
				return name, nil
			}
		}
		p, err := c.Create(dir+"/"+prefix, data, flags|zk.FlagSequence, acl)
		switch {
		case err == nil:
			return path.Base(p), nil
		case errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, c, dir, acl); err != nil {
				return "", err
			}
		case retryable(err):
			tried = true
			if err := sleepCtx(ctx, retryDelay); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("create %s/%s: %w", dir, prefix, err)
		}
	}
	return "", fmt.Errorf("create %s/%s: too many connection losses", dir, prefix)
}

// deleteQuietly deletes p, retrying on connection loss; a missing node is success.
func deleteQuietly(ctx context.Context, c Conn, p string) error {
	err := do(ctx, func() error { return c.Delete(p, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// cleanupCtx is used for best-effort deletes after the caller's ctx has ended.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// holding is something held in one session epoch (a lock, leadership, a lease, a
// membership): a node that proves it, watched until it is released or lost.
type holding struct {
	s     *Session
	node  string // full path
	czxid int64
	ver   int32
	lost  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	rel   sync.Once
}

// hold starts watching node in epoch ep. lost closes when the node goes away or the
// session ends; the node is then deleted best-effort (it may survive a session that
// was only presumed lost).
func hold(s *Session, ep *epoch, node string, stat *zk.Stat) *holding {
	h := &holding{s: s, node: node, czxid: stat.Czxid, ver: stat.Version,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go h.watch(ep)
	return h
}

func (h *holding) watch(ep *epoch) {
	defer close(h.done)
	c := h.s.conn
	markLost := func() {
		close(h.lost)
		ctx, cancel := cleanupCtx()
		defer cancel()
		_ = deleteQuietly(ctx, c, h.node)
	}
	failures := 0
	for {
		if ep.ended() {
			markLost()
			return
		}
		ok, _, ch, err := c.ExistsW(h.node)
		if err != nil {
			if retryable(err) {
				failures++
				select {
				case <-h.stop:
					return
				case <-ep.done:
				case <-time.After(retryDelay * time.Duration(min(failures, 20))):
				}
				continue
			}
			markLost()
			return
		}
		failures = 0
		if !ok {
			markLost()
			return
		}
		select {
		case <-h.stop:
			return
		case <-ep.done:
			markLost()
			return
		case ev := <-ch:
			if ev.Type == zk.EventNodeDeleted || ev.Type == zk.EventNotWatching {
				markLost()
				return
			}
		}
	}
}

// isLost reports whether the holding was lost.
func (h *holding) isLost() bool {
	select {
	case <-h.lost:
		return true
	default:
		return false
	}
}

// release stops watching and deletes the node. It returns ErrLost if the node had
// already been lost.
func (h *holding) release(ctx context.Context) error {
	first := false
	h.rel.Do(func() { first = true; close(h.stop) })
	if !first {
		return ErrNotHeld
	}
	<-h.done
	if h.isLost() {
		return ErrLost
	}
	return deleteQuietly(ctx, h.s.conn, h.node)
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
