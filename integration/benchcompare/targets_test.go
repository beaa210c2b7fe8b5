package benchcompare

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The performance issue's targets, each with what this run measured, so that the
// report says where zkraft stands rather than leaving the reader to compare cells.
// A throughput target that is not met names the ratio the CPUs allowed (the CPU
// table's last column): where the two are close, the load generator's share of the
// machine, not the server, is the bound.

var (
	writeWorkloads = []string{"create", "set", "delete", "multi"}
	busySessions   = []string{"16", "64", "16x16"}
)

// cell is the result for workload w at sessions key s, if measured.
func (tr topoResult) cell(w, s string) (cellResult, bool) {
	for _, c := range tr.cells {
		if c.workload == w && c.sessions.key == s {
			return c, true
		}
	}
	return cellResult{}, false
}

// cpuBound is the ratio of ops/s that the CPU per operation allows (see renderCPU).
func (r *report) cpuBound(c cellResult) (float64, bool) {
	kS, _, kC, kok := c.cpuPerOp(targetZkraft)
	zS, _, zC, zok := c.cpuPerOp(targetZK)
	if !kok || !zok || kS == 0 {
		return 0, false
	}
	if r.cfg.pin {
		return float64(zS) / float64(kS), true
	}
	return float64(zS+zC) / float64(kS+kC), true
}

// throughputTarget lists the cells of workloads ws at sessions ss in tr against
// the ratio want: how many meet it, and each that does not, with what the CPUs
// allowed.
func (r *report) throughputTarget(tr topoResult, ws, ss []string, want float64) (met, all int, misses []string) {
	for _, w := range ws {
		for _, s := range ss {
			c, ok := tr.cell(w, s)
			if !ok {
				continue
			}
			kt, _, _, _, kok := c.median(targetZkraft)
			zt, _, _, _, zok := c.median(targetZK)
			if !kok || !zok || zt == 0 {
				continue
			}
			all++
			if kt/zt >= want {
				met++
				continue
			}
			clients, inflight := c.sessions.forWorkload(w)
			miss := fmt.Sprintf("%s %d×%d %.2f×", workloadNames[w], clients, inflight, kt/zt)
			if b, ok := r.cpuBound(c); ok {
				miss += fmt.Sprintf(" (CPUs allow %.2f×)", b)
			}
			misses = append(misses, miss)
		}
	}
	return met, all, misses
}

func verdict(met, all int, misses []string) string {
	switch {
	case all == 0:
		return "not measured in this run"
	case met == all:
		return fmt.Sprintf("**met** in all %d cells measured", all)
	}
	return fmt.Sprintf("**not met**: met in %d of %d cells; not in %s", met, all, strings.Join(misses, ", "))
}

