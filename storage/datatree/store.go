package datatree

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/zkraft/zkraft/zkproto"
)

// The node store. Every znode is a record (rec) in a slice of fixed-size blocks,
// named by a nodeID; its path and data are one blob in an arena of large byte
// chunks; its ACL is an id into a table of interned ACL lists; its children are a
// list of ids. Nothing per node holds a pointer, so the GC scans a few thousand
// pointers for a tree of millions of nodes. A hash index of the ids (open addressing,
// pointer-free) finds a node by path.
//
// Snapshots share everything that is immutable (arena bytes are never overwritten,
// interned ACL lists never change) and copy on write what is not: while a snapshot
// is alive, the record blocks it sees are frozen, and the first write to one of
// their records copies that record into an overlay (see recw), where reads find it
// first. Once every snapshot is released, the next transaction folds the overlay
// back into the blocks and writes go in place again.

// nodeID names a record; 0 is no node.
type nodeID = uint32

const (
	recShift    = 10
	recBlockLen = 1 << recShift

	// idBits is the width of an id in an index slot; the other bits hold the
	// path's hash.
	idBits = 28
	idMask = 1<<idBits - 1

	// chunkSize is the size of an arena chunk; a blob bigger than a quarter of it
	// gets a chunk of its own.
	chunkSize = 1 << 20
	// blobHeader is id, path length and data length, uint32 each.
	blobHeader = 12

	minIndexSlots = 1 << 10

	dirtyChunk = 256
)

// foldStep is how many overlay records a transaction folds back (a variable for
// the tests).
var foldStep = 4096

// rec flags: the low two bits are the nodeKind.
const (
	flagKind    uint8 = 3
	flagLive    uint8 = 1 << 2
	flagNilData uint8 = 1 << 3
)

// rec is one znode, pointer-free.
type rec struct {
	czxid, mzxid, pzxid     zkproto.Zxid
	ctime, mtime            int64
	owner                   int64 // session id (ephemeral) or TTL ms (ttl)
	version, aversion, cseq int32
	acl                     uint32 // interned ACL list (0: none)
	parent                  nodeID
	pos                     uint32 // place in the parent's children list
	kids                    uint32 // children list (0: none)
	chunk, off              uint32 // the blob: arena chunk and offset
	flags                   uint8
}

// recBlock is a fixed-size run of records: 1,024 of 88 bytes, exactly 11 pages of
// 8 KiB (its generation is kept beside it, in recGens: 8 bytes more made the Go
// allocator give each block a 12th page, 8 MiB with 1M znodes).
type recBlock struct {
	r [recBlockLen]rec
}

// snapState is shared by a tree and the snapshots taken of it: gen is the
// generation of the newest live snapshot (0 when none is alive, so that writes no
// longer copy), live the number of snapshots not yet released.
type snapState struct {
	gen  atomic.Uint64
	live atomic.Int64
}

// store is the part of a Tree that holds the nodes.
type store struct {
	recs     []*recBlock
	recGens  []uint64 // the tree generation each block was made in: a block older than the newest live snapshot is frozen
	free     []nodeID // ids of removed records, reused first
	nextID   nodeID   // the next never-used id
	gen      uint64   // current block generation
	snap     *snapState
	indexed  int      // nodes in the index
	slots    []uint64 // hash index: path hash >> idBits << idBits | id; 0 empty
	oldSlots []uint64 // the table slots is replacing, while its entries move over
	migrated int      // oldSlots[:migrated] have moved

	// The overlay: while a snapshot is alive, the records written since, by id
	// (an index into dirtyPool, in chunks so that pointers to them stay valid).
	dirty     map[nodeID]uint32
	dirtyPool []*[dirtyChunk]rec
	dirtyLen  uint32

	arena      [][]byte // chunks; nil for a free slot
	arenaLive  []int    // live blob bytes per chunk
	arenaSpare []uint32 // free chunk slots
	arenaCur   int      // the chunk being appended to, -1 for none
	sparse     []uint32 // chunks less than 3/4 alive, to compact after the txn

	acls      [][]zkproto.ACL // interned ACL lists by id; 0 is the empty list, 1 openACL
	aclRefs   []int
	aclByHash map[uint64][]uint32
	aclSpare  []uint32
	aclShared bool // acls is shared with a snapshot: clone before changing an entry

	kidLists [][]nodeID // children lists by id (0 unused)
	kidSpare []uint32

	warm *warmer // while a restore runs: fresh memory touched ahead
}

