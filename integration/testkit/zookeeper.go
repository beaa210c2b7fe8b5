package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// zooKeeperJars is the reference server's classpath, with the Debian package of each
// jar: zookeeper.jar names its other dependencies in its manifest; slf4j-simple gives
// it a logger (to the log file of the server's directory).
var zooKeeperJars = []struct{ path, pkg string }{
	{"/usr/share/java/zookeeper.jar", "zookeeper (libzookeeper-java)"},
	{"/usr/share/java/zookeeper-jute.jar", "zookeeper (libzookeeper-java)"},
	{"/usr/share/java/slf4j-api.jar", "libslf4j-java"},
	{"/usr/share/java/slf4j-simple.jar", "libslf4j-java"},
}

// NettyJars are the Netty jars Debian's zookeeper.jar manifest lacks and Netty
// (NettyServerCnxnFactory, ClientCnxnSocketNetty: every TLS connection) needs.
var NettyJars = []string{"/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar",
	"/usr/share/java/netty-transport-native-unix-common.jar"}

// ZooKeeperOptions configures StartZooKeeper.
type ZooKeeperOptions struct {
	// Config holds zoo.cfg keys beside (or instead of) the defaults: dataDir and
	// clientPort (chosen here), clientPortAddress=127.0.0.1, initLimit=10, syncLimit=5,
	// maxClientCnxns=0, 4lw.commands.whitelist=*, admin.enableServer=false.
	Config map[string]string
	// Props are JVM system properties (name → value, passed as -Dname=value).
	Props map[string]string
	// ExtraClasspath are jars added to the server's classpath: Netty's codec and
	// resolver (NettyJars) for NettyServerCnxnFactory and TLS, which Debian's
	// zookeeper.jar manifest leaves out.
	ExtraClasspath []string
	// Keep leaves the server's directory (zoo.cfg, data, zookeeper.log) in place after
	// Stop, and says where.
	Keep bool
	// MaxHeap is the JVM's -Xmx (default 256m); a million znodes need about 1g.
	MaxHeap string
	// JVMFlags, when not nil, replace the flags tuned for short tests
	// (-XX:+UseSerialGC -XX:TieredStopAtLevel=1: a quick start, a slower server) and
	// MaxHeap: []string{"-Xmx1000m"} runs the JVM as ZooKeeper's zkServer.sh does
	// (its default heap, G1, the full JIT), for benchmarks.
	JVMFlags []string
	// CPUs, when set, is the CPU list the JVM runs on (taskset -c), from its start,
	// so that it sizes its threads for them.
	CPUs string
}

// ZooKeeper is a running reference Apache ZooKeeper 3.8.0 (Debian's zookeeper
// package, ZooKeeperServerMain standalone on a loopback port), the server zkraft's
// behaviour is compared with.
type ZooKeeper struct {
	Addr string // 127.0.0.1:port
	Dir  string // zoo.cfg, data/, zookeeper.log
	keep bool
	cmd  *exec.Cmd
	once sync.Once
	done chan struct{}
}

