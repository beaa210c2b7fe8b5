package benchcompare

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/ensembleproc"
	"github.com/zkraft/zkraft/integration/testkit"
)

// The soak's scale, from the environment (make soak sets them); the defaults are
// the tiny run of make test.
//
//	SOAK_DURATION  the churn (3s)
//	SOAK_SESSIONS  concurrent churning workers, each opening and closing sessions (64)
//	SOAK_TARGETS   zkraft, zookeeper or both, comma-separated (zkraft)
//	SOAK_SNAPCOUNT zoo.cfg snapCount for both servers; 0: the servers' default (300)
//	SOAK_TICKMS    tickTime of both servers (200: zkraft's Raft looks for a snapshot to
//	               take every 10 ticks)
//	SOAK_DATA      the largest data a znode gets; the sizes run from a quarter of it (8192)
//	SOAK_MIN_LOG   the churn goes on past SOAK_DURATION (for at most two minutes more)
//	               until zkraft has written this many bytes of log segments (whether
//	               compacted since or not), so that the check of the data directory
//	               after the snapshot has log that had to be deleted (24 MiB: three
//	               segments; 0: no minimum)
//	SOAK_IDLE      the idle time after the snapshot before the last reading (5s)
//	SOAK_OUT       where the figures go as Markdown (none)
type soakConfig struct {
	duration  time.Duration
	sessions  int
	targets   []string
	snapCount int
	tickMs    int
	data      int
	minLog    int
	idle      time.Duration
	out       string
}

// snapCountOf is the snapCount the servers run with (100,000 by default in both).
func (c soakConfig) snapCountOf(string) int {
	if c.snapCount > 0 {
		return c.snapCount
	}
	return 100_000
}

