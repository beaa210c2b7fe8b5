package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// segFrame is a frame of a segment file: its offset, type and length field.
type segFrame struct {
	off int
	typ byte
	n   int
}

// frames lists the frames of the segment file at path, up to the first zero header.
func frames(t *testing.T, path string) []segFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	var fs []segFrame
	for off := fileHeaderLen; off+frameHeaderLen <= len(b); {
		f := segFrame{off: off, typ: b[off], n: int(binary.LittleEndian.Uint32(b[off+4:]))}
		if f.typ == 0 {
			break
		}
		fs = append(fs, f)
		size := frameHeaderLen
		if f.typ != frameCommit {
			size += (f.n + 7) / 8 * 8
		}
		off += size
	}
	return fs
}

// sealedSegments returns the segment files of dir that hold an index frame, in
// order, with the offset of each one's index frame.
func sealedSegments(t *testing.T, dir string) (files []string, index []segFrame) {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(dir, walDirName, "*.wal"))
	must(t, err)
	for _, f := range all {
		for _, fr := range frames(t, f) {
			if fr.typ == frameIndex {
				files, index = append(files, f), append(index, fr)
			}
		}
	}
	return files, index
}

func flipByte(t *testing.T, path string, off int) (restore func()) {
	t.Helper()
	orig, err := os.ReadFile(path)
	must(t, err)
	b := bytes.Clone(orig)
	b[off] ^= 0xff
	must(t, os.WriteFile(path, b, 0o600))
	return func() { must(t, os.WriteFile(path, orig, 0o600)) }
}

func wantCorrupt(t *testing.T, err error, path, what string) {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || !strings.Contains(err.Error(), what) || !strings.Contains(err.Error(), "reconfig -remove") {
		t.Fatalf("Open: %v; want a CorruptError naming %s, saying %q and what to do", err, path, what)
	}
}

// A damaged index block of a sealed segment stops the start, naming the segment:
// every byte of it, flipped, makes an offset that is not its entry's frame.
func TestSealedIndexDamage(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 400}
	s := open(t, dir, opts)
	fill(t, s, 20)
	must(t, s.Close())
	files, index := sealedSegments(t, dir)
	if len(files) < 2 {
		t.Fatalf("%d sealed segments, want 2 or more", len(files))
	}
	f, ix := files[1], index[1]
	flipEach(t, dir, opts, f, []int{ix.off + frameHeaderLen}, ix.n, f,
		func(*Stores) string { return "Open succeeded" }, 0)
	// The index frame's header: its length.
	restore := flipByte(t, f, ix.off+4)
	_, err := Open(dir, opts)
	restore()
	wantCorrupt(t, err, f, "its index frame holds")
}

// After a compaction (a snapshot, then the log's head deleted into a sealed
// segment) the entries the segment still holds below its MinIndex are walked over,
// not read: damage to one of them does not stop the start. Its slot in the index
// block is checked with the rest of the block. The first entry kept is checked.
func TestScanAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 400}
	s := open(t, dir, opts)
	fill(t, s, 20)
	files, _ := sealedSegments(t, dir)
	if len(files) < 3 {
		t.Fatalf("%d sealed segments, want 3 or more", len(files))
	}
	var base, id uint64
	_, err := fmtSscan(filepath.Base(files[1]), &base, &id)
	must(t, err)
	must(t, s.Log.DeleteRange(1, base)) // into the second sealed segment: its first entry goes
	must(t, s.Close())
	if _, err := os.Stat(files[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the first segment is still there after the compaction: %v", err)
	}

	s = open(t, dir, opts)
	if first, _ := s.Log.FirstIndex(); first != base+1 {
		t.Fatalf("first index %d after the compaction, want %d", first, base+1)
	}
	if what := intactFrom(s, base+1, 20); what != "" {
		t.Fatal(what)
	}
	must(t, s.Close())

	f, off, _ := entryFrame(t, dir, base)
	b, err := os.ReadFile(f)
	must(t, err)
	j := bytes.Index(b[off:], fmt.Appendf(nil, "entry-%04d", base))
	if f != files[1] || j < 0 {
		t.Fatalf("entry %d found in %s (data at %d), want it in %s", base, f, j, files[1])
	}
	restore := flipByte(t, f, off+j)
	s, err = Open(dir, opts)
	restore()
	if err != nil {
		t.Fatalf("damage to entry %d, below the first index %d: %v", base, base+1, err)
	}
	s.Close()

	_, index := sealedSegments(t, dir)
	restore = flipByte(t, f, index[0].off+frameHeaderLen) // entry base's offset
	_, err = Open(dir, opts)
	restore()
	wantCorrupt(t, err, f, "its index has entry")

	f, off, _ = entryFrame(t, dir, base+1)
	b, err = os.ReadFile(f)
	must(t, err)
	j = bytes.Index(b[off:], fmt.Appendf(nil, "entry-%04d", base+1))
	restore = flipByte(t, f, off+j)
	_, err = Open(dir, opts)
	restore()
	wantCorrupt(t, err, f, fmt.Sprintf("log entry %d: checksum mismatch", base+1))
}

