// Package ensemble_it runs replicated zkraft ensembles as separate processes
// (zkraft serve --config zoo.cfg, one per member, on loopback ports) and checks
// them from go-zookeeper clients: replication, leader failover under write load
// (kill -9), session and watch survival, catch-up of a restarted member, also
// through a snapshot install.
package ensemble_it

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/testkit"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testkit.RunWithZkraft(m, &binary)) }

// Client port forms of zoo.cfg.
const (
	clientPortKey    = "clientPort" // clientPort= and clientPortAddress= in each member's file
	clientPortSuffix = "suffix"     // server.N=...;127.0.0.1:port, one identical file body
)

type options struct {
	n          int
	tickMs     int    // tickTime; Raft's heartbeat and election timeout
	snapCount  int    // 0: not written
	clientForm string // clientPortKey or clientPortSuffix
	maxSessMs  int    // maxSessionTimeout
	logLevel   string // zkraft's --log-level; warn by default
}

func (o *options) defaults() {
	if o.n == 0 {
		o.n = 3
	}
	if o.tickMs == 0 {
		o.tickMs = 200
	}
	if o.clientForm == "" {
		o.clientForm = clientPortKey
	}
	if o.maxSessMs == 0 {
		o.maxSessMs = 30000
	}
	if o.logLevel == "" {
		o.logLevel = "warn"
	}
}

type member struct {
	id           int
	dir          string // holds zoo.cfg and data/
	dataDir      string
	cfgPath      string
	clientAddr   string
	peerPort     int
	electionPort int
	proc         *testkit.Process // nil while down
	starts       int
}

type ensemble struct {
	t       testing.TB
	opts    options
	members []*member // index i is server id i+1
}

