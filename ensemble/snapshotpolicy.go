package ensemble

import (
	"time"

	"github.com/zkraft/zkraft/storage/datatree"
)

// When to snapshot. ZooKeeper snapshots after snapCount transactions; so does zkraft,
// but a snapshot writes the whole tree while the log past it costs a restart only its
// own entries. With a large tree and a fixed count, writes pay for rewriting the tree
// over and over (a 1M-znode tree every 8,192 writes); with a fixed count checked
// rarely, the log past the snapshot grows with the write rate and a restart replays
// all of it (a 1M-znode fill left 1M entries and a 19 s restart). So the gap between
// snapshots is snapCount or a share of the tree, whichever is more: each write then
// pays for at most snapshotTreeShare znodes of snapshot, and a restart replays at most
// a 1/snapshotTreeShare of the tree's size in entries past the snapshot it loads.
// Raft checks the gap every snapshotCheck (to twice that), so it overshoots by at
// most that much of the write rate.
const (
	snapshotTreeShare = 10
	snapshotCheck     = 250 * time.Millisecond
	// snapshotRetune is how often the gap follows the tree's size.
	snapshotRetune = time.Second
)

// snapshotGap is how many entries pass between snapshots of a tree of nodes znodes.
func snapshotGap(snapCount uint64, nodes int) uint64 {
	return max(snapCount, uint64(nodes)/snapshotTreeShare)
}

// tuneSnapshots keeps Raft's snapshot threshold at snapshotGap of the tree's size.
// The entries kept behind a snapshot follow it: a follower that far behind catches
// up from the log, as a ZooKeeper follower gets a DIFF while the log is small next to
// the snapshot; one further behind is sent the snapshot.
func (s *Server) tuneSnapshots() {
	tick := time.NewTicker(snapshotRetune)
	defer tick.Stop()
	for {
		var nodes int
		s.fsm.read(func(t *datatree.Tree) { nodes = t.NodeCount() })
		gap := snapshotGap(s.cfg.SnapshotThreshold, nodes)
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