func loadSoakConfig() (soakConfig, error) {
	c := soakConfig{duration: 3 * time.Second, sessions: 64, snapCount: 300, tickMs: 200, data: 8192, minLog: 3 * soakSegment, idle: 5 * time.Second, out: os.Getenv("SOAK_OUT")}
	var err error
	for env, p := range map[string]*time.Duration{"SOAK_DURATION": &c.duration, "SOAK_IDLE": &c.idle} {
		if v := os.Getenv(env); v != "" {
			if *p, err = time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	for env, p := range map[string]*int{"SOAK_SESSIONS": &c.sessions, "SOAK_SNAPCOUNT": &c.snapCount, "SOAK_TICKMS": &c.tickMs, "SOAK_DATA": &c.data, "SOAK_MIN_LOG": &c.minLog} {
		if v := os.Getenv(env); v != "" {
			if *p, err = strconv.Atoi(v); err != nil {
				return c, fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	if c.tickMs < 100 {
		return c, fmt.Errorf("SOAK_TICKMS %d: 100 or more", c.tickMs)
	}
	if c.data < 4 {
		return c, fmt.Errorf("SOAK_DATA %d: 4 or more", c.data)
	}
	if c.sessions < 1 {
		return c, fmt.Errorf("SOAK_SESSIONS %d: 1 or more", c.sessions)
	}
	c.targets, err = list("SOAK_TARGETS", "zkraft", []string{"zkraft", "zookeeper"})
	return c, err
}

// soakSample is one reading of a server: its memory and its data directory.
type soakSample struct {
	at        time.Duration // since the start of the churn
	rss, hwm  int64         // VmRSS, VmHWM
	heap      int64         // Go heap in use (go_memstats_heap_inuse_bytes); -1: not exposed
	disk      map[string]int64
	znodes    int // mntr zk_znode_count
	ephemeral int // mntr zk_ephemerals_count
	watches   int // mntr zk_watch_count
}

func (s soakSample) total() int64 {
	var n int64
	for _, v := range s.disk {
		n += v
	}
	return n
}

// soakServer is what the soak needs of a server under test.
type soakServer struct {
	name    string
	addr    string
	pid     int
	dataDir string
	metrics string // http://.../metrics, or ""
	snapDir string // where its snapshots appear
}

// read takes a soakSample of s.
func (s soakServer) read(t *testing.T, at time.Duration) soakSample {
	t.Helper()
	r := soakSample{at: at, heap: -1, disk: map[string]int64{}}
	r.rss, r.hwm = procMem(t, s.pid)
	if s.metrics != "" {
		r.heap = promValue(s.metrics, "go_memstats_heap_inuse_bytes")
	}
	ents, _ := os.ReadDir(s.dataDir)
	for _, e := range ents {
		p := filepath.Join(s.dataDir, e.Name())
		if e.IsDir() {
			r.disk[e.Name()+"/"] = dirSize(p)
		} else {
			r.disk["(files)"] += dirSize(p)
		}
	}
	m := mntr(s.addr)
	r.znodes, r.ephemeral, r.watches = m["zk_znode_count"], m["zk_ephemerals_count"], m["zk_watch_count"]
	return r
}

// mntr is the integer lines of a server's mntr (empty when it does not answer).
func mntr(addr string) map[string]int {
	out := map[string]int{}
	s, err := testkit.FourLetter(addr, "mntr", 5*time.Second)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if n, err := strconv.Atoi(strings.TrimSpace(v)); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// promValue is one unlabelled metric of a Prometheus text endpoint, or -1.
func promValue(url, name string) int64 {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int64(f)
			}
		}
	}
	io.Copy(io.Discard, resp.Body)
	return -1
}

// soakResult is a server's readings at the four points of the soak.
type soakResult struct {
	server                              string
	start, peak, end, snapped, idle     soakSample
	ops                                 *soakCounts
	segments                            int // log segment files seen (zkraft)
	snapshotTaken                       bool
	churn, cleanup, snapWait, idleAfter time.Duration
}

// soakCounts is what the churn did.
type soakCounts struct {
	sessions, creates, deletes, sets, watches, fired, errors atomic.Int64
	firstErr                                                 atomic.Value
}

func (c *soakCounts) fail(err error) {
	c.errors.Add(1)
	c.firstErr.CompareAndSwap(nil, err.Error())
}

// TestSoak churns sessions, znodes and watches against a fresh single node for
// SOAK_DURATION, deletes what it made, and reads the server's memory and data
// directory before, at the peak, after the churn and after a snapshot and some idle
// time. It asserts that the tree is back to where it started, that no session,
// ephemeral or watch outlives the churn, and (zkraft) that the data directory after
// the snapshot is bounded by what the snapshot settings keep (retained snapshots and
// the log segments behind the trailing entries), not by the churn's volume.
func TestSoak(t *testing.T) {
	cfg, err := loadSoakConfig()
	if err != nil {
		t.Fatal(err)
	}
	reap := watchSignals(t)
	var results []soakResult
	loadStart := loadAvg()
	for _, target := range cfg.targets {
		var srv soakServer
		switch target {
		case "zkraft":
			srv = startSoakZkraft(t, reap, cfg)
		case "zookeeper":
			srv = startSoakZooKeeper(t, reap, cfg)
		}
		res := soak(t, cfg, srv)
		results = append(results, res)
		t.Log("\n" + res.render())
		if target == "zkraft" {
			checkZkraftSoak(t, cfg, res)
		}
	}
	text := renderSoak(cfg, results, loadStart, loadAvg())
	t.Log("\n" + text)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func startSoakZkraft(t *testing.T, reap *reaper, cfg soakConfig) soakServer {
	t.Helper()
	bin := testkit.BuildZkraft(t)
	metricsPort := testkit.FreePorts(t, 1)[0]
	extra := fmt.Sprintf("metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=%d\n", metricsPort)
	e := ensembleproc.Start(t, bin, ensembleproc.Options{N: 1, TickMs: cfg.tickMs, SnapCount: cfg.snapCount, Extra: extra, Env: unitEnv(t)})
	unreap := reapEnsemble(reap, e)
	t.Cleanup(func() { unreap(); e.Kill(0) })
	m := e.Members[0]
	return soakServer{name: targetZkraft, addr: m.ClientAddr, pid: m.Proc.Pid(), dataDir: m.DataDir,
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), snapDir: filepath.Join(m.DataDir, "snapshots")}
}

func startSoakZooKeeper(t *testing.T, reap *reaper, cfg soakConfig) soakServer {
	t.Helper()
	conf := map[string]string{"tickTime": fmt.Sprint(cfg.tickMs)}
	if cfg.snapCount > 0 {
		conf["snapCount"] = fmt.Sprint(cfg.snapCount)
	}
	z, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{JVMFlags: zkFlags, Config: conf})
	if err != nil {
		t.Fatal(err)
	}
	unreap := reap.add(z.Stop)
	t.Cleanup(func() { unreap(); z.Stop() })
	data := filepath.Join(z.Dir, "data")
	return soakServer{name: targetZK, addr: z.Addr, pid: z.Pid(), dataDir: data, snapDir: filepath.Join(data, "version-2")}
}

const soakRoot = "/soak"

// soak runs the churn against srv and takes the readings.
func soak(t *testing.T, cfg soakConfig, srv soakServer) soakResult {
	t.Helper()
	res := soakResult{server: srv.name, ops: &soakCounts{}}
	res.peak.heap = -1 // until a reading has one: ZooKeeper's has none
	res.start = srv.read(t, 0)
	setup, _ := ensembleproc.Connect(t, []string{srv.addr}, 10*time.Second, false)
	for _, p := range []string{soakRoot, soakRoot + "/eph", soakRoot + "/seq"} {
		if _, err := setup.Create(p, nil, 0, ensembleproc.OpenACL); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}

	// The sampler keeps the largest readings while the churn runs.
	began := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cfg.minLog == 0 || srv.name != targetZkraft {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.duration)
		defer stop()
	}
	quit := make(chan struct{})
	var sw sync.WaitGroup
	sw.Add(1)
	go func() {
		defer sw.Done()
		every := 2 * time.Second
		if cfg.duration < time.Minute {
			every = 500 * time.Millisecond
		}
		tick := time.NewTicker(every)
		minute := 0 // the last minute a progress line was printed for
		segs := map[string]bool{}
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			s := srv.read(t, time.Since(began))
			for _, name := range listDir(filepath.Join(srv.dataDir, "wal")) {
				if strings.HasSuffix(name, ".wal") {
					segs[name] = true
				}
			}
			res.segments = len(segs)
			if el := time.Since(began); el >= cfg.duration && int64(len(segs))*soakSegment >= int64(cfg.minLog) || el >= cfg.duration+2*time.Minute {
				cancel() // the minimum of log reached, or no more time for it
			}
			if m := int(s.at.Minutes()); cfg.duration >= time.Minute && m > minute {
				minute = m
				fmt.Fprintf(os.Stderr, "soak %s: %v: RSS %s, heap %s, data %s %v, %d znodes, %d sessions so far\n", srv.name,
					s.at.Round(time.Second), size(s.rss), size(s.heap), size(s.total()), s.disk, s.znodes, res.ops.sessions.Load())
			}
			if s.rss > res.peak.rss {
				res.peak.rss, res.peak.at = s.rss, s.at
			}
			res.peak.hwm = max(res.peak.hwm, s.hwm)
			res.peak.heap = max(res.peak.heap, s.heap)
			if s.total() > res.peak.total() {
				res.peak.disk = s.disk
			}
			res.peak.znodes = max(res.peak.znodes, s.znodes)
			res.peak.ephemeral = max(res.peak.ephemeral, s.ephemeral)
			res.peak.watches = max(res.peak.watches, s.watches)
		}
	}()
	var wg sync.WaitGroup
	for w := range cfg.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				churnOnce(ctx, srv.addr, cfg.data, w, n, res.ops)
			}
		}()
	}
	wg.Wait()
	res.churn = time.Since(began)
	close(quit)
	sw.Wait()

	// Delete what the churn left (a worker stopped by the deadline mid-round leaves
	// its znodes); the ephemerals went with their sessions.
	cleanStart := time.Now()
	if err := deleteTree(setup, soakRoot); err != nil {
		t.Fatalf("delete %s: %v", soakRoot, err)
	}
	res.cleanup = time.Since(cleanStart)
	res.end = srv.read(t, time.Since(began))
	if res.end.total() > res.peak.total() {
		res.peak.disk = res.end.disk
	}

	// Writes that leave the tree as it is until the server has taken a new snapshot
	// (bounded: 4 × snapCount entries, or two minutes).
	snapStart := time.Now()
	before := listDir(srv.snapDir)
	limit := 4 * cfg.snapCountOf(srv.name)
	for i := 0; i < limit && time.Since(snapStart) < 2*time.Minute; i++ {
		if _, err := setup.Set("/", []byte(strconv.Itoa(i)), -1); err != nil {
			t.Fatalf("set /: %v", err)
		}
		if i%50 == 49 && !slices.Equal(before, listDir(srv.snapDir)) {
			res.snapshotTaken = true
			break
		}
	}
	if !res.snapshotTaken {
		// The last sets may be the ones that crossed the threshold: zkraft's Raft
		// checks every SnapshotInterval (10 ticks).
		for wait := time.Now(); time.Since(wait) < 30*time.Second; time.Sleep(200 * time.Millisecond) {
			if !slices.Equal(before, listDir(srv.snapDir)) {
				res.snapshotTaken = true
				break
			}
		}
	}
	if _, err := setup.Set("/", nil, -1); err != nil {
		t.Fatalf("set /: %v", err)
	}
	res.snapWait = time.Since(snapStart)
	// Let a snapshot that has just begun finish and the old log go.
	time.Sleep(2 * time.Second)
	res.snapped = srv.read(t, time.Since(began))
	time.Sleep(cfg.idle)
	res.idleAfter = cfg.idle
	res.idle = srv.read(t, time.Since(began))
	return res
}

