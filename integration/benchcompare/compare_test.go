package benchcompare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/ensembleproc"
	"github.com/zkraft/zkraft/integration/testkit"
)

// The scale, from the environment (make bench-compare sets them); the defaults are
// the tiny run of make test.
//
//	BENCH_DURATION    each run of a workload (1s)
//	BENCH_REPEATS     alternating runs per target and cell, medians reported (1)
//	BENCH_WORKLOADS   comma-separated, all, or none (memory and restart only) (set)
//	BENCH_SESSIONS    comma-separated of 1, 16, 64, 16x16, or all (1)
//	BENCH_TOPOLOGIES  single, three, or all (single)
//	BENCH_ZNODES      the tree built for memory and restart; 0: skip (1000)
//	BENCH_OUT         where the report goes (a temporary file)
//	BENCH_COMMAND     the command line the report names
//	BENCH_PIN         1: the servers on CPU 0, the load on CPU 1 (taskset) (0)
//	BENCH_PROGRESS    1: zkraft bench's progress and each result on stderr
type config struct {
	duration   time.Duration
	repeats    int
	workloads  []string
	sessions   []sessionCfg
	topologies []string
	znodes     int
	out        string
	command    string
	progress   bool
	pin        bool // BENCH_PIN=1: the servers on CPU 0, the load on CPU 1
}

// unitEnv is the environment zkraft's systemd unit sets (testkit.UnitEnv): the
// benchmark runs zkraft with it, as ZooKeeper runs with the JVM flags of its scripts.
func unitEnv(t testing.TB) []string {
	t.Helper()
	env, err := testkit.UnitEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

var allWorkloads = []string{"create", "set", "get", "mixed", "multi", "delete", "watch", "churn"}

// workloadNames are the rows of the report.
var workloadNames = map[string]string{
	"create": "create", "set": "setData", "get": "getData", "mixed": "90/10 get/set",
	"multi": "multi (10 setData)", "delete": "delete", "watch": "watch fan-out", "churn": "session churn",
}

type sessionCfg struct {
	key               string // as in BENCH_SESSIONS
	clients, inflight int
}

var allSessions = []sessionCfg{{"1", 1, 1}, {"16", 16, 1}, {"64", 64, 1}, {"16x16", 16, 16}}

// forWorkload is the load of this column for workload w: watch fan-out's pipelined
// column is 1,024 sessions (one watch each) instead.
func (s sessionCfg) forWorkload(w string) (clients, inflight int) {
	if w == "watch" && s.inflight > 1 {
		return 1024, 1
	}
	return s.clients, s.inflight
}

func (s sessionCfg) header() string {
	switch {
	case s.inflight > 1:
		return fmt.Sprintf("%d sessions × %d in flight", s.clients, s.inflight)
	case s.clients == 1:
		return "1 session"
	}
	return fmt.Sprintf("%d sessions", s.clients)
}

func list(env, def string, all []string) ([]string, error) {
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	if v == "all" {
		return all, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("%s: %q is not one of %v", env, s, all)
		}
		out = append(out, s)
	}
	return out, nil
}

