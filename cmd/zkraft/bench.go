package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"
)

// benchOps are the workloads of zkraft bench, each with what one operation is.
var benchOps = map[string]string{
	"create": "create a new znode of --size bytes",
	"set":    "setData of --size bytes on the session's own znode",
	"get":    "getData of the session's own znode",
	"mixed":  "90 % getData, 10 % setData on the session's own znode",
	"multi":  "a multi of 10 setData on the session's own 10 znodes",
	"delete": "delete a znode (the znodes are created first, untimed, for --duration)",
	"watch":  "fan-out: every session sets a data watch on one znode, another session sets it; one operation is one notification received",
	"churn":  "open a new session and close it",
	"fill":   "create --count znodes of --size bytes (1,000 under each parent) and stop",
	"floor":  "the machine's floor for a 1-session write: one fsync in --dir and one loopback TCP round trip",
}

func benchOpList() string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(benchOps)) {
		fmt.Fprintf(&b, "  %-7s %s\n", n, benchOps[n])
	}
	return b.String()
}

// benchCmd measures a running server (zkraft or Apache ZooKeeper) from the client
// side, so both can be compared with the same load.
func benchCmd() *cobra.Command {
	var (
		o       benchOpts
		server  string
		asJSON  bool
		cpuOf   string
		tlsOpts benchTLS
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency of a running ZooKeeper-compatible server",
		Long: `Measure throughput and latency of a running server with a fixed load: --clients
sessions each keep --inflight requests of --op outstanding (pipelined on the session's
connection) for --duration. Run it against zkraft and against Apache ZooKeeper on the
same machine to compare (make bench-compare does, and writes docs/performance.md).
Progress goes to stderr every --progress on long runs. Workloads (--op):
` + benchOpList(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, ok := benchOps[o.op]; !ok {
				return fmt.Errorf("--op %q: use one of: %s", o.op, strings.Join(slices.Sorted(maps.Keys(benchOps)), ", "))
			}
			if o.inflight < 1 || o.clients < 1 {
				return fmt.Errorf("--clients %d --inflight %d: use 1 or more", o.clients, o.inflight)
			}
			if o.op == "fill" && o.count < 1 {
				return fmt.Errorf("--op fill needs --count")
			}
			var err error
			if o.dial, err = tlsOpts.dialer(); err != nil {
				return err
			}
			o.servers = strings.Split(server, ",")
			if o.cpu.pids, err = parsePids(cpuOf); err != nil {
				return err
			}
			if _, err := o.cpu.read(); err != nil {
				return err // before the run, not after it
			}
			o.log = cmd.ErrOrStderr()
			out := cmd.OutOrStdout()
			if o.op == "floor" {
				f, err := measureFloor(o.dir)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(out).Encode(f)
				}
				fmt.Fprintf(out, "fsync p50=%v p99=%v (%s); loopback round trip p50=%v p99=%v\n", f.FsyncP50, f.FsyncP99, o.dir, f.RTTP50, f.RTTP99)
				return nil
			}
			res, err := runBench(o)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(out).Encode(res)
			}
			fmt.Fprintf(out, "op=%s clients=%d inflight=%d size=%d elapsed=%v ops=%d throughput=%.0f/s p50=%v p99=%v max=%v errors=%d\n",
				res.Op, res.Clients, res.Inflight, o.size, res.Elapsed.Round(time.Millisecond), res.Ops, res.Throughput, res.P50, res.P99, res.Max, res.Errors)
			if len(o.cpu.pids) > 0 {
				fmt.Fprintf(out, "cpu per op: bench %v, servers (--cpu-of) %v (in the kernel %v)\n", perOp(res.CPU, res.Ops), perOp(res.ServerCPU, res.Ops), perOp(res.ServerSysCPU, res.Ops))
			}
			if res.FirstError != "" {
				fmt.Fprintf(out, "first error: %s\n", res.FirstError)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "127.0.0.1:2181", "comma-separated client addresses (each session picks one)")
	cmd.Flags().IntVar(&o.clients, "clients", 16, "concurrent sessions")
	cmd.Flags().DurationVar(&o.duration, "duration", 10*time.Second, "how long to run")
	cmd.Flags().StringVar(&o.op, "op", "create", "workload: "+strings.Join(slices.Sorted(maps.Keys(benchOps)), ", "))
	cmd.Flags().IntVar(&o.inflight, "inflight", 1, "requests each session keeps outstanding")
	cmd.Flags().IntVar(&o.size, "size", 100, "data bytes per write")
	cmd.Flags().StringVar(&o.root, "root", "/zkraft-bench", "znode under which the benchmark works (created if missing; left in place)")
	cmd.Flags().IntVar(&o.count, "count", 0, "znodes --op fill creates")
	cmd.Flags().StringVar(&o.dir, "dir", ".", "directory whose filesystem --op floor measures (a data directory)")
	cmd.Flags().DurationVar(&o.progress, "progress", 5*time.Second, "print progress to stderr this often (0: never)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.Flags().StringVar(&cpuOf, "cpu-of", "", "comma-separated ids of local server processes whose CPU time over the run to report, beside the bench's own (Linux): the CPU each side spends per operation")
	tlsOpts.flags(cmd)
	return cmd
}

// benchOpts is one run of zkraft bench.
type benchOpts struct {
	servers           []string
	clients, inflight int
	duration          time.Duration
	op                string
	size              int
	root              string
	count             int           // fill: znodes to create
	dir               string        // floor: the filesystem to measure
	progress          time.Duration // 0: no progress lines
	dial              zk.Dialer     // nil: plain TCP
	log               io.Writer     // progress lines; nil: none
	cpu               cpuMeter      // whose CPU time the result reports
}

// benchResult is what a run measured: ops completed (for watch, notifications
// received) over Elapsed, and the latency of each.
type benchResult struct {
	Op         string        `json:"op"`
	Clients    int           `json:"clients"`
	Inflight   int           `json:"inflight"`
	Ops        int           `json:"ops"`
	Errors     int           `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Throughput float64       `json:"ops_per_sec"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	// CPU is the bench's own CPU time over the run; ServerCPU that of the processes
	// named with --cpu-of (omitted when none were), ServerSysCPU the part of it spent
	// in the kernel.
	CPU          time.Duration `json:"cpu_ns"`
	ServerCPU    time.Duration `json:"server_cpu_ns,omitempty"`
	ServerSysCPU time.Duration `json:"server_sys_cpu_ns,omitempty"`
}

// recorder collects latencies from many goroutines; done counts them as they come
// for the progress lines.
type recorder struct {
	done     atomic.Int64
	mu       sync.Mutex
	lats     []time.Duration
	errs     int
	firstErr error
}

func (r *recorder) merge(lats []time.Duration, errs int, first error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lats = append(r.lats, lats...)
	r.errs += errs
	if r.firstErr == nil {
		r.firstErr = first
	}
}

// worker is one goroutine's share of a run: the latencies it saw.
type worker struct {
	r     *recorder
	lats  []time.Duration
	errs  int
	first error
}

func (w *worker) record(start time.Time, err error) {
	if err != nil {
		w.errs++
		if w.first == nil {
			w.first = err
		}
		return
	}
	w.lats = append(w.lats, time.Since(start))
	w.r.done.Add(1)
}

func (w *worker) flush() { w.r.merge(w.lats, w.errs, w.first) }

func (r *recorder) result(o benchOpts, elapsed time.Duration, cpu *cpuSpan) (benchResult, error) {
	slices.Sort(r.lats)
	res := benchResult{Op: o.op, Clients: o.clients, Inflight: o.inflight, Ops: len(r.lats), Errors: r.errs, Elapsed: elapsed}
	if r.firstErr != nil {
		res.FirstError = r.firstErr.Error()
	}
	if elapsed > 0 {
		res.Throughput = float64(res.Ops) / elapsed.Seconds()
	}
	if n := len(r.lats); n > 0 {
		res.P50, res.P99, res.Max = r.lats[n/2], r.lats[n*99/100], r.lats[n-1]
	}
	return res, cpu.end(&res)
}

// progressLines prints how far the run is every o.progress until stop (idempotent) is
// called.
// total > 0 counts toward a number of ops (fill), otherwise toward o.duration.
func progressLines(o benchOpts, r *recorder, total int) (stop func()) {
	if o.progress <= 0 || o.log == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(o.progress)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				n := r.done.Load()
				rate := float64(n-last) / o.progress.Seconds()
				last = n
				el := now.Sub(start).Round(time.Second)
				if total > 0 {
					fmt.Fprintf(o.log, "bench %s: %d/%d (%.0f%%) after %v, %.0f/s now\n", o.op, n, total, 100*float64(n)/float64(total), el, rate)
				} else {
					fmt.Fprintf(o.log, "bench %s: %v/%v, %d ops, %.0f/s now\n", o.op, el, o.duration, n, rate)
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); wg.Wait() }) }
}