func (r *report) renderTargets(p func(string, ...any)) {
	p("## The targets, as this run measured them\n\n")
	p("The targets of the performance issue, each checked against the tables below (medians of this run). Where a throughput target is not met, \"CPUs allow\" is the ratio that the CPU per operation of each server and of the load generator allows when the machine's CPUs are the bound (the CPU tables' last column): a ratio close to it is bound by the CPUs the client shares, not by a wait in the server.\n\n")
	for _, tr := range r.topos {
		p("**%s**\n\n", strings.SplitN(topoTitles[tr.name], " (", 2)[0])
		p("- Writes (create, setData, delete, multi) ≥ 2× at 16, 64 and 16×16 sessions: %s.\n", verdict(r.throughputTarget(tr, writeWorkloads, busySessions, 2)))
		p("- Writes ≥ 1× at 1 session: %s.\n", verdict(r.throughputTarget(tr, writeWorkloads, []string{"1"}, 1)))
		if tr.name == "single" && r.floor.FsyncP50 > 0 {
			floor := r.floor.FsyncP50 + r.floor.RTTP50
			var within, all int
			var over []string
			for _, w := range writeWorkloads {
				if c, ok := tr.cell(w, "1"); ok {
					if _, p50, _, _, ok := c.median(targetZkraft); ok {
						all++
						if p50 <= 2*floor {
							within++
						} else {
							over = append(over, fmt.Sprintf("%s %v", workloadNames[w], rnd(p50)))
						}
					}
				}
			}
			p("- … their p50 within 2× of the floor (%v, so %v): %s.\n", rnd(floor), rnd(2*floor), verdict(within, all, over))
		}
		p("- Reads (getData) ≥ 2× at every session count: %s.\n", verdict(r.throughputTarget(tr, []string{"get"}, []string{"1", "16", "64", "16x16"}, 2)))
		p("- Watch fan-out to 1,024 sessions in ≤ ⅓ of ZooKeeper's time (≥ 3× its rate): %s.\n", verdict(r.throughputTarget(tr, []string{"watch"}, []string{"16x16"}, 3)))
		var below, all int
		var above []string
		for _, c := range tr.cells {
			_, _, k99, _, kok := c.median(targetZkraft)
			_, _, z99, _, zok := c.median(targetZK)
			if !kok || !zok {
				continue
			}
			all++
			if k99 <= z99 {
				below++
				continue
			}
			clients, inflight := c.sessions.forWorkload(c.workload)
			above = append(above, fmt.Sprintf("%s %d×%d %v vs %v", workloadNames[c.workload], clients, inflight, rnd(k99), rnd(z99)))
		}
		p("- p99 ≤ ZooKeeper's in every cell: %s.\n\n", verdict(below, all, above))
	}
	if r.mem != nil {
		k, z := r.mem[targetZkraft], r.mem[targetZK]
		at := func(name string, got, want float64, less bool) string {
			ok := got <= want
			if !less {
				ok = got >= want
			}
			if ok {
				return fmt.Sprintf("%s %.2f×: **met**", name, got)
			}
			return fmt.Sprintf("%s %.2f×: **not met**", name, got)
		}
		p("**Memory and restart with %s znodes** (single node)\n\n", thousands(int64(r.cfg.znodes)))
		p("- RSS ≤ ¼ of ZooKeeper's: %s; %s.\n", at("with the tree", float64(k.rss)/float64(z.rss), 0.25, true), at("peak while building", float64(k.peak)/float64(z.peak), 0.25, true))
		p("- Restart to serving ≤ ⅕ of ZooKeeper's: %s.\n", at("after kill -9", float64(k.restart)/float64(z.restart), 0.2, true))
		ready := "**met**"
		if k.emptyReady > 50*time.Millisecond {
			ready = "**not met**"
		}
		p("- An empty node ready in ≤ 50 ms: %v, %s.\n\n", rnd(k.emptyReady), ready)
	}
	p("Not measured by this run: failover after kill -9 of the leader (`make bench-failover`), memory and disk after a churn soak (`make soak`), writes while a snapshot of 1M znodes is written.\n\n")
}

// checkTargets checks that the report states every target with a verdict.
func checkTargets(t *testing.T, text string, cfg config) {
	t.Helper()
	_, sec, ok := strings.Cut(text, "## The targets, as this run measured them\n")
	if !ok {
		t.Error("no section on the targets")
		return
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	verdictRe := regexp.MustCompile(`\*\*(not )?met\*\*|not measured in this run`)
	lines := 0
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "- Not measured") {
			continue
		}
		lines++
		if !verdictRe.MatchString(line) {
			t.Errorf("target without a verdict: %q", line)
		}
	}
	want := 0
	for _, topo := range cfg.topologies {
		want += 5 // writes ≥ 2×, ≥ 1×, reads, watch fan-out, p99
		if topo == "single" {
			want++ // the floor
		}
	}
	if cfg.znodes > 0 {
		want += 3
	}
	if lines != want {
		t.Errorf("%d targets stated, want %d:\n%s", lines, want, sec)
	}
}
