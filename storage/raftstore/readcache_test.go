package raftstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestStartupReadCache: the entries after the snapshot that Open verified are served
// from memory to raft's next two reads (its configuration scan and the FSM), then
// dropped; deleting or replacing entries drops them at once, so that a read never
// returns what the log no longer holds.
func TestStartupReadCache(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 10) // a snapshot at 10
	for i := uint64(11); i <= 20; i++ {
		must(t, s.Log.StoreLog(entry(i)))
	}
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), entry(20).Term))
	must(t, s.Close())

	s = open(t, dir, Options{})
	defer s.Close()
	c := &s.Log.(*checkedStore).cache
	if n := c.len(); n != 10 {
		t.Fatalf("%d entries cached after Open, want the 10 after the snapshot", n)
	}
	same := func(i uint64) {
		t.Helper()
		var l raft.Log
		must(t, s.Log.GetLog(i, &l))
		w := entry(i) // its append time is now: compared for zero only
		if l.Index != w.Index || l.Term != w.Term || l.Type != w.Type || !bytes.Equal(l.Data, w.Data) ||
			!bytes.Equal(l.Extensions, w.Extensions) || l.AppendedAt.IsZero() != w.AppendedAt.IsZero() {
			t.Fatalf("entry %d read as %+v, want %+v", i, l, *w)
		}
	}
	same(5) // before the snapshot: from the log
	same(12)
	if n := c.len(); n != 10 {
		t.Fatalf("%d cached after one read, want 10", n)
	}
	same(12)
	if n := c.len(); n != 9 {
		t.Fatalf("%d cached after a second read of one, want 9", n)
	}
	same(12) // from the log now
	must(t, s.Log.DeleteRange(19, 20))
	if n := c.len(); n != 7 {
		t.Fatalf("%d cached after deleting 19 and 20, want 7", n)
	}
	var l raft.Log
	if err := s.Log.GetLog(19, &l); err != raft.ErrLogNotFound {
		t.Fatalf("a deleted entry read: %v %+v", err, l)
	}
	replaced := entry(15)
	replaced.Term, replaced.Data = 99, []byte("replaced")
	must(t, s.Log.DeleteRange(15, 18))
	must(t, s.Log.StoreLogs([]*raft.Log{replaced}))
	if n := c.len(); n != 3 {
		t.Fatalf("%d cached after replacing 15 on, want 3 (11, 13, 14)", n)
	}
	must(t, s.Log.GetLog(15, &l))
	if l.Term != 99 || string(l.Data) != "replaced" {
		t.Fatalf("entry 15 read as %+v after it was replaced", l)
	}
	for _, i := range []uint64{11, 13, 14} {
		same(i)
		same(i)
	}
	if n := c.len(); n != 0 || c.live.Load() {
		t.Fatalf("%d cached after two reads of each", n)
	}
}

// TestStartupReadCacheBounded: past readCacheMax bytes, entries stay on disk.
func TestStartupReadCacheBounded(t *testing.T) {
	var c readCache
	big := make([]byte, readCacheMax/4)
	n := 0
	for i := uint64(1); i <= 8; i++ {
		if c.add(&raft.Log{Index: i, Data: big}) {
			n++
		}
	}
	if n != 3 || c.len() != 3 {
		t.Fatalf("%d of 8 entries of a quarter of the bound cached", n)
	}
}

// TestSnapshotCheckedOnceAtStart: raft's restore of a snapshot Open verified skips
// the CRC-64 verify computed; a state.bin changed since is checked again.
func TestSnapshotCheckedOnceAtStart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())

	s = open(t, dir, Options{})
	snaps := s.Snapshot.(*snapshotStore)
	id := filepath.Base(snapshotDir(t, dir))
	if ok, _ := snaps.takeVerified(id); !ok {
		t.Fatal("the snapshot Open checked is checked again")
	}
	if ok, _ := snaps.takeVerified(id); ok {
		t.Fatal("the snapshot Open checked is skipped twice")
	}
	must(t, s.Close())

	s = open(t, dir, Options{})
	defer s.Close()
	state := filepath.Join(snapshotDir(t, dir), "state.bin")
	b, err := os.ReadFile(state)
	must(t, err)
	st, err := os.Stat(state)
	must(t, err)
	b[len(b)-1] ^= 1 // the tree's own CRC, which the store does not read
	must(t, os.WriteFile(state, b, 0o644))
	// The same size: the change shows in the time (set apart from the one checked,
	// which the coarse file clock could repeat).
	must(t, os.Chtimes(state, st.ModTime().Add(time.Second), st.ModTime().Add(time.Second)))
	if _, rc, err := s.Snapshot.Open(id); err == nil {
		rc.Close()
		t.Fatal("a state.bin changed after the start-up check opened without its CRC-64")
	}
	b[len(b)-1] ^= 1
	must(t, os.WriteFile(state, b, 0o644))
	_, rc, err := s.Snapshot.Open(id)
	must(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	if !bytes.HasSuffix(got, []byte("the tree's own bytes")) {
		t.Fatalf("read %q", got)
	}
}