func loadConfig() (config, error) {
	c := config{duration: time.Second, repeats: 1, znodes: 1000, out: os.Getenv("BENCH_OUT"),
		command: os.Getenv("BENCH_COMMAND"), progress: os.Getenv("BENCH_PROGRESS") == "1", pin: os.Getenv("BENCH_PIN") == "1"}
	var err error
	if v := os.Getenv("BENCH_DURATION"); v != "" {
		if c.duration, err = time.ParseDuration(v); err != nil {
			return c, fmt.Errorf("BENCH_DURATION: %w", err)
		}
	}
	for env, p := range map[string]*int{"BENCH_REPEATS": &c.repeats, "BENCH_ZNODES": &c.znodes} {
		if v := os.Getenv(env); v != "" {
			if *p, err = strconv.Atoi(v); err != nil {
				return c, fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	if c.repeats < 1 {
		return c, fmt.Errorf("BENCH_REPEATS %d: 1 or more", c.repeats)
	}
	if c.pin && runtime.NumCPU() < 2 {
		return c, fmt.Errorf("BENCH_PIN=1 puts the servers and the load on CPUs 0 and 1: this machine has %d", runtime.NumCPU())
	}
	if os.Getenv("BENCH_WORKLOADS") != "none" {
		if c.workloads, err = list("BENCH_WORKLOADS", "set", allWorkloads); err != nil {
			return c, err
		}
	}
	if c.topologies, err = list("BENCH_TOPOLOGIES", "single", []string{"single", "three"}); err != nil {
		return c, err
	}
	if len(c.workloads) == 0 {
		c.topologies = nil // memory and restart only: no pair of servers, no tables
	}
	keys := make([]string, len(allSessions))
	for i, s := range allSessions {
		keys[i] = s.key
	}
	ss, err := list("BENCH_SESSIONS", "1", keys)
	if err != nil {
		return c, err
	}
	for _, k := range ss {
		c.sessions = append(c.sessions, allSessions[slices.Index(keys, k)])
	}
	return c, nil
}

// The two servers' settings, the same for both where they share a key: tickTime
// 2000 (zoo_sample.cfg's), default durability (ZooKeeper's forceSync=yes, zkraft's
// fsync of its Raft log), everything else at its default. ZooKeeper's JVM runs as
// zkServer.sh starts it: the default heap of its scripts, G1, the full JIT.
const tickMs = 2000

var (
	zkFlags    = []string{"-Xmx1000m"}
	zkMemFlags = func(znodes int) []string {
		if znodes > 200_000 {
			return []string{"-Xmx3g"} // 1000m is too small for a million znodes
		}
		return zkFlags
	}
)

const (
	targetZK     = "ZooKeeper"
	targetZkraft = "zkraft"
)

// TestBenchCompare measures both servers and writes the report (BENCH_OUT, or a
// temporary file), then checks that the report has a row with a numeric ratio for
// every workload and column measured, and the memory and restart rows. It asserts no
// figure: on a shared machine only the report's reader can judge them.
func TestBenchCompare(t *testing.T) {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	rep := &report{cfg: cfg, started: time.Now().UTC(), loadStart: loadAvg(), zkraftEnv: unitEnv(t)}
	reap := watchSignals(t)
	bin := testkit.BuildZkraft(t)
	dataDir := t.TempDir() // the filesystem of both servers' data (TMPDIR)
	rep.floor = benchFloor(t, bin, dataDir)
	cell, done := 0, 0
	total := len(cfg.topologies) * len(cfg.workloads) * len(cfg.sessions) * cfg.repeats * 2
	began := time.Now()
	for _, topo := range cfg.topologies {
		tr := topoResult{name: topo}
		servers, stop := startPair(t, reap, bin, topo, cfg.pin)
		for _, w := range cfg.workloads {
			for _, s := range cfg.sessions {
				clients, inflight := s.forWorkload(w)
				c := cellResult{workload: w, sessions: s, runs: map[string][]benchResult{}}
				for r := range cfg.repeats {
					order := []string{targetZK, targetZkraft}
					if (cell+r)%2 == 1 {
						order = []string{targetZkraft, targetZK}
					}
					for _, target := range order {
						args := []string{"--cpu-of", servers[target].pidList(), "--op", w, "--clients", fmt.Sprint(clients), "--inflight", fmt.Sprint(inflight),
							"--duration", cfg.duration.String(), "--root", fmt.Sprintf("/cmp-%s-%s-%d", w, s.key, r)}
						res, err := runBench(t, reap, bin, servers[target].addrs, cfg, args, 3*cfg.duration+2*time.Minute)
						done++
						eta := time.Duration(float64(time.Since(began)) / float64(done) * float64(total-done)).Round(time.Second)
						progress := fmt.Sprintf("[%d/%d, ETA %v]", done, total, eta)
						if err != nil {
							t.Errorf("%s %s %s on %s: %v", topo, w, s.key, target, err)
							continue
						}
						first := ""
						if res.FirstError != "" {
							first = " (first: " + res.FirstError + ")"
						}
						cfg.logf(t, "%s %s %s %s (%d×%d) %s: %.0f ops/s p50 %v p99 %v errors %d%s",
							progress, topo, w, s.key, clients, inflight, target, res.Throughput, res.p50(), res.p99(), res.Errors, first)
						c.runs[target] = append(c.runs[target], res)
					}
				}
				cell++
				tr.cells = append(tr.cells, c)
			}
		}
		stop()
		rep.topos = append(rep.topos, tr)
	}
	if cfg.znodes > 0 {
		rep.mem = memoryPhase(t, reap, bin, cfg)
	}
	rep.loadEnd = loadAvg()
	text := rep.render()
	out := cfg.out
	if out == "" {
		out = filepath.Join(t.TempDir(), "performance.md")
	}
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("report written to %s", out)
	checkReport(t, text, cfg)
}

func (c config) logf(t *testing.T, format string, args ...any) {
	t.Helper()
	if c.progress {
		fmt.Fprintf(os.Stderr, "bench-compare: "+format+"\n", args...)
		return
	}
	t.Logf(format, args...)
}

// servers are one side's running servers: their client addresses and process ids
// (whose CPU time each run reports).
type servers struct {
	addrs []string
	pids  []int
}

func (s servers) pidList() string {
	var b strings.Builder
	for i, pid := range s.pids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, pid)
	}
	return b.String()
}

// startPair starts ZooKeeper and zkraft in topology topo (single: one node each;
// three: 3 members each) and returns them by target and a function that stops both.
func startPair(t *testing.T, reap *reaper, bin, topo string, pin bool) (map[string]servers, func()) {
	t.Helper()
	n := 1
	if topo == "three" {
		n = 3
	}
	// Pinned, each server starts on CPU 0, so that the JVM and the Go runtime size
	// their threads for one CPU.
	cpus := ""
	if pin {
		cpus = "0"
	}
	opts := testkit.ZooKeeperOptions{JVMFlags: zkFlags, Config: map[string]string{"tickTime": fmt.Sprint(tickMs)}, CPUs: cpus}
	var zs []*testkit.ZooKeeper
	if n == 1 {
		z, err := testkit.StartZooKeeper(opts)
		if err != nil {
			t.Fatal(err)
		}
		zs = append(zs, z)
	} else {
		var err error
		if zs, err = testkit.StartZooKeeperEnsemble(n, opts); err != nil {
			t.Fatal(err)
		}
	}
	stopZK := func() {
		for _, z := range zs {
			z.Stop()
		}
	}
	t.Cleanup(stopZK)
	unreapZK := reap.add(stopZK)
	var zk, zkraft servers
	for _, z := range zs {
		zk.addrs = append(zk.addrs, z.Addr)
		zk.pids = append(zk.pids, z.Pid())
	}
	e := ensembleproc.Start(t, bin, ensembleproc.Options{N: n, TickMs: tickMs, CPUs: cpus, Env: unitEnv(t)})
	unreap := reapEnsemble(reap, e)
	zkraft.addrs = e.Addrs()
	for _, m := range e.Members {
		zkraft.pids = append(zkraft.pids, m.Proc.Pid())
	}
	return map[string]servers{targetZK: zk, targetZkraft: zkraft}, func() {
		stopZK()
		unreapZK()
		unreap()
		for i := range n {
			e.Kill(i)
		}
	}
}

// reapEnsemble registers the members' processes of e (those running now).
func reapEnsemble(reap *reaper, e *ensembleproc.Ensemble) (remove func()) {
	var removes []func()
	for _, m := range e.Members {
		if m.Proc != nil {
			removes = append(removes, reap.add(killGroup(m.Proc.Pid())))
		}
	}
	return func() {
		for _, r := range removes {
			r()
		}
	}
}

// benchResult is zkraft bench --json's output.
type benchResult struct {
	Op          string  `json:"op"`
	Clients     int     `json:"clients"`
	Inflight    int     `json:"inflight"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error"`
	ElapsedNs   int64   `json:"elapsed_ns"`
	Throughput  float64 `json:"ops_per_sec"`
	P50Ns       int64   `json:"p50_ns"`
	P99Ns       int64   `json:"p99_ns"`
	MaxNs       int64   `json:"max_ns"`
	CPUNs       int64   `json:"cpu_ns"`        // the bench's own CPU time over the run
	ServerCPUNs int64   `json:"server_cpu_ns"` // the servers' (all members)
	// ServerSysCPUNs is the part of ServerCPUNs spent in the kernel.
	ServerSysCPUNs int64 `json:"server_sys_cpu_ns"`
}

func (r benchResult) p50() time.Duration { return time.Duration(r.P50Ns) }
func (r benchResult) p99() time.Duration { return time.Duration(r.P99Ns) }

// runBench runs zkraft bench --json against addrs in its own process group, killed
// after limit.
func runBench(t *testing.T, reap *reaper, bin string, addrs []string, cfg config, args []string, limit time.Duration) (benchResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args = append([]string{"bench", "--server", strings.Join(addrs, ","), "--json"}, args...)
	cmd := exec.Command(bin, args...)
	if cfg.pin {
		cmd = exec.Command("taskset", append([]string{"-c", "1", bin}, args...)...)
	}
	var stdout bytes.Buffer
	var stderr testkit.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if cfg.progress {
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	}
	var unreap func()
	err := testkit.RunGroup(ctx, cmd, func() { unreap = reap.add(killGroup(cmd.Process.Pid)) })
	if unreap != nil {
		unreap()
	}
	if err != nil {
		return benchResult{}, fmt.Errorf("zkraft %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r benchResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("zkraft %s: %v in %q", strings.Join(args, " "), err, stdout.String())
	}
	return r, nil
}

// floor is zkraft bench --op floor's output.
type floor struct {
	FsyncP50 time.Duration `json:"fsync_p50_ns"`
	FsyncP99 time.Duration `json:"fsync_p99_ns"`
	RTTP50   time.Duration `json:"rtt_p50_ns"`
	RTTP99   time.Duration `json:"rtt_p99_ns"`
}

func benchFloor(t *testing.T, bin, dir string) floor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "bench", "--op", "floor", "--dir", dir, "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := testkit.RunGroup(ctx, cmd, nil); err != nil {
		t.Fatalf("zkraft bench --op floor: %v\n%s", err, stderr.String())
	}
	var f floor
	if err := json.Unmarshal(stdout.Bytes(), &f); err != nil {
		t.Fatalf("zkraft bench --op floor: %v in %q", err, stdout.String())
	}
	return f
}

