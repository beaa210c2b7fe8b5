package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

var testConf = raft.Configuration{Servers: []raft.Server{
	{ID: "1", Address: "127.0.0.1:2888", Suffrage: raft.Voter},
	{ID: "2", Address: "127.0.0.1:2889", Suffrage: raft.Nonvoter},
}}

var _, testTrans = raft.NewInmemTransport("")

func open(t *testing.T, dir string, opts Options) *Stores {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(i uint64) *raft.Log {
	l := &raft.Log{Index: i, Term: 1 + i/4, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry-%04d", i)), AppendedAt: time.Now()}
	if i%3 == 0 {
		l.Extensions = []byte("ext")
	}
	if i%5 == 0 {
		l.AppendedAt = time.Time{}
	}
	return l
}

// fill writes entries 1..n, the stable values and a snapshot.
func fill(t *testing.T, s *Stores, n uint64) {
	t.Helper()
	for i := uint64(1); i <= n; i++ {
		if err := s.Log.StoreLog(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 1+n/4))
	must(t, s.Stable.SetUint64([]byte("LastVoteTerm"), 1+n/4))
	must(t, s.Stable.Set([]byte("LastVoteCand"), []byte("127.0.0.1:2888")))
	sink, err := s.Snapshot.Create(raft.SnapshotVersionMax, n, 1+n/4, testConf, 1, testTrans)
	must(t, err)
	_, err = sink.Write([]byte("ZKRTREE\x00 the tree's own bytes"))
	must(t, err)
	must(t, sink.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())

	s = open(t, dir, Options{})
	defer s.Close()
	for i := uint64(1); i <= 20; i++ {
		var got raft.Log
		must(t, s.Log.GetLog(i, &got))
		want := entry(i)
		if got.Index != i || got.Term != want.Term || !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got, want)
		}
	}
	if v, err := s.Stable.GetUint64([]byte("CurrentTerm")); err != nil || v != 6 {
		t.Fatalf("CurrentTerm %d %v", v, err)
	}
	if _, err := s.Stable.Get([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Fatalf("a missing key must be raft's \"not found\": %v", err)
	}
	metas, err := s.Snapshot.List()
	must(t, err)
	meta, rc, err := s.Snapshot.Open(metas[0].ID)
	must(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "ZKRTREE\x00 the tree's own bytes" || meta.Size != int64(len(b)) || meta.Index != 20 || len(meta.Configuration.Servers) != 2 {
		t.Fatalf("snapshot read back: %q, meta %+v", b, meta)
	}
}

// flipEach flips byte k of a value at every offset in at, for every k below n in
// turn (leaving the others intact), and requires Open to fail with a CorruptError
// naming wantPath, or else what it reads to be acceptable (accept returns "";
// intact when nil), at most maxAccepted times.
func flipEach(t *testing.T, dir string, opts Options, path string, at []int, n int, wantPath string, accept func(*Stores) string, maxAccepted int) {
	t.Helper()
	if accept == nil {
		accept = func(s *Stores) string { return intact(s, 20) }
	}
	orig, err := os.ReadFile(path)
	must(t, err)
	defer os.WriteFile(path, orig, 0o600)
	checked, harmless := 0, 0
	for k := range n {
		off := at[0] + k
		b := bytes.Clone(orig)
		for _, a := range at {
			b[a+k] ^= 0xff
		}
		must(t, os.WriteFile(path, b, 0o600))
		var s *Stores
		s, err = Open(dir, opts)
		if err == nil {
			what := accept(s)
			s.Close()
			if what != "" {
				t.Fatalf("byte %d of %s flipped (%q → %q): the stores opened and %s", off, path, orig[off], b[off], what)
			}
			harmless++
			// Opening may have written (a torn tail is overwritten by the next
			// append only), so each flip starts from the original files.
			continue
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Path != wantPath || !strings.Contains(err.Error(), "reconfig -remove") {
			t.Fatalf("byte %d of %s flipped: want a CorruptError naming %s and what to do, got %v", off, path, wantPath, err)
		}
		checked++
	}
	must(t, os.WriteFile(path, orig, 0o600))
	s := open(t, dir, opts) // intact again
	if what := intact(s, 20); what != "" {
		t.Fatalf("after the flips: %s", what)
	}
	s.Close()
	t.Logf("%d flipped bytes of %s detected, %d changed nothing read; an error: %v", checked, filepath.Base(path), harmless, err)
	if harmless > maxAccepted {
		t.Fatalf("%d of %d flips went unnoticed", harmless, n)
	}
}

// intact says what differs from what fill wrote, or "" if nothing does: a flip in
// a msgpack field name makes the decoder skip the field, which is harmless when
// its value was the zero value anyway (an entry's Type LogCommand, a zero time).
func intact(s *Stores, last uint64) string {
	if l, err := s.Log.LastIndex(); l != last || err != nil {
		return fmt.Sprintf("the last entry is %d, want %d (%v)", l, last, err)
	}
	for i := uint64(1); i <= last; i++ {
		var got raft.Log
		if err := s.Log.GetLog(i, &got); err != nil {
			return fmt.Sprintf("entry %d: %v", i, err)
		}
		want := entry(i)
		if got.Index != i || got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Extensions, want.Extensions) || (want.AppendedAt.IsZero() != got.AppendedAt.IsZero()) {
			return fmt.Sprintf("entry %d reads %+v", i, got)
		}
	}
	for k, want := range map[string]uint64{"CurrentTerm": 6, "LastVoteTerm": 6} {
		if v, err := s.Stable.GetUint64([]byte(k)); v != want || err != nil {
			return fmt.Sprintf("%s reads %d, %v", k, v, err)
		}
	}
	if v, err := s.Stable.Get([]byte("LastVoteCand")); string(v) != "127.0.0.1:2888" || err != nil {
		return fmt.Sprintf("LastVoteCand reads %q, %v", v, err)
	}
	return ""
}

// valueCopies finds where the value of key in bucket is in the file: at one or more
// offsets, as freed pages may hold older copies of a page.
func valueCopies(t *testing.T, db string, bucket, key []byte) (at []int, n int) {
	t.Helper()
	b, err := bbolt.Open(db, 0o600, &bbolt.Options{ReadOnly: true})
	must(t, err)
	var val []byte
	must(t, b.View(func(tx *bbolt.Tx) error {
		val = bytes.Clone(tx.Bucket(bucket).Get(key))
		return nil
	}))
	b.Close()
	file, err := os.ReadFile(db)
	must(t, err)
	for i := 0; len(val) > 0; {
		j := bytes.Index(file[i:], val)
		if j < 0 {
			break
		}
		at = append(at, i+j)
		i += j + 1
	}
	if len(at) == 0 {
		t.Fatalf("value of %s/%s not found in %s", bucket, key, db)
	}
	return at, len(val)
}

func key(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// entryFrame finds entry idx's frame (header, payload, padding) in the segment
// files under dir: its file, offset and length.
func entryFrame(t *testing.T, dir string, idx uint64) (string, int, int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, walDirName, "*.wal"))
	must(t, err)
	for _, f := range files {
		var base, id uint64
		if _, err := fmt.Sscanf(filepath.Base(f), "%020d-%016x.wal", &base, &id); err != nil || base > idx {
			continue
		}
		b, err := os.ReadFile(f)
		must(t, err)
		i := base
		for off := fileHeaderLen; off+frameHeaderLen <= len(b); {
			typ, n := b[off], int(binary.LittleEndian.Uint32(b[off+4:]))
			if typ == 0 {
				break
			}
			if typ == frameCommit {
				n = 0
			}
			size := frameHeaderLen + (n+7)/8*8
			if typ == frameEntry {
				if i == idx {
					return f, off, size
				}
				i++
			}
			off += size
		}
	}
	t.Fatalf("entry %d not found in %s", idx, dir)
	return "", 0, 0
}

// A flipped byte of an entry's frame, in a sealed segment or the tail, is found at
// open. raft-wal's recovery drops a tail batch whose commit CRC fails as torn by a
// crash: a flip in the last batch may do that (the log then ends one entry
// earlier); a flip in an earlier batch of the tail may not.
func TestCorruptLogEntry(t *testing.T) {
	for _, c := range []struct {
		name string
		size int
	}{{"tail", 0}, {"sealed", 400}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: c.size}
			s := open(t, dir, opts)
			fill(t, s, 20)
			must(t, s.Close())
			for _, i := range []uint64{1, 9, 20} { // first, middle (with extensions), last
				f, off, n := entryFrame(t, dir, i)
				accept := func(s *Stores) string { return intact(s, 20) }
				if i == 20 {
					accept = func(s *Stores) string {
						if intact(s, 19) == "" {
							return ""
						}
						return intact(s, 20)
					}
				}
				flipEach(t, dir, opts, f, []int{off}, n, f, accept, max(n/4, int(i/20)*n))
			}
		})
	}
}

func TestCorruptStableStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())
	db := filepath.Join(dir, walDirName, metaName)
	for _, k := range []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"} {
		at, n := valueCopies(t, db, stableBucket, []byte(k))
		flipEach(t, dir, Options{}, db, at, n, db, nil, n/4)
	}
	at, n := valueCopies(t, db, metaBucket, metaKey)
	flipEach(t, dir, Options{}, db, at, n, db, nil, n/4)
}

func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "snapshots", "*", "meta.json"))
	if err != nil || len(m) != 1 {
		t.Fatalf("want one snapshot: %v %v", m, err)
	}
	return filepath.Dir(m[0])
}

func TestCorruptSnapshotState(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())
	state := filepath.Join(snapshotDir(t, dir), "state.bin")
	st, err := os.Stat(state)
	must(t, err)
	flipEach(t, dir, Options{}, state, []int{0}, int(st.Size()), state, nil, int(st.Size())/4)
}

func TestCorruptSnapshotMeta(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())
	snap := snapshotDir(t, dir)
	meta := filepath.Join(snap, "meta.json")
	b, err := os.ReadFile(meta)
	must(t, err)
	// Peers is unused for version-1 snapshots (see doc.go): its value may change.
	p := bytes.Index(b, []byte(`"Peers":"`)) + len(`"Peers":"`)
	q := p + bytes.IndexByte(b[p:], '"')
	if p < len(`"Peers":"`) || q < p {
		t.Fatalf("no Peers in %s", b)
	}
	skip := func(off int) bool { return off >= p && off < q }
	// A flip is blamed on meta.json, or on state.bin when the CRC in meta.json no
	// longer matches it: either way the snapshot is refused.
	orig := bytes.Clone(b)
	defer os.WriteFile(meta, orig, 0o600)
	for off := range b {
		if skip(off) {
			continue
		}
		c := bytes.Clone(orig)
		c[off] ^= 0xff
		must(t, os.WriteFile(meta, c, 0o600))
		s, err := Open(dir, Options{})
		if err == nil {
			s.Close()
			t.Fatalf("byte %d of meta.json flipped (%q): the stores opened", off, orig[max(0, off-10):min(len(orig), off+10)])
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Path, snap) {
			t.Fatalf("byte %d of meta.json flipped: want a CorruptError naming a file of %s, got %v", off, snap, err)
		}
	}
}

