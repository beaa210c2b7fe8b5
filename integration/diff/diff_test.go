package diff

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// concurrency is how many scenarios run at once (each against both servers).
const concurrency = 8

// TestDiff runs every scenario against the reference ZooKeeper and zkraft and compares
// the normalized transcripts. Set ZKDIFF_RUN=regexp-free substring to run a subset,
// ZKDIFF_VERBOSE=1 to print every transcript, ZKDIFF_MATRIX=file to write the
// compatibility matrix (docs/compatibility.md embeds it).
func TestDiff(t *testing.T) {
	zkAddr, zrAddr := servers(t)
	all := allScenarios()
	checkNames(t, all)
	var sel []scenario
	filter := os.Getenv("ZKDIFF_RUN")
	for _, s := range all {
		if filter == "" || strings.Contains(s.name, filter) {
			sel = append(sel, s)
		}
	}
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
			results[i] = runScenario(s, zkAddr, zrAddr)
		}()
	}
	wg.Wait()
	if err := ref.Alive(); err != nil {
		t.Fatalf("the reference ZooKeeper stopped serving during the run (%v): a scenario crashed it, "+
			"and every transcript after that point is meaningless; its log:\n%s", err, ref.LogTail(40))
	}
	t.Logf("%d scenarios in %v", len(sel), time.Since(t0).Round(time.Millisecond))

	verbose := os.Getenv("ZKDIFF_VERBOSE") != ""
	used := map[*allowEntry]bool{}
	for _, res := range results {
		t.Run(res.s.name, func(t *testing.T) {
			switch res.out {
			case same:
				if verbose {
					t.Logf("transcript:\n  %s", strings.Join(res.zk, "\n  "))
				}
			case allowedDiff:
				used[res.allow] = true
				t.Logf("allowed difference (%s):\n%s", res.allow.reason, sideBySide(res.zk, res.zr))
			case differs:
				t.Errorf("zkraft differs from ZooKeeper 3.8.0:\n%s", sideBySide(res.zk, res.zr))
			}
		})
	}
	if filter == "" {
		for i := range allowList {
			e := &allowList[i]
			if !used[e] {
				t.Errorf("allow-list entry %q matches no differing scenario: remove it (and its line in docs/compatibility.md)", e.pattern)
			}
		}
	}
	same, allowed, differ := 0, 0, 0
	for _, r := range results {
		switch r.out {
		case 0:
			same++
		case 1:
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

func checkNames(t *testing.T, all []scenario) {
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s.name] {
			t.Fatalf("duplicate scenario name %q", s.name)
		}
		seen[s.name] = true
	}
}

// matrix renders the per-feature counts as a markdown table.
func matrix(results []scenarioResult) string {
	type row struct{ cases, same, allowed, differ int }
	rows := map[string]*row{}
	var order []string
	for _, r := range results {
		f := r.s.feature
		if rows[f] == nil {
			rows[f] = &row{}
			order = append(order, f)
		}
		x := rows[f]
		x.cases++
		switch r.out {
		case same:
			x.same++
		case allowedDiff:
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
