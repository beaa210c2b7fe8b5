package diff

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkraft/zkraft/integration/compat"
)

// concurrency is how many scenarios run at once (each against both servers).
const concurrency = 8

// goldenDir is where ZKDIFF_WRITE_GOLDEN=1 writes the reference's transcripts.
const goldenDir = "../compat/golden"

type scenarioResult struct {
	s      compat.Scenario
	zk, zr []string
	out    compat.Outcome
	allow  *compat.AllowEntry
}

// TestDiff runs every scenario against the reference ZooKeeper and zkraft and compares
// the normalized transcripts. Set ZKDIFF_RUN=regexp-free substring to run a subset,
// ZKDIFF_VERBOSE=1 to print every transcript, ZKDIFF_MATRIX=file to write the
// compatibility matrix (docs/compatibility.md embeds it), ZKDIFF_WRITE_GOLDEN=1 to
// rewrite the golden transcripts (integration/compat/golden) from the reference's.
// Without it, the reference's transcripts must equal the golden ones.
func TestDiff(t *testing.T) {
	zkAddr, zrAddr := servers(t)
	all := compat.All()
	checkNames(t, all)
	var sel []compat.Scenario
	filter := os.Getenv("ZKDIFF_RUN")
	for _, s := range all {
		if filter == "" || strings.Contains(s.Name(), filter) {
			sel = append(sel, s)
		}
	}
	prefix := fmt.Sprintf("/diff%d_", os.Getpid()%100000)
	zkRunner := &compat.Runner{Prefix: prefix, SuperPassword: compat.DefaultSuperPassword}
	zrRunner := &compat.Runner{Prefix: prefix, SuperPassword: compat.DefaultSuperPassword}
	results := make([]scenarioResult, len(sel))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, s := range sel {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = runScenario(s, zkRunner, zrRunner, zkAddr, zrAddr)
		}()
	}
	wg.Wait()
	if err := ref.Alive(); err != nil {
		t.Fatalf("the reference ZooKeeper stopped serving during the run (%v): a scenario crashed it, "+
			"and every transcript after that point is meaningless; its log:\n%s", err, ref.LogTail(40))
	}
	t.Logf("%d scenarios in %v", len(sel), time.Since(t0).Round(time.Millisecond))

	verbose := os.Getenv("ZKDIFF_VERBOSE") != ""
	used := map[*compat.AllowEntry]bool{}
	for _, res := range results {
		t.Run(res.s.Name(), func(t *testing.T) {
			switch res.out {
			case compat.Same:
				if verbose {
					t.Logf("transcript:\n  %s", strings.Join(res.zk, "\n  "))
				}
			case compat.AllowedDiff:
				used[res.allow] = true
				t.Logf("allowed difference (%s):\n%s", res.allow.Reason, compat.SideBySide(res.zk, res.zr, "zookeeper", "zkraft"))
			case compat.Differs:
				t.Errorf("zkraft differs from ZooKeeper 3.8.0:\n%s", compat.SideBySide(res.zk, res.zr, "zookeeper", "zkraft"))
			}
		})
	}
	if filter == "" {
		for i := range compat.AllowList {
			e := &compat.AllowList[i]
			if !used[e] {
				t.Errorf("allow-list entry %q matches no differing scenario: remove it (and its line in docs/compatibility.md)", e.Pattern)
			}
		}
	}
	checkGolden(t, results, filter == "")
	same, allowed, differ := 0, 0, 0
	for _, r := range results {
		switch r.out {
		case compat.Same:
			same++
		case compat.AllowedDiff:
			allowed++
		default:
			differ++
		}
	}
	t.Logf("cases %d: identical %d, allowed %d, differing %d", len(results), same, allowed, differ)
	if p := os.Getenv("ZKDIFF_MATRIX"); p != "" {
		if err := os.WriteFile(p, []byte(matrix(results)), 0o644); err != nil {
			t.Errorf("write matrix: %v", err)
		}
	}
}

