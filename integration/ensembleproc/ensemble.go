package ensembleproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkraft/zkraft/integration/testkit"
)

// Client port forms of zoo.cfg.
const (
	ClientPortKey    = "clientPort" // clientPort= and clientPortAddress= in each member's file
	ClientPortSuffix = "suffix"     // server.N=...;127.0.0.1:port, one identical file body
)

// Options describe an ensemble; zero values take the defaults.
type Options struct {
	N          int    // members; 3
	TickMs     int    // tickTime, Raft's heartbeat and election timeout; 200
	SnapCount  int    // zoo.cfg snapCount; 0: not written
	ClientForm string // ClientPortKey (default) or ClientPortSuffix
	MaxSessMs  int    // maxSessionTimeout; 30000
	LogLevel   string // zkraft's --log-level; warn
	// Proxied puts a Network proxy in front of every member's peer port: the server
	// lines name the proxies and each member listens elsewhere (--peer-listen).
	Proxied bool
	// Extra lines for every zoo.cfg (reconfigEnabled=true, a superDigest, ...).
	Extra string
	// DiskMB, when set, puts each member's data directory on a tmpfs of its own of
	// that size (the test must run as root), so that FillDisk can fill it.
	DiskMB int
	// CPUs, when set, is the CPU list every member runs on (taskset -c), from its
	// start, so that the Go runtime sizes GOMAXPROCS for it.
	CPUs string
	// Env is added to every member's environment (KEY=value).
	Env []string
}

