package zkdata

import (
	"errors"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// LoadOptions says where a ZooKeeper server keeps its files and how to read them.
type LoadOptions struct {
	// DataDir is zoo.cfg's dataDir (holding version-2/snapshot.*), or its version-2
	// directory itself.
	DataDir string
	// LogDir is zoo.cfg's dataLogDir (version-2/log.*), if not DataDir.
	LogDir string
	// Snapshot, when set, is the snapshot file to start from instead of the newest.
	Snapshot string
	// TruncateTornTail accepts a newest log whose last record is incomplete, as a
	// ZooKeeper server does after a crash (the txn was never acknowledged), instead
	// of failing.
	TruncateTornTail bool
	// IgnoreDigests goes on when the tree's digest differs from the one ZooKeeper
	// logged, instead of failing.
	IgnoreDigests bool
	// Progress, if set, receives a line now and then on long loads.
	Progress func(msg string)
}

// LoadResult is a ZooKeeper data directory's state, as its server restores it.
type LoadResult struct {
	Tree     *Tree
	Snapshot *SnapshotInfo // nil: no snapshot, the logs replayed on an empty tree
	Logs     []string      // the log files read
	Txns     int           // txns replayed (after the snapshot's zxid)
	// DigestsChecked counts the digests ZooKeeper recorded (the snapshot's, and one
	// per txn) that the replayed tree matched; LastDigest is the last one checked.
	DigestsChecked  int
	LastDigest      uint64
	LastDigestZxid  int64
	DigestMismatch  string // with IgnoreDigests: the first mismatch
	DeadSessions    int    // sessions owning ephemerals but absent from the table: killed, as ZooKeeper does at load
	DroppedOrphans  int    // nodes no parent lists (ZooKeeper drops them at its next snapshot)
	TruncatedRecord string // with TruncateTornTail: where the torn record was
}

// versionDir returns dir/version-2 if it exists, else dir when it is a version-2
// directory itself.
func versionDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no directory given")
	}
	v2 := filepath.Join(dir, "version-2")
	if st, err := os.Stat(v2); err == nil && st.IsDir() {
		return v2, nil
	}
	if filepath.Base(filepath.Clean(dir)) == "version-2" {
		if _, err := os.Stat(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no version-2 directory: is it a ZooKeeper dataDir?", dir)
}

type zxidFile struct {
	path string
	zxid int64
}

func listFiles(dir, prefix string) ([]zxidFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []zxidFile
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if z, ok := parseName(e.Name(), prefix); ok {
			out = append(out, zxidFile{filepath.Join(dir, e.Name()), z})
		}
	}
	slices.SortFunc(out, func(a, b zxidFile) int {
		switch {
		case a.zxid < b.zxid:
			return -1
		case a.zxid > b.zxid:
			return 1
		}
		return 0
	})
	return out, nil
}