func runScenario(s compat.Scenario, zkRunner, zrRunner *compat.Runner, zkAddr, zrAddr string) scenarioResult {
	res := scenarioResult{s: s}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if s.SkipRef() != "" {
			res.zk = []string{"reference not run: " + s.SkipRef()}
			return
		}
		res.zk, _ = zkRunner.Run(s, zkAddr)
	}()
	go func() {
		defer wg.Done()
		res.zr, _ = zrRunner.Run(s, zrAddr)
	}()
	wg.Wait()
	res.out, res.allow = compat.Compare(s.Name(), res.zk, res.zr)
	return res
}

// checkGolden compares the reference's transcripts with the golden ones that
// `zkraft compat` uses without a reference, or (ZKDIFF_WRITE_GOLDEN=1, full run
// only) rewrites them.
func checkGolden(t *testing.T, results []scenarioResult, full bool) {
	t.Helper()
	ran := map[string][]string{}
	for _, r := range results {
		// A scenario that sees the rest of the server has no golden transcript.
		if r.s.SkipRef() == "" && !r.s.HasNeed(compat.NeedFreshServer) {
			ran[r.s.Name()] = r.zk
		}
	}
	if os.Getenv("ZKDIFF_WRITE_GOLDEN") != "" {
		if !full {
			t.Fatal("ZKDIFF_WRITE_GOLDEN needs a full run (no ZKDIFF_RUN)")
		}
		if err := compat.WriteGolden(goldenDir, ran); err != nil {
			t.Fatalf("write golden transcripts: %v", err)
		}
		t.Logf("wrote %d golden transcripts to %s", len(ran), goldenDir)
		return
	}
	golden, err := compat.Golden()
	if err != nil {
		t.Fatalf("golden transcripts: %v", err)
	}
	stale := 0
	for name, got := range ran {
		want, ok := golden[name]
		if !ok || !slices.Equal(want, got) {
			stale++
			if stale <= 5 {
				t.Errorf("golden transcript of %s is stale (missing: %v):\n%s", name, !ok,
					compat.SideBySide(want, got, "golden", "zookeeper now"))
			}
		}
	}
	if full {
		for name := range golden {
			if _, ok := ran[name]; !ok {
				stale++
				t.Errorf("golden transcript of %s: no such scenario (run against the reference)", name)
			}
		}
	}
	if stale > 0 {
		t.Errorf("%d golden transcripts are stale: regenerate them with ZKDIFF_WRITE_GOLDEN=1 go test ./integration/diff/ "+
			"and commit integration/compat/golden", stale)
	}
}

func checkNames(t *testing.T, all []compat.Scenario) {
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s.Name()] {
			t.Fatalf("duplicate scenario name %q", s.Name())
		}
		seen[s.Name()] = true
	}
}

// matrix renders the per-feature counts as a markdown table.
func matrix(results []scenarioResult) string {
	type row struct{ cases, same, allowed, differ int }
	rows := map[string]*row{}
	var order []string
	for _, r := range results {
		f := r.s.Feature()
		if rows[f] == nil {
			rows[f] = &row{}
			order = append(order, f)
		}
		x := rows[f]
		x.cases++
		switch r.out {
		case compat.Same:
			x.same++
		case compat.AllowedDiff:
			x.allowed++
		default:
			x.differ++
		}
	}
	sort.Strings(order)
	var sb strings.Builder
	sb.WriteString("| feature | cases | identical | allowed difference | differing | status |\n|---|---:|---:|---:|---:|---|\n")
	tot := row{}
	for _, f := range order {
		x := rows[f]
		status := "identical"
		switch {
		case x.differ > 0:
			status = "DIFFERS"
		case x.allowed > 0:
			status = "allowed differences"
		}
		fmt.Fprintf(&sb, "| %s | %d | %d | %d | %d | %s |\n", f, x.cases, x.same, x.allowed, x.differ, status)
		tot.cases += x.cases
		tot.same += x.same
		tot.allowed += x.allowed
		tot.differ += x.differ
	}
	fmt.Fprintf(&sb, "| **total** | %d | %d | %d | %d | |\n", tot.cases, tot.same, tot.allowed, tot.differ)
	return sb.String()
}