// legacyDir writes what the versions on raft-boltdb left: raft.db with entries
// 1..n, term, vote and a snapshot at snap; checksummed as the last of them wrote it
// unless raw.
func legacyDir(t *testing.T, n, snap uint64, raw bool) string {
	t.Helper()
	dir := t.TempDir()
	db, err := raftboltdb.NewBoltStore(filepath.Join(dir, legacyName))
	must(t, err)
	var st logStore = db
	if !raw {
		cs := &checkedStore{inner: db, path: "raft.db", latch: newLatch(nil)}
		must(t, cs.load())
		st = cs
	}
	for i := uint64(1); i <= n; i++ {
		must(t, st.StoreLog(entry(i)))
	}
	if !raw {
		must(t, st.SetUint64([]byte("CurrentTerm"), 1+n/4))
		must(t, st.SetUint64([]byte("LastVoteTerm"), 1+n/4))
	} else { // no checksum, and big-endian as raft-boltdb writes it
		must(t, db.SetUint64([]byte("CurrentTerm"), 1+n/4))
		must(t, db.SetUint64([]byte("LastVoteTerm"), 1+n/4))
	}
	must(t, st.Set([]byte("LastVoteCand"), []byte("127.0.0.1:2888")))
	must(t, db.Close())
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	must(t, err)
	sink, err := snaps.Create(raft.SnapshotVersionMax, snap, 1+snap/4, testConf, 1, testTrans)
	must(t, err)
	_, err = sink.Write([]byte("ZKRTREE\x00 the tree's own bytes"))
	must(t, err)
	must(t, sink.Close())
	return dir
}

