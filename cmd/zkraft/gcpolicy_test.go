package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestTuneGC: the policy sets a soft memory limit as it starts; after a GC the limit
// is the live heap plus at least minHeadroom (a sixteenth of it when that is more);
// stop lifts it; an operator's GOGC turns the policy off.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	stop := tuneGC()
	if limit() == math.MaxInt64 {
		t.Fatal("no memory limit as the policy starts")
	}
	live := make([]byte, 8<<20) // a live heap the limit must cover after the next cycle
	deadline := time.Now().Add(10 * time.Second)
	for limit() < int64(len(live))+minHeadroom && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the cleanup runs on its own goroutine after the cycle
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	got := limit()
	if got == math.MaxInt64 {
		t.Fatal("no memory limit set after GCs")
	}
	if got < int64(len(live))+minHeadroom || got > int64(ms.Sys)+2*minHeadroom {
		t.Fatalf("limit %d MiB with %d MiB live and %d MiB from the OS", got>>20, len(live)>>20, ms.Sys>>20)
	}
	runtime.KeepAlive(live)
	stop()
	if limit() != math.MaxInt64 {
		t.Fatal("stop left the limit set")
	}

	t.Setenv("GOGC", "100")
	stop = tuneGC()
	runtime.GC()
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	if limit() != math.MaxInt64 {
		t.Fatal("the policy ran although GOGC is set")
	}
	stop()
}