// Load restores a ZooKeeper server's state from its data directory, as the server
// does at start (FileTxnSnapLog.restore): the newest snapshot, then every txn logged
// after the snapshot's zxid; then the sessions that own ephemerals but are not in
// the session table are killed (ZooKeeperServer.loadData). Unlike ZooKeeper, which
// skips a damaged snapshot for an older one and stops at a damaged log record, any
// damage is an error naming the file and offset (use Snapshot to pick another
// snapshot, TruncateTornTail for the torn tail of the newest log).
func Load(o LoadOptions) (*LoadResult, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	start := time.Now()
	snapDir, err := versionDir(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper data directory: %w", err)
	}
	logDir := snapDir
	if o.LogDir != "" {
		if logDir, err = versionDir(o.LogDir); err != nil {
			return nil, fmt.Errorf("ZooKeeper data log directory: %w", err)
		}
	}
	res := &LoadResult{}
	snapPath, previous := o.Snapshot, ""
	if snapPath == "" {
		snaps, err := listFiles(snapDir, "snapshot")
		if err != nil {
			return nil, err
		}
		if len(snaps) > 0 {
			snapPath = snaps[len(snaps)-1].path
		}
		if len(snaps) > 1 {
			previous = snaps[len(snaps)-2].path
		}
	}
	var t *Tree
	var pendingDigest *SnapshotInfo
	if snapPath != "" {
		progress(fmt.Sprintf("reading snapshot %s", snapPath))
		var info *SnapshotInfo
		t, info, err = ReadSnapshot(snapPath, func(n int) {
			progress(fmt.Sprintf("  %d nodes read (%s)", n, time.Since(start).Round(time.Millisecond)))
		})
		var fe *FormatError
		if errors.As(err, &fe) && strings.HasPrefix(fe.What, "truncated") && previous != "" {
			// ZooKeeper stopped while writing its newest snapshot: at start it would
			// skip it for the one before (the logs cover both).
			fe.What += fmt.Sprintf("; if ZooKeeper stopped while writing this newest snapshot, it starts from the previous one: import with --snapshot %s to do the same", previous)
		}
		if err != nil {
			return nil, err
		}
		res.Snapshot = info
		progress(fmt.Sprintf("snapshot at zxid %#x: %d nodes, %d sessions (%s)", info.Zxid, info.Nodes, info.Sessions, time.Since(start).Round(time.Millisecond)))
		if info.DigestZxid > 0 && info.DigestZxid >= info.Zxid {
			pendingDigest = info
		}
	} else {
		t = NewTree()
	}
	checkDigest := func(zxid int64, want uint64, what string) error {
		if got := t.Digest(); got != want {
			msg := fmt.Sprintf("the replayed tree's digest at zxid %#x is %d, but ZooKeeper recorded %d in %s: the import does not reproduce ZooKeeper's tree", zxid, got, want, what)
			if !o.IgnoreDigests {
				return errors.New(msg)
			}
			if res.DigestMismatch == "" {
				res.DigestMismatch = msg
			}
			return nil
		}
		res.DigestsChecked++
		res.LastDigest, res.LastDigestZxid = want, zxid
		return nil
	}
	if pendingDigest != nil && pendingDigest.DigestZxid == t.Zxid {
		if err := checkDigest(t.Zxid, pendingDigest.Digest, pendingDigest.File); err != nil {
			return nil, err
		}
		pendingDigest = nil
	}

	logs, err := listFiles(logDir, "log")
	if err != nil {
		return nil, err
	}
	// The log that starts at or before the snapshot's zxid, and all after it.
	first := 0
	for i, l := range logs {
		if l.zxid <= t.Zxid {
			first = i
		}
	}
	logs = logs[first:]
	snapZxid := t.Zxid
	last := snapZxid
	for i, l := range logs {
		res.Logs = append(res.Logs, l.path)
		newest := i == len(logs)-1
		err := readLog(l.path, func(txn *Txn, off int64) error {
			if txn.Zxid <= snapZxid {
				return nil
			}
			switch {
			case txn.Zxid <= last:
				return &FormatError{File: l.path, Offset: off, What: fmt.Sprintf("zxid %#x does not follow %#x", txn.Zxid, last)}
			case last != 0 && txn.Zxid>>32 == last>>32 && txn.Zxid != last+1:
				return &FormatError{File: l.path, Offset: off, What: fmt.Sprintf("zxid %#x follows %#x: the txns between them are missing (a log file lost?)", txn.Zxid, last)}
			}
			if err := t.Apply(txn); err != nil {
				return &FormatError{File: l.path, Offset: off, What: err.Error()}
			}
			last = txn.Zxid
			res.Txns++
			switch {
			case pendingDigest != nil:
				// Still inside the fuzzy range: only the snapshot's own digest
				// applies, at its zxid.
				if txn.Zxid == pendingDigest.DigestZxid {
					if err := checkDigest(txn.Zxid, pendingDigest.Digest, pendingDigest.File); err != nil {
						return err
					}
				}
				if txn.Zxid >= pendingDigest.DigestZxid {
					pendingDigest = nil
				}
			case txn.Digest != nil && txn.Digest.Version == DigestVersion:
				if err := checkDigest(txn.Zxid, txn.Digest.TreeDigest, fmt.Sprintf("%s at offset %d", l.path, off)); err != nil {
					return err
				}
			}
			if res.Txns%100000 == 0 {
				progress(fmt.Sprintf("  %d txns replayed, at zxid %#x (%s)", res.Txns, txn.Zxid, time.Since(start).Round(time.Millisecond)))
			}
			return nil
		})
		var torn *tornError
		if errors.As(err, &torn) && newest && o.TruncateTornTail {
			res.TruncatedRecord = torn.Error()
			err = nil
		}
		if err != nil {
			return nil, err
		}
	}
	progress(fmt.Sprintf("replayed %d txns from %d log files, last zxid %#x (%s)", res.Txns, len(res.Logs), t.Zxid, time.Since(start).Round(time.Millisecond)))

	// ZooKeeperServer.loadData: kill the sessions that own ephemerals but are gone.
	var dead []int64
	for owner := range t.ephemerals {
		if _, ok := t.Sessions[owner]; !ok {
			dead = append(dead, owner)
		}
	}
	slices.Sort(dead)
	for _, s := range dead {
		t.killSession(s, t.Zxid, nil)
	}
	res.DeadSessions = len(dead)
	res.DroppedOrphans = t.dropUnreachable()
	res.Tree = t
	return res, nil
}

// tornError is a log that ends inside a record.
type tornError struct{ *FormatError }

func (e *tornError) Unwrap() error { return e.FormatError }

// readLog reads one log file, calling fn with each txn and its record's offset. The
// preallocated zeros after the last record end it.
func readLog(path string, fn func(*Txn, int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := newStreamReader(f, path, false)
	if magic := r.int32(); r.err == nil && magic != logMagic {
		r.failAt(0, "magic %#x is not a ZooKeeper transaction log's (ZKLG)", uint32(magic))
	}
	if v := r.int32(); r.err == nil && v != fileVersion {
		r.failAt(4, "log format version %d (only 2 exists)", v)
	}
	r.int64() // dbid
	if r.err != nil {
		return r.err
	}
	torn := func() error {
		var fe *FormatError
		if errors.As(r.err, &fe) {
			fe.What += "; if this is the newest log after a crash, ZooKeeper drops this record (it was never acknowledged): import with --truncate-torn-tail to do the same"
			return &tornError{fe}
		}
		return r.err
	}
	for !r.atEOF() && r.err == nil {
		at := r.off
		crc := r.int64()
		n := r.int32()
		if r.err != nil {
			return torn()
		}
		if n == 0 {
			return nil // preallocated zeros: the end
		}
		if n < 0 || n > maxBuffer {
			r.failAt(at+8, "record length %d", n)
			return r.err
		}
		b := r.blob(int(n))
		end := r.byte1()
		if r.err != nil {
			return torn()
		}
		if end != 'B' {
			r.failAt(at, "record of %d bytes lacks its end marker 'B' (found %#x)", n, end)
			return torn()
		}
		if sum := adler32.Checksum(b); int64(sum) != crc {
			r.failAt(at, "record checksum %#x, but its %d bytes sum to %#x (Adler-32): the log is damaged", crc, n, sum)
			return r.err
		}
		txn, err := DecodeTxn(b)
		if err != nil {
			r.failAt(at, "%v", err)
			return r.err
		}
		if err := fn(txn, at); err != nil {
			return err
		}
	}
	return r.err
}