// A data directory of the versions on raft-boltdb (with checksums, and from before
// them) opens with the same log, term and vote, moved into wal/ once; raft.db stays
// as raft.db.migrated.
func TestMigrate(t *testing.T) {
	for _, raw := range []bool{false, true} {
		dir := legacyDir(t, 20, 20, raw)
		s := open(t, dir, Options{})
		if what := intact(s, 20); what != "" {
			t.Fatalf("raw %v: migrated: %s", raw, what)
		}
		must(t, s.Log.StoreLog(entry(21)))
		must(t, s.Close())
		for _, f := range []string{legacyName + ".migrated", walDirName} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		checkMarker(t, dir)
		s = open(t, dir, Options{}) // again: nothing more to move
		if l, _ := s.Log.LastIndex(); l != 21 {
			t.Fatalf("last index %d after a reopen", l)
		}
		must(t, s.Close())
		checkMarker(t, dir)
	}
}

// checkMarker: raft.db holds the marker, which the versions before raft-wal cannot
// open (they refuse to start rather than begin an empty log), and raft.db.migrated
// is still the old log.
func checkMarker(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, legacyName))
	if err != nil || !bytes.Equal(b, legacyMarker) {
		t.Fatalf("raft.db after the migration: %q, %v; want the marker", b, err)
	}
	if _, _, err := openLegacy(filepath.Join(dir, legacyName), 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("the previous version's open of the marker: %v; want it refused as corrupt", err)
	}
	_, db, err := openLegacy(filepath.Join(dir, legacyName+".migrated"), 0)
	if err != nil {
		t.Fatalf("raft.db.migrated: %v", err)
	}
	db.Close()
}

// A migration that fails (here a write of the new log, as a crash would stop it)
// leaves raft.db in place: the next start migrates again from the start; so does a
// start that finds wal/ but raft.db not yet renamed.
func TestMigrateAgainAfterCrash(t *testing.T) {
	dir := legacyDir(t, 2000, 2000, false)
	writes := 0
	hook := func(op WriteOp, write func() error) error {
		if op.Kind == "segment write" {
			if writes++; writes == 3 {
				return syscall.EIO
			}
		}
		return write()
	}
	if _, err := Open(dir, Options{WriteHook: hook}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a failed migration: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, legacyName)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, walDirName+".migrating")); err != nil {
		t.Fatalf("the unfinished copy: %v", err)
	}
	s := open(t, dir, Options{})
	if l, _ := s.Log.LastIndex(); l != 2000 {
		t.Fatalf("last index %d", l)
	}
	must(t, s.Close())
	if _, err := os.Stat(filepath.Join(dir, walDirName+".migrating")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the unfinished copy is still there: %v", err)
	}
	// wal/ is complete, raft.db not renamed yet.
	must(t, os.Rename(filepath.Join(dir, legacyName+".migrated"), filepath.Join(dir, legacyName)))
	s = open(t, dir, Options{})
	if l, _ := s.Log.LastIndex(); l != 2000 {
		t.Fatalf("last index %d", l)
	}
	must(t, s.Close())
	checkMarker(t, dir)
	// The rename done, the marker not yet written: it is written at the next start.
	must(t, os.Remove(filepath.Join(dir, legacyName)))
	s = open(t, dir, Options{})
	must(t, s.Close())
	checkMarker(t, dir)
}