// churnOnce is one worker's round: a session that creates znodes with data (a
// persistent parent, a persistent child, ephemerals, sequentials), sets watches on
// them and fires some, deletes what is not ephemeral and closes. Every call is bound
// by the session timeout; the round ends early when ctx does.
func churnOnce(ctx context.Context, addr string, maxData, w, n int, c *soakCounts) {
	conn, events, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(ensembleproc.QuietLogger{}))
	if err != nil {
		c.fail(err)
		return
	}
	var watchers sync.WaitGroup
	defer watchers.Wait() // after the Close below: it ends every watch
	defer conn.Close()
	go func() { // drain the session events until Close closes the channel
		for range events {
		}
	}()
	c.sessions.Add(1)
	data := make([]byte, maxData/4+(w*37+n*11)%(maxData-maxData/4))
	dir := fmt.Sprintf("%s/w%d-%d", soakRoot, w, n)
	watch := func(ch <-chan zk.Event) {
		c.watches.Add(1)
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			select {
			case <-ch: // fired, or the session closed (zk sends EventNotWatching)
				c.fired.Add(1)
			case <-time.After(30 * time.Second):
			}
		}()
	}
	do := func(what string, err error) bool {
		if err != nil && ctx.Err() == nil && !errors.Is(err, zk.ErrClosing) {
			c.fail(fmt.Errorf("%s: %w", what, err))
		}
		return err == nil
	}
	_, err = conn.Create(dir, data, 0, ensembleproc.OpenACL)
	if !do("create "+dir, err) {
		return
	}
	c.creates.Add(1)
	_, _, ch, err := conn.ChildrenW(dir)
	if do("children "+dir, err) {
		watch(ch)
	}
	child := dir + "/p"
	if _, err := conn.Create(child, data, 0, ensembleproc.OpenACL); do("create "+child, err) {
		c.creates.Add(1)
	}
	_, _, ch, err = conn.GetW(child)
	if do("get "+child, err) {
		watch(ch)
	}
	_, _, ch, err = conn.ExistsW(dir + "/never")
	if do("exists", err) {
		watch(ch) // left armed: the session's close must drop it
	}
	for range 2 {
		if _, err := conn.Create(fmt.Sprintf("%s/eph/w%d-", soakRoot, w), data, zk.FlagEphemeral|zk.FlagSequence, ensembleproc.OpenACL); do("create ephemeral", err) {
			c.creates.Add(1)
		}
	}
	eph := fmt.Sprintf("%s/e", dir)
	if _, err := conn.Create(eph, data, zk.FlagEphemeral, ensembleproc.OpenACL); do("create "+eph, err) {
		c.creates.Add(1)
	}
	var seqs []string
	for range 3 {
		p, err := conn.Create(soakRoot+"/seq/s-", data, zk.FlagSequence, ensembleproc.OpenACL)
		if do("create sequential", err) {
			c.creates.Add(1)
			seqs = append(seqs, p)
		}
	}
	for range 2 {
		if _, err := conn.Set(child, data[:len(data)/2], -1); do("set "+child, err) {
			c.sets.Add(1)
		}
	}
	for _, p := range append(seqs, eph, child, dir) {
		if do("delete "+p, conn.Delete(p, -1)) {
			c.deletes.Add(1)
		}
	}
}

