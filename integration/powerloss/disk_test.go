package powerloss

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zkraft/zkraft/storage/raftstore"
)

// errPowerLost is what every write gets from the moment the power is cut.
var errPowerLost = errors.New("power lost (simulated)")

// How much of what was not yet synced reaches the disk when the power goes: of a
// raft-wal segment's writes since its last fdatasync, or of the bbolt commit of
// wal-meta.db in flight (bbolt writes a transaction's pages to free space,
// fdatasyncs, writes the meta page that makes them the database, and fdatasyncs
// again).
const (
	stageNothing   = iota // none of it
	stageSomePages        // some of its sectors, not bbolt's meta page
	stagePagesMeta        // bbolt: all its pages and a torn prefix of the meta page; a segment: all but some sectors
	stageAll              // all of it, though the caller never heard so
	numStages
)

const sector = 512

// pending is a write to a segment file since its last sync: what it replaced.
type pending struct {
	off int64
	old []byte
}

// disk simulates the power supply of one member's data directory through the
// stores' write hook, at the level of the log's files. Armed, it lets a number of
// file writes through and cuts the power during the next; from then on every write
// fails. restore then leaves the files as the power loss did, once the member is
// down: each segment file loses a random part (whole sectors) of what was written to
// it since it was last synced, a segment created and never synced may be gone, a
// bbolt commit of wal-meta.db in flight is torn at a random stage, and the unsynced
// part of an unfinished snapshot is dropped.
type disk struct {
	dir string

	mu        sync.Mutex // serializes the files' writes, so that what they replace is exact
	armed     int        // writes to let through before the crash; -1 when not armed
	crashed   bool
	unsynced  map[string][]pending // segment file → its writes since its last sync
	unlisted  map[string]bool      // segment files created and not synced yet
	metaImage []byte               // wal-meta.db as the crash left it; nil when no commit was in flight
	metaPath  string
	rng       *rand.Rand
	stages    [numStages]int
}

func newDisk(dir string, seed uint64) *disk {
	return &disk{dir: dir, armed: -1, unsynced: map[string][]pending{}, unlisted: map[string]bool{},
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (d *disk) hook(op raftstore.WriteOp, write func() error) error {
	switch op.Kind {
	case "store logs", "delete logs", "set":
		// The stores' operations: their file writes come through here one by one.
		if d.isCrashed() {
			return errPowerLost
		}
		return write()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed {
		return errPowerLost
	}
	crash := d.armed == 0
	if crash {
		d.crashed, d.armed = true, -1
	} else if d.armed > 0 {
		d.armed--
	}
	switch op.Kind {
	case "segment create":
		if crash {
			return errPowerLost
		}
		d.unlisted[op.Path] = true
		return write()
	case "segment write":
		old := make([]byte, len(op.Data))
		if f, err := os.Open(op.Path); err == nil {
			_, _ = f.ReadAt(old, op.Off) // past the end: zeros, as a hole reads
			f.Close()
		}
		err := write()
		d.unsynced[op.Path] = append(d.unsynced[op.Path], pending{off: op.Off, old: old})
		if crash {
			return errPowerLost
		}
		return err
	case "segment sync":
		if crash { // it may have written some of it: restore decides
			return errPowerLost
		}
		err := write()
		if err == nil {
			delete(d.unsynced, op.Path)
			delete(d.unlisted, op.Path)
		}
		return err
	case "meta commit":
		if !crash {
			return write()
		}
		d.metaPath = op.Path
		pre, err := os.ReadFile(op.Path)
		if err != nil {
			panic(err)
		}
		_ = write()
		post, err := os.ReadFile(op.Path)
		if err != nil {
			panic(err)
		}
		d.metaImage = d.tear(pre, post)
		return errPowerLost
	}
	// A snapshot's writes, a segment's deletion (synced before it returns).
	if crash {
		return errPowerLost // a snapshot's unsynced data: restore drops it
	}
	return write()
}

// tear returns wal-meta.db as a power loss during bbolt's commit from pre to post
// leaves it.
func (d *disk) tear(pre, post []byte) []byte {
	stage := d.rng.IntN(numStages)
	d.stages[stage]++
	switch stage {
	case stageNothing:
		return pre
	case stageAll:
		return post
	}
	const page = 4096
	img := make([]byte, max(len(pre), len(post)))
	copy(img, pre) // a grown file was extended and synced before the pages are written
	for off := 2 * page; off+sector <= len(post); off += sector {
		if off+sector <= len(pre) && bytes.Equal(pre[off:off+sector], post[off:off+sector]) {
			continue
		}
		if stage == stagePagesMeta || d.rng.IntN(2) == 0 {
			copy(img[off:], post[off:off+sector])
		}
	}
	if stage == stagePagesMeta {
		for m := 0; m < 2; m++ { // the meta page this transaction wrote: a prefix of its sectors
			lo, hi := m*page, (m+1)*page
			if !bytes.Equal(pre[lo:hi], post[lo:hi]) {
				k := d.rng.IntN(page/sector + 1)
				copy(img[lo:lo+k*sector], post[lo:lo+k*sector])
			}
		}
	}
	return img
}

// tearSegment undoes, sector by sector, a random part of the writes to a segment
// file since its last sync, newest first.
func (d *disk) tearSegment(path string, writes []pending) error {
	stage := d.rng.IntN(numStages)
	d.stages[stage]++
	if stage == stageAll {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	for i := len(writes) - 1; i >= 0; i-- {
		w := writes[i]
		end := w.off + int64(len(w.old))
		for lo := w.off; lo < end; lo = (lo/sector + 1) * sector {
			hi := min(end, (lo/sector+1)*sector)
			lost := stage == stageNothing ||
				(stage == stageSomePages && d.rng.IntN(2) == 0) ||
				(stage == stagePagesMeta && d.rng.IntN(8) == 0)
			if lost {
				if _, err := f.WriteAt(w.old[lo-w.off:hi-w.off], lo); err != nil && !errors.Is(err, io.EOF) {
					return err
				}
			}
		}
	}
	return f.Sync()
}

// arm cuts the power during the write after the next n.
func (d *disk) arm(n int) {
	d.mu.Lock()
	d.armed = n
	d.mu.Unlock()
}

// crashNow cuts the power between writes: the files are as the last fsync left them.
func (d *disk) crashNow() {
	d.mu.Lock()
	d.crashed, d.armed = true, -1
	d.mu.Unlock()
}

func (d *disk) isCrashed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.crashed
}

// restore leaves the data directory as the power loss did, for a member that is
// down, and turns the power back on.
func (d *disk) restore() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for path, writes := range d.unsynced {
		if err := d.tearSegment(path, writes); err != nil {
			return err
		}
	}
	// A file whose directory entry was never synced may be gone.
	for path := range d.unlisted {
		if d.rng.IntN(2) == 0 {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	if d.metaImage != nil {
		if err := os.WriteFile(d.metaPath, d.metaImage, 0o600); err != nil {
			return err
		}
	}
	// An unfinished snapshot was never synced: keep a random prefix of its state.
	tmps, _ := filepath.Glob(filepath.Join(d.dir, "snapshots", "*"))
	for _, t := range tmps {
		if !strings.HasSuffix(t, ".tmp") {
			continue
		}
		st := filepath.Join(t, "state.bin")
		if fi, err := os.Stat(st); err == nil {
			if err := os.Truncate(st, d.rng.Int64N(fi.Size()+1)); err != nil {
				return err
			}
		}
	}
	d.crashed, d.armed, d.metaImage = false, -1, nil
	d.unsynced, d.unlisted = map[string][]pending{}, map[string]bool{}
	return nil
}
