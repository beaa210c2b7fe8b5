package ensemble

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/storage/raftstore"
)

// Seeding a data directory with a tree (zkraft import, zkraft restore).
//
// A seeded directory holds one Raft snapshot and nothing else: Raft index 1, term 1,
// the configuration of cfg's servers (a development node's own, or the server lines
// of its zoo.cfg), and the stable store's current term 1. That is what
// raft.BootstrapCluster leaves, with the tree in a snapshot instead of an empty FSM:
// the node starts by restoring the snapshot (so HasExistingState is true and it does
// not bootstrap), elects itself or joins its peers in term 2, and goes on with Raft
// index 2.
//
// Raft indexes and zxids are independent. The tree carries its own zxid, the zxid of
// its last transaction; each later transaction gets the next one (datatree.Apply),
// whatever Raft index it is logged at. A tree imported from ZooKeeper keeps
// ZooKeeper's last zxid, epoch in the high 32 bits included, so a client that saw
// zxid Z on ZooKeeper is accepted (lastZxidSeen <= our zxid) and every zxid zkraft
// gives out afterwards is larger than any ZooKeeper gave; zkraft's zxid is one
// 64-bit counter that does not roll over into an epoch.
//
// Every member of an ensemble must be seeded from the same tree (it is written the
// same way on each) before any of them starts: a member started empty next to
// seeded ones would bootstrap an empty log of its own if it found no member
// running.

// ErrNotEmpty is returned by Seed for a data directory that holds anything but
// myid and zoo.cfg.
var ErrNotEmpty = errors.New("ensemble: data directory not empty")

// seedIndex and seedTerm place the seeded snapshot in Raft's log.
const (
	seedIndex = 1
	seedTerm  = 1
)

// Seed writes t as the starting state of the node cfg describes (its DataDir and
// DataLogDir, its server id and peers) into an empty data directory.
func Seed(cfg Config, t *datatree.Tree) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if cfg.DataDir == "" {
		return errors.New("ensemble: seed: no data directory")
	}
	for _, d := range []string{cfg.DataDir, cfg.DataLogDir} {
		if d == "" {
			continue
		}
		if err := checkEmpty(d); err != nil {
			return err
		}
	}
	stores, err := raftstore.Open(cfg.DataDir, raftstore.Options{LogDir: cfg.DataLogDir})
	if err != nil {
		return err
	}
	defer stores.Close()
	conf := cfg.bootConfiguration()
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	if err := stores.Stable.SetUint64([]byte("CurrentTerm"), seedTerm); err != nil {
		return fmt.Errorf("seed %s: %w", cfg.DataDir, err)
	}
	sink, err := stores.Snapshot.Create(raft.SnapshotVersionMax, seedIndex, seedTerm, conf, seedIndex, trans)
	if err != nil {
		return fmt.Errorf("seed %s: %w", cfg.DataDir, err)
	}
	if _, err := t.Snapshot().WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("seed %s: %w", cfg.DataDir, err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("seed %s: %w", cfg.DataDir, err)
	}
	return nil
}

// checkEmpty refuses a directory with anything in it but myid and zoo.cfg (which a
// member's dataDir holds before it first starts). A missing directory is empty.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case "myid", "zoo.cfg":
			continue
		}
		return fmt.Errorf("%w: %s holds %s; seed only a new, empty data directory", ErrNotEmpty, dir, e.Name())
	}
	return nil
}

// bootConfiguration is the Raft configuration a new ensemble of cfg bootstraps with.
func (c *Config) bootConfiguration() raft.Configuration {
	var boot raft.Configuration
	if len(c.Peers) <= 1 {
		id := raftID(c.ServerID)
		boot.Servers = []raft.Server{{ID: id, Address: standaloneAddr(id)}}
		return boot
	}
	for _, p := range c.Peers {
		suffrage := raft.Voter
		if p.Observer {
			suffrage = raft.Nonvoter
		}
		boot.Servers = append(boot.Servers, raft.Server{ID: raftID(p.ID), Address: raft.ServerAddress(p.PeerAddr), Suffrage: suffrage})
	}
	return boot
}

// standaloneAddr is the in-memory transport address of a development node.
func standaloneAddr(id raft.ServerID) raft.ServerAddress {
	return raft.ServerAddress("zkraft-" + string(id))
}

// ReadDataDir reads the state of a stopped node from its data directory: its newest
// snapshot and the log entries after it, applied as the node would apply them when
// it starts. A running node holds the directory's lock: ReadDataDir then fails
// (use Backup). On an ensemble member, the last entries of its log may not have been
// committed by a quorum yet: read the leader's directory, or take a backup.
func ReadDataDir(dataDir, dataLogDir string) (*datatree.Tree, error) {
	logDir := dataLogDir
	if logDir == "" {
		logDir = dataDir
	}
	if !raftstore.HasLog(logDir) {
		return nil, fmt.Errorf("%s is not a zkraft data directory (no wal/ nor raft.db)", logDir)
	}
	stores, err := raftstore.Open(dataDir, raftstore.Options{LogDir: dataLogDir})
	if err != nil {
		return nil, err
	}
	defer stores.Close()
	t := datatree.New()
	var from uint64
	metas, err := stores.Snapshot.List()
	if err != nil {
		return nil, err
	}
	if len(metas) > 0 {
		_, rc, err := stores.Snapshot.Open(metas[0].ID)
		if err != nil {
			return nil, err
		}
		t, err = datatree.Restore(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", metas[0].ID, err)
		}
		from = metas[0].Index
	}
	last, err := stores.Log.LastIndex()
	if err != nil {
		return nil, err
	}
	first, err := stores.Log.FirstIndex()
	if err != nil {
		return nil, err
	}
	if from+1 < first {
		return nil, fmt.Errorf("the Raft log starts at index %d, after the snapshot's %d", first, from)
	}
	for i := max(from+1, first); i <= last && i > 0; i++ {
		var l raft.Log
		if err := stores.Log.GetLog(i, &l); err != nil {
			return nil, fmt.Errorf("read Raft log entry %d: %w", i, err)
		}
		if l.Type != raft.LogCommand || (len(l.Data) > 0 && l.Data[0] == entryDigest) {
			continue // digest records change no state
		}
		_, txn, err := decodeTxn(l.Data)
		if err != nil {
			return nil, (&undecodableError{index: i, err: err})
		}
		t.Apply(txn)
	}
	return t, nil
}

// BackupInfo describes a backup Backup wrote.
type BackupInfo struct {
	Zxid     int64
	Nodes    int
	Sessions int
	Bytes    int64
}

// Backup writes a consistent snapshot of this node's tree to w, in the format of
// its Raft snapshots (storage/datatree, CRC-checked): the state after some committed
// transaction, taken without stopping writes. restore seeds a data directory with it.
func (s *Server) Backup(w io.Writer) (BackupInfo, error) {
	select {
	case <-s.ready:
	default:
		return BackupInfo{}, errors.New("ensemble: backup: the server is not serving yet")
	}
	if h := s.fsm.halted.Load(); h != nil {
		return BackupInfo{}, h
	}
	s.fsm.mu.Lock()
	snap := s.fsm.tree.Snapshot()
	s.fsm.mu.Unlock()
	defer snap.Release()
	n, err := snap.WriteTo(w)
	info := BackupInfo{Zxid: int64(snap.Zxid()), Nodes: snap.NodeCount(), Sessions: len(snap.Sessions()), Bytes: n}
	if err != nil {
		return info, fmt.Errorf("ensemble: backup: %w", err)
	}
	return info, nil
}