// TestSnapshotPreloaded: with Options.Preload, Open restores the newest snapshot
// itself (the state past the header), and the value reaches the restore of raft's
// Open of that snapshot, once; a Preload error fails Open as a damaged snapshot.
func TestSnapshotPreloaded(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	fill(t, s, 20)
	must(t, s.Close())
	id := filepath.Base(snapshotDir(t, dir))

	var calls int
	preload := func(r io.Reader) (any, error) {
		calls++
		b, err := io.ReadAll(r)
		return string(b), err
	}
	s = open(t, dir, Options{Preload: preload})
	if calls != 1 {
		t.Fatalf("Preload ran %d times at Open, want 1", calls)
	}
	if v := s.Preloaded(); v != nil {
		t.Fatalf("preloaded value %v before raft opened the snapshot", v)
	}
	_, rc, err := s.Snapshot.Open(id)
	must(t, err)
	rc.Close()
	if v := s.Preloaded(); v != "ZKRTREE\x00 the tree's own bytes" {
		t.Fatalf("preloaded value %q, want the state past the header", v)
	}
	if v := s.Preloaded(); v != nil {
		t.Fatalf("preloaded value %v taken twice", v)
	}
	// Opened again (raft sending it to a follower): read from the file, no value.
	_, rc, err = s.Snapshot.Open(id)
	must(t, err)
	rc.Close()
	if v := s.Preloaded(); v != nil {
		t.Fatalf("preloaded value %v for a second Open", v)
	}
	must(t, s.Close())

	// Not taken before raft started: let go.
	s = open(t, dir, Options{Preload: preload})
	s.RaftStarted()
	_, rc, err = s.Snapshot.Open(id)
	must(t, err)
	rc.Close()
	if v := s.Preloaded(); v != nil {
		t.Fatalf("preloaded value %v after RaftStarted", v)
	}
	must(t, s.Close())

	_, err = Open(dir, Options{Preload: func(io.Reader) (any, error) { return nil, errors.New("bad tree") }})
	var ce *CorruptError
	if !errors.As(err, &ce) || filepath.Base(ce.Path) != "state.bin" || !strings.Contains(err.Error(), "bad tree") {
		t.Fatalf("Open with a snapshot Preload fails on: %v, want a CorruptError naming state.bin", err)
	}
	_, err = Open(dir, Options{Preload: func(io.Reader) (any, error) { panic("index out of range") }})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("Open with a snapshot Preload panics on: %v, want a CorruptError", err)
	}

	// The CRC-64 in meta.json is not computed at start with Preload (the state's own
	// CRC-32Cs cover it): a damaged one starts, and the next Open (raft sending the
	// snapshot to a follower) refuses it, naming the CRC-64.
	metaPath := filepath.Join(snapshotDir(t, dir), "meta.json")
	m, err := os.ReadFile(metaPath)
	must(t, err)
	var fm fileMeta
	must(t, json.Unmarshal(m, &fm))
	fm.CRC[0] ^= 1
	m, err = json.Marshal(fm)
	must(t, err)
	must(t, os.WriteFile(metaPath, m, 0o644))
	s = open(t, dir, Options{Preload: preload})
	defer s.Close()
	_, rc, err = s.Snapshot.Open(id)
	must(t, err) // raft's restore at start: the state CRC-32C-checked by the preload
	rc.Close()
	if _, rc, err := s.Snapshot.Open(id); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "CRC-64") {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("the next Open of a snapshot whose meta.json has another CRC-64: %v, want a CorruptError", err)
	}
}

// panickyStore's GetLog panics as raft-wal's codec does on some damaged bytes.
type panickyStore struct{ logStore }

func (panickyStore) GetLog(uint64, *raft.Log) error {
	var b []byte
	n := -1
	_ = b[:n] // slice bounds out of range
	return nil
}

// A decoder's panic on a damaged entry is reported as damage to that entry, naming
// its file, not a crash of the member.
func TestGetLogDecoderPanic(t *testing.T) {
	s := &checkedStore{inner: panickyStore{}, path: "wal", fileOf: func(uint64) string { return "wal/seg-7.wal" }, latch: newLatch(nil)}
	var l raft.Log
	err := s.GetLog(7, &l)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != "wal/seg-7.wal" || !strings.Contains(err.Error(), "log entry 7") {
		t.Fatalf("GetLog on a panicking decoder = %v, want a CorruptError naming wal/seg-7.wal and entry 7", err)
	}
}
