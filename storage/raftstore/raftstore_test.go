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
// naming wantPath, or else everything to read back as written (see intact).
func flipEach(t *testing.T, dir, path string, at []int, n int, wantPath string) {
	t.Helper()
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
		s, err = Open(dir, Options{})
		if err == nil {
			if what := intact(s); what != "" {
				t.Fatalf("byte %d of %s flipped (%q → %q): the stores opened and %s", off, path, orig[off], b[off], what)
			}
			s.Close()
			harmless++
			continue
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Path != wantPath || !strings.Contains(err.Error(), "reconfig -remove") {
			t.Fatalf("byte %d of %s flipped: want a CorruptError naming %s and what to do, got %v", off, path, wantPath, err)
		}
		checked++
	}
	must(t, os.WriteFile(path, orig, 0o600))
	s := open(t, dir, Options{}) // intact again
	s.Close()
	t.Logf("%d flipped bytes of %s detected, %d changed nothing read; an error: %v", checked, filepath.Base(path), harmless, err)
	if harmless > n/4 {
		t.Fatalf("%d of %d flips went unnoticed", harmless, n)
	}
}

// intact says what differs from what fill wrote, or "" if nothing does: a flip in
// a msgpack field name makes the decoder skip the field, which is harmless when
// its value was the zero value anyway (an entry's Type LogCommand, a zero time).
func intact(s *Stores) string {
	for i := uint64(1); i <= 20; i++ {
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

func TestCorruptLogEntry(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())
	db := filepath.Join(dir, "raft.db")
	for _, i := range []uint64{1, 9, 20} { // first, middle (with extensions), last
		at, n := valueCopies(t, db, []byte("logs"), key(i))
		flipEach(t, dir, db, at, n, db)
	}
}

func TestCorruptStableStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())
	db := filepath.Join(dir, "raft.db")
	for _, k := range []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand", string(formatKey)} {
		at, n := valueCopies(t, db, []byte("conf"), []byte(k))
		flipEach(t, dir, db, at, n, db)
	}
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
	flipEach(t, dir, state, []int{0}, int(st.Size()), state)
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

// Data written by the version before checksums (raft-boltdb and raft's file
// snapshots as they are) opens; new writes are checksummed; an unchecksummed entry
// past the old ones is corruption.
func TestLegacyDataOpens(t *testing.T) {
	dir := t.TempDir()
	db, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	must(t, err)
	for i := uint64(1); i <= 10; i++ {
		must(t, db.StoreLog(entry(i)))
	}
	must(t, db.SetUint64([]byte("CurrentTerm"), 3))
	must(t, db.Set([]byte("LastVoteCand"), []byte("1")))
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	must(t, err)
	sink, err := snaps.Create(raft.SnapshotVersionMax, 10, 3, testConf, 1, testTrans)
	must(t, err)
	_, err = sink.Write([]byte("ZKRTREE\x00 old tree"))
	must(t, err)
	must(t, sink.Close())
	must(t, db.Close())

	s := open(t, dir, Options{})
	var l raft.Log
	must(t, s.Log.GetLog(7, &l))
	if string(l.Data) != "entry-0007" {
		t.Fatalf("old entry 7: %+v", l)
	}
	if v, err := s.Stable.GetUint64([]byte("CurrentTerm")); v != 3 || err != nil {
		t.Fatalf("old CurrentTerm: %d %v", v, err)
	}
	metas, err := s.Snapshot.List()
	must(t, err)
	_, rc, err := s.Snapshot.Open(metas[0].ID)
	must(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "ZKRTREE\x00 old tree" {
		t.Fatalf("old snapshot: %q", b)
	}
	must(t, s.Log.StoreLog(entry(11)))
	must(t, s.Close())
	s = open(t, dir, Options{}) // again, now with its format record
	must(t, s.Close())

	// An entry past the old ones without a checksum is damage, not an old entry.
	db, err = raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	must(t, err)
	must(t, db.StoreLog(entry(12)))
	must(t, db.Close())
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "log entry 12 has no checksum") {
		t.Fatalf("unchecksummed entry 12: %v", err)
	}
}

