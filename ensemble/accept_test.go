package ensemble

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultyListener fails Accept with err while failing is set, as a process out of
// file descriptors sees EMFILE.
type faultyListener struct {
	net.Listener
	failing atomic.Bool
	err     error
	calls   atomic.Int64 // failed Accepts
}

func (l *faultyListener) Accept() (net.Conn, error) {
	if l.failing.Load() {
		l.calls.Add(1)
		return nil, l.err
	}
	return l.Listener.Accept()
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// countingHandler counts log records whose message contains a word.
type countingHandler struct {
	word string
	n    atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.word) {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// ruok asks the client port whether the server is fine, within a deadline.
func ruok(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("ruok")); err != nil {
		return err
	}
	b, err := io.ReadAll(nc)
	if string(b) != "imok" {
		return errors.New("no imok: " + string(b) + " " + errString(err))
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A client port out of file descriptors keeps retrying, with a growing pause and one
// log line, and serves again once descriptors are free: it does not stop for good
// while looking healthy.
func TestAcceptRetriesTemporaryErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &faultyListener{Listener: ln, err: acceptErr(syscall.EMFILE)}
	fl.failing.Store(true)
	logs := &countingHandler{word: "accept failed"}
	s := startTest(t, func(c *Config) {
		c.ClientListener = fl
		c.FourLetterWhitelist = []string{"ruok"}
		c.Logger = slog.New(logs)
	})
	time.Sleep(700 * time.Millisecond)
	// 5 ms doubling: about 7 attempts in 0.7 s; a loop without backoff makes thousands.
	if n := fl.calls.Load(); n < 2 || n > 15 {
		t.Errorf("%d accept attempts in 0.7 s of EMFILE, want a few (backoff from 5 ms doubling)", n)
	}
	if n := logs.n.Load(); n != 1 {
		t.Errorf("%d log lines about the failing accept, want 1 (rate-limited)", n)
	}
	fl.failing.Store(false)
	// The retry after the last failure is at most 1 s away.
	if err := ruok(s.Addr().String()); err != nil {
		t.Fatalf("the client port did not serve again once accept recovered: %v", err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err() = %v after a temporary accept failure", err)
	}
}

// A client or peer port whose listener fails for good stops the member, and Err says
// why: no member that cannot accept looks healthy.
func TestAcceptPermanentFailureStopsMember(t *testing.T) {
	broken := acceptErr(syscall.EINVAL)
	for _, port := range []string{"client port", "peer port"} {
		t.Run(port, func(t *testing.T) {
			var s *Server
			if port == "client port" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				fl := &faultyListener{Listener: ln, err: broken}
				fl.failing.Store(true)
				s = startTest(t, func(c *Config) { c.ClientListener = fl })
			} else {
				var fl *faultyListener
				s = startLone(t, func(ln net.Listener) net.Listener {
					fl = &faultyListener{Listener: ln, err: broken}
					fl.failing.Store(true)
					return fl
				})
			}
			select {
			case <-s.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the member kept running without accepting on its " + port)
			}
			if err := s.Err(); err == nil || !strings.Contains(err.Error(), port) || !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("Err() = %v, want the %s's accept error", err, port)
			}
		})
	}
}