// After the log's end is deleted (a follower's conflicting entries), the segment
// that held the new last entry is sealed with its MaxIndex below the frames it
// holds: those past MaxIndex are walked over, and the entries appended after them,
// in the next segment, are read in their place.
func TestScanAfterTailTruncation(t *testing.T) {
	for _, c := range []struct {
		name   string
		sealed bool // the new end falls in a sealed segment, else in the tail
	}{{"sealed", true}, {"tail", false}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: 400}
			s := open(t, dir, opts)
			fill(t, s, 20)
			files, _ := sealedSegments(t, dir)
			var base, id uint64
			if c.sealed {
				_, err := fmtSscan(filepath.Base(files[1]), &base, &id)
				must(t, err)
			} else {
				all, _ := filepath.Glob(filepath.Join(dir, walDirName, "*.wal"))
				_, err := fmtSscan(filepath.Base(all[len(all)-1]), &base, &id)
				must(t, err)
			}
			cut := base + 2 // entries cut to 20 go; base and base+1 stay
			must(t, s.Log.DeleteRange(cut, 20))
			var repl []*raft.Log
			for i := cut; i <= 20; i++ {
				l := entry(i)
				l.Data = fmt.Appendf(nil, "again-%04d", i)
				repl = append(repl, l)
			}
			must(t, s.Log.StoreLogs(repl))
			must(t, s.Close())

			s = open(t, dir, opts)
			defer s.Close()
			if last, _ := s.Log.LastIndex(); last != 20 {
				t.Fatalf("last index %d, want 20", last)
			}
			for i := uint64(1); i <= 20; i++ {
				var l raft.Log
				must(t, s.Log.GetLog(i, &l))
				want := fmt.Sprintf("entry-%04d", i)
				if i >= cut {
					want = fmt.Sprintf("again-%04d", i)
				}
				if string(l.Data) != want {
					t.Fatalf("entry %d reads %q, want %q", i, l.Data, want)
				}
			}
		})
	}
}

// perEntry hides the walStore from verify, which then reads an entry at a time.
type perEntry struct{ logStore }

