package ensemble

import (
	"time"

	"github.com/zkraft/zkraft/storage/datatree"
)

// When to snapshot. ZooKeeper snapshots after snapCount transactions (100,000 by
// default, at random from half that, so that members do not all snapshot at once);
// so does zkraft. But a snapshot writes the whole tree while the log past it costs a
// restart only its own entries: with a tree much larger than snapCount, writes would
// pay for rewriting it over and over. So the gap between snapshots is snapCount or a
// share of the tree, whichever is more: each write then pays for at most
// snapshotTreeShare znodes of snapshot (twice that with the jitter), and a restart
// replays at most that gap of entries past the snapshot it loads. Raft checks the gap
// every snapshotCheck (to twice that), so it overshoots by at most that much of the
// write rate. (Raft used to check every 10 ticks: a 1M-znode fill left the whole
// log, and a 19 s restart.)
const (
	defaultSnapCount  = 100_000
	snapshotTreeShare = 10
	snapshotCheck     = 250 * time.Millisecond
	// snapshotRetune is how often the gap follows the tree's size.
	snapshotRetune = time.Second
	// snapshotReadyWait bounds the wait for the replay at start.
	snapshotReadyWait = time.Minute
)

// snapshotGap is how many entries pass between snapshots of a tree of nodes znodes,
// before the member's jitter.
func snapshotGap(snapCount uint64, nodes int) uint64 {
	return max(snapCount, uint64(nodes)/snapshotTreeShare)
}

// jittered is gap scaled by the member's jitter, in [1/2, 1).
func jittered(gap uint64, jitter float64) uint64 {
	return max(1, uint64(float64(gap)*(0.5+jitter/2)))
}

// tuneSnapshots keeps Raft's snapshot threshold at the jittered snapshotGap of the
// tree's size, from when the member is ready (it has applied the log it started with,
// or caught up with the leader) or a minute has passed.
// The entries kept behind a snapshot follow it: a follower that far behind catches
// up from the log, as a ZooKeeper follower gets a DIFF while the log is small next to
// the snapshot; one further behind is sent the snapshot.
func (s *Server) tuneSnapshots() {
	wait := time.NewTimer(snapshotReadyWait)
	select {
	case <-s.ctx.Done():
		wait.Stop()
		return
	case <-s.ready:
	case <-wait.C: // a follower that cannot catch up snapshots all the same
	}
	wait.Stop()
	tick := time.NewTicker(snapshotRetune)
	defer tick.Stop()
	for {
		var nodes int
		s.fsm.read(func(t *datatree.Tree) { nodes = t.NodeCount() })
		gap := jittered(snapshotGap(s.cfg.SnapshotThreshold, nodes), s.snapJitter)
		if rc := s.raft.ReloadableConfig(); rc.SnapshotThreshold != gap {
			rc.SnapshotThreshold, rc.TrailingLogs = gap, gap
			if err := s.raft.ReloadConfig(rc); err != nil {
				s.log.Warn("snapshot threshold not changed", "threshold", gap, "err", err)
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
	}
}
