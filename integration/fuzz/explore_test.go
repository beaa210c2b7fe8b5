//go:build explore

// The fuzzer's drivers, not tests of the default suite: one seed (-fuzz.seed) and
// fresh seeds for a while (-fuzz.duration). make fuzz-diff builds them with -tags explore.

package fuzz

import (
	"fmt"
	"testing"
	"time"
)

// TestFuzzSeed runs one seed (-fuzz.seed, as TestFuzzLong prints them) on
// -fuzz.target, shrinks a difference and writes its repro into -fuzz.out.
func TestFuzzSeed(t *testing.T) {
	if *seedFlag == 0 {
		t.Fatal("set -fuzz.seed (make fuzz-diff prints the seeds it runs)")
	}
	for _, tg := range targets() {
		r := newRunner(t, tg)
		p := Generate(*seedFlag, genOptions(*steps))
		res := r.Run(p)
		t.Logf("seed %d on %s: %d steps, %d ops in %v", *seedFlag, tg, res.Steps, res.Ops, res.Elapsed.Round(time.Millisecond))
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if res.Diff != nil {
			rep, path := found(t, r, tg, *seedFlag, p, res.Diff, *outDir)
			t.Errorf("differs (class %s), repro in %s:\n%s", rep.Class, path, res.Diff)
		}
	}
}

func targets() []string {
	if *target == "both" {
		return []string{"single", "ensemble3"}
	}
	return []string{*target}
}

// TestFuzzLong runs fresh seeds for -fuzz.duration, alternating the targets, and
// reports what it ran and found: make fuzz-diff FUZZ_DURATION=1h. Each difference is
// shrunk and written into -fuzz.out; the run goes on with the next seed.
func TestFuzzLong(t *testing.T) {
	if *duration == 0 {
		t.Fatal("set -fuzz.duration (make fuzz-diff FUZZ_DURATION=1h)")
	}
	tgs := targets()
	runners := make([]*Runner, len(tgs))
	for i, tg := range tgs {
		runners[i] = newRunner(t, tg)
	}
	type tally struct {
		runs, steps, ops int
		busy             time.Duration
		diffs            map[string]int
		allowed          int
	}
	tallies := make([]tally, len(tgs))
	for i := range tallies {
		tallies[i].diffs = map[string]int{}
	}
	t0 := time.Now()
	base := time.Now().UnixNano()
	for n := 0; time.Since(t0) < *duration; n++ {
		i := n % len(tgs)
		seed := base + int64(n)
		p := Generate(seed, genOptions(*steps))
		res := runners[i].Run(p)
		tl := &tallies[i]
		tl.runs++
		tl.steps += res.Steps
		tl.ops += res.Ops
		tl.busy += res.Elapsed
		tl.allowed += len(res.Allowed)
		status := "same"
		switch {
		case res.Err != nil:
			status = "harness error: " + res.Err.Error()
			tl.diffs["harness-error"]++
			t.Errorf("seed %d on %s: %v", seed, tgs[i], res.Err)
		case res.Diff != nil:
			rep, path := found(t, runners[i], tgs[i], seed, p, res.Diff, *outDir)
			tl.diffs[rep.Class]++
			status = fmt.Sprintf("DIFFERS (%s), repro %s", rep.Class, path)
			if rep.Class == ClassNew {
				t.Errorf("seed %d on %s differs:\n%s", seed, tgs[i], res.Diff)
			}
		}
		t.Logf("seed %d on %s: %d steps, %d ops, %v: %s", seed, tgs[i], res.Steps, res.Ops, res.Elapsed.Round(time.Millisecond), status)
	}
	for i, tl := range tallies {
		t.Logf("%s: %d runs, %d steps, %d ops compared in %v (%.0f ops/s); differences %v; allowed %d",
			tgs[i], tl.runs, tl.steps, tl.ops, tl.busy.Round(time.Second), float64(tl.ops)/tl.busy.Seconds(), tl.diffs, tl.allowed)
	}
}