const aclOpen = 1

var indexSeed = maphash.MakeSeed()

func newStore() store {
	s := store{
		nextID:    1,
		gen:       1,
		snap:      &snapState{},
		arenaCur:  -1,
		acls:      [][]zkproto.ACL{nil, openACL},
		aclRefs:   []int{0, 0},
		aclByHash: map[uint64][]uint32{aclHash(openACL): {aclOpen}},
		kidLists:  [][]nodeID{nil},
	}
	return s
}

func (s *store) dirtyAt(i uint32) *rec { return &s.dirtyPool[i/dirtyChunk][i%dirtyChunk] }

// rec returns the record for reading.
func (s *store) rec(id nodeID) *rec {
	if s.dirtyLen > 0 {
		if i, ok := s.dirty[id]; ok {
			return s.dirtyAt(i)
		}
	}
	return &s.recs[id>>recShift].r[id&(recBlockLen-1)]
}

// recw returns the record for writing: in its block, or, when a live snapshot
// sees that block, in the overlay (copied there on its first write).
func (s *store) recw(id nodeID) *rec {
	if s.dirtyLen > 0 {
		if i, ok := s.dirty[id]; ok {
			return s.dirtyAt(i)
		}
	}
	b := s.recs[id>>recShift]
	if g := s.snap.gen.Load(); g == 0 || s.recGens[id>>recShift] >= g {
		return &b.r[id&(recBlockLen-1)]
	}
	i := s.dirtyLen
	if i%dirtyChunk == 0 {
		s.dirtyPool = append(s.dirtyPool, new([dirtyChunk]rec))
	}
	s.dirtyLen++
	if s.dirty == nil {
		s.dirty = make(map[nodeID]uint32)
	}
	s.dirty[id] = i
	d := s.dirtyAt(i)
	*d = b.r[id&(recBlockLen-1)]
	return d
}

// fold writes up to limit records of the overlay back into the blocks once no
// snapshot is alive (a record still in the overlay is read and written there). It
// runs before each transaction (a few thousand records, so that no write waits for
// all of them) and before each snapshot (all), under the lock that serializes them.
func (s *store) fold(limit int) {
	if s.dirtyLen == 0 || s.snap.gen.Load() != 0 {
		return
	}
	n := 0
	for id, i := range s.dirty {
		if n == limit {
			return
		}
		s.recs[id>>recShift].r[id&(recBlockLen-1)] = *s.dirtyAt(i)
		delete(s.dirty, id)
		n++
	}
	s.dirty = nil
	s.dirtyPool = nil
	s.dirtyLen = 0
}

// overlayCopy is the overlay as a map, for a snapshot taken while an older one is
// alive (the blocks are still frozen for that one).
func (s *store) overlayCopy() map[nodeID]rec {
	if s.dirtyLen == 0 {
		return nil
	}
	m := make(map[nodeID]rec, len(s.dirty))
	for id, i := range s.dirty {
		m[id] = *s.dirtyAt(i)
	}
	return m
}

func (s *store) allocID() nodeID {
	var id nodeID
	if n := len(s.free); n > 0 {
		id = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		if s.nextID >= tombstone {
			panic("datatree: too many nodes")
		}
		id = s.nextID
		s.nextID++
	}
	for int(id>>recShift) >= len(s.recs) {
		s.recs = append(s.recs, s.warm.block())
		s.recGens = append(s.recGens, s.gen)
	}
	return id
}

// blob returns the path and data of the blob at chunk c, offset off. Both alias
// the arena, which is never written over: the data's capacity ends with it.
func blobAt(arena [][]byte, c, off uint32) (path string, data []byte) {
	b := arena[c][off:]
	plen := binary.LittleEndian.Uint32(b[4:])
	dlen := binary.LittleEndian.Uint32(b[8:])
	p := blobHeader + plen
	return unsafe.String(&b[blobHeader], plen), b[p : p+dlen : p+dlen]
}

