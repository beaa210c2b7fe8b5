package raftstore

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// The start-up read cache. At start, verify reads and checks every log entry; then
// hashicorp/raft reads the entries after the snapshot twice more: NewRaft scans them
// for configuration changes, and the FSM applies them once they are known committed.
// raft-wal reads each entry on its own (a 64 KiB pread for an entry of a few hundred
// bytes), so with 100,000 entries after the snapshot the two later passes cost as
// much as the snapshot's restore. verify keeps the entries after the snapshot that
// it checked, up to readCacheMax bytes, and the next two reads of each are served
// from memory: the second one drops it. A write over an entry (a suffix replaced) or
// its deletion drops it too, so the cache never serves what the log no longer holds,
// and it is empty once the entries are applied.

// readCacheMax bounds the bytes (data and extensions) the cache holds.
const readCacheMax = 64 << 20

// readCacheReads is how many reads of an entry the cache serves before it drops it.
const readCacheReads = 2

type cachedEntry struct {
	log   raft.Log
	reads int
}

type readCache struct {
	live  atomic.Bool // false: empty (GetLog skips the lock)
	mu    sync.Mutex
	m     map[uint64]*cachedEntry
	bytes int
	last  uint64 // the highest index added: appends past it have nothing to drop
}

func entrySize(l *raft.Log) int { return len(l.Data) + len(l.Extensions) + 64 }

// add keeps a copy of l (verified); false once the cache is full.
func (c *readCache) add(l *raft.Log) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := entrySize(l)
	if c.bytes+n > readCacheMax {
		return false
	}
	if c.m == nil {
		c.m = make(map[uint64]*cachedEntry)
	}
	c.m[l.Index] = &cachedEntry{log: *l}
	c.bytes += n
	c.last = max(c.last, l.Index)
	c.live.Store(true)
	return true
}

// get serves entry idx into l, if cached.
func (c *readCache) get(idx uint64, l *raft.Log) bool {
	if !c.live.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[idx]
	if !ok {
		return false
	}
	*l = e.log // the slices are shared: nobody writes into an entry read
	if e.reads++; e.reads >= readCacheReads {
		c.dropLocked(idx, e)
	}
	return true
}

func (c *readCache) dropLocked(idx uint64, e *cachedEntry) {
	delete(c.m, idx)
	c.bytes -= entrySize(&e.log)
	if len(c.m) == 0 {
		c.m = nil
		c.live.Store(false)
	}
}

// forget drops the entries in [lo, hi]. Raft's appends after a restart start past
// the cached entries: they return before scanning the map.
func (c *readCache) forget(lo, hi uint64) {
	if !c.live.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if lo > c.last {
		return
	}
	for idx, e := range c.m {
		if idx >= lo && idx <= hi {
			c.dropLocked(idx, e)
		}
	}
}

// len is the number of entries cached (for the tests).
func (c *readCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
