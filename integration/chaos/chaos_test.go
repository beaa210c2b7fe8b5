package chaos

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/ensembleproc"
	"github.com/zkraft/zkraft/integration/testkit"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testkit.RunWithZkraft(m, &binary)) }

const superUser = "super:chaos"

// Workers per history.
const (
	registerKeys    = 3
	registerClients = 4
	seqClients      = 2
	fifoClients     = 2
	holders         = 3
)

type runConfig struct {
	seed      uint64
	members   int
	traffic   time.Duration // how long clients run while the nemesis acts
	snapCount int
	nemeses   []nemesis // taken in a shuffled order, round and round
	disk      bool      // members on tmpfs (root), for the full-disk nemeses
}

// TestChaos runs histories of faults and traffic. By default two short ones (3 and 5
// members, fixed seed) for `make test`; with CHAOS_DURATION (total, e.g. 1h) or
// CHAOS_HISTORIES (how many) the long run of `make chaos`, 60s of traffic per
// history, fresh seeds unless CHAOS_SEED is set.
func TestChaos(t *testing.T) {
	dur, _ := time.ParseDuration(os.Getenv("CHAOS_DURATION"))
	histories, _ := strconv.Atoi(os.Getenv("CHAOS_HISTORIES"))
	long := dur > 0 || histories > 0
	seed := uint64(1)
	if long {
		seed = uint64(time.Now().UnixNano())
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want a number", s)
		}
		seed = v
	}
	root := os.Geteuid() == 0
	if !root {
		t.Log("not root: no full-disk nemesis (it mounts a tmpfs per member)")
	}
	all := selectNemeses(nemeses, os.Getenv("CHAOS_NEMESES"), root)
	if len(all) == 0 {
		t.Fatalf("CHAOS_NEMESES=%q names no nemesis", os.Getenv("CHAOS_NEMESES"))
	}
	var runs []runConfig
	if !long {
		// Between them the two short histories do every kind of fault.
		// The long isolation takes 8 s: only the long run does it.
		short := slices.DeleteFunc(slices.Clone(all), func(n nemesis) bool {
			return strings.HasSuffix(n.name, "past the session timeout")
		})
		half := len(short) / 2
		runs = []runConfig{
			{seed: seed, members: 3, traffic: 20 * time.Second, snapCount: 50, nemeses: short[:max(1, half)], disk: slices.ContainsFunc(short[:max(1, half)], needsDisk)},
			{seed: seed + 1, members: 5, traffic: 20 * time.Second, snapCount: 50, nemeses: short[half:], disk: slices.ContainsFunc(short[half:], needsDisk)},
		}
	}
	start := time.Now()
	var totals struct {
		histories, faults, violations, ops int
		failed                             []string
	}
	for i := 0; ; i++ {
		var cfg runConfig
		if long {
			if (histories > 0 && i >= histories) || (dur > 0 && time.Since(start) > dur) {
				break
			}
			// The seed alone decides the history's shape, so that CHAOS_SEED=<a
			// history's seed> CHAOS_HISTORIES=1 runs it again.
			hs := seed + uint64(i)
			cfg = runConfig{seed: hs, members: []int{3, 5}[hs%2], traffic: 60 * time.Second, snapCount: []int{20, 50, 200}[hs%3], nemeses: all, disk: slices.ContainsFunc(all, needsDisk)}
		} else {
			if i >= len(runs) {
				break
			}
			cfg = runs[i]
		}
		name := fmt.Sprintf("h%d-seed%d-%dmembers", i+1, cfg.seed, cfg.members)
		var h *history
		// A history stopped early (t.Fatalf) counts with what it recorded, and as
		// failed even if it recorded no violation.
		ok := t.Run(name, func(t *testing.T) { runHistory(t, cfg, &h) })
		totals.histories++
		if h != nil {
			totals.faults += len(h.faults)
			totals.violations += len(h.violations)
			totals.ops += len(h.reg)
		}
		if !ok || (h != nil && len(h.violations) > 0) {
			totals.failed = append(totals.failed, name)
		}
	}
	t.Logf("CHAOS %d histories in %v: %d fault events, %d register operations checked, %d violations%s",
		totals.histories, time.Since(start).Round(time.Second), totals.faults, totals.ops, totals.violations, failedList(totals.failed))
}

