package ensemble_it

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
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
	admin, _ := connect(t, e.addrs(), 10*time.Second, false)
	if _, err := admin.Create(dir, nil, 0, openACL); err != nil {
		t.Fatalf("create %s: %v", dir, err)
	}
	admin.Close()
	l := &writeLoad{dir: dir, stop: make(chan struct{}), errs: map[string]int{}}
	for w := range writers {
		c, _ := connect(t, e.addrs(), 10*time.Second, false)
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
	c, _ := connect(t, []string{e.members[i].clientAddr}, 10*time.Second, false)
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
