package ensemble_it

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// writeLoad is a steady write load: each writer has its own session connected to
// every member and creates numbered znodes under dir one after another, recording
// every acknowledged create with the time its reply arrived.
type writeLoad struct {
	dir  string
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	acked  []ack
	errs   map[string]int // error text → count
	closed bool
}

type ack struct {
	path string
	at   time.Time
}

// maxWritesPerWriter bounds each writer's loop even if stop were never called.
const maxWritesPerWriter = 1_000_000

func startLoad(t testing.TB, e *ensemble, dir string, writers int) *writeLoad {
	t.Helper()
	admin, _ := connect(t, e.Addrs(), 10*time.Second, false)
	if _, err := admin.Create(dir, nil, 0, openACL); err != nil {
		t.Fatalf("create %s: %v", dir, err)
	}
	admin.Close()
	l := &writeLoad{dir: dir, stop: make(chan struct{}), errs: map[string]int{}}
	for w := range writers {
		c, _ := connect(t, e.Addrs(), 10*time.Second, false)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.Close()
			for i := range maxWritesPerWriter {
				select {
				case <-l.stop:
					return
				default:
				}
				p := fmt.Sprintf("%s/w%d-%07d", dir, w, i)
				_, err := c.Create(p, nil, 0, openACL)
				now := time.Now()
				l.mu.Lock()
				if err == nil {
					l.acked = append(l.acked, ack{p, now})
				} else {
					l.errs[err.Error()]++
				}
				l.mu.Unlock()
				if err != nil {
					// Not acknowledged: it may or may not exist; the next write uses a new name.
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

// halt stops the writers and waits for them.
func (l *writeLoad) halt() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *writeLoad) snapshot() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acked)
}

func (l *writeLoad) errSummary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for k, n := range l.errs {
		parts = append(parts, fmt.Sprintf("%q×%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// waitResumed waits until writes acknowledged after since span at least span (the
// load is flowing again), and fails after within.
func (l *writeLoad) waitResumed(t testing.TB, since time.Time, span, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var first, last time.Time
		for _, a := range l.snapshot() {
			if a.at.After(since) {
				if first.IsZero() || a.at.Before(first) {
					first = a.at
				}
				if a.at.After(last) {
					last = a.at
				}
			}
		}
		if !first.IsZero() && last.Sub(first) >= span {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("writes did not resume within %v of %v (errors: %s)", within, since.Format("15:04:05.000"), l.errSummary())
}

// unavailability is the longest gap between consecutive acknowledged writes (across
// all writers) among those acknowledged in [from, to]. It also returns the time from
// kill to the first write acknowledged after it.
func unavailability(acks []ack, kill, from, to time.Time) (gap, firstAfter time.Duration) {
	var ts []time.Time
	for _, a := range acks {
		if !a.at.Before(from) && !a.at.After(to) {
			ts = append(ts, a.at)
		}
		if a.at.After(kill) && (firstAfter == 0 || a.at.Sub(kill) < firstAfter) {
			firstAfter = a.at.Sub(kill)
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i].Sub(ts[i-1]))
	}
	return gap, firstAfter
}

// checkAcked reads dir's children from member i after sync (a session on that
// member only) and fails for every acknowledged znode that is missing.
func checkAcked(t testing.TB, e *ensemble, i int, dir string, acks []ack) {
	t.Helper()
	c, _ := connect(t, []string{e.Members[i].ClientAddr}, 10*time.Second, false)
	defer c.Close()
	if _, err := c.Sync(dir); err != nil {
		t.Fatalf("member %d: sync %s: %v", i+1, dir, err)
	}
	kids, _, err := c.Children(dir)
	if err != nil {
		t.Fatalf("member %d: children of %s: %v", i+1, dir, err)
	}
	have := make(map[string]bool, len(kids))
	for _, k := range kids {
		have[dir+"/"+k] = true
	}
	var lost []string
	for _, a := range acks {
		if !have[a.path] {
			lost = append(lost, a.path)
		}
	}
	if len(lost) > 0 {
		t.Errorf("member %d: %d of %d acknowledged znodes missing after sync, e.g. %v", i+1, len(lost), len(acks), lost[:min(5, len(lost))])
	}
}

// waitEvent waits for one event on ch.
func waitEvent(t testing.TB, ch <-chan zk.Event, within time.Duration, what string) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(within):
		t.Fatalf("%s: no event within %v", what, within)
	}
	return zk.Event{}
}

// retry runs op until it succeeds or within passes (for the moments a client is
// between members).
func retry(t testing.TB, within time.Duration, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		if errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bulkCreate creates count small znodes dir/b<k>/n<i> (buckets of at most 10000, to
// keep each children list well under jute.maxbuffer) from conns sessions with
// perConn goroutines each, so that many creates are in flight at once (go-zookeeper
// pipelines concurrent calls on one connection). Every create must succeed. It
// returns the bucket paths and how long the creates took.
func bulkCreate(t testing.TB, addrs []string, dir string, count, conns, perConn int) ([]string, time.Duration) {
	t.Helper()
	const bucket = 10000
	admin, _ := connect(t, addrs, 10*time.Second, false)
	defer admin.Close()
	if _, err := admin.Create(dir, nil, 0, openACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create %s: %v", dir, err)
	}
	var buckets []string
	for k := 0; k*bucket < count; k++ {
		b := fmt.Sprintf("%s/b%02d", dir, k)
		if _, err := admin.Create(b, nil, 0, openACL); err != nil {
			t.Fatalf("create %s: %v", b, err)
		}
		buckets = append(buckets, b)
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errMu   sync.Mutex
		firstEr error
		retries atomic.Int64
	)
	data := []byte("0123456789abcdef")
	start := time.Now()
	for range conns {
		c, _ := connect(t, addrs, 10*time.Second, false)
		for range perConn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= count {
						return
					}
					p := fmt.Sprintf("%s/n%07d", buckets[i/bucket], i)
					if err := createRetrying(c, p, data, &retries); err != nil {
						errMu.Lock()
						if firstEr == nil {
							firstEr = fmt.Errorf("create %s: %w", p, err)
						}
						errMu.Unlock()
						next.Store(int64(count)) // stop everyone
						return
					}
				}
			}()
		}
		defer c.Close()
	}
	wg.Wait()
	took := time.Since(start)
	if firstEr != nil {
		t.Fatal(firstEr)
	}
	if n := retries.Load(); n > 0 {
		t.Logf("bulk create: %d creates retried after connection loss", n)
	}
	return buckets, took
}

// createRetrying creates p as a careful client does: on connection loss the outcome
// is unknown, so it retries, and NODEEXISTS on a retry means the first try applied.
// It gives up after 30s.
func createRetrying(c *zk.Conn, p string, data []byte, retries *atomic.Int64) error {
	deadline := time.Now().Add(30 * time.Second)
	for try := 0; ; try++ {
		_, err := c.Create(p, data, 0, openACL)
		switch {
		case err == nil:
			return nil
		case try > 0 && errors.Is(err, zk.ErrNodeExists):
			return nil
		case (errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionMoved)) && time.Now().Before(deadline):
			retries.Add(1)
			time.Sleep(20 * time.Millisecond)
		default:
			return err
		}
	}
}

// checkBuckets reads every bucket on member i after sync and checks that it holds
// the znodes bulkCreate made (count in all).
func checkBuckets(t testing.TB, e *ensemble, i int, buckets []string, count int) {
	t.Helper()
	c, _ := connect(t, []string{e.Members[i].ClientAddr}, 10*time.Second, false)
	defer c.Close()
	if _, err := c.Sync("/"); err != nil {
		t.Fatalf("member %d: sync: %v", i+1, err)
	}
	total := 0
	for k, b := range buckets {
		kids, _, err := c.Children(b)
		if err != nil {
			t.Fatalf("member %d: children of %s: %v", i+1, b, err)
		}
		want := min(10000, count-k*10000)
		if len(kids) != want {
			t.Errorf("member %d: %s has %d children after sync, want %d", i+1, b, len(kids), want)
		}
		total += len(kids)
	}
	if total != count {
		t.Errorf("member %d: %d znodes after sync, want %d", i+1, total, count)
	}
}
