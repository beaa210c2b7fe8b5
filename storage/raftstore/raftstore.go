// Package raftstore opens the stores hashicorp/raft keeps on disk: the log and stable
// store (raft-boltdb on bbolt, fsynced on every append) and the snapshot files. It is
// the one place that chooses them. It adds what they lack: a checksum on every log
// entry, stable value and snapshot's metadata, a check of all of them at start, and a
// latch that stops all writing after a write or fsync fails (see faults.go for which
// failures are safe to retry).
package raftstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
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
	latch    *latch
}

// Close releases the log database. Snapshot files need no closing.
func (s *Stores) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// Failed is closed when a write failed in a way that stops all writing, or a log
// entry read while raft runs was damaged; Err then says which (a *WriteError or a
// *CorruptError). It is nil, never closed, for stores in memory.
func (s *Stores) Failed() <-chan struct{} {
	if s.latch == nil {
		return nil
	}
	return s.latch.failed
}

// Err is the write error that stopped writing, or nil.
func (s *Stores) Err() error {
	if s.latch == nil {
		return nil
	}
	return s.latch.get()
}

// RaftStarting tells the stores that raft's goroutines are about to use them (call
// it after raft.BootstrapCluster and before raft.NewRaft): from then on, a failed
// write of the current term stops writing and ends the goroutine that asked for it
// instead of returning an error that raft would panic on.
func (s *Stores) RaftStarting() {
	if c, ok := s.Stable.(*checkedStore); ok {
		c.raftRunning.Store(true)
	}
}

// RaftStarted tells the stores that raft.NewRaft has returned: from then on, a log
// entry found damaged on a read stops the member (Failed, Err) and ends the
// goroutine that read it, where raft would panic or retry the read for ever.
func (s *Stores) RaftStarted() {
	if c, ok := s.Log.(*checkedStore); ok {
		c.raftStarted.Store(true)
	}
}

// retainSnapshots is how many snapshot files are kept; older ones are removed.
const retainSnapshots = 2

// Options are Open's optional settings.
type Options struct {
	// LogDir, when not empty, holds raft.db instead of the data directory (zoo.cfg's
	// dataLogDir: put the log on its own disk).
	LogDir string
	// LogOutput receives the snapshot store's log lines.
	LogOutput io.Writer
	// WriteHook, for fault-injection tests only, runs around every write.
	WriteHook WriteHook
}

// Open opens (creating if needed) the stores under dir: raft.db for the log and stable
// state, snapshots/ for snapshot files. It checks every log entry, stable value and
// snapshot first, and fails with a *CorruptError (wrapping ErrCorrupt) that names
// the file if one is damaged.
func Open(dir string, opts Options) (*Stores, error) {
	logDir := opts.LogDir
	if logDir == "" {
		logDir = dir
	}
	if opts.LogOutput == nil {
		opts.LogOutput = io.Discard
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
		// for bbolt's file lock. The freelist is not written with every commit (one
		// page write less per Raft append; bbolt rebuilds it from the pages when it
		// opens the file, and reads a file that has one either way).
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open raft log %q: locked by another process (is another zkraft running on this data directory?)", dbPath)
		}
		if errors.Is(err, bbolt.ErrInvalid) || errors.Is(err, bbolt.ErrChecksum) || errors.Is(err, bbolt.ErrVersionMismatch) {
			return nil, &CorruptError{Path: dbPath, What: err.Error()}
		}
		return nil, fmt.Errorf("open raft log %q: %w", dbPath, err)
	}
	l := newLatch(opts.WriteHook)
	logs := &checkedStore{inner: db, path: dbPath, latch: l}
	inner, err := raft.NewFileSnapshotStore(dir, retainSnapshots, opts.LogOutput)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open snapshot store in %q: %w", dir, err)
	}
	snaps := &snapshotStore{inner: inner, dir: filepath.Join(dir, "snapshots"), latch: l}
	if err := check(dbPath, func() error {
		if err := logs.load(); err != nil {
			return err
		}
		// Raft restores the newest snapshot and reads the log only past it.
		var snapIndex uint64
		if metas, err := inner.List(); err == nil && len(metas) > 0 {
			snapIndex = metas[0].Index
		}
		if err := logs.verify(snapIndex); err != nil {
			return err
		}
		return snaps.verify()
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Stores{Log: logs, Stable: logs, Snapshot: snaps, closer: db, latch: l}, nil
}

// check runs the verification, turning a panic of bbolt on a damaged page (or a fault
// reading its memory map) into a CorruptError.
func check(dbPath string, verify func() error) (err error) {
	done := make(chan struct{})
	go func() { // its own goroutine: SetPanicOnFault is per goroutine
		defer close(done)
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				err = &CorruptError{Path: dbPath, What: fmt.Sprintf("reading it failed: %v", r)}
			}
		}()
		err = verify()
	}()
	<-done
	return err
}

// InMemory returns stores that live in memory only: for tests and throwaway nodes.
func InMemory() *Stores {
	mem := raft.NewInmemStore()
	return &Stores{Log: mem, Stable: mem, Snapshot: raft.NewInmemSnapshotStore()}
}
