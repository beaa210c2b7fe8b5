package raftstore

import (
	"bytes"
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

// legacyName is the log and stable store of the versions before raft-wal.
const legacyName = "raft.db"

// legacyMarker is what raft.db holds once its log moved to wal/. It is not a bbolt
// file, so a version from before the move refuses to start on the directory ("raft.db
// is corrupt") instead of creating raft.db anew and starting with an empty log, no
// term and no vote — a member that could vote twice in one term.
var legacyMarker = []byte("zkraft: this data directory's Raft log has moved to wal/ (the old file is raft.db.migrated).\n" +
	"A zkraft version from before that move cannot read it: do not start one on this directory.\n")

// migrate moves a log written by an older version (raft.db, raft-boltdb) into a new
// wal directory, once: it checks raft.db as those versions did, copies the stable
// values and the log entries into a store built under a temporary name, then renames
// that to wal/ and raft.db to raft.db.migrated (kept for the operator to remove).
// Each rename is synced before the next step, so a crash leaves either raft.db and
// no wal/ (the next start migrates again, the unfinished copy is removed) or wal/
// (raft.db, if still there, is only renamed).
func migrate(logDir, walDir string, snapIndex uint64, opts Options) error {
	old := filepath.Join(logDir, legacyName)
	if marker, err := isMarker(old); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(old + ".migrated"); err == nil {
			return writeMarker(old) // a crash came between the rename and the marker
		}
		return nil
	} else if err != nil || marker {
		return err
	}
	if _, err := os.Stat(walDir); err == nil {
		return retire(old)
	}
	tmp := walDir + ".migrating"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	start := time.Now()
	n, err := copyLegacy(old, tmp, snapIndex, opts)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, walDir); err != nil {
		return err
	}
	if err := syncDir(logDir); err != nil {
		return err
	}
	if err := retire(old); err != nil {
		return err
	}
	fmt.Fprintf(opts.LogOutput, "%s [INFO]  raftstore: moved the Raft log of %s (%d entries, term and vote) into %s in %v; %s.migrated is no longer read and may be removed\n",
		time.Now().Format(time.RFC3339), old, n, walDir, time.Since(start).Round(time.Millisecond), old)
	return nil
}

// retire renames raft.db to raft.db.migrated and leaves the marker in its place.
func retire(old string) error {
	if err := os.Rename(old, old+".migrated"); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(old)); err != nil {
		return err
	}
	return writeMarker(old)
}

// isMarker tells whether the file at path is the marker (reading no more of a real
// raft.db than the marker's length).
func isMarker(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, len(legacyMarker)+1)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	return bytes.Equal(b[:n], legacyMarker), nil
}

func writeMarker(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(legacyMarker)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// openLegacy opens raft.db as the versions before raft-wal did, checked the same way.
func openLegacy(path string, snapIndex uint64) (*checkedStore, *raftboltdb.BoltStore, error) {
	db, err := raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, nil, fmt.Errorf("open raft log %q: locked by another process (is another zkraft running on this data directory?)", path)
		}
		if errors.Is(err, bbolt.ErrInvalid) || errors.Is(err, bbolt.ErrChecksum) || errors.Is(err, bbolt.ErrVersionMismatch) {
			return nil, nil, &CorruptError{Path: path, What: err.Error()}
		}
		return nil, nil, fmt.Errorf("open raft log %q: %w", path, err)
	}
	s := &checkedStore{inner: db, path: path, latch: newLatch(nil)}
	if err := check(path, func() error {
		if err := s.load(); err != nil {
			return err
		}
		return s.verify(snapIndex)
	}); err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, db, nil
}

// copyLegacy copies raft.db's stable values and log into a new store in dir. The
// entries below a hole (below the snapshot: see verify) are left behind: raft-wal
// keeps no holes, and raft never reads them.
func copyLegacy(old, dir string, snapIndex uint64, opts Options) (int, error) {
	src, db, err := openLegacy(old, snapIndex)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	l := newLatch(opts.WriteHook)
	w, err := openWAL(dir, l, opts.SegmentSize, opts.LogOutput)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	dst := &checkedStore{inner: w, path: dir, fileOf: w.filer.fileOf, stablePath: filepath.Join(dir, metaName), latch: l}
	for _, k := range raftKeys {
		v, err := src.Get(k)
		if isNotFound(err) {
			continue
		} else if err != nil {
			return 0, err
		}
		if err := dst.Set(k, v); err != nil {
			return 0, fmt.Errorf("copy %s from %s: %w", k, old, err)
		}
	}
	first, err := src.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := src.LastIndex()
	if err != nil {
		return 0, err
	}
	// The contiguous end of the log.
	from := first
	for i := last; i >= first && i > 0; i-- {
		var l raft.Log
		if err := src.GetLog(i, &l); errors.Is(err, raft.ErrLogNotFound) {
			from = i + 1
			break
		} else if err != nil {
			return 0, err
		}
	}
	copied := 0
	const batch = 512
	logs := make([]*raft.Log, 0, batch)
	for i := from; i <= last && i > 0; i++ {
		l := new(raft.Log)
		if err := src.GetLog(i, l); err != nil {
			return 0, err
		}
		logs = append(logs, l)
		if len(logs) == batch || i == last {
			if err := dst.StoreLogs(logs); err != nil {
				return 0, fmt.Errorf("copy log entries of %s: %w", old, err)
			}
			copied += len(logs)
			logs = logs[:0]
		}
	}
	return copied, nil
}
