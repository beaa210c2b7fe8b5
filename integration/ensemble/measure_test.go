package ensemble_it

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEnsembleMeasure measures a 3-member ensemble (tickTime 200ms): write
// unavailability over repeated kill -9 of the leader under a 4-writer load, and the
// time a stopped member takes to catch up with znodes written while it was down.
// With ZKRAFT_MEASURE=1 it does 10 kills and 100k znodes (minutes); otherwise 2
// kills and 3000 znodes, with the same correctness checks.
//
//	ZKRAFT_MEASURE=1 go test -run TestEnsembleMeasure -v -timeout 30m ./integration/ensemble/
func TestEnsembleMeasure(t *testing.T) {
	kills, znodes, settle := 2, 3000, 500*time.Millisecond
	if os.Getenv("ZKRAFT_MEASURE") == "1" {
		kills, znodes, settle = 10, 100_000, time.Second
	}
	e := startEnsemble(t, options{N: 3})

	var gaps, firsts, elections []time.Duration
	for r := range kills {
		leader := e.Leader(15 * time.Second)
		load := startLoad(t, e, fmt.Sprintf("/round%02d", r), 4)
		time.Sleep(settle)
		kill := time.Now()
		e.Kill(leader)
		newLeader := e.Leader(15 * time.Second)
		elections = append(elections, time.Since(kill))
		load.waitResumed(t, kill, settle, 20*time.Second)
		load.halt()
		acks := load.snapshot()
		gap, first := unavailability(acks, kill, kill.Add(-settle), time.Now())
		gaps, firsts = append(gaps, gap), append(firsts, first)
		t.Logf("kill %d: leader %d killed, member %d leads after %v; unavailability %v; %d writes acknowledged; errors: %s",
			r+1, leader+1, newLeader+1, elections[r].Round(time.Millisecond), gap.Round(time.Millisecond), len(acks), load.errSummary())
		for _, i := range e.Live() {
			checkAcked(t, e, i, load.dir, acks)
		}
		e.Restart(leader)
		e.WaitZxidMatch(leader, 60*time.Second)
		checkAcked(t, e, leader, load.dir, acks)
		if t.Failed() {
			t.FailNow()
		}
	}

	// Catch-up: stop a follower, write znodes, restart it.
	leader := e.Leader(15 * time.Second)
	f := (leader + 1) % 3
	e.Stop(f)
	snapsBefore := raftSnapshots(t, e.Members[f])
	buckets, wrote := bulkCreate(t, e.Addrs(), "/bulk", znodes, 8, 16)
	ls, _ := srvr(e.Members[leader].ClientAddr)
	start := time.Now()
	e.Restart(f)
	serving := time.Since(start)
	e.WaitZxidMatch(f, 5*time.Minute)
	caughtUp := time.Since(start)
	checkBuckets(t, e, f, buckets, znodes)
	fs, _ := srvr(e.Members[f].ClientAddr)
	installed := maxIndex(raftSnapshots(t, e.Members[f])) > maxIndex(snapsBefore)

	t.Logf("MEASURE leader kill -9, 3 members, tickTime 200ms, 4 writers: kills=%d unavailability median=%v max=%v (all %v); leader elected after median=%v max=%v; first write acknowledged after the kill median=%v",
		kills, median(gaps), slices.Max(gaps).Round(time.Millisecond), roundAll(gaps), median(elections), slices.Max(elections).Round(time.Millisecond), median(firsts))
	t.Logf("MEASURE catch-up: %d znodes written in %v (%.0f creates/s, 8 sessions × 16 in flight) while member %d was stopped; restarted: serving after %v, srvr Zxid equal to the leader's (%#x, %d nodes) after %v; snapshot installed: %v",
		znodes, wrote.Round(time.Millisecond), float64(znodes)/wrote.Seconds(), f+1, serving.Round(time.Millisecond), ls.Zxid, fs.Nodes, caughtUp.Round(time.Millisecond), installed)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2].Round(time.Millisecond)
	}
	return ((s[len(s)/2-1] + s[len(s)/2]) / 2).Round(time.Millisecond)
}

func roundAll(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}
