package ensembletest

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// LogRing keeps the last lines servers logged (slog's text handler writes one line
// per record): a test that fails says what its servers saw without every passing
// test printing their logs.
type LogRing struct {
	mu    sync.Mutex
	lines [200]string
	n     int
}

func (l *LogRing) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines[l.n%len(l.lines)] = string(p)
	l.n++
	return len(p), nil
}

// Tail returns the last lines written (at most 200).
func (l *LogRing) Tail(lines int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i := max(0, l.n-min(lines, len(l.lines))); i < l.n; i++ {
		b.WriteString(l.lines[i%len(l.lines)])
	}
	return b.String()
}

// testLogger logs info and above into a ring printed if the test fails (after its
// servers stopped: cleanups run last-registered first), or everything to stderr with
// ZKRAFT_TEST_LOG=1.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("ZKRAFT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ring := &LogRing{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("zkraft's last log lines:\n%s", ring.Tail(80))
		}
	})
	return slog.New(slog.NewTextHandler(io.Writer(ring), &slog.HandlerOptions{Level: slog.LevelInfo}))
}