// raft.db is checked as before it is moved: damage stops the migration, naming it.
// After a follower installed a snapshot, raft-boltdb kept a hole below it: the
// entries below the hole are left behind (raft-wal keeps no holes; nothing reads
// them); a hole past the snapshot is damage.
func TestMigrateChecks(t *testing.T) {
	dir := legacyDir(t, 20, 10, false)
	db, err := raftboltdb.NewBoltStore(filepath.Join(dir, legacyName))
	must(t, err)
	must(t, db.DeleteRange(5, 10))
	must(t, db.Close())
	s := open(t, dir, Options{})
	if f, _ := s.Log.FirstIndex(); f != 11 {
		t.Fatalf("first index %d after the hole, want 11", f)
	}
	must(t, s.Close())

	dir = legacyDir(t, 20, 10, false)
	db, err = raftboltdb.NewBoltStore(filepath.Join(dir, legacyName))
	must(t, err)
	must(t, db.DeleteRange(13, 13))
	must(t, db.Close())
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entry 13 is missing") {
		t.Fatalf("a hole in the log past the snapshot: %v", err)
	}
	// An entry past the checksummed ones without a checksum is damage.
	dir = legacyDir(t, 20, 20, false)
	db, err = raftboltdb.NewBoltStore(filepath.Join(dir, legacyName))
	must(t, err)
	must(t, db.StoreLog(entry(21)))
	must(t, db.Close())
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "log entry 21 has no checksum") ||
		!strings.Contains(err.Error(), filepath.Join(dir, legacyName)) {
		t.Fatalf("unchecksummed entry 21: %v", err)
	}
}

// After a snapshot, raft compacts the log: whole segments go, and their disk space.
func TestCompactionRemovesSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentSize: 4096})
	defer s.Close()
	logs := make([]*raft.Log, 0, 1000)
	for i := uint64(1); i <= 1000; i++ {
		logs = append(logs, entry(i))
		if len(logs) == 50 {
			must(t, s.Log.StoreLogs(logs))
			logs = logs[:0]
		}
	}
	segs := func() int {
		m, err := filepath.Glob(filepath.Join(dir, walDirName, "*.wal"))
		must(t, err)
		return len(m)
	}
	before := segs()
	must(t, s.Log.DeleteRange(1, 900))
	after := segs()
	if f, _ := s.Log.FirstIndex(); f != 901 || after >= before/2 {
		t.Fatalf("first index %d, %d segment files before, %d after", f, before, after)
	}
	var l raft.Log
	must(t, s.Log.GetLog(950, &l))
	must(t, s.Log.DeleteRange(990, 1000)) // a conflicting tail
	if last, _ := s.Log.LastIndex(); last != 989 {
		t.Fatalf("last index %d", last)
	}
	must(t, s.Log.StoreLog(entry(990)))
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "write", Path: "1.wal", Err: syscall.ENOSPC}, true},
		{&os.PathError{Op: "write", Path: "1.wal", Err: syscall.EDQUOT}, true},
		{fmt.Errorf("file resize error: %s", syscall.ENOSPC), true},
		{&os.PathError{Op: "write", Path: "1.wal", Err: syscall.EIO}, false},
		{&os.PathError{Op: "sync", Path: "1.wal", Err: syscall.EIO}, false},
		{&os.PathError{Op: "open", Path: "meta.json", Err: syscall.ENOSPC}, true},
		{&os.PathError{Op: "mkdir", Path: "snapshots/1-2-3.tmp", Err: syscall.ENOSPC}, true},
		{&os.LinkError{Op: "rename", Old: "a.tmp", New: "a", Err: syscall.ENOSPC}, true},
		{&os.PathError{Op: "sync", Path: "state.bin", Err: syscall.ENOSPC}, false}, // writeback failed
		{&os.PathError{Op: "open", Path: "meta.json", Err: syscall.EIO}, false},
		{syscall.ENOSPC, false}, // bbolt's fdatasync returns the bare errno
		{syscall.EIO, false},
		{fmt.Errorf("file sync error: %s", syscall.EIO), false},
		{errors.New("mmap allocate error"), false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A write that fails with EIO stops every later write, of the log, the stable store
// and snapshots; a lack of space does not.
func TestWriteErrorLatches(t *testing.T) {
	var inject error
	hook := func(op WriteOp, write func() error) error {
		if err := inject; err != nil && op.Kind == "store logs" {
			inject = nil
			return err
		}
		return write()
	}
	dir := t.TempDir()
	s := open(t, dir, Options{WriteHook: hook})
	defer s.Close()
	must(t, s.Log.StoreLog(entry(1)))

	inject = &os.PathError{Op: "write", Path: "1.wal", Err: syscall.ENOSPC}
	if err := s.Log.StoreLog(entry(2)); !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrWriteFailed) {
		t.Fatalf("no space: %v", err)
	}
	must(t, s.Log.StoreLog(entry(2))) // there is room again

	inject = syscall.EIO
	err := s.Log.StoreLog(entry(3))
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("EIO: %v", err)
	}
	select {
	case <-s.Failed():
	default:
		t.Fatal("Failed not closed")
	}
	if s.Err() != err || !strings.Contains(err.Error(), "store log entries") || !strings.Contains(err.Error(), filepath.Join(dir, walDirName)) {
		t.Fatalf("Err() = %v", s.Err())
	}
	for name, write := range map[string]func() error{
		"StoreLog":    func() error { return s.Log.StoreLog(entry(3)) },
		"DeleteRange": func() error { return s.Log.DeleteRange(1, 1) },
		"SetUint64":   func() error { return s.Stable.SetUint64([]byte("CurrentTerm"), 9) },
		"Snapshot": func() error {
			_, err := s.Snapshot.Create(raft.SnapshotVersionMax, 2, 1, testConf, 1, testTrans)
			return err
		},
	} {
		if err := write(); err != s.Err() {
			t.Errorf("%s after the failure: %v, want the latched error", name, err)
		}
	}
	var l raft.Log
	must(t, s.Log.GetLog(2, &l)) // reads go on
	if err := s.Log.GetLog(3, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("entry 3 was never written: %v", err)
	}
}