// deleteTree deletes path and everything under it.
func deleteTree(c *zk.Conn, path string) error {
	kids, _, err := c.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := deleteTree(c, path+"/"+k); err != nil {
			return err
		}
	}
	if err := c.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

func listDir(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Segment size of zkraft's Raft log (raftstore's default) and how many snapshots
// it keeps.
const (
	soakSegment         = 8 << 20
	soakRetainSnapshots = 2
)

// checkZkraftSoak asserts what a soak of zkraft must leave.
func checkZkraftSoak(t *testing.T, cfg soakConfig, r soakResult) {
	t.Helper()
	if n := r.ops.errors.Load(); n > 0 {
		t.Errorf("%d errors in the churn, the first: %v", n, r.ops.firstErr.Load())
	}
	if r.ops.sessions.Load() < int64(cfg.sessions) {
		t.Errorf("%d sessions opened, fewer than the %d workers", r.ops.sessions.Load(), cfg.sessions)
	}
	if r.end.znodes != r.start.znodes {
		t.Errorf("the tree has %d znodes after the churn, %d before", r.end.znodes, r.start.znodes)
	}
	// A session whose close the client gave up waiting for (go-zookeeper waits 1 s)
	// is closed by the server a little later: the last reading, not the first after
	// the churn.
	if r.idle.ephemeral != 0 || r.idle.watches != 0 {
		t.Errorf("after the churn, the snapshot and %v idle: %d ephemerals, %d watches (want none)", r.idleAfter, r.idle.ephemeral, r.idle.watches)
	}
	if !r.snapshotTaken {
		t.Errorf("no snapshot within %v of writes after the churn", r.snapWait)
	}
	// What the data directory may hold once a snapshot has been taken: the segments
	// holding the trailing snapCount entries and the one being written (an entry of
	// the churn carries at most SOAK_DATA bytes and 1 KiB more), plus the retained
	// snapshots of a tree of a few znodes, plus wal-meta.db. The churn's own volume
	// (SOAK_MIN_LOG) must not count.
	trailing := int64(cfg.snapCountOf(targetZkraft)) * int64(cfg.data+1024)
	bound := (trailing/soakSegment+2)*soakSegment + soakRetainSnapshots*(1<<20) + 1<<20
	if got := r.snapped.total(); got > bound {
		t.Errorf("data directory after the snapshot: %d bytes %v, more than %d", got, r.snapped.disk, bound)
	}
	if cfg.minLog > 0 && int64(r.segments)*soakSegment <= bound {
		t.Errorf("the churn wrote %d log segments, no more than the bound of %d bytes it is checked against: it proves nothing", r.segments, bound)
	}
}