func blobSize(arena [][]byte, c, off uint32) int {
	b := arena[c][off:]
	return blobHeader + int(binary.LittleEndian.Uint32(b[4:])) + int(binary.LittleEndian.Uint32(b[8:]))
}

func appendBlob(b []byte, id nodeID, path string, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(path)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, path...)
	return append(b, data...)
}

// pathOf is the node's path, aliasing the arena.
func (s *store) pathOf(id nodeID) string {
	r := s.rec(id)
	p, _ := blobAt(s.arena, r.chunk, r.off)
	return p
}

func (s *store) newChunk(b []byte) uint32 {
	if n := len(s.arenaSpare); n > 0 {
		c := s.arenaSpare[n-1]
		s.arenaSpare = s.arenaSpare[:n-1]
		s.arena[c] = b
		s.arenaLive[c] = 0
		return c
	}
	s.arena = append(s.arena, b)
	s.arenaLive = append(s.arenaLive, 0)
	return uint32(len(s.arena) - 1)
}

// putBlob stores id's path and data and returns where.
func (s *store) putBlob(id nodeID, path string, data []byte) (chunk, off uint32) {
	need := blobHeader + len(path) + len(data)
	if need > chunkSize/4 {
		c := s.newChunk(appendBlob(make([]byte, 0, need), id, path, data))
		s.arenaLive[c] = need
		return c, 0
	}
	if s.arenaCur < 0 || cap(s.arena[s.arenaCur])-len(s.arena[s.arenaCur]) < need {
		prev := s.arenaCur
		s.arenaCur = int(s.newChunk(s.warm.chunk()))
		if prev >= 0 {
			s.checkSparse(uint32(prev))
		}
	}
	c := uint32(s.arenaCur)
	b := s.arena[c]
	off = uint32(len(b))
	s.arena[c] = appendBlob(b, id, path, data)
	s.arenaLive[c] += need
	return c, off
}

// freeBlob forgets a blob that no record points to any more.
func (s *store) freeBlob(c, off uint32) {
	s.arenaLive[c] -= blobSize(s.arena, c, off)
	s.checkSparse(c)
}

// checkSparse drops a chunk without live blobs and queues one less than three
// quarters alive for compaction (compactArena), so that the arena stays mostly
// alive under churn (moving at most three bytes per byte reclaimed); the chunk being
// appended to waits until it is full.
func (s *store) checkSparse(c uint32) {
	if int(c) == s.arenaCur || s.arena[c] == nil {
		return
	}
	switch live := s.arenaLive[c]; {
	case live == 0:
		s.dropChunk(c)
	case live*4 < len(s.arena[c])*3 && !slices.Contains(s.sparse, c):
		s.sparse = append(s.sparse, c)
	}
}

func (s *store) dropChunk(c uint32) {
	s.arena[c] = nil // a snapshot keeps its own table
	s.arenaLive[c] = 0
	s.arenaSpare = append(s.arenaSpare, c)
}

// compactArena moves the live blobs of the sparse chunks to the current chunk and
// drops them. Blobs are never moved in the middle of a transaction, and a moved
// blob's old bytes stay valid for whoever still holds them (readers, snapshots).
func (s *store) compactArena() {
	for len(s.sparse) > 0 {
		c := s.sparse[len(s.sparse)-1]
		s.sparse = s.sparse[:len(s.sparse)-1]
		b := s.arena[c]
		if b == nil || int(c) == s.arenaCur || s.arenaLive[c]*4 >= len(b)*3 {
			continue // dropped since, and its slot perhaps reused
		}

		for off := 0; off < len(b); {
			id := binary.LittleEndian.Uint32(b[off:]) // a blob's id was handed out, so its block exists
			size := blobSize(s.arena, c, uint32(off))
			if r := s.rec(id); r.flags&flagLive != 0 && r.chunk == c && r.off == uint32(off) {
				path, data := blobAt(s.arena, c, uint32(off))
				nc, noff := s.putBlob(id, path, data)
				w := s.recw(id)
				w.chunk, w.off = nc, noff
				s.arenaLive[c] -= size
			}
			off += size
		}
		s.dropChunk(c)
	}
}

// The hash index. It grows (and shrinks) incrementally: the old table stays, read
// only but for tombstones, while each insert and delete moves a few of its slots to
// the new one, so that no write waits for a million entries to be rehashed.

