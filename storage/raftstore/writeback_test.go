package raftstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWritebackPace: a snapshot written faster than snapshotWriteRate waits, range
// by range, so that it reaches the disk at that rate; one written slower does not.
func TestWritebackPace(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perChunk time.Duration // the encoder's time per 64 KiB written
		want     time.Duration // total waited for 8 MiB
	}{
		{"fast writer", 0, 8 * time.Second / 100},
		{"slow writer", 2 * time.Millisecond, 0}, // 64 KiB per 2 ms is 31 MiB/s
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.bin")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := newWriteback(path)
			defer w.close()
			clock := time.Unix(0, 0)
			var waited time.Duration
			w.now = func() time.Time { return clock }
			w.sleep = func(d time.Duration) { waited += d; clock = clock.Add(d) }
			chunk := make([]byte, 64<<10)
			for range (8<<20)/len(chunk) + 1 { // the last range starts once 64 KiB past it
				if _, err := f.Write(chunk); err != nil {
					t.Fatal(err)
				}
				w.wrote(len(chunk))
				clock = clock.Add(tc.perChunk)
			}
			if w.started != 8<<20 {
				t.Fatalf("writeback started up to %d, want %d", w.started, 8<<20)
			}
			if d := waited - tc.want; d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("waited %v for 8 MiB at %d MiB/s, want %v", waited, snapshotWriteRate>>20, tc.want)
			}
		})
	}
}
