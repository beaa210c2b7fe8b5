package ensemble_it

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// raftSnapshots lists the term-index of the snapshots in a member's data directory
// (hashicorp raft names them term-index-millis).
func raftSnapshots(t testing.TB, m *member) []snapName {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(m.DataDir, "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []snapName
	for _, d := range ents {
		f := strings.Split(d.Name(), "-")
		if !d.IsDir() || len(f) != 3 || strings.HasSuffix(d.Name(), ".tmp") {
			continue
		}
		if _, err := os.Stat(filepath.Join(m.DataDir, "snapshots", d.Name(), "meta.json")); err != nil {
			continue // still being written
		}
		term, _ := strconv.ParseUint(f[0], 10, 64)
		index, _ := strconv.ParseUint(f[1], 10, 64)
		out = append(out, snapName{term, index})
	}
	return out
}

type snapName struct{ term, index uint64 }

func maxIndex(s []snapName) uint64 {
	var m uint64
	for _, x := range s {
		m = max(m, x.index)
	}
	return m
}

// A follower that is stopped while the leader snapshots and truncates its log past
// the follower's last entry can only catch up through an InstallSnapshot.
func TestEnsembleCatchUpThroughSnapshot(t *testing.T) {
	const snapCount = 100 // zoo.cfg SnapCount: Raft's SnapshotThreshold, and the log kept behind a snapshot
	e := startEnsemble(t, options{N: 3, SnapCount: snapCount, ClientForm: clientPortSuffix})
	leader := e.Leader(10 * time.Second)
	f := (leader + 1) % 3

	before, _ := bulkCreate(t, e.Addrs(), "/before", 50, 1, 4)
	e.WaitZxidMatch(f, 10*time.Second)
	e.Stop(f)
	ls, err := srvr(e.Members[leader].ClientAddr)
	if err != nil {
		t.Fatal(err)
	}
	// The follower's last Raft index is at most the leader's zxid now plus the few
	// entries that are not transactions (configuration, no-ops, barriers).
	const nonTxnSlack = 50
	followerLast := uint64(ls.Zxid) + nonTxnSlack

	// The log is kept in segment files of 8 MiB and compacted a whole segment at a
	// time: first fill the one that holds the follower's last entry, so that a
	// compaction can remove it.
	big, _ := connect(t, e.Addrs(), 10*time.Second, false)
	if _, err := big.Create("/big", nil, 0, openACL); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if _, err := big.Set("/big", make([]byte, 900<<10), -1); err != nil {
			t.Fatal(err)
		}
	}
	big.Close()
	const count = 1500
	buckets, took := bulkCreate(t, e.Addrs(), "/while-down", count, 4, 4)
	t.Logf("wrote %d znodes in %v with member %d down", count, took.Round(time.Millisecond), f+1)

	// Wait for a leader snapshot far enough past the follower's end that the log it
	// would need has been compacted: compaction keeps snapCount entries behind a
	// snapshot, so index ≥ followerLast+2×snapCount+1 guarantees it.
	need := followerLast + 2*snapCount + 1
	deadline := time.Now().Add(20 * time.Second)
	for maxIndex(raftSnapshots(t, e.Members[leader])) < need {
		if time.Now().After(deadline) {
			t.Fatalf("leader has no snapshot at index ≥ %d within 20s: %v", need, raftSnapshots(t, e.Members[leader]))
		}
		time.Sleep(50 * time.Millisecond)
	}
	leaderSnaps := raftSnapshots(t, e.Members[leader])
	t.Logf("leader snapshots %v; follower's last index ≤ %d", leaderSnaps, followerLast)

	start := time.Now()
	e.Restart(f)
	served := time.Since(start)
	caught := e.WaitZxidMatch(f, 30*time.Second)
	t.Logf("member %d restarted: serving after %v, zxid equal to the leader's %v later", f+1, served.Round(time.Millisecond), caught.Round(time.Millisecond))

	// It installed a snapshot beyond its own end: one as far as the leader's.
	fs := raftSnapshots(t, e.Members[f])
	if maxIndex(fs) < need {
		t.Errorf("follower snapshots %v: none at index ≥ %d (no snapshot was installed?)", fs, need)
	}
	checkBuckets(t, e, f, buckets, count)
	checkBuckets(t, e, f, before, 50)
	for _, i := range e.Live() {
		if i != f {
			checkBuckets(t, e, i, buckets, count)
		}
	}
	// The caught-up member takes part in the ensemble: a write through it lands everywhere.
	c, _ := connect(t, []string{e.Members[f].ClientAddr}, 10*time.Second, false)
	if _, err := c.Create("/after-install", nil, 0, openACL); err != nil {
		t.Fatalf("write through the caught-up member: %v", err)
	}
	e.WaitZxidMatch(f, 10*time.Second)
}
