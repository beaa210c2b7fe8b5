package raftstore

import (
	"os"

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
const writebackRange = 1 << 20

type writeback struct {
	f       *os.File // the file being written, opened again (read-only) for its pages
	written int64    // bytes written to it (through a small buffer: the last few KB may not be yet)
	started int64    // writeback started up to here
}

func newWriteback(path string) *writeback {
	f, err := os.Open(path)
	if err != nil {
		return nil // no pacing: the final fsync writes it all, as before
	}
	return &writeback{f: f}
}

// wrote counts n more bytes written, and starts (and waits for) writeback of whole
// ranges behind them. Failures are ignored: the final fsync reports what matters.
func (w *writeback) wrote(n int) {
	if w == nil || w.f == nil {
		return
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
	}
}

func (w *writeback) close() {
	if w != nil && w.f != nil {
		w.f.Close()
		w.f = nil
	}
}