func failedList(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (in " + strings.Join(names, ", ") + ")"
}

type run struct {
	t   testing.TB
	cfg runConfig
	e   *ensembleproc.Ensemble
	h   *history
	rng *rand.Rand
}

// diskMB is each member's tmpfs: room for its log and snapshots many times over.
func diskMB(disk bool) int {
	if disk {
		return 64
	}
	return 0
}

func superDigest() string {
	name, _, _ := strings.Cut(superUser, ":")
	sum := sha1.Sum([]byte(superUser))
	return name + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// runHistory runs one history; *out is its history from the start, so that the
// caller sees it even when the history stops early.
func runHistory(t *testing.T, cfg runConfig, out **history) {
	r := &run{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0))}
	r.e = ensembleproc.Start(t, binary, ensembleproc.Options{
		N:          cfg.members,
		SnapCount:  cfg.snapCount,
		ClientForm: ensembleproc.ClientPortSuffix,
		Proxied:    os.Getenv("CHAOS_NO_PROXY") == "",
		Extra:      "reconfigEnabled=true\nDigestAuthenticationProvider.superDigest=" + superDigest() + "\n",
		DiskMB:     diskMB(cfg.disk),
		LogLevel:   os.Getenv("CHAOS_LOG_LEVEL"), // warn by default
	})
	r.setup()
	r.h = newHistory()
	*out = r.h
	h := r.h
	for _, m := range r.e.Members {
		h.members += fmt.Sprintf("# member %d: clients %s, peers 127.0.0.1:%d\n", m.ID, m.ClientAddr, m.PeerPort)
	}
	done := false
	t.Cleanup(func() {
		if done || !t.Failed() {
			return
		}
		// The history ended early (a member that would not restart, no leader): show
		// what had happened by then.
		for _, f := range h.faults {
			t.Logf("  fault %s", f)
		}
		t.Logf("history seed %d, %d members: stopped early; %s", cfg.seed, cfg.members, h.summary())
		r.saveLogs()
	})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	addrs := r.e.Addrs()
	seqs := &seqState{acked: map[string]string{}, unknown: map[string]bool{}}
	var hs []*holder
	worker := func(n uint64, f func(rng *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(rand.New(rand.NewPCG(cfg.seed, n)))
		}()
	}
	for i := range registerClients {
		worker(uint64(100+i), func(rng *rand.Rand) { registerWorker(h, i, addrs, registerKeys, rng, stop) })
	}
	for i := range seqClients {
		worker(uint64(200+i), func(rng *rand.Rand) { seqWorker(h, seqs, i, addrs, rng, stop) })
	}
	for i := range fifoClients {
		worker(uint64(300+i), func(rng *rand.Rand) { fifoWorker(h, i, addrs, rng, stop) })
	}
	for i := range holders {
		o := &holder{h: h, client: i, expired: map[int64]bool{}, created: map[int64]string{}}
		hs = append(hs, o)
		worker(uint64(400+i), func(rng *rand.Rand) { o.run(addrs, rng, stop) })
	}
	worker(500, func(rng *rand.Rand) { abandoner(h, 0, addrs, rng, stop) })
	stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWorkers)

	// The nemesis: quiet, harm, hold, undo; until the traffic time is over.
	time.Sleep(time.Second)
	var order []int
	for time.Since(h.start) < cfg.traffic {
		if len(order) == 0 {
			order = r.rng.Perm(len(cfg.nemeses))
		}
		n := cfg.nemeses[order[0]]
		order = order[1:]
		hold := time.Duration(500+r.rng.IntN(2000)) * time.Millisecond
		n.run(r, hold)
		r.reapExited()
		r.leader()
		time.Sleep(time.Duration(300+r.rng.IntN(1000)) * time.Millisecond)
	}
	stopWorkers()
	h.fault("traffic stopped")

	r.final(seqs, hs)

	done = true
	t.Logf("history seed %d, %d members, snapCount %d: %v; %d fault events, %d violations; %s",
		cfg.seed, cfg.members, cfg.snapCount, time.Since(h.start).Round(time.Millisecond), len(h.faults), len(h.violations), h.summary())
	for _, f := range h.faults {
		t.Logf("  fault %s", f)
	}
}

