package ensemble_it

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// A 3-member ensemble whose files give the client port with clientPort=.
func TestEnsemble3LeaderKill(t *testing.T) {
	testLeaderKill(t, options{N: 3, ClientForm: clientPortKey})
}

// A 5-member ensemble whose server lines carry the client port (;127.0.0.1:port).
func TestEnsemble5LeaderKill(t *testing.T) {
	testLeaderKill(t, options{N: 5, ClientForm: clientPortSuffix})
}

func testLeaderKill(t *testing.T, o options) {
	e := startEnsemble(t, o)
	n := len(e.Members)
	for i, m := range e.Members {
		s, err := srvr(m.ClientAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("member %d on %s: Mode: %s", i+1, m.ClientAddr, s.Mode)
	}
	leader := e.Leader(10 * time.Second)
	modes := map[string]int{}
	for _, m := range e.Members {
		s, _ := srvr(m.ClientAddr)
		modes[s.Mode]++
	}
	if modes["leader"] != 1 || modes["follower"] != n-1 {
		t.Fatalf("modes %v, want one leader and %d followers", modes, n-1)
	}

	// A write on any member is visible on every member after sync.
	for i, m := range e.Members {
		c, _ := connect(t, []string{m.ClientAddr}, 10*time.Second, false)
		if _, err := c.Create(fmt.Sprintf("/on%d", i+1), []byte{byte(i)}, 0, openACL); err != nil {
			t.Fatalf("create through member %d: %v", i+1, err)
		}
		c.Close()
	}
	for i, m := range e.Members {
		c, _ := connect(t, []string{m.ClientAddr}, 10*time.Second, false)
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("sync on member %d: %v", i+1, err)
		}
		for j := range e.Members {
			d, _, err := c.Get(fmt.Sprintf("/on%d", j+1))
			if err != nil || len(d) != 1 || d[0] != byte(j) {
				t.Fatalf("member %d reads /on%d = %v, %v after sync", i+1, j+1, d, err)
			}
		}
		c.Close()
	}

	// Sessions on the leader and on a follower, with a timeout well above the failover
	// time: their ephemerals must survive, and the leader's client must carry its
	// session and watches to another member.
	follower := (leader + 1) % n
	order := func(first int) []string {
		a := e.Addrs()
		return append([]string{a[first]}, slices.Delete(slices.Clone(a), first, first+1)...)
	}
	const longSession = 8 * time.Second
	lc, _ := connect(t, order(leader), longSession, true)
	if lc.Server() != e.Members[leader].ClientAddr {
		t.Fatalf("leader's client connected to %s, want %s", lc.Server(), e.Members[leader].ClientAddr)
	}
	fc, _ := connect(t, order(follower), longSession, true)
	if _, err := lc.Create("/watched", []byte("0"), 0, openACL); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		c *zk.Conn
		p string
	}{{lc, "/eph-leader-client"}, {fc, "/eph-follower-client"}} {
		if _, err := x.c.Create(x.p, nil, zk.FlagEphemeral, openACL); err != nil {
			t.Fatal(err)
		}
	}
	_, _, dataW, err := lc.GetW("/watched")
	if err != nil {
		t.Fatal(err)
	}
	ok, _, createW, err := lc.ExistsW("/created-later")
	if err != nil || ok {
		t.Fatalf("exists /created-later: %v %v", ok, err)
	}
	runLoadAndKill(t, e, leader, lc, fc, dataW, createW)
}