func pathHash(path string) uint64 { return maphash.String(indexSeed, path) }

// tombstone marks a deleted entry of the old table (whose probe chains must stay
// whole). Its id is never handed out (allocID).
const tombstone = idMask

// migrateStep is how many old slots each insert or delete moves: at least 2 finishes
// a growth before the new table needs to grow again.
const migrateStep = 8

// lookup finds the node at path.
func (s *store) lookup(path string) nodeID {
	if len(s.slots) == 0 {
		return 0
	}
	tag := pathHash(path) >> idBits
	if id := s.probe(s.slots, 0, tag, path); id != 0 || s.oldSlots == nil {
		return id
	}
	return s.probe(s.oldSlots, s.migrated, tag, path)
}

// probe finds path in table, ignoring the slots below from (moved already).
func (s *store) probe(table []uint64, from int, tag uint64, path string) nodeID {
	mask := uint64(len(table) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		v := table[i]
		if v == 0 {
			return 0
		}
		if v>>idBits == tag && v != tombstone && int(i) >= from {
			if id := nodeID(v & idMask); s.pathOf(id) == path {
				return id
			}
		}
	}
}

// reserve sizes the index for n nodes (at once: for a restore into an empty tree).
func (s *store) reserve(n int) {
	size := minIndexSlots
	for size*3 < n*4 {
		size *= 2
	}
	if size > len(s.slots) {
		s.finishMigration()
		s.rehash(size)
	}
}

// bulkIndex adds the entries (path hash >> idBits << idBits | id, of nodes not in
// the index yet) all at once: sorted by their home slot first, so that placing them
// walks the table once instead of missing the cache on every insert (a million
// random inserts into a table of 16 MiB were a third of a restore).
func (s *store) bulkIndex(entries []uint64) {
	s.reserve(s.indexed + len(entries))
	s.finishMigration()
	bits := 0
	for 1<<bits < len(s.slots) {
		bits++
	}
	sortByHome(entries, bits)
	for _, v := range entries {
		s.place(v)
	}
	s.indexed += len(entries)
}