// runBench sets up the sessions and znodes of o.op, runs it and measures it.
func runBench(o benchOpts) (benchResult, error) {
	setup, err := benchConnect(o.servers, o.dial)
	if err != nil {
		return benchResult{}, err
	}
	defer setup.Close()
	acl := zk.WorldACL(zk.PermAll)
	if err := createAll(setup, o.root, nil); err != nil {
		return benchResult{}, err
	}
	data := make([]byte, o.size)
	if o.op == "fill" {
		return runFill(o, setup, data)
	}
	var conns []*zk.Conn
	if o.op != "churn" {
		if conns, err = benchSessions(o.servers, o.dial, o.clients); err != nil {
			return benchResult{}, err
		}
		defer closeAll(conns)
	}
	if o.op == "watch" {
		if err := createAll(setup, o.root+"/watched", data); err != nil {
			return benchResult{}, err
		}
		if err := syncAll(conns, o.root+"/watched"); err != nil {
			return benchResult{}, err
		}
		return runWatch(o, setup, conns, data)
	}
	// Each session's own znode c<i> (and its multi targets m0..m9).
	own := make([]string, o.clients)
	multis := make([][]any, o.clients)
	for i := range own {
		own[i] = fmt.Sprintf("%s/c%d", o.root, i)
		if err := createAll(setup, own[i], data); err != nil {
			return benchResult{}, err
		}
		if o.op == "multi" {
			for k := range 10 {
				p := fmt.Sprintf("%s/m%d", own[i], k)
				if err := createAll(setup, p, data); err != nil {
					return benchResult{}, err
				}
				multis[i] = append(multis[i], &zk.SetDataRequest{Path: p, Data: data, Version: -1})
			}
		}
	}
	// The setup session created them, maybe through another member: each session's
	// member must have them before the clock starts.
	if err := syncAll(conns, o.root); err != nil {
		return benchResult{}, err
	}
	var prefilled [][]int        // delete: znodes each worker created, by [session][slot]
	run := time.Now().UnixNano() // names this run's znodes (create, delete)
	if o.op == "delete" {
		if prefilled, err = prefill(o, conns, own, run, data); err != nil {
			return benchResult{}, err
		}
	}
	r := &recorder{}
	stop := progressLines(o, r, 0)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	start, cpu := time.Now(), o.cpu.begin()
	var wg sync.WaitGroup
	for i := range o.clients {
		for g := range o.inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &worker{r: r, lats: make([]time.Duration, 0, 1024)}
				defer w.flush()
				var c *zk.Conn
				if conns != nil {
					c = conns[i]
				}
				for n := 0; ctx.Err() == nil; n++ {
					t := time.Now()
					var err error
					switch o.op {
					case "create":
						_, err = c.Create(fmt.Sprintf("%s/n%x-%d-%d", own[i], run, g, n), data, 0, acl) // run: a second run on the same tree makes new znodes too
					case "set":
						_, err = c.Set(own[i], data, -1)
					case "get":
						_, _, err = c.Get(own[i])
					case "mixed":
						if n%10 == 9 {
							_, err = c.Set(own[i], data, -1)
						} else {
							_, _, err = c.Get(own[i])
						}
					case "multi":
						_, err = c.Multi(multis[i]...)
					case "delete":
						if n >= prefilled[i][g] {
							return // all deleted before the time was up
						}
						err = c.Delete(deleteName(own[i], run, g, n), -1)
					case "churn":
						var cc *zk.Conn
						if cc, err = benchConnect(o.servers, o.dial); err == nil {
							cc.Close()
						}
					}
					w.record(t, err)
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	return r.result(o, elapsed, cpu)
}

// deleteName is the k-th znode of worker g under session znode own for the delete
// workload; run (the run's start) tells them from those an earlier run against the
// same server left undeleted.
func deleteName(own string, run int64, g, k int) string {
	return fmt.Sprintf("%s/d%x-%d-%d", own, run, g, k)
}

// prefill creates, untimed and for o.duration, the znodes the delete workload then
// deletes: worker (i, g) creates its deleteName 0, 1, ... under session i's znode,
// with 8 creates in flight each so that the deletes rarely run out.
func prefill(o benchOpts, conns []*zk.Conn, own []string, run int64, data []byte) ([][]int, error) {
	acl := zk.WorldACL(zk.PermAll)
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	counts := make([][]int, o.clients)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := range o.clients {
		counts[i] = make([]int, o.inflight)
		for g := range o.inflight {
			// Names are taken in order; a worker's count is the length of the
			// prefix all of whose creates succeeded.
			var next atomic.Int64
			made := make([]bool, 0, 1024)
			var mmu sync.Mutex
			var pw sync.WaitGroup
			for range 8 {
				pw.Add(1)
				go func() {
					defer pw.Done()
					for ctx.Err() == nil {
						k := int(next.Add(1) - 1)
						_, err := conns[i].Create(deleteName(own[i], run, g, k), data, 0, acl)
						mmu.Lock()
						for len(made) <= k {
							made = append(made, false)
						}
						made[k] = err == nil
						mmu.Unlock()
						if err != nil {
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
							return
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pw.Wait()
				n := 0
				for n < len(made) && made[n] {
					n++
				}
				counts[i][g] = n
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("delete: create the znodes to delete: %w", firstErr)
	}
	return counts, nil
}

// runWatch measures watch fan-out: in each round every session sets a data watch on
// one znode, then the setup session changes it; each notification's latency runs from
// just before that setData to its arrival.
func runWatch(o benchOpts, setup *zk.Conn, conns []*zk.Conn, data []byte) (benchResult, error) {
	target := o.root + "/watched"
	r := &recorder{}
	stop := progressLines(o, r, 0)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	start, cpu := time.Now(), o.cpu.begin()
	var t0 atomic.Int64 // the current round's setData, unix ns
	for ctx.Err() == nil {
		var armed, got sync.WaitGroup
		armed.Add(len(conns))
		got.Add(len(conns))
		for _, c := range conns {
			go func() {
				defer got.Done()
				w := &worker{r: r}
				defer w.flush()
				_, _, ch, err := c.GetW(target)
				armed.Done()
				if err != nil {
					w.record(time.Time{}, err)
					return
				}
				select {
				case ev := <-ch:
					if ev.Err != nil {
						w.record(time.Time{}, ev.Err)
						return
					}
					w.record(time.Unix(0, t0.Load()), nil)
				case <-time.After(30 * time.Second):
					w.record(time.Time{}, fmt.Errorf("no notification within 30s"))
				}
			}()
		}
		armed.Wait()
		t0.Store(time.Now().UnixNano())
		if _, err := setup.Set(target, data, -1); err != nil {
			got.Wait()
			return benchResult{}, fmt.Errorf("watch: set %s: %w", target, err)
		}
		got.Wait()
	}
	elapsed := time.Since(start)
	stop()
	return r.result(o, elapsed, cpu)
}

// runFill creates o.count znodes, 1,000 under each parent p<k>, with o.clients
// sessions × o.inflight creates in flight.
func runFill(o benchOpts, setup *zk.Conn, data []byte) (benchResult, error) {
	const perParent = 1000
	acl := zk.WorldACL(zk.PermAll)
	for k := 0; k*perParent < o.count; k++ {
		if err := createAll(setup, fmt.Sprintf("%s/p%d", o.root, k), nil); err != nil {
			return benchResult{}, err
		}
	}
	conns, err := benchSessions(o.servers, o.dial, o.clients)
	if err != nil {
		return benchResult{}, err
	}
	defer closeAll(conns)
	r := &recorder{}
	stop := progressLines(o, r, o.count)
	defer stop()
	var next atomic.Int64
	start, cpu := time.Now(), o.cpu.begin()
	var wg sync.WaitGroup
	for _, c := range conns {
		for range o.inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &worker{r: r, lats: make([]time.Duration, 0, 1024)}
				defer w.flush()
				for {
					k := int(next.Add(1) - 1)
					if k >= o.count {
						return
					}
					t := time.Now()
					_, err := c.Create(fmt.Sprintf("%s/p%d/n%d", o.root, k/perParent, k%perParent), data, 0, acl)
					if err == zk.ErrNodeExists {
						err = nil // an earlier fill of the same root
					}
					w.record(t, err)
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	return r.result(o, elapsed, cpu)
}

// syncAll makes the member of each session catch up with the leader (sync): what
// another session created is then visible to it.
func syncAll(conns []*zk.Conn, path string) error {
	for i, c := range conns {
		if _, err := c.Sync(path); err != nil {
			return fmt.Errorf("session %d: sync %s: %w", i+1, path, err)
		}
	}
	return nil
}

// createAll creates path and its missing parents (data only on path itself).
func createAll(c *zk.Conn, path string, data []byte) error {
	acl := zk.WorldACL(zk.PermAll)
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		var d []byte
		if i == len(parts)-1 {
			d = data
		}
		if _, err := c.Create(p, d, 0, acl); err != nil && err != zk.ErrNodeExists {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return nil
}

// benchSessions opens n sessions, 32 handshakes at a time.
func benchSessions(servers []string, dial zk.Dialer, n int) ([]*zk.Conn, error) {
	conns := make([]*zk.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = benchConnect(servers, dial)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("session %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

// closeAll closes the sessions of conns (nil entries: those that failed to open).
func closeAll(conns []*zk.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
