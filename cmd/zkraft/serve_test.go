package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkraft-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "zkraft")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build zkraft: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer the child's output copier and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a zkraft child process that is always reaped when the test ends.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startServe(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, append([]string{"serve"}, args...)...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func fourLetter(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(c)
	return b.String(), err
}

func waitServing(t *testing.T, p *process, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if out, err := fourLetter(addr, "srvr"); err == nil && strings.Contains(out, "Mode: standalone") {
			return
		}
		select {
		case err := <-p.done:
			t.Fatalf("zkraft exited before serving: %v\n%s", err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("zkraft not serving on %s within 10s\n%s", addr, p.stderr)
}

func writeCfg(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeBadConfigNamesKeyAndLine(t *testing.T) {
	dir := t.TempDir()
	cfg := writeCfg(t, dir, "dataDir="+dir+"\ntickTime=abc\n")
	out, err := exec.Command(binary, "serve", "--config", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("serve accepted a bad tickTime:\n%s", out)
	}
	if !strings.Contains(string(out), "zoo.cfg:2") || !strings.Contains(string(out), "tickTime") {
		t.Fatalf("error does not name the file:line and key:\n%s", out)
	}
}

// A zoo.cfg node serves, shuts down cleanly on SIGTERM, and the same command on the
// same config recovers its data.
func TestServeZooCfgSIGTERMAndRestart(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeCfg(t, dir, fmt.Sprintf(`# a standalone zoo.cfg
tickTime=2000
dataDir=%s/data
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=60
4lw.commands.whitelist=srvr,ruok
someUnknownKey=1
`, dir, port))

	p := startServe(t, "--config", cfg)
	waitServing(t, p, addr)
	if out, _ := fourLetter(addr, "ruok"); out != "imok" {
		t.Fatalf("ruok = %q", out)
	}
	if out, _ := fourLetter(addr, "envi"); !strings.Contains(out, "not in the whitelist") {
		t.Fatalf("envi not refused by the whitelist: %q", out)
	}
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "someUnknownKey") {
		t.Errorf("unknown key was not logged:\n%s", p.stderr)
	}

	p2 := startServe(t, "--config", cfg)
	waitServing(t, p2, addr)
	c2, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	data, _, err := c2.Get("/kept")
	if err != nil || string(data) != "v" {
		t.Fatalf("after restart /kept = %q, %v", data, err)
	}
}

// With no flags but a data directory, a development node is ready well under a second.
func TestServeDevelopmentNodeStartsFast(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start := time.Now()
	p := startServe(t, "--data-dir", t.TempDir(), "--client-addr", addr)
	waitServing(t, p, addr)
	t.Logf("serving after %v", time.Since(start))
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.stderr.String(), "zkraft ready"); {
		if time.Now().After(deadline) {
			t.Fatalf("no ready log line:\n%s", p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