// What bbolt returns when the disk is full, measured on a small tmpfs: a write
// refused for lack of space before the transaction commits, which is retryable;
// the stores go on after room is made. Needs root (as CI runs), like TestDiskFull.
func TestFullDiskIsRetryable(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a 1 MiB tmpfs on %s (this test needs root, as CI runs): %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	s := open(t, dir, Options{})
	defer s.Close()
	big := bytes.Repeat([]byte("x"), 16<<10)
	var err error
	var i uint64
	for i = 1; i < 1000; i++ {
		if err = s.Log.StoreLog(&raft.Log{Index: i, Term: 1, Data: big}); err != nil {
			break
		}
	}
	t.Logf("after %d entries: %#v", i-1, err)
	if err == nil || !retryable(err) || errors.Is(err, ErrWriteFailed) {
		t.Fatalf("a full disk: %v (retryable %v)", err, err != nil && retryable(err))
	}
	// A snapshot on the full disk fails and is discarded, and writing goes on.
	sink, err := s.Snapshot.Create(raft.SnapshotVersionMax, i-1, 1, testConf, 1, testTrans)
	if err == nil {
		for range 64 {
			if _, err = sink.Write(big); err != nil {
				break
			}
		}
		if err == nil {
			err = sink.Close()
		} else {
			sink.Cancel()
		}
	}
	t.Logf("a snapshot on the full disk: %#v", err)
	if err == nil || s.Err() != nil {
		t.Fatalf("a snapshot on the full disk: %v; latched: %v", err, s.Err())
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=8m"); err != nil {
		t.Fatal(err)
	}
	must(t, s.Log.StoreLog(&raft.Log{Index: i, Term: 1, Data: big}))
}

// Damage found by a read once raft runs stops the stores (Failed, Err naming the file)
// and ends the reading goroutine, where raft would retry the read for ever or panic.
// Segment files are read with pread, so a flip in the file shows at once.
func TestDamageFoundWhileRunning(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	defer s.Close()
	fill(t, s, 20)
	s.RaftStarted()
	seg, off, _ := entryFrame(t, dir, 9)
	b, err := os.ReadFile(seg)
	must(t, err)
	j := bytes.Index(b[off:], []byte("entry-0009"))
	if j < 0 {
		t.Fatal("entry 9's data is not in its frame")
	}
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte{'X'}, int64(off+j))
	must(t, err)
	f.Close()
	returned := make(chan error, 1)
	go func() {
		var l raft.Log
		err := s.Log.GetLog(9, &l)
		returned <- err // not reached: the goroutine ends
	}()
	select {
	case <-s.Failed():
	case err := <-returned:
		t.Fatalf("GetLog of a damaged entry returned %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the stores did not fail")
	}
	if err := s.Err(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), "log entry 9") {
		t.Fatalf("Err() = %v", err)
	}
	select {
	case err := <-returned:
		t.Fatalf("GetLog returned %v instead of ending its goroutine", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := s.Log.StoreLog(entry(21)); err != s.Err() {
		t.Fatalf("a write after the damage: %v", err)
	}
}

// A failed fsync of a segment file stops all writing, naming the file; the store
// opens again afterwards with what was acknowledged.
func TestSegmentSyncErrorLatches(t *testing.T) {
	var fail atomic.Bool
	hook := func(op WriteOp, write func() error) error {
		if op.Kind == "segment sync" && fail.Load() {
			return &os.PathError{Op: "sync", Path: op.Path, Err: syscall.EIO}
		}
		return write()
	}
	dir := t.TempDir()
	s := open(t, dir, Options{WriteHook: hook})
	fill(t, s, 20)
	fail.Store(true)
	err := s.Log.StoreLog(entry(21))
	seg, _, _ := entryFrame(t, dir, 20)
	if !errors.Is(err, ErrWriteFailed) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), seg) || s.Err() != err {
		t.Fatalf("a failed segment sync: %v", err)
	}
	fail.Store(false)
	if err := s.Log.StoreLog(entry(21)); err != s.Err() {
		t.Fatalf("a write after the failure: %v", err)
	}
	must(t, s.Close())
	s = open(t, dir, Options{})
	defer s.Close()
	if l, _ := s.Log.LastIndex(); l < 20 {
		t.Fatalf("last index %d after the failure", l)
	}
}

