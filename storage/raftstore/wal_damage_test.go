package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Damage that raft-wal's own recovery would take for a crash, and so drop
// acknowledged entries without a word (found by review, each shown by a test that
// opened the damaged log with entries missing).

// TestMetaFallbackRefused: a damaged newest meta page of wal-meta.db makes bbolt fall
// back to the previous commit, whose segment list lacks the newest segment; raft-wal
// would delete that segment with its entries. Open refuses instead.
func TestMetaFallbackRefused(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 16 << 10}
	s := open(t, dir, opts)
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 1))
	data := make([]byte, 1000)
	segs := func() int { m, _ := filepath.Glob(filepath.Join(dir, walDirName, "*.wal")); return len(m) }
	var n uint64
	for deadline := time.Now().Add(10 * time.Second); segs() < 3 || n < 40; n++ {
		if time.Now().After(deadline) {
			t.Fatal("no third segment within 10s")
		}
		must(t, s.Log.StoreLogs([]*raft.Log{{Index: n + 1, Term: 1, Data: data}}))
		if segs() >= 3 {
			time.Sleep(50 * time.Millisecond) // let raft-wal record the rotation
		}
	}
	must(t, s.Close())
	// Flip a byte of the checksum of bbolt's newest meta page (pages 0 and 1).
	path := filepath.Join(dir, walDirName, metaName)
	b, err := os.ReadFile(path)
	must(t, err)
	const page, txid, checksum = 4096, 64, 72
	off := checksum
	if binary.LittleEndian.Uint64(b[page+txid:]) > binary.LittleEndian.Uint64(b[txid:]) {
		off += page
	}
	b[off] ^= 1
	must(t, os.WriteFile(path, b, 0o600))
	_, err = Open(dir, opts)
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.HasSuffix(ce.Path, metaName) {
		t.Fatalf("Open after damage to wal-meta.db's newest meta page: %v; want a CorruptError naming %s", err, metaName)
	}
}

// TestSegmentCreateFailureStops: raft-wal records a new segment before creating its
// file and, when creating it fails, keeps appending to the old tail that the record
// dropped; the next open would delete that tail with what was acknowledged in it. A
// failed creation stops writing, even for lack of space.
func TestSegmentCreateFailureStops(t *testing.T) {
	dir := t.TempDir()
	var fail atomic.Bool
	opts := Options{SegmentSize: 64 << 10, WriteHook: func(op WriteOp, write func() error) error {
		if op.Kind == "segment create" && fail.Load() {
			return &os.PathError{Op: "open", Path: op.Path, Err: syscall.ENOSPC}
		}
		return write()
	}}
	s := open(t, dir, opts)
	must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 1))
	for i := uint64(1); i <= 10; i++ {
		must(t, s.Log.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: []byte("x")}}))
	}
	fail.Store(true)
	s.Log.DeleteRange(1, 10) // raft's removeOldLogs after a snapshot at 10: a new segment
	fail.Store(false)
	acked := uint64(10)
	for i := uint64(11); i <= 13; i++ {
		if s.Log.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: []byte("y")}}) != nil {
			break
		}
		acked = i
	}
	s.Close()
	if acked == 10 {
		return // writing stopped: nothing was acknowledged that could be lost
	}
	s, err := Open(dir, Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatalf("appends up to %d acknowledged after a failed segment creation, then Open: %v", acked, err)
	}
	defer s.Close()
	if last, _ := s.Log.LastIndex(); last < acked {
		t.Fatalf("appends up to %d acknowledged after a failed segment creation; after a restart the log ends at %d", acked, last)
	}
}

// TestDamagedTailBatchRefused: damage before the last committed batch of the tail
// segment is not a torn write — the batch after it is complete — so Open refuses the
// segment. The damage: the commit frame before the last batch (its type byte flipped:
// it no longer reads as a commit frame), also when the last batch's data holds words
// shaped like commit frames (a batch may start after each).
func TestDamagedTailBatchRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		flip  func(b []byte, commits []int) int // the offset to change
		xor   byte
		words bool // the last batch's data holds commit-shaped words
	}{
		{"commit-type-to-index", func(b []byte, c []int) int { return c[len(c)-2] }, 1, false},
		{"commit-type-to-entry", func(b []byte, c []int) int { return c[len(c)-2] }, 2, false},
		{"commit-type-and-commit-shaped-words", func(b []byte, c []int) int { return c[len(c)-2] }, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{})
			must(t, s.Stable.SetUint64([]byte("CurrentTerm"), 1))
			for i := uint64(1); i <= 5; i++ {
				data := bytes.Repeat([]byte("data"), 8)
				if i == 5 && c.words {
					// Four entries, so that one of them puts the pattern on an 8-byte
					// boundary of the file whatever the codec's header length.
					var logs []*raft.Log
					for k := range 4 {
						logs = append(logs, &raft.Log{Index: uint64(5 + k), Term: 1,
							Data: append(bytes.Repeat([]byte{0}, k), bytes.Repeat([]byte{frameCommit, 0, 0, 0}, 16)...)})
					}
					must(t, s.Log.StoreLogs(logs))
					continue
				}
				must(t, s.Log.StoreLogs([]*raft.Log{{Index: i, Term: 1, Data: data}}))
			}
			last, _ := s.Log.LastIndex()
			must(t, s.Close())
			files, _ := filepath.Glob(filepath.Join(dir, walDirName, "*.wal"))
			if len(files) != 1 {
				t.Fatalf("segments %v, want one", files)
			}
			b, err := os.ReadFile(files[0])
			must(t, err)
			var commits []int
			for off := fileHeaderLen; off+frameHeaderLen <= len(b); {
				typ, n := b[off], int(binary.LittleEndian.Uint32(b[off+4:]))
				if typ == 0 {
					break
				}
				if typ == frameCommit {
					commits = append(commits, off)
					n = 0
				}
				off += frameHeaderLen + (n+frameHeaderLen-1)/frameHeaderLen*frameHeaderLen
			}
			if len(commits) != 5 {
				t.Fatalf("%d commit frames, want 5", len(commits))
			}
			b[c.flip(b, commits)] ^= c.xor
			must(t, os.WriteFile(files[0], b, 0o600))
			s, err = Open(dir, Options{})
			if err == nil {
				got, _ := s.Log.LastIndex()
				s.Close()
				t.Fatalf("Open of the damaged segment succeeded with the log ending at %d of %d acknowledged", got, last)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), files[0]) {
				t.Fatalf("Open: %v; want a CorruptError naming %s", err, files[0])
			}
		})
	}
}
