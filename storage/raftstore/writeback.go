package raftstore

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// writeback paces a snapshot's way to the disk. A snapshot of a large tree is
// hundreds of MB: written through the page cache and fsynced only at the end, it
// reaches the disk in one burst, and every fsync of the log in the meantime waits
// behind it (writes stalled 100–190 ms at 1M znodes). Here the writeback of each
// writebackRange starts as soon as it is written, and the snapshot's writer waits
// for the range before it: the disk never holds more than two ranges of the snapshot
// ahead of the log, and the final fsync has little left to do. The snapshot's writer
// is a background goroutine; it is the one that waits.
//
// It also waits to keep the snapshot at snapshotWriteRate. Each fdatasync of the log
// ends with a flush of the device's cache, and so waits for whatever of the snapshot
// the device took before it: written as fast as it is encoded (400–600 MB/s here),
// a snapshot kept the disk busy and a log fsync of 0.4 ms took 3–5 ms all along it.
// setData 16×16 on a 1M-znode tree (snapshots of 200 MB every 100,000 writes): p99
// 12.0–13.4 ms with snapshots against 6.6 ms without; paced at 100 MiB/s 8.3–8.5
// against 6.2–6.4 ms (at 200 MiB/s 10.5–11.1), and more writes per second, since
// the snapshot no longer takes the disk from the log. A 200 MB snapshot then takes
// two seconds, during which its copy-on-write view is kept.
const (
	writebackRange    = 1 << 20
	snapshotWriteRate = 100 << 20 // bytes per second
)

type writeback struct {
	f       *os.File // the file being written, opened again (read-only) for its pages
	written int64    // bytes written to it (through a small buffer: the last few KB may not be yet)
	started int64    // writeback started up to here

	begun time.Time // when the first byte was written, for the pace
	now   func() time.Time
	sleep func(time.Duration)
}

func newWriteback(path string) *writeback {
	f, err := os.Open(path)
	if err != nil {
		return nil // no pacing: the final fsync writes it all, as before
	}
	return &writeback{f: f, now: time.Now, sleep: time.Sleep}
}

// wrote counts n more bytes written, and starts (and waits for) writeback of whole
// ranges behind them. Failures are ignored: the final fsync reports what matters.
func (w *writeback) wrote(n int) {
	if w == nil || w.f == nil {
		return
	}
	if w.begun.IsZero() {
		w.begun = w.now()
	}
	w.written += int64(n)
	fd := int(w.f.Fd())
	// A range is started once the buffer in front of the file has passed it.
	for w.started+writebackRange+64<<10 <= w.written {
		if w.started >= writebackRange {
			_ = unix.SyncFileRange(fd, w.started-writebackRange, writebackRange,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		}
		_ = unix.SyncFileRange(fd, w.started, writebackRange, unix.SYNC_FILE_RANGE_WRITE)
		w.started += writebackRange
		due := w.begun.Add(time.Duration(float64(w.started) / snapshotWriteRate * float64(time.Second)))
		if d := due.Sub(w.now()); d > 0 {
			w.sleep(d)
		}
	}
}

func (w *writeback) close() {
	if w != nil && w.f != nil {
		w.f.Close()
		w.f = nil
	}
}
