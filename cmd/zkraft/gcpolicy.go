package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A serving process's heap is mostly its data tree, which is pointer-free
// (storage/datatree): a GC cycle costs about the same whatever the tree's size. Go's
// default (GOGC=100) still lets the heap grow to twice what is live before it
// collects, so a node holding a 250 MiB tree would sit near 500 MiB. tuneGC bounds
// the headroom instead: after each GC it sets the soft memory limit to the live heap
// plus a sixteenth of it (at least minHeadroom), plus what the runtime holds outside
// the heap. A large tree's process stays within about 1.06 times of it (a cycle
// every sixteenth of the tree allocated: with a pointer-free tree, a few milliseconds
// of CPU), and a small one collects as rarely as with GOGC=100 (its goal is below the
// limit). An operator's GOGC or GOMEMLIMIT turns it off. With 1M znodes of 100 B
// (243 MiB live) an eighth and at least 64 MiB left the RSS at 326 MiB; this leaves
// 266 MiB, at the same build and setData rates within the noise (December 2026).
const (
	minHeadroom   = 16 << 20
	headroomShare = 16
)

// gcSentinel is allocated for each GC cycle and watched with a cleanup that runs
// once the cycle found it unreachable (large enough not to share a tiny-allocator
// block, which could keep it alive).
type gcSentinel struct {
	_ [4]*byte
}

// tuneGC starts the policy unless the environment sets GOGC or GOMEMLIMIT; stop
// ends it and lifts the limit.
func tuneGC() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	var (
		mu      sync.Mutex
		stopped bool
		arm     func()
	)
	arm = func() {
		runtime.AddCleanup(new(gcSentinel), func(struct{}) {
			mu.Lock()
			defer mu.Unlock()
			if !stopped {
				limit, _ := gcLimit()
				debug.SetMemoryLimit(limit)
				arm()
			}
		}, struct{}{})
	}
	arm()
	// At once too: the policy starts when a restart has grown the heap with
	// GOGC=100, and a process that then goes idle may not collect again for a
	// long while. If the runtime holds more than the limit allows, a collection
	// now, returning what it frees, gives the limit its figures and the memory
	// back (not on a small node: it cost an empty node's start ~10 ms).
	limit, held := gcLimit()
	if held > limit {
		debug.FreeOSMemory()
		limit, _ = gcLimit()
	}
	mu.Lock()
	debug.SetMemoryLimit(limit)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

var gcSamples = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
}

// gcLimit is the memory limit for the heap as the last GC left it, and what the
// runtime holds from the OS now (what the limit bounds).
func gcLimit() (limit, held int64) {
	s := make([]metrics.Sample, len(gcSamples))
	for i, name := range gcSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	live := v(0)
	heap := v(2) + v(3) + v(4) + v(5)
	var nonHeap uint64
	if t := v(1); t > heap {
		nonHeap = t - heap
	}
	return int64(live + max(live/headroomShare, minHeadroom) + nonHeap), int64(v(1) - v(5))
}