func runLoadAndKill(t *testing.T, e *ensemble, leader int, lc, fc *zk.Conn, dataW, createW <-chan zk.Event) {
	sid := lc.SessionID()
	killedAddr := e.Members[leader].ClientAddr

	load := startLoad(t, e, "/load", 4)
	time.Sleep(time.Second)
	before := len(load.snapshot())
	if before == 0 {
		t.Fatalf("no write acknowledged in 1s of load (errors: %s)", load.errSummary())
	}
	kill, newLeader, elected := killLeader(t, e, leader)
	load.waitResumed(t, kill, time.Second, 20*time.Second)
	load.halt()
	end := time.Now()
	acks := load.snapshot()
	gap, first := unavailability(acks, kill, kill.Add(-time.Second), end)
	t.Logf("%d members, tickTime %dms: killed leader %d; member %d reports leader %v later; first write acknowledged %v after the kill; write unavailability (longest gap between acknowledged writes) %v; %d writes acknowledged (%d before the kill); errors: %s",
		len(e.Members), e.Opts.TickMs, leader+1, newLeader+1, elected.Round(time.Millisecond), first.Round(time.Millisecond), gap.Round(time.Millisecond), len(acks), before, load.errSummary())
	if gap >= 8*time.Second {
		t.Errorf("write unavailability %v is not below the 8s session timeout", gap)
	}

	// The leader's client is back on another member with the same session.
	retry(t, 15*time.Second, "leader's client after failover", func() error {
		if lc.State() != zk.StateHasSession {
			return fmt.Errorf("state %v", lc.State())
		}
		_, err := lc.Sync("/")
		return err
	})
	if lc.SessionID() != sid {
		t.Fatalf("leader's client has session %#x after failover, want %#x", lc.SessionID(), sid)
	}
	if lc.Server() == killedAddr {
		t.Fatalf("leader's client reports the killed member %s", killedAddr)
	}
	// Its watches, set before the kill, fire for changes made after it.
	if _, err := fc.Set("/watched", []byte("1"), -1); err != nil {
		t.Fatalf("set /watched: %v", err)
	}
	if _, err := fc.Create("/created-later", nil, 0, openACL); err != nil {
		t.Fatalf("create /created-later: %v", err)
	}
	if ev := waitEvent(t, dataW, 10*time.Second, "data watch set before the kill"); ev.Type != zk.EventNodeDataChanged || ev.Path != "/watched" {
		t.Fatalf("data watch: %+v", ev)
	}
	if ev := waitEvent(t, createW, 10*time.Second, "exists watch set before the kill"); ev.Type != zk.EventNodeCreated || ev.Path != "/created-later" {
		t.Fatalf("exists watch: %+v", ev)
	}

	// Nothing acknowledged is lost, on any surviving member; ephemerals of live
	// sessions are still there.
	for _, i := range e.Live() {
		checkAcked(t, e, i, "/load", acks)
		checkEphemerals(t, e, i, lc.SessionID(), fc.SessionID())
	}

	// The old leader comes back and catches up.
	e.Restart(leader)
	took := e.WaitZxidMatch(leader, 30*time.Second)
	s, _ := srvr(killedAddr)
	t.Logf("restarted member %d: Mode: %s, zxid %#x equal to the leader's %v after it served", leader+1, s.Mode, s.Zxid, took.Round(time.Millisecond))
	checkAcked(t, e, leader, "/load", acks)
	checkEphemerals(t, e, leader, lc.SessionID(), fc.SessionID())
}

func checkEphemerals(t *testing.T, e *ensemble, i int, owners ...int64) {
	t.Helper()
	c, _ := connect(t, []string{e.Members[i].ClientAddr}, 10*time.Second, false)
	defer c.Close()
	if _, err := c.Sync("/"); err != nil {
		t.Fatalf("member %d: sync: %v", i+1, err)
	}
	for k, p := range []string{"/eph-leader-client", "/eph-follower-client"} {
		ok, st, err := c.Exists(p)
		if err != nil || !ok {
			t.Errorf("member %d: ephemeral %s of a live session: exists=%v err=%v", i+1, p, ok, err)
			continue
		}
		if st.EphemeralOwner != owners[k] {
			t.Errorf("member %d: %s owner %#x, want %#x", i+1, p, st.EphemeralOwner, owners[k])
		}
	}
}

// TestLeaderKillNoticedAtOnce: the followers of a leader killed with SIGKILL learn
// it from their link to it (leaderlink.go), as ZooKeeper's followers do from their
// connection, and elect the next leader without waiting out a heartbeat timeout: with
// tickTime 2000 none can fire before 2 s after the kill, yet a new leader serves
// well before (an election takes tens of milliseconds). Twice, in 5 members: the
// second leader's followers link to it though no client sends them anything.
func TestLeaderKillNoticedAtOnce(t *testing.T) {
	const tick = 2000
	e := startEnsemble(t, options{N: 5, TickMs: tick, LogLevel: "info"})
	leader := e.Leader(20 * time.Second)
	for round := 1; round <= 2; round++ {
		// The followers link to the leader within half a tick of learning of it.
		time.Sleep(tick * time.Millisecond)
		_, newLeader, elected := killLeader(t, e, leader)
		t.Logf("kill %d, tickTime %dms: member %d leads %v after it", round, tick, newLeader+1, elected.Round(time.Millisecond))
		if elected >= tick*time.Millisecond {
			t.Fatalf("kill %d: member %d leads %v after it: the followers waited for their heartbeat timeout (%dms)", round, newLeader+1, elected, tick)
		}
		leader = newLeader
	}
	noticed := 0
	for _, m := range e.Members {
		if m.Proc != nil { // not killed
			noticed += strings.Count(m.Proc.Output(), "the leader's process is gone")
		}
	}
	if noticed < 2 {
		t.Fatalf("%d followers logged that the leader's process was gone", noticed)
	}
}

// killLeader kills member leader with SIGKILL and waits for another to lead: when it
// killed it, who leads now, and how long after the kill that member said so.
func killLeader(t *testing.T, e *ensemble, leader int) (kill time.Time, newLeader int, elected time.Duration) {
	t.Helper()
	kill = time.Now()
	e.Kill(leader)
	newLeader = e.Leader(15 * time.Second)
	elected = time.Since(kill)
	if newLeader == leader {
		t.Fatalf("killed member %d still leads", leader+1)
	}
	return kill, newLeader, elected
}
