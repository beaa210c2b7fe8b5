package raftstore

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// A reopened tail segment is read through a window until its first write: every
// read returns what the file holds, across the window's edges and at the end of the
// file, and a write is seen by the reads after it.
func TestTailReadAhead(t *testing.T) {
	dir := t.TempDir()
	want := make([]byte, 3*readAheadSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "seg"), want, 0o600); err != nil {
		t.Fatal(err)
	}
	v := &fileVFS{latch: newLatch(nil)}
	wf, err := v.OpenWriter(dir, "seg")
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	check := func(off int64, size int) {
		t.Helper()
		p := make([]byte, size)
		n, err := wf.ReadAt(p, off)
		from := min(off, int64(len(want)))
		expect := want[from:min(off+int64(size), int64(len(want)))]
		wantN := len(expect)
		if n != wantN || !bytes.Equal(p[:n], expect) {
			t.Fatalf("ReadAt(%d bytes at %d): %d bytes (want %d), equal %v", size, off, n, wantN, bytes.Equal(p[:min(n, wantN)], expect[:min(n, wantN)]))
		}
		if wantErr := wantN < size; wantErr != errors.Is(err, io.EOF) || !wantErr && err != nil {
			t.Fatalf("ReadAt(%d bytes at %d): err %v", size, off, err)
		}
	}
	// raft-wal's recovery: 8-byte headers, frames, in order.
	for off := int64(0); off < int64(len(want)); off += 8 + int64(rng.IntN(600)) {
		check(off, 8)
		check(off, 1+rng.IntN(4096))
	}
	check(readAheadSize-4, 8)                 // across the window's edge
	check(int64(len(want))-5, 8)              // past the end
	check(int64(len(want))+10, 8)             // beyond it
	check(12, readAheadSize+1)                // larger than the window
	check(int64(rng.IntN(len(want)-100)), 50) // backwards
	if wf.(*segFile).ahead.Load() == nil {
		t.Fatal("the window is gone before any write")
	}

	// A write ends the window: reads see the file as written.
	at := int64(100)
	patch := []byte("written after recovery")
	if _, err := wf.WriteAt(patch, at); err != nil {
		t.Fatal(err)
	}
	copy(want[at:], patch)
	if wf.(*segFile).ahead.Load() != nil {
		t.Fatal("the window outlives the first write")
	}
	check(96, 64)
}