// memResult is one server's figures with the tree of cfg.znodes znodes.
type memResult struct {
	emptyReady   time.Duration // start of a fresh node to its first session
	build        benchResult   // zkraft bench --op fill
	rss, peak    int64         // bytes, after the build (VmRSS, VmHWM)
	disk         int64         // bytes in the data directory after the build
	restart      time.Duration // kill -9, start again, to the tree's last znode read
	rssRestarted int64
}

const fillRoot = "/cmp-fill"

// memoryPhase builds the tree in a fresh single node of each server in turn, reads
// its memory, kills it (-9), restarts it and times it to serving the tree again.
func memoryPhase(t *testing.T, reap *reaper, bin string, cfg config) map[string]memResult {
	t.Helper()
	out := map[string]memResult{}
	fill := []string{"--op", "fill", "--count", fmt.Sprint(cfg.znodes), "--clients", "8", "--inflight", "16", "--root", fillRoot, "--progress", "10s"}
	limit := time.Duration(cfg.znodes)*time.Millisecond + 5*time.Minute // 1,000 creates/s at the least
	last := lastZnode(cfg.znodes)

	// ZooKeeper: the JVM is the process itself.
	var m memResult
	opts := testkit.ZooKeeperOptions{JVMFlags: zkMemFlags(cfg.znodes), Keep: true, Config: map[string]string{"tickTime": fmt.Sprint(tickMs)}}
	m.emptyReady = medianReady(t, func() ([]string, func()) {
		z, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{JVMFlags: opts.JVMFlags, Config: opts.Config})
		if err != nil {
			t.Fatal(err)
		}
		return []string{z.Addr}, z.Stop
	})
	z, err := testkit.StartZooKeeper(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Stop(); os.RemoveAll(z.Dir) })
	unreap := reap.add(func() { z.Stop(); os.RemoveAll(z.Dir) })
	cfg.logf(t, "memory: building %d znodes in ZooKeeper", cfg.znodes)
	if m.build, err = runBench(t, reap, bin, []string{z.Addr}, cfg, fill, limit); err != nil {
		t.Fatal(err)
	}
	m.rss, m.peak = procMem(t, z.Pid())
	m.disk = dirSize(filepath.Join(z.Dir, "data"))
	z.Stop() // SIGKILL
	_, port, _ := strings.Cut(z.Addr, ":")
	opts.Config = map[string]string{"tickTime": fmt.Sprint(tickMs), "dataDir": filepath.Join(z.Dir, "data"), "clientPort": port}
	start := time.Now()
	z2, err := testkit.StartZooKeeper(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z2.Stop(); os.RemoveAll(z2.Dir) })
	unreap2 := reap.add(func() { z2.Stop(); os.RemoveAll(z2.Dir) })
	m.restart = waitRead(t, []string{z2.Addr}, last, start)
	m.rssRestarted, _ = procMem(t, z2.Pid())
	z2.Stop()
	unreap()
	unreap2()
	out[targetZK] = m
	cfg.logf(t, "memory: ZooKeeper %+v", m)

	// zkraft
	m = memResult{}
	m.emptyReady = medianReady(t, func() ([]string, func()) {
		e := ensembleproc.Start(t, bin, ensembleproc.Options{N: 1, TickMs: tickMs, Env: unitEnv(t)})
		return e.Addrs(), func() { e.Kill(0) }
	})
	e := ensembleproc.Start(t, bin, ensembleproc.Options{N: 1, TickMs: tickMs, Env: unitEnv(t)})
	unreap = reapEnsemble(reap, e)
	cfg.logf(t, "memory: building %d znodes in zkraft", cfg.znodes)
	if m.build, err = runBench(t, reap, bin, e.Addrs(), cfg, fill, limit); err != nil {
		t.Fatal(err)
	}
	m.rss, m.peak = procMem(t, e.Members[0].Proc.Pid())
	m.disk = dirSize(e.Members[0].DataDir)
	unreap()
	e.Kill(0)
	start = time.Now()
	e.Restart(0)
	unreap = reapEnsemble(reap, e)
	m.restart = waitRead(t, e.Addrs(), last, start)
	m.rssRestarted, _ = procMem(t, e.Members[0].Proc.Pid())
	unreap()
	e.Kill(0)
	out[targetZkraft] = m
	cfg.logf(t, "memory: zkraft %+v", m)
	return out
}