// startEnsemble writes zoo.cfg and myid for every member, starts all of them and
// waits until each answers srvr with a Mode: line.
func startEnsemble(t testing.TB, o options) *ensemble {
	t.Helper()
	o.defaults()
	e := &ensemble{t: t, opts: o}
	ports := testkit.FreePorts(t, 3*o.n)
	root := t.TempDir()
	for i := range o.n {
		m := &member{
			id:           i + 1,
			dir:          filepath.Join(root, fmt.Sprintf("m%d", i+1)),
			clientAddr:   fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			peerPort:     ports[3*i+1],
			electionPort: ports[3*i+2],
		}
		m.dataDir = filepath.Join(m.dir, "data")
		m.cfgPath = filepath.Join(m.dir, "zoo.cfg")
		e.members = append(e.members, m)
	}
	for _, m := range e.members {
		if err := os.MkdirAll(m.dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.dataDir, "myid"), []byte(strconv.Itoa(m.id)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(m.cfgPath, []byte(e.zooCfg(m)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Each member's process is killed and reaped by its own cleanup (testkit.Start),
	// which runs before this one.
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range e.members {
				if m.proc != nil {
					t.Logf("member %d stderr (tail):\n%s", m.id, tail(m.proc.Output(), 4000))
				}
			}
		}
	})
	for _, m := range e.members {
		e.spawn(m)
	}
	for _, m := range e.members {
		e.waitServing(m, 30*time.Second)
	}
	return e
}

func (e *ensemble) zooCfg(m *member) string {
	o := e.opts
	var b strings.Builder
	fmt.Fprintf(&b, "# member %d of a %d-member test ensemble\n", m.id, o.n)
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\n", o.tickMs)
	fmt.Fprintf(&b, "dataDir=%s\n", m.dataDir)
	fmt.Fprintf(&b, "maxClientCnxns=0\nmaxSessionTimeout=%d\n", o.maxSessMs)
	b.WriteString("4lw.commands.whitelist=*\n")
	if o.snapCount > 0 {
		fmt.Fprintf(&b, "snapCount=%d\n", o.snapCount)
	}
	if o.clientForm == clientPortKey {
		_, port, _ := net.SplitHostPort(m.clientAddr)
		fmt.Fprintf(&b, "clientPortAddress=127.0.0.1\nclientPort=%s\n", port)
	}
	for _, s := range e.members {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d", s.id, s.peerPort, s.electionPort)
		if o.clientForm == clientPortSuffix {
			fmt.Fprintf(&b, ";%s", s.clientAddr)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (e *ensemble) spawn(m *member) {
	e.t.Helper()
	m.proc = testkit.Start(e.t, exec.Command(binary, "serve", "--config", m.cfgPath, "--log-level", e.opts.logLevel))
	m.starts++
}

// waitServing waits until m answers srvr with a Mode: line.
func (e *ensemble) waitServing(m *member, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if s, err := srvr(m.clientAddr); err == nil && s.mode != "" {
			return
		}
		if m.proc.Exited() {
			e.t.Fatalf("member %d exited before serving: %v\n%s", m.id, m.proc.Err(), m.proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("member %d not serving on %s within %v\n%s", m.id, m.clientAddr, within, m.proc.Output())
}

// kill sends SIGKILL to member i (index) and reaps it.
func (e *ensemble) kill(i int) { e.stopWith(i, syscall.SIGKILL) }

// stop shuts member i down cleanly (SIGTERM).
func (e *ensemble) stop(i int) { e.stopWith(i, syscall.SIGTERM) }

func (e *ensemble) stopWith(i int, sig syscall.Signal) {
	e.t.Helper()
	m := e.members[i]
	if m.proc == nil {
		return
	}
	m.proc.Signal(sig)
	if _, ok := m.proc.Wait(15 * time.Second); !ok {
		m.proc.Kill()
		<-m.proc.Done()
		e.t.Errorf("member %d did not exit within 15s of %v", m.id, sig)
	}
	if sig == syscall.SIGTERM && m.proc.Err() != nil {
		e.t.Errorf("member %d exit after SIGTERM: %v\n%s", m.id, m.proc.Err(), tail(m.proc.Output(), 4000))
	}
	m.proc = nil
}

// restart starts a stopped member i again on its config and data and waits until it serves.
func (e *ensemble) restart(i int) {
	e.t.Helper()
	m := e.members[i]
	if m.proc != nil {
		e.t.Fatalf("member %d is running", m.id)
	}
	e.spawn(m)
	e.waitServing(m, 30*time.Second)
}

// live are the indexes of running members.
func (e *ensemble) live() []int {
	var out []int
	for i, m := range e.members {
		if m.proc != nil {
			out = append(out, i)
		}
	}
	return out
}

// addrs are every member's client address (down ones too, as a client's connect string).
func (e *ensemble) addrs() []string {
	out := make([]string, len(e.members))
	for i, m := range e.members {
		out[i] = m.clientAddr
	}
	return out
}

// leader finds the live member whose srvr says "Mode: leader", waiting up to within.
func (e *ensemble) leader(within time.Duration) int {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, i := range e.live() {
			if s, err := srvr(e.members[i].clientAddr); err == nil && s.mode == "leader" {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("no member reports Mode: leader within %v", within)
	return -1
}

// waitZxidMatch waits until member i's srvr Zxid equals the leader's (both read in
// one round, so that a moving leader is chased) and returns how long it took.
func (e *ensemble) waitZxidMatch(i int, within time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	var last string
	for time.Now().Before(deadline) {
		l := e.leader(within)
		ls, err1 := srvr(e.members[l].clientAddr)
		ms, err2 := srvr(e.members[i].clientAddr)
		if err1 == nil && err2 == nil && ms.zxid == ls.zxid {
			return time.Since(start)
		}
		last = fmt.Sprintf("member %d zxid %#x (err %v), leader %d zxid %#x (err %v)", i+1, ms.zxid, err2, l+1, ls.zxid, err1)
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("member %d did not reach the leader's zxid within %v: %s", i+1, within, last)
	return 0
}

type srvrInfo struct {
	mode  string
	zxid  int64
	nodes int64
}

var (
	modeRe  = regexp.MustCompile(`(?m)^Mode: (\S+)$`)
	zxidRe  = regexp.MustCompile(`(?m)^Zxid: 0x([0-9a-fA-F]+)$`)
	nodesRe = regexp.MustCompile(`(?m)^Node count: (\d+)$`)
)

// srvr asks addr for srvr and parses Mode, Zxid and Node count.
func srvr(addr string) (srvrInfo, error) {
	out, err := testkit.FourLetter(addr, "srvr", time.Second)
	if err != nil {
		return srvrInfo{}, err
	}
	var s srvrInfo
	m := modeRe.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("srvr from %s has no Mode line: %q", addr, out)
	}
	s.mode = m[1]
	if z := zxidRe.FindStringSubmatch(out); z != nil {
		s.zxid, _ = strconv.ParseInt(z[1], 16, 64)
	}
	if n := nodesRe.FindStringSubmatch(out); n != nil {
		s.nodes, _ = strconv.ParseInt(n[1], 10, 64)
	}
	return s, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// orderedHosts is a go-zookeeper HostProvider that tries servers in its own order
// (zk.Connect shuffles the list it is given), so a test can put a client on a chosen
// member first and still let it fail over to the others.
type orderedHosts struct {
	mu         sync.Mutex
	servers    []string
	curr, last int
}

func (h *orderedHosts) Init([]string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr, h.last = -1, -1
	return nil
}

func (h *orderedHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

func (h *orderedHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

func (h *orderedHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.curr
}

// connect opens a session on addrs (tried in order when ordered) and waits until it
// has one. The connection is closed at cleanup.
func connect(t testing.TB, addrs []string, timeout time.Duration, ordered bool) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	var hosts zk.HostProvider = &zk.DNSHostProvider{}
	if ordered {
		hosts = &orderedHosts{servers: slices.Clone(addrs)}
	}
	c, events, err := zk.Connect(addrs, timeout, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}), zk.WithHostProvider(hosts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, events
			}
		case <-deadline:
			t.Fatalf("no session on %v within 15s (state %v)", addrs, c.State())
		}
	}
}

// quietLogger drops go-zookeeper's reconnect chatter, expected when members die.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

var openACL = zk.WorldACL(zk.PermAll)
