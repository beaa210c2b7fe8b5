// Package ensembletest starts in-process zkraft servers for Go tests, as
// net/http/httptest does for HTTP: no Java, no ports to pick, cleaned up with the test.
//
//	srv := ensembletest.RunServer(t)
//	conn, _, err := zk.Connect([]string{srv.Addr}, time.Second)
package ensembletest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/internal/testlog"
)

// Server is a running in-process server.
type Server struct {
	*ensemble.Server
	// Addr is the client address, "127.0.0.1:port".
	Addr string
	// Config is the configuration the server was started with; Restart reuses it.
	Config ensemble.Config
	t      testing.TB
}

// LogRing keeps the last lines a logger wrote: a harness that runs servers of its
// own (the differential fuzzer) prints them when it finds a difference.
type LogRing = testlog.Ring

// Option changes the configuration before the server starts.
type Option func(*ensemble.Config)

// WithDataDir keeps the server's state in dir (so a restart recovers it).
func WithDataDir(dir string) Option { return func(c *ensemble.Config) { c.DataDir = dir } }

// WithConfig applies an arbitrary change.
func WithConfig(fn func(*ensemble.Config)) Option { return Option(fn) }

// RunServer starts a server on 127.0.0.1 with a free port, waits until it serves and
// stops it when the test ends. State lives in memory unless WithDataDir is given.
// Its last log lines are printed if the test fails; set ZKRAFT_TEST_LOG=1 to see
// all of them as they come.
func RunServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := testConfig(testlog.New(t))
	cfg.ClientAddr = "127.0.0.1:0"
	for _, o := range opts {
		o(&cfg)
	}
	return start(t, cfg)
}

// testConfig is the base of every test server: short ticks keep session-timeout
// tests fast (clients may still ask for more), all four-letter words, no
// per-address connection limit.
func testConfig(log *slog.Logger) ensemble.Config {
	cfg := ensemble.NewConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.MaxSessionTimeout = time.Minute
	cfg.MaxClientCnxns = 0
	cfg.FourLetterWhitelist = []string{"*"}
	cfg.Logger = log
	return cfg
}

func start(t testing.TB, cfg ensemble.Config) *Server {
	t.Helper()
	srv, err := ensemble.Start(cfg)
	if err != nil {
		t.Fatalf("start zkraft: %v", err)
	}
	select {
	case <-srv.Ready():
	case <-srv.Done():
		t.Fatalf("zkraft stopped before it was ready: %v", srv.Err())
	case <-time.After(10 * time.Second):
		srv.Close()
		t.Fatal("zkraft was not ready within 10s")
	}
	s := &Server{Server: srv, Addr: srv.Addr().String(), Config: cfg, t: t}
	t.Cleanup(func() { srv.Close() })
	return s
}

// Restart closes the server and starts it again on the same address and data
// directory, as an operator's restart would.
func (s *Server) Restart() *Server {
	s.t.Helper()
	if err := s.Close(); err != nil {
		s.t.Fatalf("close zkraft: %v", err)
	}
	cfg := s.Config
	cfg.ClientAddr = s.Addr
	return start(s.t, cfg)
}