// StartZooKeeper starts the reference server and waits until it serves (srvr answers
// "Mode:" and a session handshake succeeds; 60s). It is not tied to a test, so that a
// TestMain or a sync.Once may share one server among tests: the caller must Stop it.
// Should the test binary die without doing so, the kernel kills the JVM with it
// (Pdeathsig). A missing java or jar is an error naming the Debian package.
func StartZooKeeper(o ZooKeeperOptions) (*ZooKeeper, error) {
	java, cp, err := zooKeeperClasspath(o)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // the free port may be taken before the JVM binds it
		z, err := startZooKeeperOnce(java, cp, o)
		if err == nil {
			return z, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// zooKeeperClasspath finds java and the reference server's jars (an error names the
// Debian package of what is missing).
func zooKeeperClasspath(o ZooKeeperOptions) (java, classpath string, err error) {
	java, err = exec.LookPath("java")
	if err != nil {
		return "", "", fmt.Errorf("java not found on PATH (apt-get install openjdk-17-jre-headless): %w", err)
	}
	var cp []string
	for _, j := range zooKeeperJars {
		if _, err := os.Stat(j.path); err != nil {
			return "", "", fmt.Errorf("%s missing (apt-get install %s): %w", j.path, j.pkg, err)
		}
		cp = append(cp, j.path)
	}
	for _, j := range o.ExtraClasspath {
		if _, err := os.Stat(j); err != nil {
			return "", "", fmt.Errorf("%s missing (apt-get install libnetty-java): %w", j, err)
		}
		cp = append(cp, j)
	}
	return java, strings.Join(cp, ":"), nil
}

func startZooKeeperOnce(java, classpath string, o ZooKeeperOptions) (*ZooKeeper, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	z, err := launchZooKeeper(java, classpath, o, "org.apache.zookeeper.server.ZooKeeperServerMain", ports[0], nil, "")
	if err != nil {
		return nil, err
	}
	if err := z.waitServing(60 * time.Second); err != nil {
		return nil, err
	}
	return z, nil
}

// launchZooKeeper writes zoo.cfg (the defaults, then quorum, then o.Config) and, when
// myid is set, data/myid into a new directory, and starts mainClass on it.
func launchZooKeeper(java, classpath string, o ZooKeeperOptions, mainClass string, port int, quorum map[string]string, myid string) (*ZooKeeper, error) {
	dir, err := os.MkdirTemp("", "zkraft-reference-zk-")
	if err != nil {
		return nil, err
	}
	cfg := map[string]string{
		"dataDir":                filepath.Join(dir, "data"),
		"clientPort":             fmt.Sprint(port),
		"clientPortAddress":      "127.0.0.1",
		"initLimit":              "10",
		"syncLimit":              "5",
		"maxClientCnxns":         "0",
		"4lw.commands.whitelist": "*",
		"admin.enableServer":     "false",
	}
	for k, v := range quorum {
		cfg[k] = v
	}
	for k, v := range o.Config {
		cfg[k] = v
	}
	if myid != "" {
		if err := os.MkdirAll(cfg["dataDir"], 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cfg["dataDir"], "myid"), []byte(myid+"\n"), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(keyValues(cfg, "", "\n")), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	props := map[string]string{
		"zookeeper.admin.enableServer":           "false",
		"zookeeper.4lw.commands.whitelist":       "*",
		"org.slf4j.simpleLogger.showDateTime":    "true",
		"org.slf4j.simpleLogger.defaultLogLevel": "info",
	}
	for k, v := range o.Props {
		props[k] = v
	}
	heap := o.MaxHeap
	if heap == "" {
		heap = "256m"
	}
	args := []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx" + heap}
	if o.JVMFlags != nil {
		args = slices.Clone(o.JVMFlags)
	}
	args = append(args, strings.Fields(keyValues(props, "-D", " "))...)
	args = append(args, "-cp", classpath, mainClass, cfgPath)
	cmd := exec.Command(java, args...)
	if o.CPUs != "" {
		cmd = exec.Command("taskset", append([]string{"-c", o.CPUs, java}, args...)...)
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group (Stop kills all of it), and SIGKILL when the thread that started it
	// ends: that thread is held by the goroutine below until the JVM exits, so the JVM
	// dies only with the test binary or by Stop.
	cmd.SysProcAttr = killWithParent()
	cmd.SysProcAttr.Setpgid = true
	addr := "127.0.0.1:" + cfg["clientPort"] // o.Config's: a restart on the port of an earlier server
	z := &ZooKeeper{Addr: addr, Dir: dir, keep: o.Keep, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		defer close(z.done)
		defer logf.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start java: %w", err)
	}
	return z, nil
}

// waitServing waits until srvr shows a Mode: line and a session handshake succeeds
// (srvr shows Mode: a little before the server takes sessions); on failure it stops
// the server and returns an error with its log's tail.
func (z *ZooKeeper) waitServing(within time.Duration) error {
	deadline := time.Now().Add(within)
	err := WaitFourLetter(z.Addr, "srvr", "Mode:", within, z.done)
	for err == nil {
		c, cerr := rawzk.Connect(z.Addr, zkproto.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)})
		if cerr == nil {
			ok := c.Session.TimeOut > 0
			c.Raw().SetDeadline(time.Now().Add(2 * time.Second))
			if xid, err := c.Send(zkproto.OpCloseSession, nil); err == nil {
				c.Recv(xid, nil)
			}
			c.Close()
			if ok {
				return nil
			}
		}
		select {
		case <-z.done:
			err = fmt.Errorf("java exited (%v)", z.cmd.ProcessState)
		case <-time.After(5 * time.Millisecond):
			if time.Now().After(deadline) {
				err = fmt.Errorf("no session handshake within %v (%v)", within, cerr)
			}
		}
	}
	tail := z.LogTail(30)
	z.Stop()
	return fmt.Errorf("reference ZooKeeper on %s: %v; log:\n%s", z.Addr, err, tail)
}

// StartZooKeeperEnsemble starts an ensemble of n reference servers (QuorumPeerMain,
// server.i=127.0.0.1:peer:election, all ports on loopback) and waits until each
// serves (60s). o applies to every member; the caller must Stop each.
func StartZooKeeperEnsemble(n int, o ZooKeeperOptions) ([]*ZooKeeper, error) {
	java, cp, err := zooKeeperClasspath(o)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port may be taken before the JVM binds it
		ports, err := freePorts(3 * n)
		if err != nil {
			return nil, err
		}
		quorum := map[string]string{}
		for i := range n {
			quorum[fmt.Sprintf("server.%d", i+1)] = fmt.Sprintf("127.0.0.1:%d:%d", ports[3*i+1], ports[3*i+2])
		}
		var zs []*ZooKeeper
		stopAll := func() {
			for _, z := range zs {
				z.Stop()
			}
		}
		for i := range n {
			z, err := launchZooKeeper(java, cp, o, "org.apache.zookeeper.server.quorum.QuorumPeerMain", ports[3*i], quorum, fmt.Sprint(i+1))
			if err != nil {
				stopAll()
				return nil, err
			}
			zs = append(zs, z)
		}
		lastErr = nil
		for _, z := range zs {
			if err := z.waitServing(60 * time.Second); err != nil {
				lastErr = err
				break
			}
		}
		if lastErr == nil {
			return zs, nil
		}
		stopAll()
	}
	return nil, lastErr
}

// Pid is the JVM's process id.
func (z *ZooKeeper) Pid() int { return z.cmd.Process.Pid }

// keyValues renders m sorted by key as prefix+key=value items joined by sep.
func keyValues(m map[string]string, prefix, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(prefix + k + "=" + m[k] + sep)
	}
	return b.String()
}