// size is mib, or a dash for a figure the server does not expose.
func size(n int64) string {
	if n < 0 {
		return "–"
	}
	return mib(n)
}

func (r soakResult) render() string {
	var b strings.Builder
	o := r.ops
	fmt.Fprintf(&b, "%s: churn %v, %d sessions, %d creates, %d deletes, %d sets, %d watches (%d fired or dropped), %d errors; %d log segments written; cleanup %v; snapshot taken %v after %v\n",
		r.server, r.churn.Round(time.Second), o.sessions.Load(), o.creates.Load(), o.deletes.Load(), o.sets.Load(), o.watches.Load(), o.fired.Load(), o.errors.Load(), r.segments,
		r.cleanup.Round(time.Millisecond), r.snapshotTaken, r.snapWait.Round(time.Second))
	if e := o.firstErr.Load(); e != nil {
		fmt.Fprintf(&b, "first error: %v\n", e)
	}
	var dirs []string
	for _, s := range []soakSample{r.start, r.peak, r.end, r.snapped, r.idle} {
		for d := range s.disk {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	slices.Sort(dirs)
	fmt.Fprintf(&b, "| %s | RSS | peak RSS (VmHWM) | Go heap in use | data dir |", r.server)
	for _, d := range dirs {
		fmt.Fprintf(&b, " %s |", d)
	}
	b.WriteString(" znodes | ephemerals | watches |\n|---|---|---|---|---|")
	b.WriteString(strings.Repeat("---|", len(dirs)+3) + "\n")
	row := func(name string, s soakSample) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |", name, size(s.rss), size(s.hwm), size(s.heap), size(s.total()))
		for _, d := range dirs {
			fmt.Fprintf(&b, " %s |", size(s.disk[d]))
		}
		fmt.Fprintf(&b, " %d | %d | %d |\n", s.znodes, s.ephemeral, s.watches)
	}
	row("start", r.start)
	row(fmt.Sprintf("peak (RSS at %v)", r.peak.at.Round(time.Second)), r.peak)
	row("after the churn and cleanup", r.end)
	row("after a snapshot", r.snapped)
	row(fmt.Sprintf("%v idle later", r.idleAfter), r.idle)
	return b.String()
}

func renderSoak(cfg soakConfig, rs []soakResult, loadStart, loadEnd string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Soak: %v of churn by %d workers, snapCount %d (0: default), tickTime %d, single node on loopback; load average %s at the start, %s at the end\n\n",
		cfg.duration, cfg.sessions, cfg.snapCount, cfg.tickMs, loadStart, loadEnd)
	for _, r := range rs {
		b.WriteString(r.render())
		b.WriteString("\n")
	}
	return b.String()
}
