package chaos

import (
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/ensembleproc"
)

// A nemesis does harm, holds it for a while, and undoes it (restart what it killed,
// continue what it stopped, heal what it cut).
type nemesis struct {
	name string
	run  func(r *run, hold time.Duration)
}

var nemeses = []nemesis{
	{"kill -9 a member", func(r *run, hold time.Duration) { r.killAndRestart(r.anyMember(), hold) }},
	{"kill -9 the leader", func(r *run, hold time.Duration) { r.killAndRestart(r.leader(), hold) }},
	{"kill -9 all", func(r *run, hold time.Duration) { r.killAndRestart(-1, hold) }},
	{"SIGSTOP a member", func(r *run, hold time.Duration) { r.pauseAndResume(r.anyMember(), hold) }},
	{"SIGSTOP the leader", func(r *run, hold time.Duration) { r.pauseAndResume(r.leader(), hold) }},
	{"SIGSTOP all", func(r *run, hold time.Duration) { r.pauseAndResume(-1, min(hold, 2*time.Second)) }},
	{"restart (SIGTERM) a member", func(r *run, hold time.Duration) {
		i := r.anyMember()
		r.h.fault("SIGTERM member %d%s", i+1, r.role(i))
		r.e.Stop(i)
		r.e.Restart(i)
		r.h.fault("member %d restarted", i+1)
	}},
	{"isolate the leader", func(r *run, hold time.Duration) {
		l := r.leader()
		r.h.fault("partition: member %d (leader) cut from the others", l+1)
		r.e.Net.Isolate(l)
		time.Sleep(hold)
		r.e.Net.Heal()
		r.h.fault("partition healed")
	}},
	{"isolate a follower", func(r *run, hold time.Duration) {
		l := r.leader()
		f := (l + 1 + r.rng.IntN(len(r.e.Members)-1)) % len(r.e.Members)
		r.h.fault("partition: member %d (follower) cut from the others", f+1)
		r.e.Net.Isolate(f)
		time.Sleep(hold)
		r.e.Net.Heal()
		r.h.fault("partition healed")
	}},
	{"split minority/majority", func(r *run, hold time.Duration) {
		perm := r.rng.Perm(len(r.e.Members))
		cut := len(perm) / 2
		minority, majority := perm[:cut], perm[cut:]
		r.h.fault("partition: members %v | %v", ids(minority), ids(majority))
		r.e.Net.Partition(minority, majority)
		time.Sleep(hold)
		r.e.Net.Heal()
		r.h.fault("partition healed")
	}},
	{"reconfig: remove a follower and add it back", func(r *run, hold time.Duration) { r.reconfigFollower(hold) }},
	{"isolate a follower past the session timeout", func(r *run, _ time.Duration) {
		// Its clients must move to the others before their sessions expire.
		l := r.leader()
		f := (l + 1 + r.rng.IntN(len(r.e.Members)-1)) % len(r.e.Members)
		r.h.fault("partition: member %d (follower) cut from the others for %v", f+1, sessionTimeout+2*time.Second)
		r.e.Net.Isolate(f)
		time.Sleep(sessionTimeout + 2*time.Second)
		r.e.Net.Heal()
		r.h.fault("partition healed")
	}},
	{"full disk on a member", func(r *run, hold time.Duration) { r.fullDisk(r.anyMember(), hold) }},
	{"full disk on the leader", func(r *run, hold time.Duration) { r.fullDisk(r.leader(), hold) }},
}

// needsDisk are the nemeses that need Options.DiskMB (root).
func needsDisk(n nemesis) bool { return strings.HasPrefix(n.name, "full disk") }

