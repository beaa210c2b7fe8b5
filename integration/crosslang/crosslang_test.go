package crosslang_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/recipes"
)

// pyProc is a running kazoo script (or Java peer): its stdout lines arrive on lines,
// stdin takes commands. It is killed and reaped when the test ends.
type pyProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  <-chan struct{} // closed once every line has been delivered and cmd reaped
}

func startPython(t *testing.T, script string, args ...string) *pyProc {
	t.Helper()
	if _, err := os.Stat(testkit.Python); err != nil {
		t.Fatalf("%s missing (install python3-kazoo): %v", testkit.Python, err)
	}
	cmd := exec.Command(testkit.Python, append([]string{"testdata/" + script}, args...)...)
	cmd.Env = testkit.PythonEnv()
	return startProc(t, script, cmd)
}

// startProc starts cmd with piped stdin/stdout; it is killed and reaped when the
// test ends, and its stderr logged if the test failed.
func startProc(t *testing.T, script string, cmd *exec.Cmd) *pyProc {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	cmd.Stdout = &lineWriter{lines: lines}
	var proc *testkit.Process
	t.Cleanup(func() { // runs after testkit.Start's own cleanup has killed and reaped it
		if proc != nil && t.Failed() && proc.Output() != "" {
			t.Logf("%s stderr:\n%s", script, proc.Output())
		}
	})
	proc = testkit.Start(t, cmd)
	return &pyProc{cmd: cmd, stdin: stdin, lines: lines, done: proc.Done()}
}

// lineWriter delivers each complete line written to it on lines. exec copies the
// child's stdout into it and finishes before the process counts as reaped, so every
// line printed before an exit is on lines by then.
type lineWriter struct {
	lines   chan<- string
	partial bytes.Buffer
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.partial.Write(b)
			return n, nil
		}
		w.partial.Write(b[:i])
		w.lines <- w.partial.String()
		w.partial.Reset()
		b = b[i+1:]
	}
}

// expect waits for a line starting with want.
func (p *pyProc) expect(t *testing.T, want string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("python exited before printing %s", want)
			}
			if strings.HasPrefix(l, want) {
				return l
			}
		case <-p.done:
			// drain what was printed before exiting
			select {
			case l := <-p.lines:
				if strings.HasPrefix(l, want) {
					return l
				}
				continue
			default:
			}
			t.Fatalf("python exited (%v) before printing %s", p.cmd.ProcessState, want)
		case <-deadline:
			t.Fatalf("python did not print %s within %v", want, within)
		}
	}
}

// quiet checks that no line starting with unwanted arrives for d.
func (p *pyProc) quiet(t *testing.T, unwanted string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, unwanted) {
				t.Fatalf("python printed %q, must not yet", l)
			}
		case <-deadline:
			return
		}
	}
}

func (p *pyProc) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("write to python: %v", err)
	}
}

func session(t *testing.T, addr string) *recipes.Session {
	t.Helper()
	s, err := recipes.Connect([]string{addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// A Go Mutex and a kazoo Lock on one path exclude each other, in both directions.
func TestMutexWithKazooLock(t *testing.T) {
	srv := ensembletest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const path = "/crosslang/lock"
	m := recipes.NewMutex(session(t, srv.Addr), path, recipes.WithData([]byte("go")))

	// Go holds; kazoo waits.
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	py := startPython(t, "kazoo_lock.py", srv.Addr, path)
	py.expect(t, "WAITING", 20*time.Second)
	py.quiet(t, "ACQUIRED", time.Second)
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	py.expect(t, "ACQUIRED", 10*time.Second)

	// kazoo holds; Go waits.
	got := make(chan error, 1)
	go func() { got <- m.Lock(ctx) }()
	select {
	case err := <-got:
		t.Fatalf("Go took a lock kazoo holds (err %v)", err)
	case <-time.After(time.Second):
	}
	py.send(t, "release")
	py.expect(t, "RELEASED", 10*time.Second)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Go did not get the lock after kazoo released it")
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// A Go LeaderElection and kazoo Elections on one path: exactly one leader, and the
// other takes over when the leader dies or resigns.
func TestElectionWithKazoo(t *testing.T) {
	srv := ensembletest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const path = "/crosslang/election"
	e := recipes.NewLeaderElection(session(t, srv.Addr), path, "go")

	leader := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			id, ok, err := e.Leader(ctx)
			if err == nil && ok && id == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("leader %q (%v, %v), want %q", id, ok, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// kazoo leads first; Go campaigns and waits.
	py := startPython(t, "kazoo_election.py", srv.Addr, path, "py1")
	py.expect(t, "LEADER", 20*time.Second)
	leader("py1")
	won := make(chan error, 1)
	go func() { won <- e.Campaign(ctx) }()
	select {
	case err := <-won:
		t.Fatalf("Go leads while kazoo does (err %v)", err)
	case <-time.After(time.Second):
	}

	// The kazoo leader dies (SIGKILL: its session times out): Go takes over.
	if err := py.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-won:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Go did not take over from the dead kazoo leader")
	}
	leader("go")

	// A new kazoo candidate sees Go as leader and waits.
	py2 := startPython(t, "kazoo_election.py", srv.Addr, path, "py2")
	if l := py2.expect(t, "CONTENDERS", 20*time.Second); l != "CONTENDERS go" {
		t.Fatalf("kazoo sees contenders %q, want [go]", l)
	}
	py2.quiet(t, "LEADER", time.Second)
	if closed := func() bool {
		select {
		case <-e.Lost():
			return true
		default:
			return false
		}
	}(); closed || !e.IsLeader() {
		t.Fatal("Go lost leadership while kazoo merely campaigned")
	}

	// Go resigns: kazoo leads.
	if err := e.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	py2.expect(t, "LEADER", 10*time.Second)
	leader("py2")
	py2.send(t, "resign")
	py2.expect(t, "RESIGNED", 10*time.Second)
}