func (r *run) setup() {
	c, _ := ensembleproc.Connect(r.t, r.e.Addrs(), sessionTimeout, false)
	defer c.Close()
	paths := []string{"/chaos", regDir, seqDir, fifoDir, ephDir}
	for k := range registerKeys {
		paths = append(paths, fmt.Sprintf("%s/k%d", regDir, k))
	}
	for _, p := range paths {
		// The ensemble may still be settling: retry a lost connection.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := c.Create(p, nil, 0, ensembleproc.OpenACL)
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				break
			}
			if definite(err) || time.Now().After(deadline) {
				r.t.Fatalf("create %s: %v", p, err)
			}
		}
	}
}

// final checks the ensemble once the traffic has stopped and every fault is undone.
func (r *run) final(seqs *seqState, hs []*holder) {
	t, e, h := r.t, r.e, r.h
	r.caughtUp()
	c, _ := ensembleproc.Connect(t, e.Addrs(), sessionTimeout, false)
	defer c.Close()

	// The registers as they end, read by a client that does nothing else.
	for k := range registerKeys {
		p := fmt.Sprintf("%s/k%d", regDir, k)
		call := h.now()
		if _, err := c.Sync(p); err != nil {
			t.Fatalf("final sync %s: %v", p, err)
		}
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("final get %s: %v", p, err)
		}
		h.addReg(porcupine.Operation{ClientId: registerClients, Call: call, Return: h.now(), Input: regInput{Key: k, Kind: regRead}, Output: regOutput{Value: string(data), Version: st.Version}})
	}

	// Nothing acknowledged lost, no name given twice.
	if _, err := c.Sync(seqDir); err != nil {
		t.Fatalf("final sync: %v", err)
	}
	if err := checkSeq(h, seqs, c); err != nil {
		t.Fatalf("final read of %s: %v", seqDir, err)
	}

	// Every session is closed (or expires, if its close was lost): their ephemerals go.
	deadline := time.Now().Add(sessionTimeout + 10*time.Second)
	for {
		kids, _, err := c.Children(ephDir)
		if err == nil && len(kids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var owners []string
			for _, k := range kids {
				_, st, _ := c.Exists(ephDir + "/" + k)
				owners = append(owners, fmt.Sprintf("%s (owner %#x)", k, ownerOf(st)))
			}
			h.violation("ephemerals left %v after every session was closed: %v (err %v)", sessionTimeout+10*time.Second, owners, err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sessions := 0
	for _, o := range hs {
		sessions += len(o.created)
	}
	h.count("sessions with an ephemeral", sessions)

	// Every member holds the same tree, and held the leader's at every digest
	// comparison on the way (a member that diverged and was later replaced by a
	// snapshot shows only there).
	r.compareTrees()
	r.checkDigestReports()

	// The register history is linearizable.
	model := registerModel.ToModel()
	res, info := porcupine.CheckOperationsVerbose(model, h.reg, 2*time.Minute)
	dir := r.artifacts()
	switch res {
	case porcupine.Illegal:
		h.violation("the register history (%d operations) is not linearizable: see %s", len(h.reg), filepath.Join(dir, "register-linearizability.html"))
	case porcupine.Unknown:
		t.Logf("linearizability check of %d operations timed out after 2m: inconclusive", len(h.reg))
	}
	if len(h.violations) > 0 {
		var vi *porcupine.LinearizationInfo
		if res == porcupine.Illegal {
			vi = &info
		}
		files, err := h.save(dir, vi)
		files = append(files, r.saveLogs()...)
		if err != nil {
			t.Errorf("save the history: %v", err)
		}
		shown := h.violations[:min(len(h.violations), 20)]
		t.Errorf("%d violations (seed %d, %d members); history and visualization: %v\n  %s", len(h.violations), r.cfg.seed, r.cfg.members, files, strings.Join(shown, "\n  "))
	}
}

// caughtUp waits until every member has applied what the leader has. One that
// does not within a minute is stuck: it prints its goroutines (SIGQUIT) into its log
// and the history fails.
func (r *run) caughtUp() {
	for i := range r.e.Members {
		if _, err := r.e.ZxidMatch(i, time.Minute); err != nil {
			r.h.violation("%v (a stuck member: its goroutines and the leader's are in their logs)", err)
			if l := r.e.FindLeader(); l >= 0 && l != i {
				r.e.Dump(l)
			}
			r.e.Dump(i)
			r.saveLogs()
			r.t.Fatalf("%v; violations: %v", err, r.h.violations)
		}
	}
}

// artifacts is where a failed history's files go: CHAOS_ARTIFACTS, by default
// $TMPDIR/zkraft-chaos, one directory per history.
func (r *run) artifacts() string {
	dir := os.Getenv("CHAOS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "zkraft-chaos")
	}
	return filepath.Join(dir, fmt.Sprintf("seed%d-%dmembers-%s", r.cfg.seed, r.cfg.members, r.h.start.UTC().Format("20060102T150405")))
}

// saveLogs writes every member's output (all its processes) with the artifacts.
func (r *run) saveLogs() []string {
	dir := r.artifacts()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Errorf("save member logs: %v", err)
		return nil
	}
	var files []string
	for i := range r.e.Members {
		f := filepath.Join(dir, fmt.Sprintf("member%d.log", i+1))
		if err := os.WriteFile(f, []byte(r.e.Log(i)), 0o644); err != nil {
			r.t.Errorf("save member logs: %v", err)
			return files
		}
		files = append(files, f)
	}
	r.t.Logf("member logs in %s", dir)
	return files
}

// compareTrees dumps every member's tree (after their zxids match) and reports any
// difference; a member may be a commit behind while it is read, so it retries.
func (r *run) compareTrees() {
	t, e, h := r.t, r.e, r.h
	var diff string
	for try := 0; try < 3; try++ {
		r.caughtUp()
		var dumps []map[string]string
		for _, m := range e.Members {
			c, _ := ensembleproc.Connect(t, []string{m.ClientAddr}, sessionTimeout, false)
			d, err := dumpTree(c, "/")
			c.Close()
			if err != nil {
				t.Fatalf("dump member %d's tree: %v", m.ID, err)
			}
			dumps = append(dumps, d)
		}
		diff = treeDiff(dumps)
		if diff == "" {
			h.count("znodes compared per member", len(dumps[0]))
			return
		}
		time.Sleep(time.Second)
	}
	h.violation("members disagree on the tree: %s", diff)
}

// digestMismatchLog is what a member logs when its tree digest differs from the
// leader's at the same Raft index (ensemble/digest.go).
const digestMismatchLog = "this member's tree differs from the leader's"

// checkDigestReports reports every member that logged a digest mismatch.
func (r *run) checkDigestReports() {
	for i := range r.e.Members {
		for _, line := range strings.Split(r.e.Log(i), "\n") {
			if strings.Contains(line, digestMismatchLog) {
				r.h.violation("member %d: %s", i+1, line)
				break
			}
		}
	}
}

func dumpTree(c *zk.Conn, p string) (map[string]string, error) {
	out := map[string]string{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := c.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		out[p] = fmt.Sprintf("%q v%d cv%d av%d owner=%#x czxid=%#x mzxid=%#x pzxid=%#x n=%d", data, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.Czxid, st.Mzxid, st.Pzxid, st.NumChildren)
		kids, _, err := c.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		slices.Sort(kids)
		for _, k := range kids {
			if err := walk(strings.TrimSuffix(p, "/") + "/" + k); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(p)
}

func treeDiff(dumps []map[string]string) string {
	var diffs []string
	for i := 1; i < len(dumps); i++ {
		for p, v := range dumps[0] {
			if w, ok := dumps[i][p]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s on member 1 (%s), not on member %d", p, v, i+1))
			} else if w != v {
				diffs = append(diffs, fmt.Sprintf("%s: member 1 %s, member %d %s", p, v, i+1, w))
			}
		}
		for p, w := range dumps[i] {
			if _, ok := dumps[0][p]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s on member %d (%s), not on member 1", p, i+1, w))
			}
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 10 {
		diffs = append(diffs[:10], fmt.Sprintf("... %d more", len(diffs)-10))
	}
	return strings.Join(diffs, "; ")
}
