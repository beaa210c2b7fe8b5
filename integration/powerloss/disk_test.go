package powerloss

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zkraft/zkraft/storage/raftstore"
)

// errPowerLost is what every write gets from the moment the power is cut.
var errPowerLost = errors.New("power lost (simulated)")

// Stages of bbolt's commit at which the power can go: it writes a transaction's
// pages to free space, fdatasyncs, writes the meta page that makes them the
// database, and fdatasyncs again.
const (
	stageNothing   = iota // nothing of the transaction reached the disk
	stageSomePages        // some sectors of its pages did, not the meta page
	stagePagesMeta        // all its pages; the meta page or not (a torn prefix)
	stageAll              // all of it: committed, though the caller never heard so
	numStages
)

const sector = 512

// disk simulates the power supply of one member's data directory through the
// stores' write hook. Armed, it lets a number of writes through and cuts the power
// during the next: what that write put in raft.db after the last fsync is torn at a
// random stage of the commit, and from then on every write fails. restore puts the
// torn image in place once the member is down, and drops the unsynced part of any
// unfinished snapshot.
type disk struct {
	dir string

	mu      sync.Mutex // serializes raft.db writes, so that images before and after one are exact
	armed   int        // writes to let through before the crash; -1 when not armed
	crashed bool
	image   []byte // raft.db as the crash left it; nil when no write was in flight
	rng     *rand.Rand
	stages  [numStages]int
}

func newDisk(dir string, seed uint64) *disk {
	return &disk{dir: dir, armed: -1, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (d *disk) hook(op raftstore.WriteOp, write func() error) error {
	isDB := filepath.Base(op.Path) == "raft.db"
	d.mu.Lock()
	if d.crashed {
		d.mu.Unlock()
		return errPowerLost
	}
	crash := d.armed == 0
	if crash {
		d.crashed, d.armed = true, -1
	} else if d.armed > 0 {
		d.armed--
	}
	if !isDB {
		d.mu.Unlock()
		if crash {
			return errPowerLost // a snapshot's unsynced data: restore drops it
		}
		return write()
	}
	defer d.mu.Unlock()
	if !crash {
		return write()
	}
	path := filepath.Join(op.Path)
	pre, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	_ = write()
	post, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	d.image = d.tear(pre, post)
	return errPowerLost
}

// tear returns raft.db as a power loss during the write from pre to post leaves it.
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
	if d.image != nil {
		if err := os.WriteFile(filepath.Join(d.dir, "raft.db"), d.image, 0o600); err != nil {
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
	d.crashed, d.armed, d.image = false, -1, nil
	return nil
}