// raft-wal seals a full segment in the batch that fills it and records the next one
// afterwards, from its own goroutine. If that record is lost (a crash, here a failed
// metadata commit), the store opens with the sealed tail's successor recorded,
// instead of refusing every append as raft-wal would.
func TestInterruptedRotation(t *testing.T) {
	for _, injected := range []error{syscall.EIO, &os.PathError{Op: "write", Path: metaName, Err: syscall.ENOSPC}} {
		var fail atomic.Bool
		hook := func(op WriteOp, write func() error) error {
			if op.Kind == "meta commit" && fail.Load() {
				return injected
			}
			return write()
		}
		dir := t.TempDir()
		opts := Options{SegmentSize: 1024, WriteHook: hook}
		s := open(t, dir, opts)
		must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 100))
		fail.Store(true)
		var i uint64
		for i = 1; i < 100 && s.Err() == nil; i++ {
			if err := s.Log.StoreLog(entry(i)); err != nil {
				break
			}
		}
		// Either error stops writing, the lack of space too (raft-wal does not retry
		// it), saying what failed.
		if err := s.Err(); err == nil || !errors.Is(err, injected) && !strings.Contains(err.Error(), injected.Error()) {
			t.Fatalf("%v in the rotation: latched %v", injected, err)
		}
		t.Logf("%v in the rotation: %v", injected, s.Err())
		must(t, s.Close())
		acked := i - 1
		fail.Store(false)
		s = open(t, dir, opts)
		last, err := s.Log.LastIndex()
		must(t, err)
		if last < acked {
			t.Fatalf("last index %d, %d acknowledged", last, acked)
		}
		for j := last + 1; j < last+100; j++ {
			must(t, s.Log.StoreLog(entry(j)))
		}
		for j := uint64(1); j < last+100; j++ {
			var l raft.Log
			must(t, s.Log.GetLog(j, &l))
		}
		must(t, s.Close())
	}
}

