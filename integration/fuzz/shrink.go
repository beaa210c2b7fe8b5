package fuzz

import (
	"slices"
	"time"
)

// Classes of differences. The first two are open in issue 8 while this is written.
const (
	ClassFIFO     = "fifo"      // (a): a pipelined read sees a later write, or misses an earlier one
	ClassWatchACL = "watch-acl" // (b): a watch event reaches a session without READ
	ClassNew      = "new"
	ClassFlaky    = "flaky" // did not show again when the program was run again
)

// Classify names a difference found by running p: watch-acl when zkraft sent an
// event the reference did not, on a path with an ACL without READ for world; fifo
// when the difference goes away with every pipelined batch sent one request at a
// time; new otherwise.
func (r *Runner) Classify(p Program, d *Difference) string {
	if d.RestrictedEvent && d.RefLine != d.ZkraftLine {
		return ClassWatchACL
	}
	if hasBatch(p) {
		for range 2 {
			if res := r.Run(Unpipelined(p)); res.Err == nil && res.Diff != nil && res.Diff.Signature() == d.Signature() {
				return ClassNew
			}
		}
		return ClassFIFO
	}
	return ClassNew
}

func hasBatch(p Program) bool {
	for _, st := range p.Steps {
		if len(st.Ops) > 1 {
			return true
		}
	}
	return false
}

// Unpipelined is p with every batch split into steps of one request each.
func Unpipelined(p Program) Program {
	var out Program
	for _, st := range p.Steps {
		if st.Kind != KindOps || len(st.Ops) < 2 {
			out.Steps = append(out.Steps, st)
			continue
		}
		for _, op := range st.Ops {
			out.Steps = append(out.Steps, Step{Slot: st.Slot, Kind: KindOps, Ops: []Op{op}})
		}
	}
	return out
}

// Shrink reduces p, whose run differs with signature sig, to a smaller program
// whose run still does: delta debugging (ddmin) over the steps, then over the ops
// of each batch and multi, until nothing more can go or budget is spent. It
// returns the smallest failing program found and how many runs it took.
func (r *Runner) Shrink(p Program, sig string, budget time.Duration) (Program, int) {
	return shrink(p, func(c Program) bool {
		res := r.Run(c)
		return res.Err == nil && res.Diff != nil && res.Diff.Signature() == sig
	}, budget)
}

// shrink is Shrink with any test of failure.
func shrink(p Program, fails func(Program) bool, budget time.Duration) (Program, int) {
	deadline := time.Now().Add(budget)
	runs := 0
	test := fails
	fails = func(c Program) bool {
		runs++
		return test(c)
	}
	steps := p.Steps
	n := 2
	for len(steps) >= 2 && time.Now().Before(deadline) {
		chunk := (len(steps) + n - 1) / n
		reduced := false
		for start := 0; start < len(steps) && time.Now().Before(deadline); start += chunk {
			cand := slices.Concat(steps[:start], steps[min(len(steps), start+chunk):])
			if fails(Program{Steps: cand}) {
				steps, n, reduced = cand, max(n-1, 2), true
				break
			}
		}
		if !reduced {
			if n >= len(steps) {
				break
			}
			n = min(2*n, len(steps))
		}
	}
	// Then one op at a time, inside batches and multis.
	for i := 0; i < len(steps) && time.Now().Before(deadline); i++ {
		for j := 0; j < len(steps[i].Ops) && len(steps[i].Ops) > 1; {
			cand := slices.Clone(steps)
			cand[i].Ops = slices.Delete(slices.Clone(steps[i].Ops), j, j+1)
			if fails(Program{Steps: cand}) {
				steps = cand
			} else {
				j++
			}
		}
		for j := range steps[i].Ops {
			for k := 0; k < len(steps[i].Ops[j].Sub) && time.Now().Before(deadline); {
				cand := slices.Clone(steps)
				cand[i].Ops = slices.Clone(steps[i].Ops)
				cand[i].Ops[j].Sub = slices.Delete(slices.Clone(steps[i].Ops[j].Sub), k, k+1)
				if fails(Program{Steps: cand}) {
					steps = cand
				} else {
					k++
				}
			}
		}
	}
	return Program{Steps: steps}, runs
}