// Both ways of verifying a log accept the same logs and fill the start-up read cache
// with the same entries; the sequential one refuses whatever the per-entry one
// refuses (and may refuse more: damage that no read would see), naming the segment
// file that was damaged. Every byte of every segment file, flipped in turn.
func TestScanMatchesPerEntryWalk(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 400}
	s := open(t, dir, opts)
	fill(t, s, 10) // a snapshot at 10
	for i := uint64(11); i <= 20; i++ {
		must(t, s.Log.StoreLog(entry(i)))
	}
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), entry(20).Term))
	must(t, s.Close())
	walDir := filepath.Join(dir, walDirName)
	orig := map[string][]byte{}
	names, err := filepath.Glob(filepath.Join(walDir, "*"))
	must(t, err)
	for _, n := range names {
		b, err := os.ReadFile(n)
		must(t, err)
		orig[n] = b
	}
	restore := func() {
		now, err := filepath.Glob(filepath.Join(walDir, "*"))
		must(t, err)
		for _, n := range now {
			if _, ok := orig[n]; !ok {
				must(t, os.Remove(n))
			}
		}
		for n, b := range orig {
			must(t, os.WriteFile(n, b, 0o600))
		}
	}
	// verify both ways; nil, nil when the WAL does not open.
	both := func() (seq, each error, seqCache, eachCache map[uint64]*cachedEntry) {
		w, err := openWAL(walDir, newLatch(nil), opts.SegmentSize, nil)
		if err != nil {
			return nil, nil, nil, nil
		}
		defer w.Close()
		meta := filepath.Join(walDir, metaName)
		a := &checkedStore{inner: w, path: walDir, fileOf: w.filer.fileOf, stablePath: meta, latch: newLatch(nil)}
		b := &checkedStore{inner: perEntry{w}, path: walDir, fileOf: w.filer.fileOf, stablePath: meta, latch: newLatch(nil)}
		seq = check(meta, func() error { return a.verify(10) })
		each = check(meta, func() error { return b.verify(10) })
		return seq, each, a.cache.m, b.cache.m
	}
	seq, each, sc, ec := both()
	if seq != nil || each != nil || len(sc) != 10 || !sameCache(sc, ec) {
		t.Fatalf("intact log: sequential %v, per entry %v, cached %d and %d, the same: %v", seq, each, len(sc), len(ec), sameCache(sc, ec))
	}
	segs, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	must(t, err)
	var flips, refused, stricter int
	for _, f := range segs {
		end := len(bytes.TrimRight(orig[f], "\x00"))
		for off := range end {
			flipByte(t, f, off)
			seq, each, sc, ec := both()
			restore()
			flips++
			var ce *CorruptError
			switch {
			case each != nil && (!errors.As(seq, &ce) || ce.Path != f):
				t.Fatalf("byte %d of %s flipped: per entry %v; sequential %v, want a CorruptError naming the file", off, f, each, seq)
			case seq != nil && !errors.As(seq, &ce):
				t.Fatalf("byte %d of %s flipped: sequential %v, not a CorruptError", off, f, seq)
			case each != nil:
				refused++
			case seq != nil:
				stricter++
			case !sameCache(sc, ec):
				t.Fatalf("byte %d of %s flipped: both accept it, caching different entries", off, f)
			}
		}
	}
	t.Logf("%d bytes flipped: %d refused both ways, %d by the sequential walk only", flips, refused, stricter)
	if refused == 0 {
		t.Fatal("no flip was refused")
	}
}

func sameCache(a, b map[uint64]*cachedEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i, x := range a {
		y, ok := b[i]
		if !ok || x.log.Index != y.log.Index || x.log.Term != y.log.Term || x.log.Type != y.log.Type ||
			!bytes.Equal(x.log.Data, y.log.Data) || !bytes.Equal(x.log.Extensions, y.log.Extensions) ||
			!x.log.AppendedAt.Equal(y.log.AppendedAt) {
			return false
		}
	}
	return true
}

// intactFrom says what differs from what fill wrote in entries from to last.
func intactFrom(s *Stores, from, last uint64) string {
	for i := from; i <= last; i++ {
		var got raft.Log
		if err := s.Log.GetLog(i, &got); err != nil {
			return fmt.Sprintf("entry %d: %v", i, err)
		}
		if want := entry(i); got.Index != i || got.Term != want.Term || !bytes.Equal(got.Data, want.Data) {
			return fmt.Sprintf("entry %d reads %+v", i, got)
		}
	}
	return ""
}

func fmtSscan(name string, base, id *uint64) (int, error) {
	return fmt.Sscanf(name, "%020d-%016x.wal", base, id)
}
