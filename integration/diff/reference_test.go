package diff

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// The settings both servers run with. ZooKeeper clamps a requested session timeout to
// [minSessionTimeout, maxSessionTimeout]; both are set explicitly so that the clamps
// do not depend on tickTime defaults.
const (
	tickTime          = 100 * time.Millisecond
	minSessionTimeout = 1000 * time.Millisecond
	maxSessionTimeout = 20000 * time.Millisecond
	containerInterval = 100 * time.Millisecond
	superPassword     = "diffsecret"
)

// superDigest is "super:base64(sha1(super:<password>))", as DigestAuthenticationProvider wants.
var superDigest = digestID("super", superPassword)

func digestID(user, password string) string {
	h := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(h[:])
}

// javaClasspath is the reference server's classpath: zookeeper.jar names its other
// dependencies in its manifest; slf4j-simple gives it a logger.
var referenceJars = []string{
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-simple.jar",
}

// reference is the running Apache ZooKeeper.
type reference struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	log  string
	once sync.Once
	done chan struct{}
}

// ref is the one reference server of this test binary, started by TestMain.
var ref *reference

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Pdeathsig is tied to the thread that starts the JVM: keep this goroutine (which
	// runs every test through m.Run) on that thread, so the JVM gets SIGKILL if the
	// test binary dies without running its deferred calls (a -timeout panic, a crash).
	runtime.LockOSThread()
	r, err := startReference()
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration/diff: cannot start the reference Apache ZooKeeper: %v\n"+
			"These tests need java (17) and Debian's zookeeper 3.8.0 package (apt-get install zookeeper).\n", err)
		return 1
	}
	ref = r
	defer r.stop()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		s, ok := <-sigc
		if !ok {
			return
		}
		r.stop()
		fmt.Fprintf(os.Stderr, "integration/diff: %v: reference ZooKeeper stopped\n", s)
		os.Exit(2)
	}()
	defer signal.Stop(sigc)
	return m.Run()
}

func startReference() (*reference, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("java not found on PATH: %w", err)
	}
	for _, j := range referenceJars {
		if _, err := os.Stat(j); err != nil {
			return nil, fmt.Errorf("missing %s: %w", j, err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := startReferenceOnce(java)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startReferenceOnce(java string) (*reference, error) {
	dir, err := os.MkdirTemp("", "zkraft-diff-ref-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfg := fmt.Sprintf(`tickTime=%d
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
minSessionTimeout=%d
maxSessionTimeout=%d
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
`, tickTime.Milliseconds(), filepath.Join(dir, "data"), port,
		minSessionTimeout.Milliseconds(), maxSessionTimeout.Milliseconds())
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logPath := filepath.Join(dir, "zookeeper.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(java,
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m",
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dzookeeper.DigestAuthenticationProvider.superDigest="+superDigest,
		"-Dznode.container.checkIntervalMs="+fmt.Sprint(containerInterval.Milliseconds()),
		"-Dzookeeper.forceSync=no",
		"-Dzookeeper.admin.enableServer=false",
		"-Dzookeeper.4lw.commands.whitelist=*",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-cp", strings.Join(referenceJars, ":"),
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start java: %w", err)
	}
	r := &reference{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(r.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-r.done:
			tail := r.logTail(30)
			r.stop()
			return nil, fmt.Errorf("java exited before serving (%v); log:\n%s", cmd.ProcessState, tail)
		default:
		}
		// srvr shows Mode: a little before the server takes sessions: wait for both.
		if out, err := fourLetter(r.addr, "srvr"); err == nil && strings.Contains(out, "Mode:") {
			if c, err := rawzk.Connect(r.addr, zkproto.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)}); err == nil {
				ok := c.Session.TimeOut > 0
				closeSession(c)
				if ok {
					return r, nil
				}
			}
		}
		if time.Now().After(deadline) {
			tail := r.logTail(30)
			r.stop()
			return nil, fmt.Errorf("reference ZooKeeper on %s did not answer srvr with Mode: within 60s; log:\n%s", r.addr, tail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alive checks that the reference still runs and answers srvr.
func (r *reference) alive() error {
	select {
	case <-r.done:
		return fmt.Errorf("java exited: %v", r.cmd.ProcessState)
	default:
	}
	out, err := fourLetter(r.addr, "srvr")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "Mode:") {
		return fmt.Errorf("srvr: %q", out)
	}
	return nil
}

// stop kills the JVM (its whole process group), waits for it and removes its files.
// It is idempotent and safe from any goroutine.
func (r *reference) stop() {
	r.once.Do(func() {
		if r.cmd.Process != nil {
			syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			r.cmd.Process.Kill()
		}
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "integration/diff: java pid %d did not exit after SIGKILL\n", r.cmd.Process.Pid)
		}
		if os.Getenv("ZKDIFF_KEEP") == "" {
			os.RemoveAll(r.dir)
		} else {
			fmt.Fprintf(os.Stderr, "integration/diff: reference files kept in %s\n", r.dir)
		}
	})
}

func (r *reference) logTail(n int) string {
	b, _ := os.ReadFile(r.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fourLetter sends a four-letter word and reads the reply until the server closes.
func fourLetter(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", err
	}
	var sb strings.Builder
	_, err = io.Copy(&sb, bufio.NewReader(c))
	if err != nil && !errors.Is(err, io.EOF) {
		return sb.String(), err
	}
	return sb.String(), nil
}

// zkraftConfig configures zkraft as the reference is configured.
func zkraftConfig(c *ensemble.Config) {
	c.TickTime = tickTime
	c.MinSessionTimeout = minSessionTimeout
	c.MaxSessionTimeout = maxSessionTimeout
	c.MaxClientCnxns = 0
	c.FourLetterWhitelist = []string{"*"}
	c.ExtendedTypesEnabled = true
	c.SuperDigest = superDigest
	c.ContainerCheckInterval = containerInterval
}

// servers gives the two targets of a test: the reference and a fresh in-process zkraft.
func servers(t *testing.T) (refAddr, zkraftAddr string) {
	t.Helper()
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(zkraftConfig))
	return ref.addr, srv.Addr
}
