// Package raftstore opens the stores hashicorp/raft keeps on disk: the log and stable
// store (hashicorp/raft-wal: segment files fsynced on every append, and a small bbolt
// file) and the snapshot files. It is the one place that chooses them. It adds what
// they lack: a checksum on every log entry, stable value and snapshot's metadata, a
// check of all of them at start, and a latch that stops all writing after a write or
// fsync fails (see faults.go for which failures are safe to retry). A log written by
// older versions (raft.db, raft-boltdb) is moved into raft-wal once (migrate.go).
package raftstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/hashicorp/raft"
)

// Stores are what raft.NewRaft needs besides the FSM and the transport.
type Stores struct {
	Log      raft.LogStore
	Stable   raft.StableStore
	Snapshot raft.SnapshotStore
	closer   io.Closer
	latch    *latch
}

// Close releases the log. Snapshot files need no closing.
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
	if sn, ok := s.Snapshot.(*snapshotStore); ok {
		sn.dropPreloaded() // raft restored another snapshot, or none
	}
}

// Preloaded returns, once, what Options.Preload made of the snapshot that raft
// opened last: the FSM's restore of it takes that instead of reading the snapshot
// again. Nil when raft opened another snapshot, or after RaftStarted.
func (s *Stores) Preloaded() any {
	if sn, ok := s.Snapshot.(*snapshotStore); ok {
		return sn.takeOpened()
	}
	return nil
}

// retainSnapshots is how many snapshot files are kept; older ones are removed.
const retainSnapshots = 2

// Options are Open's optional settings.
type Options struct {
	// LogDir, when not empty, holds the log (wal/) instead of the data directory
	// (zoo.cfg's dataLogDir: put the log on its own disk).
	LogDir string
	// LogOutput receives the snapshot store's and the log's log lines.
	LogOutput io.Writer
	// WriteHook, for fault-injection tests only, runs around every write.
	WriteHook WriteHook
	// SegmentSize, for tests, is the size of the log's segment files (0: 8 MiB).
	SegmentSize int
	// Preload, when set, restores the newest snapshot while Open checks the log (a
	// restart spent most of its time in the two, one after the other), and raft's
	// restore of that snapshot gets its value through Stores.Preloaded. The
	// snapshot's CRC-64 is not computed then: Preload must check all it reads (the
	// tree's CRC-32C does), and an error it returns fails Open as a damaged snapshot.
	Preload func(io.Reader) (any, error)
}

// Open opens (creating if needed) the stores: wal/ under the log directory for the
// log and stable state, snapshots/ under dir for snapshot files. It moves a log of
// older versions (raft.db) into wal/ first. It checks every log entry, stable value
// and snapshot, and fails with a *CorruptError (wrapping ErrCorrupt) that names the
// file if one is damaged.
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
	l := newLatch(opts.WriteHook)
	inner, err := raft.NewFileSnapshotStore(dir, retainSnapshots, opts.LogOutput)
	if err != nil {
		return nil, fmt.Errorf("open snapshot store in %q: %w", dir, err)
	}
	snaps := &snapshotStore{inner: inner, dir: filepath.Join(dir, "snapshots"), latch: l}
	if err := removeUnfinished(snaps.dir); err != nil {
		return nil, err
	}
	// Raft restores the newest snapshot and reads the log only past it.
	var snapIndex uint64
	if metas, err := inner.List(); err == nil && len(metas) > 0 {
		snapIndex = metas[0].Index
	}
	walDir := filepath.Join(logDir, walDirName)
	if err := migrate(logDir, walDir, snapIndex, opts); err != nil {
		return nil, err
	}
	w, err := openWAL(walDir, l, opts.SegmentSize, opts.LogOutput)
	if err != nil {
		return nil, err
	}
	logs := &checkedStore{inner: w, path: walDir, fileOf: w.filer.fileOf, stablePath: filepath.Join(walDir, metaName), latch: l}
	// The newest snapshot is checked (or restored, with Preload) while the log is
	// read: two passes over hundreds of MB at 1M znodes, on two cores.
	snapErr := make(chan error, 1)
	go func() { snapErr <- snaps.verify(opts.Preload) }()
	err = check(filepath.Join(walDir, metaName), func() error { return logs.verify(snapIndex) })
	if serr := <-snapErr; err == nil {
		err = serr
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return &Stores{Log: logs, Stable: logs, Snapshot: snaps, closer: w, latch: l}, nil
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

// LogPath is the directory of the Raft log under the log directory.
func LogPath(logDir string) string { return filepath.Join(logDir, walDirName) }

// HasLog reports whether the log directory holds a Raft log: wal/, or raft.db of
// older versions (which Open moves into wal/; not the marker left in its place).
func HasLog(logDir string) bool {
	if _, err := os.Stat(LogPath(logDir)); err == nil {
		return true
	}
	marker, err := isMarker(filepath.Join(logDir, legacyName))
	return err == nil && !marker
}

// removeUnfinished removes what a crash or a failed write left in the snapshot
// directory under a .tmp name: snapshots never finished (a full disk fails one each
// time Raft tries) and snapshots being reaped (raft copy patch 9). Raft skips them but
// never removes them; nothing writes there before the store is open.
func removeUnfinished(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		return err
	}
	for _, p := range names {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove the unfinished snapshot %s: %w (remove it by hand, then start the member again)", p, err)
		}
	}
	return nil
}