// selectNemeses keeps those whose name contains one of the comma-separated words
// (CHAOS_NEMESES), and drops the full-disk ones without root.
func selectNemeses(from []nemesis, words string, root bool) []nemesis {
	var out []nemesis
	for _, n := range from {
		if needsDisk(n) && !root {
			continue
		}
		keep := words == ""
		for _, w := range strings.Split(words, ",") {
			if w = strings.TrimSpace(w); w != "" && strings.Contains(n.name, w) {
				keep = true
			}
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

func (r *run) fullDisk(i int, hold time.Duration) {
	r.h.fault("disk full on member %d%s", i+1, r.role(i))
	if err := r.e.FillDisk(i); err != nil {
		r.t.Fatalf("fill member %d's disk: %v", i+1, err)
	}
	time.Sleep(hold)
	if err := r.e.FreeDisk(i); err != nil {
		r.t.Fatalf("free member %d's disk: %v", i+1, err)
	}
	r.h.fault("disk of member %d freed", i+1)
}

// reapExited restarts members that ended by themselves, each a violation: a member
// must ride out every fault here (a full disk included) without exiting.
func (r *run) reapExited() {
	for i := range r.e.Members {
		if r.e.Exited(i) {
			out := r.e.Reap(i)
			r.h.violation("member %d exited by itself: %s", i+1, ensembleproc.Tail(out, 1500))
			r.e.Restart(i)
			r.h.fault("member %d (exited) restarted", i+1)
		}
	}
}

func ids(is []int) []int {
	out := make([]int, len(is))
	for k, i := range is {
		out[k] = i + 1
	}
	return out
}

func (r *run) anyMember() int { return r.rng.IntN(len(r.e.Members)) }

// leader is the current leader, waiting for one (a history whose ensemble does not
// elect one within 30s fails).
func (r *run) leader() int { return r.e.Leader(30 * time.Second) }

func (r *run) role(i int) string {
	if s, err := ensembleproc.Srvr(r.e.Members[i].ClientAddr); err == nil {
		return " (" + s.Mode + ")"
	}
	return ""
}

func (r *run) targets(i int) []int {
	if i >= 0 {
		return []int{i}
	}
	all := make([]int, len(r.e.Members))
	for k := range all {
		all[k] = k
	}
	return all
}

func (r *run) killAndRestart(i int, hold time.Duration) {
	ts := r.targets(i)
	for _, t := range ts {
		r.h.fault("kill -9 member %d%s", t+1, r.role(t))
		r.e.Kill(t)
	}
	time.Sleep(hold)
	r.e.Restart(ts...)
	r.h.fault("members %v restarted", ids(ts))
}

func (r *run) pauseAndResume(i int, hold time.Duration) {
	ts := r.targets(i)
	for _, t := range ts {
		r.h.fault("SIGSTOP member %d%s", t+1, r.role(t))
		r.e.Pause(t)
	}
	time.Sleep(hold)
	for _, t := range ts {
		r.e.Resume(t)
	}
	r.h.fault("SIGCONT members %v", ids(ts))
}

// reconfigFollower removes a follower with an incremental reconfig through another
// member, then adds it back, both retried until they succeed (bounded).
func (r *run) reconfigFollower(hold time.Duration) {
	l := r.leader()
	f := (l + 1 + r.rng.IntN(len(r.e.Members)-1)) % len(r.e.Members)
	m := r.e.Members[f]
	r.h.fault("reconfig: remove member %d (follower)", f+1)
	if !r.reconfig(func(c *zk.Conn) error {
		_, err := c.IncrementalReconfig(nil, []string{strconv.Itoa(m.ID)}, -1)
		return err
	}) {
		r.h.violation("reconfig removing member %d did not succeed within 30s", f+1)
		return
	}
	r.h.fault("reconfig: member %d removed", f+1)
	time.Sleep(hold)
	if !r.reconfig(func(c *zk.Conn) error {
		_, err := c.IncrementalReconfig([]string{r.e.ServerLine(m)}, nil, -1)
		return err
	}) {
		r.h.violation("reconfig adding member %d back did not succeed within 30s", f+1)
		return
	}
	r.h.fault("reconfig: member %d added back", f+1)
}

func (r *run) reconfig(op func(*zk.Conn) error) bool {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		c, _, err := dial(r.e.Addrs(), r.rng)
		if err == nil {
			if err = c.AddAuth("digest", []byte(superUser)); err == nil {
				err = op(c)
			}
			c.Close()
		}
		if err == nil {
			return true
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	r.h.fault("reconfig gave up: %v", last)
	return false
}