func TestMissingEntryAndTerm(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 10) // a snapshot at 10
	for i := uint64(11); i <= 15; i++ {
		must(t, s.Log.StoreLog(entry(i)))
	}
	must(t, s.Close())
	db, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	must(t, err)
	must(t, db.DeleteRange(13, 13))
	must(t, db.Close())
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entry 13 is missing") {
		t.Fatalf("a hole in the log past the snapshot: %v", err)
	}
}

// After a follower installs a snapshot at 10, hashicorp/raft keeps some of its old
// entries (here 1-4) and appends from 11: the hole below the snapshot is not damage.
// (integration/chaos found members that could not restart on it.)
func TestHoleBelowSnapshotOpens(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 10)
	for i := uint64(11); i <= 15; i++ {
		must(t, s.Log.StoreLog(entry(i)))
	}
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 4))
	must(t, s.Log.DeleteRange(5, 10))
	must(t, s.Close())
	s = open(t, dir, Options{})
	var l raft.Log
	must(t, s.Log.GetLog(15, &l))
	must(t, s.Close())
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC}, true},
		{&os.PathError{Op: "write", Path: "raft.db", Err: syscall.EDQUOT}, true},
		{fmt.Errorf("file resize error: %s", syscall.ENOSPC), true},
		{&os.PathError{Op: "write", Path: "raft.db", Err: syscall.EIO}, false},
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

// A write that fails with EIO (as bbolt's fdatasync reports it) stops every later
// write, of the log, the stable store and snapshots; a lack of space does not.
// A compaction deletes in chunks (appends go between them); a tail or the whole
// log goes in one transaction, leaving no hole and nothing that must not survive.
func TestCompactionInChunks(t *testing.T) {
	var deletes []string
	hook := func(op WriteOp, write func() error) error {
		if op.Kind == "delete logs" {
			deletes = append(deletes, op.Kind)
		}
		return write()
	}
	s := open(t, t.TempDir(), Options{WriteHook: hook})
	defer s.Close()
	const n = 3*compactChunk + 100
	logs := make([]*raft.Log, 0, n)
	for i := uint64(1); i <= n; i++ {
		logs = append(logs, entry(i))
	}
	must(t, s.Log.StoreLogs(logs))
	check := func(what string, first, last uint64, txns int) {
		t.Helper()
		f, err := s.Log.FirstIndex()
		must(t, err)
		l, err := s.Log.LastIndex()
		must(t, err)
		if f != first || l != last || len(deletes) != txns {
			t.Fatalf("%s: entries %d..%d in %d transactions, want %d..%d in %d", what, f, l, len(deletes), first, last, txns)
		}
		var got raft.Log
		must(t, s.Log.GetLog(first, &got))
		must(t, s.Log.GetLog(last, &got))
		deletes = nil
	}
	must(t, s.Log.DeleteRange(1, 2*compactChunk+50)) // a compaction
	check("compaction", 2*compactChunk+51, n, 3)
	must(t, s.Log.DeleteRange(n-10, n)) // a conflicting tail
	check("tail", 2*compactChunk+51, n-11, 1)
	must(t, s.Log.DeleteRange(2*compactChunk+51, n-11)) // the whole log
	if f, _ := s.Log.FirstIndex(); f != 0 || len(deletes) != 1 {
		t.Fatalf("whole log: first index %d after %d transactions, want 0 after 1", f, len(deletes))
	}
}

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

	inject = &os.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC}
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
	if s.Err() != err || !strings.Contains(err.Error(), "store log entries") || !strings.Contains(err.Error(), "raft.db") {
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
// bbolt reads through a shared mapping, so a flip in the file shows at once.
func TestDamageFoundWhileRunning(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	defer s.Close()
	fill(t, s, 20)
	s.RaftStarted()
	db := filepath.Join(dir, "raft.db")
	b, err := os.ReadFile(db)
	must(t, err)
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	must(t, err)
	n := 0
	for i := 0; ; n++ { // entry 9's data, in every copy of its page
		j := bytes.Index(b[i:], []byte("entry-0009"))
		if j < 0 {
			break
		}
		_, err := f.WriteAt([]byte{'X'}, int64(i+j))
		must(t, err)
		i += j + 1
	}
	f.Close()
	if n == 0 {
		t.Fatal("entry 9's data is not in raft.db")
	}
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
	if err := s.Err(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "log entry 9") {
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
