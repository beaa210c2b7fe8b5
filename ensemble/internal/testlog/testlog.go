// Package testlog gives test servers a logger whose last lines are printed when the
// test fails: a flaky failure says what the servers saw, and a passing test prints
// nothing. ZKRAFT_TEST_LOG=1 sends everything to stderr as it comes instead.
package testlog

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// Ring keeps the last lines written to it (slog's text handler writes one line per
// record).
type Ring struct {
	mu    sync.Mutex
	lines [200]string
	n     int
}

func (l *Ring) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines[l.n%len(l.lines)] = string(p)
	l.n++
	return len(p), nil
}

// Tail returns the last lines written (at most 200).
func (l *Ring) Tail(lines int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i := max(0, l.n-min(lines, len(l.lines))); i < l.n; i++ {
		b.WriteString(l.lines[i%len(l.lines)])
	}
	return b.String()
}

// New returns a logger of info and above into a ring that t prints if it fails
// (after the servers stopped: cleanups run last-registered first).
func New(t testing.TB) *slog.Logger {
	if os.Getenv("ZKRAFT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ring := &Ring{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("zkraft's last log lines:\n%s", ring.Tail(80))
		}
	})
	return slog.New(slog.NewTextHandler(ring, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