// A crash in the append that seals a segment (its entries, the index and the commit
// frame written in part) leaves the segment unsealed at the last whole batch, and
// appends go on in it. raft-wal v0.4.1 took such a segment for sealed (the power-loss
// test found a member that could not restart, its index read garbage offsets).
func TestTornSeal(t *testing.T) {
	var torn atomic.Bool
	hook := func(op WriteOp, write func() error) error {
		if op.Kind != "segment write" || torn.Load() {
			return write()
		}
		start := 0
		if op.Off == 0 {
			start = fileHeaderLen
		}
		for off := start; off+frameHeaderLen <= len(op.Data); {
			typ, n := op.Data[off], int(binary.LittleEndian.Uint32(op.Data[off+4:]))
			if typ == frameIndex { // the batch that seals: only up into its index reaches the file
				torn.Store(true)
				f, err := os.OpenFile(op.Path, os.O_RDWR, 0)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := f.WriteAt(op.Data[:off+frameHeaderLen+4], op.Off); err != nil {
					return err
				}
				return syscall.EIO
			}
			if typ == frameCommit {
				n = 0
			}
			off += frameHeaderLen + (n+7)/8*8
		}
		return write()
	}
	dir := t.TempDir()
	opts := Options{SegmentSize: 1024, WriteHook: hook}
	s := open(t, dir, opts)
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 100))
	var acked uint64
	for i := uint64(1); i < 100; i++ {
		if err := s.Log.StoreLog(entry(i)); err != nil {
			break
		}
		acked = i
	}
	if !torn.Load() {
		t.Fatal("no segment was sealed")
	}
	must(t, s.Close())
	s = open(t, dir, Options{SegmentSize: 1024})
	defer s.Close()
	if last, _ := s.Log.LastIndex(); last != acked {
		t.Fatalf("last index %d, %d acknowledged", last, acked)
	}
	for j := acked + 1; j < acked+50; j++ {
		must(t, s.Log.StoreLog(entry(j)))
	}
	for j := uint64(1); j < acked+50; j++ {
		var l raft.Log
		must(t, s.Log.GetLog(j, &l))
	}
}

// With dataLogDir, raft.db is in the log directory and wal/ goes there too.
func TestMigrateLogDir(t *testing.T) {
	logDir := legacyDir(t, 20, 20, false) // raft.db here; its snapshot moves to dir
	dir := t.TempDir()
	must(t, os.Rename(filepath.Join(logDir, "snapshots"), filepath.Join(dir, "snapshots")))
	s := open(t, dir, Options{LogDir: logDir})
	if what := intact(s, 20); what != "" {
		t.Fatal(what)
	}
	must(t, s.Close())
	for _, p := range []string{filepath.Join(logDir, walDirName), filepath.Join(logDir, legacyName+".migrated")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	if !HasLog(logDir) || HasLog(dir) {
		t.Fatalf("HasLog: log directory %v, data directory %v", HasLog(logDir), HasLog(dir))
	}
}

// Unfinished snapshots (a full disk, a crash while writing or reaping one) are
// removed at start; finished ones stay.
func TestOpenRemovesUnfinishedSnapshots(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	snaps := filepath.Join(dir, "snapshots")
	for _, name := range []string{"5-22375-1796345734575.tmp", "15-153914-1796345776512.tmp"} {
		if err := os.MkdirAll(filepath.Join(snaps, name), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snaps, name, "meta.json"), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if left, _ := filepath.Glob(filepath.Join(snaps, "*.tmp")); len(left) != 0 {
		t.Fatalf("unfinished snapshots left after Open: %v", left)
	}
}

// TestOlderSnapshotCheckedWhenOpened: Open checks the newest snapshot's state (the
// one raft restores) and leaves an older one's CRC-64 to its own Open, where damage
// is refused all the same; a damaged meta.json of any snapshot is refused at start.
func TestOlderSnapshotCheckedWhenOpened(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	sink, err := s.Snapshot.Create(raft.SnapshotVersionMax, 30, 9, testConf, 1, testTrans)
	must(t, err)
	_, err = sink.Write([]byte("ZKRTREE\x00 the newer tree"))
	must(t, err)
	must(t, sink.Close())
	must(t, s.Close())
	metas, err := s.Snapshot.List()
	if err != nil || len(metas) != 2 {
		t.Fatalf("want two snapshots: %v %v", metas, err)
	}
	older := filepath.Join(dir, "snapshots", metas[1].ID)
	state := filepath.Join(older, "state.bin")
	b, err := os.ReadFile(state)
	must(t, err)
	b[len(b)-3] ^= 1
	must(t, os.WriteFile(state, b, 0o644))

	s = open(t, dir, Options{}) // the newest is intact: starts
	if _, rc, err := s.Snapshot.Open(metas[1].ID); !errors.Is(err, ErrCorrupt) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("opening the damaged older snapshot: %v, want a CorruptError", err)
	}
	must(t, s.Close())

	meta := filepath.Join(older, "meta.json")
	m, err := os.ReadFile(meta)
	must(t, err)
	must(t, os.WriteFile(meta, m[:len(m)/2], 0o644))
	if s, err := Open(dir, Options{}); err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), meta) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("start with the older snapshot's meta.json cut short: %v, want a CorruptError naming %s", err, meta)
	}
}
