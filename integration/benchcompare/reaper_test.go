package benchcompare

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// reaper kills what the run started when make bench-compare is interrupted: the
// servers and zkraft bench run in process groups of their own, which a terminal's
// SIGINT does not reach (the JVMs would die with the test binary by Pdeathsig; the
// zkraft processes would not).
type reaper struct {
	mu    sync.Mutex
	next  int
	kills map[int]func()
}

// watchSignals installs the handler until the test ends.
func watchSignals(t *testing.T) *reaper {
	r := &reaper{kills: map[int]func(){}}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case s := <-sigc:
			r.mu.Lock()
			for _, kill := range r.kills {
				kill()
			}
			r.mu.Unlock()
			fmt.Fprintf(os.Stderr, "bench-compare: %v: servers and clients killed\n", s)
			os.Exit(2)
		case <-quit:
		}
	}()
	t.Cleanup(func() { signal.Stop(sigc); close(quit); wg.Wait() })
	return r
}

// add registers kill until the returned function is called.
func (r *reaper) add(kill func()) (remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.next
	r.next++
	r.kills[id] = kill
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.kills, id)
	}
}

// killGroup is a kill function for the process group pgid.
func killGroup(pgid int) func() {
	return func() { syscall.Kill(-pgid, syscall.SIGKILL) }
}