// sortByHome sorts entries by their home slot in a table of 2^bits slots (the low
// bits of the hash part), with a radix sort of 11 bits a pass.
func sortByHome(entries []uint64, bits int) {
	const digit = 11
	if len(entries) == 0 {
		return
	}
	tmp := make([]uint64, len(entries))
	src, dst := entries, tmp
	for shift := 0; shift < bits; shift += digit {
		var count [1<<digit + 1]int
		mask := uint64(1)<<min(digit, bits-shift) - 1
		key := func(v uint64) uint64 { return v >> idBits >> shift & mask }
		for _, v := range src {
			count[key(v)+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, v := range src {
			k := key(v)
			dst[count[k]] = v
			count[k]++
		}
		src, dst = dst, src
	}
	if &src[0] != &entries[0] {
		copy(entries, src)
	}
}

func (s *store) indexInsert(path string, id nodeID) {
	if (s.indexed+1)*4 > len(s.slots)*3 {
		s.startResize(max(minIndexSlots, 2*len(s.slots)))
	}
	s.place(pathHash(path)>>idBits<<idBits | uint64(id))
	s.indexed++
	s.migrate(migrateStep)
}

func (s *store) place(v uint64) {
	mask := uint64(len(s.slots) - 1)
	i := v >> idBits & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = v
}

// rehash moves every entry into a new table of n slots at once.
func (s *store) rehash(n int) {
	old := s.slots
	s.slots = make([]uint64, n)
	for _, v := range old {
		if v != 0 {
			s.place(v)
		}
	}
}

// startResize makes a table of n slots; the entries of the current one move over
// migrateStep slots per insert and delete (a small table at once).
func (s *store) startResize(n int) {
	s.finishMigration()
	if len(s.slots) <= 4*minIndexSlots {
		s.rehash(n)
		return
	}
	s.oldSlots, s.migrated = s.slots, 0
	s.slots = make([]uint64, n)
}

func (s *store) migrate(k int) {
	if s.oldSlots == nil {
		return
	}
	for ; k > 0 && s.migrated < len(s.oldSlots); k-- {
		if v := s.oldSlots[s.migrated]; v != 0 && v != tombstone {
			s.place(v)
		}
		s.migrated++
	}
	if s.migrated == len(s.oldSlots) {
		s.oldSlots, s.migrated = nil, 0
	}
}

func (s *store) finishMigration() {
	if s.oldSlots != nil {
		s.migrate(len(s.oldSlots))
	}
}

// indexDelete removes id (at path): from the new table with backward-shift deletion,
// so that probes never need tombstones there; from the old one with a tombstone.
func (s *store) indexDelete(path string, id nodeID) {
	tag := pathHash(path) >> idBits
	if !s.deleteFrom(tag, id) {
		mask := uint64(len(s.oldSlots) - 1)
		i := tag & mask
		for ; s.oldSlots[i]&idMask != uint64(id) || int(i) < s.migrated || s.oldSlots[i] == tombstone; i = (i + 1) & mask {
			if s.oldSlots[i] == 0 {
				panic("datatree: index lost " + path)
			}
		}
		s.oldSlots[i] = tombstone
	}
	s.indexed--
	if len(s.slots) > minIndexSlots && s.indexed*8 < len(s.slots) {
		s.startResize(len(s.slots) / 2)
	}
	s.migrate(migrateStep)
}

// deleteFrom removes id from the new table, if there.
func (s *store) deleteFrom(tag uint64, id nodeID) bool {
	mask := uint64(len(s.slots) - 1)
	i := tag & mask
	for s.slots[i]&idMask != uint64(id) {
		if s.slots[i] == 0 {
			if s.oldSlots == nil {
				panic("datatree: index lost an entry")
			}
			return false
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		v := s.slots[j]
		if v == 0 {
			break
		}
		home := v >> idBits & mask
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			s.slots[i] = v
			i = j
		}
	}
	s.slots[i] = 0
	return true
}

// Interned ACL lists, reference-counted as ZooKeeper's ReferenceCountedACLCache.

func aclHash(acl []zkproto.ACL) uint64 {
	var h maphash.Hash
	h.SetSeed(indexSeed)
	var b [4]byte
	for _, a := range acl {
		binary.LittleEndian.PutUint32(b[:], uint32(a.Perms))
		h.Write(b[:])
		h.WriteString(a.ID.Scheme)
		h.WriteByte(0)
		h.WriteString(a.ID.ID)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// internACL returns the id of acl, adding a reference. A new list is kept as it
// is: the caller gives it to the tree.
func (s *store) internACL(acl []zkproto.ACL) uint32 {
	if len(acl) == 0 {
		return 0
	}
	if sameACL(acl, openACL) {
		return aclOpen
	}
	h := aclHash(acl)
	for _, id := range s.aclByHash[h] {
		if slices.Equal(s.acls[id], acl) {
			s.aclRefs[id]++
			return id
		}
	}
	var id uint32
	if n := len(s.aclSpare); n > 0 {
		id = s.aclSpare[n-1]
		s.aclSpare = s.aclSpare[:n-1]
		s.unshareACLs()
		s.acls[id] = acl
		s.aclRefs[id] = 1
	} else {
		id = uint32(len(s.acls))
		s.acls = append(s.acls, acl) // past the end of any snapshot's view
		s.aclRefs = append(s.aclRefs, 1)
	}
	s.aclByHash[h] = append(s.aclByHash[h], id)
	return id
}

func (s *store) unshareACLs() {
	if s.aclShared {
		s.acls = slices.Clone(s.acls)
		s.aclShared = false
	}
}

// releaseACL drops a reference; the open ACL stays for ever.
func (s *store) releaseACL(id uint32) {
	if id <= aclOpen {
		return
	}
	s.aclRefs[id]--
	if s.aclRefs[id] > 0 {
		return
	}
	h := aclHash(s.acls[id])
	ids := s.aclByHash[h]
	if i := slices.Index(ids, id); i >= 0 {
		ids = slices.Delete(ids, i, i+1)
	}
	if len(ids) == 0 {
		delete(s.aclByHash, h)
	} else {
		s.aclByHash[h] = ids
	}
	s.unshareACLs()
	s.acls[id] = nil
	s.aclSpare = append(s.aclSpare, id)
}

// Children lists.

func (s *store) link(parent, child nodeID) {
	p := s.recw(parent)
	if p.kids == 0 {
		if n := len(s.kidSpare); n > 0 {
			p.kids = s.kidSpare[n-1]
			s.kidSpare = s.kidSpare[:n-1]
		} else {
			p.kids = uint32(len(s.kidLists))
			s.kidLists = append(s.kidLists, nil)
		}
	}
	l := s.kidLists[p.kids]
	c := s.recw(child)
	c.parent, c.pos = parent, uint32(len(l))
	s.kidLists[p.kids] = append(l, child)
}

func (s *store) unlink(child nodeID) {
	c := s.rec(child)
	parent, pos := c.parent, c.pos
	k := s.rec(parent).kids
	l := s.kidLists[k]
	last := l[len(l)-1]
	l[pos] = last
	s.recw(last).pos = pos
	l = l[:len(l)-1]
	switch {
	case len(l) == 0:
		s.kidLists[k] = nil
		s.kidSpare = append(s.kidSpare, k)
		s.recw(parent).kids = 0
	case cap(l) > 64 && len(l) < cap(l)/4:
		s.kidLists[k] = slices.Clip(slices.Clone(l))
	default:
		s.kidLists[k] = l
	}
}

func (s *store) kidsOf(r *rec) []nodeID {
	if r.kids == 0 {
		return nil
	}
	return s.kidLists[r.kids]
}

// Views: a node as the rest of the package reads and writes it.

func viewOf(r *rec, arena [][]byte, acls [][]zkproto.ACL) node {
	_, data := blobAt(arena, r.chunk, r.off)
	if r.flags&flagNilData != 0 {
		data = nil
	}
	return node{
		data: data, acl: acls[r.acl],
		czxid: r.czxid, mzxid: r.mzxid, pzxid: r.pzxid,
		ctime: r.ctime, mtime: r.mtime, owner: r.owner,
		version: r.version, aversion: r.aversion, cseq: r.cseq,
		kind: nodeKind(r.flags & flagKind),
	}
}

func (s *store) view(id nodeID) node {
	r := s.rec(id)
	n := viewOf(r, s.arena, s.acls)
	if r.kids != 0 {
		n.nkids = int32(len(s.kidLists[r.kids]))
	}
	return n
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (a == nil) == (b == nil) && (len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b))
}

func sameACL(a, b []zkproto.ACL) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b))
}