// Alive checks that the server still runs and answers srvr with a Mode: line.
func (z *ZooKeeper) Alive() error {
	select {
	case <-z.done:
		return fmt.Errorf("java exited: %v", z.cmd.ProcessState)
	default:
	}
	out, err := FourLetter(z.Addr, "srvr", 2*time.Second)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "Mode:") {
		return fmt.Errorf("srvr: %q", out)
	}
	return nil
}

// Stop kills the JVM (its whole process group), waits for it and removes its
// directory (unless Keep). It is idempotent and safe from any goroutine.
func (z *ZooKeeper) Stop() {
	z.once.Do(func() {
		if z.cmd.Process != nil {
			syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
			z.cmd.Process.Kill()
		}
		select {
		case <-z.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "reference ZooKeeper: java pid %d did not exit after SIGKILL\n", z.cmd.Process.Pid)
		}
		if z.keep {
			fmt.Fprintf(os.Stderr, "reference ZooKeeper: files kept in %s\n", z.Dir)
		} else {
			os.RemoveAll(z.Dir)
		}
	})
}

// StopOnSignal stops the server and exits the test binary (status 2) when it gets
// SIGINT, SIGTERM, SIGHUP or SIGQUIT, so that an interrupted run leaves neither a JVM
// nor its files behind. The returned function undoes it.
func (z *ZooKeeper) StopOnSignal() (undo func()) {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		s, ok := <-sigc
		if !ok {
			return
		}
		z.Stop()
		fmt.Fprintf(os.Stderr, "%v: reference ZooKeeper stopped\n", s)
		os.Exit(2)
	}()
	return func() { signal.Stop(sigc); close(sigc) }
}

// LogTail is the last n lines of the server's log.
func (z *ZooKeeper) LogTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(z.Dir, "zookeeper.log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