func (o *Options) defaults() {
	if o.N == 0 {
		o.N = 3
	}
	if o.TickMs == 0 {
		o.TickMs = 200
	}
	if o.ClientForm == "" {
		o.ClientForm = ClientPortKey
	}
	if o.MaxSessMs == 0 {
		o.MaxSessMs = 30000
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
}

// Member is one member's files, addresses and process.
type Member struct {
	ID           int
	Dir          string // holds zoo.cfg and data/
	DataDir      string
	DiskDir      string // the tmpfs holding DataDir when Options.DiskMB is set
	CfgPath      string
	ClientAddr   string
	PeerPort     int // the server line's peer port: the proxy's when Proxied
	ListenPort   int // where the member listens for peers (PeerPort unless Proxied)
	ElectionPort int
	Proc         *testkit.Process // nil while down
	Starts       int
	Paused       bool   // SIGSTOPped
	past         string // the output of its earlier processes
}

// Log is everything member i's processes wrote, the earlier ones included.
func (e *Ensemble) Log(i int) string {
	m := e.Members[i]
	if m.Proc == nil {
		return m.past
	}
	return m.past + m.Proc.Output()
}

// forget drops member i's ended process, keeping its output for Log.
func (e *Ensemble) forget(i int) {
	m := e.Members[i]
	m.past += m.Proc.Output()
	m.Proc, m.Paused = nil, false
	if e.Net != nil {
		e.Net.setPid(i, 0)
	}
}

// Ensemble is a running ensemble of processes; its methods are for the test's
// goroutine (they fail the test).
type Ensemble struct {
	t       testing.TB
	bin     string
	Opts    Options
	Members []*Member // index i is server id i+1
	Net     *Network  // nil unless Opts.Proxied
}

// Start writes zoo.cfg and myid for every member, starts all of them from the zkraft
// binary bin and waits until each answers srvr with a Mode: line. Cleanup kills them.
func Start(t testing.TB, bin string, o Options) *Ensemble {
	t.Helper()
	o.defaults()
	e := &Ensemble{t: t, bin: bin, Opts: o}
	ports := testkit.FreePorts(t, 4*o.N)
	root := t.TempDir()
	for i := range o.N {
		m := &Member{
			ID:           i + 1,
			Dir:          filepath.Join(root, fmt.Sprintf("m%d", i+1)),
			ClientAddr:   fmt.Sprintf("127.0.0.1:%d", ports[4*i]),
			PeerPort:     ports[4*i+1],
			ElectionPort: ports[4*i+2],
		}
		m.ListenPort = m.PeerPort
		if o.Proxied {
			m.ListenPort = ports[4*i+3]
		}
		m.DataDir = filepath.Join(m.Dir, "data")
		if o.DiskMB > 0 {
			m.DiskDir = filepath.Join(m.Dir, "disk")
			m.DataDir = filepath.Join(m.DiskDir, "data")
			mountDisk(t, m.DiskDir, o.DiskMB)
		}
		m.CfgPath = filepath.Join(m.Dir, "zoo.cfg")
		e.Members = append(e.Members, m)
	}
	for _, m := range e.Members {
		if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.DataDir, "myid"), []byte(strconv.Itoa(m.ID)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(m.CfgPath, []byte(e.ZooCfg(m)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.Proxied {
		e.Net = startNetwork(t, e)
	}
	// Each member's process is killed and reaped by its own cleanup (testkit.Start),
	// which runs before this one.
	t.Cleanup(func() {
		if t.Failed() {
			for i, m := range e.Members {
				t.Logf("member %d stderr (tail):\n%s", m.ID, Tail(e.Log(i), 4000))
			}
		}
	})
	for _, m := range e.Members {
		e.spawn(m)
	}
	for _, m := range e.Members {
		e.waitServing(m, 30*time.Second)
	}
	return e
}

// ZooCfg is member m's zoo.cfg.
func (e *Ensemble) ZooCfg(m *Member) string {
	o := e.Opts
	var b strings.Builder
	fmt.Fprintf(&b, "# member %d of a %d-member test ensemble\n", m.ID, o.N)
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\n", o.TickMs)
	fmt.Fprintf(&b, "dataDir=%s\n", m.DataDir)
	fmt.Fprintf(&b, "maxClientCnxns=0\nmaxSessionTimeout=%d\n", o.MaxSessMs)
	b.WriteString("4lw.commands.whitelist=*\n")
	if o.SnapCount > 0 {
		fmt.Fprintf(&b, "snapCount=%d\n", o.SnapCount)
	}
	if o.ClientForm == ClientPortKey {
		_, port, _ := net.SplitHostPort(m.ClientAddr)
		fmt.Fprintf(&b, "clientPortAddress=127.0.0.1\nclientPort=%s\n", port)
	}
	b.WriteString(o.Extra)
	if o.Extra != "" && !strings.HasSuffix(o.Extra, "\n") {
		b.WriteString("\n")
	}
	for _, s := range e.Members {
		b.WriteString(e.ServerLine(s))
		b.WriteString("\n")
	}
	return b.String()
}

// ServerLine is member s's server.N= line (as zoo.cfg and reconfig take it).
func (e *Ensemble) ServerLine(s *Member) string {
	line := fmt.Sprintf("server.%d=127.0.0.1:%d:%d", s.ID, s.PeerPort, s.ElectionPort)
	if e.Opts.ClientForm == ClientPortSuffix {
		line += ";" + s.ClientAddr
	}
	return line
}

func (e *Ensemble) spawn(m *Member) {
	e.t.Helper()
	args := []string{"serve", "--config", m.CfgPath, "--log-level", e.Opts.LogLevel}
	if m.ListenPort != m.PeerPort {
		args = append(args, "--peer-listen", fmt.Sprintf("127.0.0.1:%d", m.ListenPort))
	}
	cmd := exec.Command(e.bin, args...)
	if e.Opts.CPUs != "" {
		cmd = exec.Command("taskset", append([]string{"-c", e.Opts.CPUs, e.bin}, args...)...)
	}
	if len(e.Opts.Env) > 0 {
		cmd.Env = append(os.Environ(), e.Opts.Env...)
	}
	m.Proc = testkit.Start(e.t, cmd)
	if e.Net != nil {
		e.Net.setPid(m.ID-1, m.Proc.Pid())
	}
	m.Paused = false
	m.Starts++
}

// WaitServing waits until member i answers srvr with a Mode: line.
func (e *Ensemble) WaitServing(i int, within time.Duration) {
	e.t.Helper()
	e.waitServing(e.Members[i], within)
}

func (e *Ensemble) waitServing(m *Member, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if s, err := Srvr(m.ClientAddr); err == nil && s.Mode != "" {
			return
		}
		if m.Proc.Exited() {
			e.t.Fatalf("member %d exited before serving: %v\n%s", m.ID, m.Proc.Err(), m.Proc.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("member %d not serving on %s within %v\n%s", m.ID, m.ClientAddr, within, Tail(m.Proc.Output(), 4000))
}

// Kill sends SIGKILL to member i (index) and reaps it.
func (e *Ensemble) Kill(i int) { e.stopWith(i, syscall.SIGKILL) }

// Stop shuts member i down cleanly (SIGTERM).
func (e *Ensemble) Stop(i int) { e.stopWith(i, syscall.SIGTERM) }

func (e *Ensemble) stopWith(i int, sig syscall.Signal) {
	e.t.Helper()
	m := e.Members[i]
	if m.Proc == nil {
		return
	}
	if m.Paused && sig != syscall.SIGKILL {
		e.Resume(i)
	}
	m.Proc.Signal(sig)
	if _, ok := m.Proc.Wait(15 * time.Second); !ok {
		m.Proc.Kill()
		<-m.Proc.Done()
		e.t.Errorf("member %d did not exit within 15s of %v", m.ID, sig)
	}
	if sig == syscall.SIGTERM && m.Proc.Err() != nil {
		e.t.Errorf("member %d exit after SIGTERM: %v\n%s", m.ID, m.Proc.Err(), Tail(m.Proc.Output(), 4000))
	}
	e.forget(i)
}

// Pause stops member i with SIGSTOP: its process freezes with its sockets open, as
// in a long GC pause or a VM stall.
func (e *Ensemble) Pause(i int) {
	e.t.Helper()
	m := e.Members[i]
	if m.Proc == nil || m.Paused {
		return
	}
	if err := m.Proc.Signal(syscall.SIGSTOP); err != nil {
		e.t.Fatalf("SIGSTOP member %d: %v", m.ID, err)
	}
	m.Paused = true
}

// Resume continues a paused member i (SIGCONT).
func (e *Ensemble) Resume(i int) {
	e.t.Helper()
	m := e.Members[i]
	if m.Proc == nil || !m.Paused {
		return
	}
	if err := m.Proc.Signal(syscall.SIGCONT); err != nil {
		e.t.Fatalf("SIGCONT member %d: %v", m.ID, err)
	}
	m.Paused = false
}

// Restart starts stopped members (indexes) again on their config and data, all at
// once, and waits until each serves.
func (e *Ensemble) Restart(is ...int) {
	e.t.Helper()
	for _, i := range is {
		m := e.Members[i]
		if m.Proc != nil {
			e.t.Fatalf("member %d is running", m.ID)
		}
		e.spawn(m)
	}
	for _, i := range is {
		e.waitServing(e.Members[i], 30*time.Second)
	}
}

// Live are the indexes of running members (paused ones included).
func (e *Ensemble) Live() []int {
	var out []int
	for i, m := range e.Members {
		if m.Proc != nil {
			out = append(out, i)
		}
	}
	return out
}

// Addrs are every member's client address (down ones too, as a client's connect string).
func (e *Ensemble) Addrs() []string {
	out := make([]string, len(e.Members))
	for i, m := range e.Members {
		out[i] = m.ClientAddr
	}
	return out
}

// FindLeader returns the live, unpaused member whose srvr says "Mode: leader", or -1
// when none does now.
func (e *Ensemble) FindLeader() int {
	for _, i := range e.Live() {
		if e.Members[i].Paused {
			continue
		}
		if s, err := Srvr(e.Members[i].ClientAddr); err == nil && s.Mode == "leader" {
			return i
		}
	}
	return -1
}

// Leader waits up to within for a member that reports "Mode: leader".
func (e *Ensemble) Leader(within time.Duration) int {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if l := e.FindLeader(); l >= 0 {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("no member reports Mode: leader within %v", within)
	return -1
}

// WaitZxidMatch waits until member i's srvr Zxid equals the leader's (both read in
// one round, so that a moving leader is chased) and returns how long it took.
func (e *Ensemble) WaitZxidMatch(i int, within time.Duration) time.Duration {
	e.t.Helper()
	took, err := e.ZxidMatch(i, within)
	if err != nil {
		e.t.Fatal(err)
	}
	return took
}

// ZxidMatch is WaitZxidMatch returning an error instead of failing the test.
func (e *Ensemble) ZxidMatch(i int, within time.Duration) (time.Duration, error) {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	var last string
	for time.Now().Before(deadline) {
		l := e.Leader(within)
		ls, err1 := Srvr(e.Members[l].ClientAddr)
		ms, err2 := Srvr(e.Members[i].ClientAddr)
		if err1 == nil && err2 == nil && ms.Zxid == ls.Zxid {
			return time.Since(start), nil
		}
		last = fmt.Sprintf("member %d zxid %#x (err %v), leader %d zxid %#x (err %v)", i+1, ms.Zxid, err2, l+1, ls.Zxid, err1)
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("member %d did not reach the leader's zxid within %v: %s", i+1, within, last)
}

// Dump makes member i print its goroutines and exit (SIGQUIT), for a member that is
// stuck; the stacks are in Log.
func (e *Ensemble) Dump(i int) {
	e.stopWith(i, syscall.SIGQUIT)
}

// SrvrInfo is what srvr says.
type SrvrInfo struct {
	Mode  string
	Zxid  int64
	Nodes int64
}

var (
	modeRe  = regexp.MustCompile(`(?m)^Mode: (\S+)$`)
	zxidRe  = regexp.MustCompile(`(?m)^Zxid: 0x([0-9a-fA-F]+)$`)
	nodesRe = regexp.MustCompile(`(?m)^Node count: (\d+)$`)
)

// Srvr asks addr for srvr and parses Mode, Zxid and Node count.
func Srvr(addr string) (SrvrInfo, error) {
	out, err := testkit.FourLetter(addr, "srvr", time.Second)
	if err != nil {
		return SrvrInfo{}, err
	}
	var s SrvrInfo
	m := modeRe.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("srvr from %s has no Mode line: %q", addr, out)
	}
	s.Mode = m[1]
	if z := zxidRe.FindStringSubmatch(out); z != nil {
		s.Zxid, _ = strconv.ParseInt(z[1], 16, 64)
	}
	if n := nodesRe.FindStringSubmatch(out); n != nil {
		s.Nodes, _ = strconv.ParseInt(n[1], 10, 64)
	}
	return s, nil
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