// lastZnode is the last znode zkraft bench --op fill creates.
func lastZnode(n int) string {
	k := n - 1
	return fmt.Sprintf("%s/p%d/n%d", fillRoot, k/1000, k%1000)
}

// readyRuns is how many fresh starts medianReady times: one start alone is at the
// mercy of whatever else the machine is doing at that moment.
const readyRuns = 5

// medianReady starts a fresh empty server readyRuns times (start returns its client
// addresses and how to stop it) and returns the median time from the start to a
// session's first read of /.
func medianReady(t *testing.T, start func() (addrs []string, stop func())) time.Duration {
	t.Helper()
	var runs []time.Duration
	for range readyRuns {
		t0 := time.Now()
		addrs, stop := start()
		runs = append(runs, waitRead(t, addrs, "/", t0))
		stop()
	}
	return median(runs)
}

// waitRead waits until a session on addrs reads path and returns the time since
// start.
func waitRead(t *testing.T, addrs []string, path string, start time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if c, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(ensembleproc.QuietLogger{})); err == nil {
			ok, _, err := c.Exists(path)
			c.Close()
			if err == nil && ok {
				return time.Since(start)
			}
			if err == nil {
				t.Fatalf("%s missing on %v", path, addrs)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: %s not read within 5 minutes", addrs, path)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// procMem is a process's resident memory now and its peak (VmRSS, VmHWM), in bytes.
func procMem(t *testing.T, pid int) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// dirSize is the disk space the files under dir take (blocks allocated: ZooKeeper's
// preallocated log files are sparse).
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	return n
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
