package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer that a child's output copier and the test may use at the
// same time (exec copies a non-file Stdout/Stderr from its own goroutine).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Process is a child process that the test's cleanup always kills and reaps, so that
// no test leaves a server or client program running behind it.
type Process struct {
	Cmd  *exec.Cmd
	out  Buffer
	done chan struct{}
	err  error // valid once done is closed
}

// Start starts cmd in its own process group (so Kill also ends whatever it started)
// and reaps it from a goroutine. Its stdout and stderr go to Output unless the caller
// set them. When the test ends the group is killed and the process awaited (10s).
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.out
	}
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if _, ok := p.Wait(10 * time.Second); !ok {
			t.Errorf("%s (pid %d) not reaped 10s after SIGKILL", cmd.Path, cmd.Process.Pid)
		}
	})
	return p
}

func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if cmd.WaitDelay == 0 {
		// Output copiers give up this long after the child exits, should a grandchild
		// hold its pipes open.
		cmd.WaitDelay = 5 * time.Second
	}
}

// Output is what the process wrote to the stdout and stderr Start captured.
func (p *Process) Output() string { return p.out.String() }

// Pid is the process id (and the id of its process group).
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig to the process itself (not its group), as a supervisor would.
func (p *Process) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL to the process group unless the process has already exited. It
// does not wait: see Wait and Done.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	return syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
}

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether Done is closed.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the exit error (nil for exit status 0); valid once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Wait waits up to d for the process to exit and returns its exit error; ok is false
// when it still runs.
func (p *Process) Wait(d time.Duration) (err error, ok bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// RunGroup runs cmd to completion in its own process group, calling during (if not
// nil) after the start, e.g. to read a StdoutPipe to its end. When ctx ends first the
// whole group is killed, so that nothing the child started survives it; the child is
// always reaped. For programs that run to an end (pytest, a C or Java check program,
// a compiler); see Start for servers.
func RunGroup(ctx context.Context, cmd *exec.Cmd, during func()) error {
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	if during != nil {
		during()
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("killed (%v): %w", context.Cause(ctx), err)
	}
	return err
}

// CombinedOutput runs cmd as RunGroup does and returns its stdout and stderr as they
// were interleaved.
func CombinedOutput(ctx context.Context, cmd *exec.Cmd) (string, error) {
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := RunGroup(ctx, cmd, nil)
	return out.String(), err
}