func dataFlags(n *node) uint8 {
	f := flagLive | uint8(n.kind)&flagKind
	if n.data == nil {
		f |= flagNilData
	}
	return f
}

// setRec writes n's replicated fields (not its data or ACL) into r.
func setRec(r *rec, n *node) {
	r.czxid, r.mzxid, r.pzxid = n.czxid, n.mzxid, n.pzxid
	r.ctime, r.mtime, r.owner = n.ctime, n.mtime, n.owner
	r.version, r.aversion, r.cseq = n.version, n.aversion, n.cseq
	r.flags = dataFlags(n)
}

// update stores n as the content of the existing node id at path.
func (s *store) update(id nodeID, path string, cur, n *node) {
	w := s.recw(id)
	if !sameBytes(cur.data, n.data) {
		oc, oo := w.chunk, w.off
		w.chunk, w.off = s.putBlob(id, path, n.data)
		s.freeBlob(oc, oo)
	}
	if !sameACL(cur.acl, n.acl) {
		a := s.internACL(n.acl)
		s.releaseACL(w.acl)
		w.acl = a
	}
	setRec(w, n)
}

// add stores a new node and returns its id; the caller links and indexes it.
func (s *store) add(path string, n *node) nodeID {
	id := s.allocID()
	w := s.recw(id)
	*w = rec{}
	setRec(w, n)
	w.chunk, w.off = s.putBlob(id, path, n.data)
	w.acl = s.internACL(n.acl)
	return id
}

// drop frees the record id (unlinked, unindexed, without children).
func (s *store) drop(id nodeID) {
	w := s.recw(id)
	s.freeBlob(w.chunk, w.off)
	s.releaseACL(w.acl)
	if w.kids != 0 {
		s.kidLists[w.kids] = nil
		s.kidSpare = append(s.kidSpare, w.kids)
	}
	*w = rec{}
	s.free = append(s.free, id)
}
