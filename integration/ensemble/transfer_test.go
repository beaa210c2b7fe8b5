package ensemble_it

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// An operator moves leadership off a member with SIGUSR1: another member leads, the old
// leader keeps serving as a follower, and a clean SIGTERM of the new leader hands
// leadership on before it exits.
func TestEnsembleTransferLeadershipOnSignal(t *testing.T) {
	e := startEnsemble(t, options{N: 3, TickMs: 1000, LogLevel: "info"})
	old := e.Leader(15 * time.Second)
	e.Members[old].Proc.Signal(syscall.SIGUSR1)
	deadline := time.Now().Add(10 * time.Second)
	next := -1
	for next < 0 || next == old {
		if time.Now().After(deadline) {
			t.Fatalf("leadership did not move off member %d after SIGUSR1", old+1)
		}
		time.Sleep(20 * time.Millisecond)
		next = e.Leader(5 * time.Second)
	}
	if s, err := srvr(e.Members[old].ClientAddr); err != nil || s.Mode != "follower" {
		t.Fatalf("old leader after the transfer: %+v %v", s, err)
	}
	// A clean stop of the leader hands leadership over before it exits.
	proc := e.Members[next].Proc
	e.Stop(next)
	if out := proc.Output(); !strings.Contains(out, "leadership transferred before shutdown") {
		t.Fatalf("the stopped leader did not hand leadership over:\n%s", tail(out, 2000))
	}
	e.Leader(10 * time.Second)
}
