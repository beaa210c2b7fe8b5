// Package raftstore opens the stores hashicorp/raft keeps on disk: the log and stable
// store (raft-boltdb on bbolt, fsynced on every append) and the snapshot files. It is
// the one place that chooses them.
package raftstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Stores are what raft.NewRaft needs besides the FSM and the transport.
type Stores struct {
	Log      raft.LogStore
	Stable   raft.StableStore
	Snapshot raft.SnapshotStore
	closer   io.Closer
}

// Close releases the log database. Snapshot files need no closing.
func (s *Stores) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// retainSnapshots is how many snapshot files are kept; older ones are removed.
const retainSnapshots = 2

// Open opens (creating if needed) the stores under dir: raft.db for the log and stable
// state, snapshots/ for snapshot files. logDir, when not empty, holds raft.db instead
// (zoo.cfg's dataLogDir: put the log on its own disk).
func Open(dir, logDir string, logOutput io.Writer) (*Stores, error) {
	if logDir == "" {
		logDir = dir
	}
	for _, d := range []string{dir, logDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory %q: %w", d, err)
		}
	}
	dbPath := filepath.Join(logDir, "raft.db")
	db, err := raftboltdb.New(raftboltdb.Options{
		Path: dbPath,
		// A second server on the same directory fails fast instead of waiting forever
		// for bbolt's file lock.
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open raft log %q: locked by another process (is another zkraft running on this data directory?)", dbPath)
		}
		return nil, fmt.Errorf("open raft log %q: %w", dbPath, err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, retainSnapshots, logOutput)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open snapshot store in %q: %w", dir, err)
	}
	return &Stores{Log: db, Stable: db, Snapshot: snaps, closer: db}, nil
}

// InMemory returns stores that live in memory only: for tests and throwaway nodes.
func InMemory() *Stores {
	mem := raft.NewInmemStore()
	return &Stores{Log: mem, Stable: mem, Snapshot: raft.NewInmemSnapshotStore()}
}
