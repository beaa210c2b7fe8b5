package datatree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/zkraft/zkraft/zkproto"
)

// Snapshot format, version 3. All integers are big-endian.
//
//	magic    "ZKRTREE\x00"
//	version  uint32 (3; 2 and 1 are read too: they have no digest, and 1 has no
//	         stream fields)
//	zxid     int64
//	digest   uint64, the tree's digest (see Digest) (version 3 only)
//	sessions uint32 count, then per session, sorted by id:
//	         id int64, timeout int32, password (int32 length, -1 for nil; bytes),
//	         owner int64 (the serving member), stream, streamSeq int64
//	members  uint32 count, then per member, sorted by id:
//	         id int64, incarnation (uint32 length; bytes)
//	nodes    uint64 count, then per node, sorted by path (so parents come first):
//	         path (uint32 length; bytes),
//	         parent uint32, the place of the node's parent in this list (0 for the
//	         root itself) (version 3 only),
//	         data (int32 length, -1 for nil; bytes),
//	         acl (uint32 count; per entry perms int32, scheme, id as uint32-length strings),
//	         czxid, mzxid, pzxid, ctime, mtime, owner int64,
//	         version, aversion, cseq int32, kind uint8
//	trailer  CRC-32C (Castagnoli) of every byte before it, uint32
//
// The children index, node count, data size and the ephemeral, container and TTL
// indexes are derived and rebuilt by Restore. Version 3 saves Restore the two costs
// that grew with the tree beyond reading it: the digest, a hash of every node (a
// fifth of a restore), is taken from the snapshot, whose CRC covers it; a node's
// parent is found by its place in the list (checked against the path) instead of by
// path in the index, so that the index can be built at the end in one pass, in the
// order of its slots, rather than by a million random inserts. Versions 2 and 1 are
// restored the old way.
const (
	snapMagic   = "ZKRTREE\x00"
	snapVersion = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot is wrapped by every error Restore returns for bad input.
var ErrCorruptSnapshot = errors.New("datatree: corrupt snapshot")

// Snapshot is an immutable point-in-time view of a Tree. It holds no lock and may
// be written while the tree goes on applying transactions.
type Snapshot struct {
	recs         []*recBlock
	over         map[nodeID]rec // records changed since an older live snapshot
	arena        [][]byte
	acls         [][]zkproto.ACL
	count        int
	zxid         zkproto.Zxid
	digest       uint64
	sessions     map[zkproto.SessionID]SessionInfo
	incarnations map[int64]string
	tok          *snapToken
}

// snapToken releases a snapshot once, by Release or when the GC finds it
// unreachable.
type snapToken struct {
	state    *snapState
	released atomic.Bool
}

func (k *snapToken) release() {
	if !k.released.CompareAndSwap(false, true) {
		return
	}
	if k.state.live.Add(-1) == 0 {
		// A snapshot taken meanwhile counts itself live before it stores its
		// generation, so this never forgets a live one.
		if g := k.state.gen.Load(); k.state.live.Load() == 0 {
			k.state.gen.CompareAndSwap(g, 0)
		}
	}
}

// Snapshot takes a point-in-time view of the tree in O(nodes/1024 + sessions): call
// it under the lock that serializes Apply, then release the lock and write the view.
// Until the snapshot is released (Release, or the GC finding it unreachable), the
// first write to a node record copies it (about 100 bytes). A snapshot taken while
// an older one is still alive also copies the records written since that one; one
// taken after the last was released first folds back what is left of the overlay.
func (t *Tree) Snapshot() *Snapshot {
	t.fold(math.MaxInt)
	t.gen++
	t.snap.live.Add(1)
	t.snap.gen.Store(t.gen)
	t.aclShared = true
	s := &Snapshot{
		recs: slices.Clone(t.recs), over: t.overlayCopy(),
		arena: slices.Clone(t.arena), acls: t.acls,
		count: t.count, zxid: t.zxid, digest: t.digest,
		sessions: maps.Clone(t.sessions), incarnations: maps.Clone(t.incarnations),
		tok: &snapToken{state: t.snap},
	}
	runtime.AddCleanup(s, (*snapToken).release, s.tok)
	return s
}

// Release tells the tree that the snapshot is no longer used, so that its writes
// stop copying what the snapshot shared. The snapshot must not be used after it.
// It is safe to call at any time, without the tree's lock, and more than once.
func (s *Snapshot) Release() { s.tok.release() }

// Zxid is the zxid of the last transaction the snapshot contains.
func (s *Snapshot) Zxid() zkproto.Zxid { return s.zxid }

func (s *Snapshot) rec(id nodeID) *rec {
	if s.over != nil {
		if r, ok := s.over[id]; ok {
			return &r
		}
	}
	return &s.recs[id>>recShift].r[id&(recBlockLen-1)]
}

func (s *Snapshot) pathOf(id nodeID) string {
	r := s.rec(id)
	p, _ := blobAt(s.arena, r.chunk, r.off)
	return p
}

// view is the content of the node id.
func (s *Snapshot) view(id nodeID) node { return viewOf(s.rec(id), s.arena, s.acls) }

// walk calls fn with each of the snapshot's live nodes in path order (so a parent
// comes before its children), until fn returns false; it returns how many it
// visited. It does not sort the paths themselves: a sort of a million full paths,
// each read from a random place in the arena at every comparison, was most of a
// snapshot's cost, and the slice of paths its largest allocation. Instead the tree
// is walked from the root, each node's children sorted by name as the walk enters
// it. A walk in name order is path order except where a sibling's name extends
// another's with a character below '/' ("a" and "a-b": "/a-b" and everything under
// it sort between "/a" and "/a/x"); the walk keeps such siblings pending and enters
// their subtrees once the next sibling no longer extends them, longest first.
func (s *Snapshot) walk(fn func(id nodeID) bool) int {
	var pace pacer
	ids := len(s.recs) * recBlockLen
	// The children of each node, grouped by parent (a counting sort of the
	// records by parent): kids[first[p]:first[p+1]].
	first := make([]uint32, ids+1)
	var root nodeID
	for id := nodeID(1); int(id) < ids; id++ {
		pace.step(1)
		if r := s.rec(id); r.flags&flagLive != 0 {
			if r.parent == 0 {
				root = id
			} else {
				first[r.parent]++
			}
		}
	}
	largest := uint32(0) // family
	for p := 1; p <= ids; p++ {
		largest = max(largest, first[p]) // p's count, before the sum
		first[p] += first[p-1]           // first[p]: where p's family ends
	}
	kids := make([]nodeID, first[ids])
	for id := nodeID(ids - 1); id >= 1; id-- { // filled from the ends back: first[p] ends where p's family starts
		pace.step(1)
		if r := s.rec(id); r.flags&flagLive != 0 && r.parent != 0 {
			first[r.parent]--
			kids[first[r.parent]] = id
		}
	}
	// first[p] is now where p's family starts, and first[p+1] where it ends
	// (first[ids], the total, was never moved).

	if root == 0 {
		return 0
	}
	if !fn(root) {
		return 1
	}
	visited := 1
	// names holds the families being walked, one after another, each sorted by
	// name; a frame is one of them: names[at:end] are the children still to list,
	// pending[base:] those listed whose subtrees are not yet.
	type frame struct{ start, at, end, base int }
	names := make([]namedID, 0, largest+1024)
	var pending []namedID
	var frames []frame
	enter := func(p nodeID) {
		fam := kids[first[p]:first[p+1]]
		start := len(names)
		for _, id := range fam {
			names = append(names, namedID{s.nameOf(id), id})
		}
		slices.SortFunc(names[start:], func(a, b namedID) int { return strings.Compare(a.name, b.name) })
		pace.step(len(fam) * 8)
		frames = append(frames, frame{start, start, len(names), len(pending)})
	}
	enter(root)
	for len(frames) > 0 {
		f := &frames[len(frames)-1]
		if len(pending) > f.base && (f.at == f.end || !extends(names[f.at].name, pending[len(pending)-1].name)) {
			x := pending[len(pending)-1].id
			pending = pending[:len(pending)-1]
			if first[x] < first[x+1] {
				enter(x)
			}
			continue
		}
		if f.at == f.end {
			names = names[:f.start]
			frames = frames[:len(frames)-1]
			continue
		}
		y := names[f.at]
		f.at++
		visited++
		if !fn(y.id) {
			return visited
		}
		pending = append(pending, y)
	}
	return visited
}

// pacer lets a long loop give up the processor every so often. A snapshot of a
// large tree is a long run of work; where Go has one processor (GOMAXPROCS=1: one
// CPU, or a container limited to one) it held it for the scheduler's whole time
// slice (10 ms) at a time, and each step of a request (its connection's reader,
// Raft's loop, the apply, the reply) waited that long: setData from 64 sessions on
// one CPU with 700,000 znodes had a p99 of 33-40 ms while snapshots were written,
// 6 ms without, and 10-12 ms when it yields. With more processors the others
// serve the requests, and yielding only cost wakeups of idle threads (no gain in
// p99 measured with GOMAXPROCS=2 on one CPU).
type pacer int

// pacerSpan is about 100 µs of a snapshot's work, in steps.
const pacerSpan = 1 << 13

func (p *pacer) step(n int) {
	if *p += pacer(n); *p >= pacerSpan {
		*p = 0
		yieldIfAlone()
	}
}

// yieldIfAlone gives up the processor if it is Go's only one.
func yieldIfAlone() {
	if runtime.GOMAXPROCS(0) == 1 {
		runtime.Gosched()
	}
}

// extends tells whether the name y is the name x followed by a character that
// sorts below '/', so that the path of y, and every path under it, sorts before
// the paths under x.
func extends(y, x string) bool {
	return len(y) > len(x) && y[len(x)] < '/' && y[:len(x)] == x
}

// namedID is a node and its name (the last element of its path).
type namedID struct {
	name string
	id   nodeID
}

// nameOf is the last element of the node's path ("" for the root).
func (s *Snapshot) nameOf(id nodeID) string {
	p := s.pathOf(id)
	return p[strings.LastIndexByte(p, '/')+1:]
}

// snapWriter buffers output and keeps the running CRC of what it flushed.
type snapWriter struct {
	w   io.Writer
	buf []byte
	crc uint32
	n   int64
	err error
}

func (w *snapWriter) flush() {
	if w.err != nil || len(w.buf) == 0 {
		return
	}
	w.crc = crc32.Update(w.crc, castagnoli, w.buf)
	n, err := w.w.Write(w.buf)
	w.n += int64(n)
	w.err = err
	w.buf = w.buf[:0]
}

// maybeFlush flushes once the buffer holds 64 KiB, and then gives up the
// processor (see pacer): some 100 µs of work go into that much output.
func (w *snapWriter) maybeFlush() {
	if len(w.buf) >= 64<<10 {
		w.flush()
		yieldIfAlone()
	}
}

func (w *snapWriter) u32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *snapWriter) i32(v int32)  { w.u32(uint32(v)) }
func (w *snapWriter) i64(v int64)  { w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(v)) }

func (w *snapWriter) str(s string) {
	w.u32(uint32(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *snapWriter) bytes(b []byte) {
	if b == nil {
		w.i32(-1)
		return
	}
	w.i32(int32(len(b)))
	w.buf = append(w.buf, b...)
}

// WriteTo writes the snapshot in the format above. The output depends only on the
// replicated state, so two trees that applied the same transactions write the same
// bytes.
func (s *Snapshot) WriteTo(dst io.Writer) (int64, error) { return s.writeTo(dst, snapVersion) }

// SnapshotFormat is the newest snapshot format, the one WriteTo writes;
// OldestSnapshotFormat the oldest WriteFormat writes (read by every zkraft version).
const (
	SnapshotFormat       = snapVersion
	OldestSnapshotFormat = 2
)

// WriteFormat writes the snapshot in an older format, for members that cannot read
// the newest yet (a rolling upgrade); 0 is the newest.
func (s *Snapshot) WriteFormat(dst io.Writer, version uint32) (int64, error) {
	if version == 0 {
		version = snapVersion
	}
	if version < OldestSnapshotFormat || version > snapVersion {
		return 0, fmt.Errorf("snapshot format %d cannot be written: %d to %d can", version, OldestSnapshotFormat, snapVersion)
	}
	return s.writeTo(dst, version)
}

// writeTo writes the snapshot in the given version's format (2 or 3).
func (s *Snapshot) writeTo(dst io.Writer, version uint32) (int64, error) {
	w := &snapWriter{w: dst, buf: make([]byte, 0, 80<<10)}
	w.buf = append(w.buf, snapMagic...)
	w.u32(version)
	w.i64(int64(s.zxid))
	if version >= 3 {
		w.i64(int64(s.digest))
	}

	ids := slices.Sorted(maps.Keys(s.sessions))
	w.u32(uint32(len(ids)))
	for _, id := range ids {
		si := s.sessions[id]
		w.i64(int64(si.ID))
		w.i32(si.Timeout)
		w.bytes(si.Password)
		w.i64(si.Owner)
		w.i64(int64(si.Stream))
		w.i64(int64(si.StreamSeq))
		w.maybeFlush()
	}

	members := slices.Sorted(maps.Keys(s.incarnations))
	w.u32(uint32(len(members)))
	for _, id := range members {
		w.i64(id)
		w.str(s.incarnations[id])
	}

	w.i64(int64(s.count))
	var place []uint32 // by id: the node's place in the list (a parent's is known before its children's)
	if version >= 3 {
		place = make([]uint32, len(s.recs)*recBlockLen)
	}
	k := uint32(0)
	listed := s.walk(func(id nodeID) bool {
		p := s.pathOf(id)
		n := s.view(id)
		w.str(p)
		if version >= 3 {
			place[id] = k
			var parent uint32
			if pid := s.rec(id).parent; pid != 0 {
				parent = place[pid]
			}
			w.u32(parent)
		}
		k++
		w.bytes(n.data)
		w.u32(uint32(len(n.acl)))
		for _, a := range n.acl {
			w.i32(a.Perms)
			w.str(a.ID.Scheme)
			w.str(a.ID.ID)
		}
		w.i64(int64(n.czxid))
		w.i64(int64(n.mzxid))
		w.i64(int64(n.pzxid))
		w.i64(n.ctime)
		w.i64(n.mtime)
		w.i64(n.owner)
		w.i32(n.version)
		w.i32(n.aversion)
		w.i32(n.cseq)
		w.buf = append(w.buf, byte(n.kind))
		w.maybeFlush()
		return w.err == nil
	})
	if w.err == nil && listed != s.count {
		// A node the walk from the root does not reach: the snapshot would lose it.
		return w.n, fmt.Errorf("datatree: write snapshot: %d of the tree's %d nodes are reachable from the root", listed, s.count)
	}
	w.flush()
	if w.err != nil {
		return w.n, fmt.Errorf("datatree: write snapshot: %w", w.err)
	}
	w.buf = binary.BigEndian.AppendUint32(w.buf, w.crc)
	n, err := dst.Write(w.buf)
	w.n += int64(n)
	if err != nil {
		return w.n, fmt.Errorf("datatree: write snapshot: %w", err)
	}
	return w.n, nil
}

// snapReader reads with bounds checks and keeps the running CRC. It reads the source
// in large blocks into buf and decodes from there; the CRC covers the bytes consumed
// (buf[crcPos:pos] is consumed but not yet summed), updated a block at a time.
type snapReader struct {
	src    io.Reader
	buf    []byte // buf[pos:] is read from src and not yet consumed
	pos    int
	crcPos int
	srcErr error // the source's error once it has no more bytes
	crc    uint32
	err    error
	intern map[string]string
}

// snapReadBlock is how much the reader asks its source for at a time.
const snapReadBlock = 256 << 10

func newSnapReader(src io.Reader) *snapReader {
	return &snapReader{src: src, buf: make([]byte, 0, snapReadBlock), intern: make(map[string]string)}
}

func (r *snapReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
	}
}

// sum adds the consumed bytes to the CRC.
func (r *snapReader) sum() {
	r.crc = crc32.Update(r.crc, castagnoli, r.buf[r.crcPos:r.pos])
	r.crcPos = r.pos
}

// fill moves the unconsumed bytes to the front of buf and reads more after them;
// false when the source has none left.
func (r *snapReader) fill() bool {
	if r.srcErr != nil {
		return false
	}
	r.sum()
	n := copy(r.buf[:cap(r.buf)], r.buf[r.pos:])
	r.buf, r.pos, r.crcPos = r.buf[:n], 0, 0
	k, err := io.ReadAtLeast(r.src, r.buf[n:cap(r.buf)], 1)
	r.buf = r.buf[:n+k]
	if err != nil {
		r.srcErr = err
	}
	return k > 0
}

func (r *snapReader) read(b []byte) {
	if r.err != nil {
		return
	}
	for len(b) > 0 {
		if r.pos == len(r.buf) && !r.fill() {
			r.fail("truncated: %v", r.srcErr)
			return
		}
		k := copy(b, r.buf[r.pos:])
		r.pos += k
		b = b[k:]
	}
}

// next consumes n (≤ snapReadBlock) bytes and returns them, aliasing buf (valid
// until the next read); nil once reading has failed.
func (r *snapReader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	for len(r.buf)-r.pos < n {
		if !r.fill() {
			r.fail("truncated: %v", r.srcErr)
			return nil
		}
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b
}

func (r *snapReader) u8() uint8 {
	if b := r.next(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *snapReader) u32() uint32 {
	if b := r.next(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *snapReader) i32() int32 { return int32(r.u32()) }

func (r *snapReader) i64() int64 {
	if b := r.next(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// end sums what was consumed, reads the trailer and checks that nothing follows it.
func (r *snapReader) end() error {
	r.sum()
	want := r.crc
	t := r.next(4)
	if r.err != nil {
		return fmt.Errorf("%w: missing CRC: %v", ErrCorruptSnapshot, r.srcErr)
	}
	if got := binary.BigEndian.Uint32(t); got != want {
		return fmt.Errorf("%w: CRC %#08x, want %#08x", ErrCorruptSnapshot, got, want)
	}
	if r.pos < len(r.buf) || r.fill() {
		return fmt.Errorf("%w: trailing bytes after the CRC", ErrCorruptSnapshot)
	}
	if r.srcErr != io.EOF {
		return fmt.Errorf("%w: reading past the CRC: %v", ErrCorruptSnapshot, r.srcErr)
	}
	return nil
}

// blobChunk is the most blob allocates before the bytes it has arrive.
const blobChunk = 1 << 20

// blob reads n bytes, growing the buffer as bytes arrive so a corrupt length
// fails on the truncation instead of allocating gigabytes.
func (r *snapReader) blob(n int) []byte {
	if n <= blobChunk {
		b := make([]byte, n)
		r.read(b)
		return b
	}
	var b []byte
	for len(b) < n && r.err == nil {
		k := min(blobChunk, n-len(b))
		b = append(b, make([]byte, k)...)
		r.read(b[len(b)-k:])
	}
	return b
}

const maxSnapString = 1 << 24

// strLen reads a string's length; ok is false once reading has failed (a length
// over maxSnapString fails it).
func (r *snapReader) strLen() (n int, ok bool) {
	u := r.u32()
	if u > maxSnapString {
		r.fail("string length %d", u)
	}
	return int(u), r.err == nil
}

func (r *snapReader) str() string {
	n, ok := r.strLen()
	if !ok {
		return ""
	}
	return string(r.blob(n))
}

// istr reads a string through an intern table (ACL schemes and ids repeat), most
// likely like (the same field of the node before): then one comparison instead of a
// map lookup, which hashed two strings of every znode's ACL (a third of a 1M-znode
// restore).
func (r *snapReader) istr(like string) string {
	n, ok := r.strLen()
	if !ok {
		return ""
	}
	if n > 256 {
		return string(r.blob(n))
	}
	b := r.next(n)
	if string(b) == like {
		return like
	}
	if s, ok := r.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(r.intern) < 4096 {
		r.intern[s] = s
	}
	return s
}

// byteLen reads a byte string's length, -1 for a nil one; ok is false once reading
// has failed (a negative length other than -1 fails it).
func (r *snapReader) byteLen() (n int, ok bool) {
	switch l := r.i32(); {
	case r.err != nil:
	case l < -1:
		r.fail("byte length %d", l)
	default:
		return int(l), true
	}
	return 0, false
}

// bytes reads a byte string into a new slice.
func (r *snapReader) bytes() []byte {
	if n, ok := r.byteLen(); ok && n >= 0 {
		return r.blob(n)
	}
	return nil
}

// Restore reads a snapshot written by WriteTo and rebuilds the tree and its
// indexes. Any damage (bad magic or version, truncation, CRC mismatch, unsorted or
// orphaned paths, unknown node kinds, trailing bytes) is an error wrapping
// ErrCorruptSnapshot (so is a read error of src); it never panics.
func Restore(src io.Reader) (*Tree, error) {
	r := newSnapReader(src)
	var magic [len(snapMagic)]byte
	r.read(magic[:])
	if r.err == nil && string(magic[:]) != snapMagic {
		r.fail("bad magic %q", magic[:])
	}
	version := r.u32()
	if r.err == nil && (version < 1 || version > snapVersion) {
		r.fail("unsupported version %d", version)
	}
	t := newEmptyTree()
	t.zxid = zkproto.Zxid(r.i64())
	// old: the snapshot has no digest and no parents' places (version 2 or 1): the
	// digest is summed node by node and parents are found in the index.
	old := version < 3
	if !old {
		t.digest = uint64(r.i64())
	}

	nsess := r.u32()
	for i := uint32(0); i < nsess && r.err == nil; i++ {
		si := SessionInfo{ID: zkproto.SessionID(r.i64()), Timeout: r.i32(), Password: r.bytes(), Owner: r.i64()}
		if version >= 2 {
			si.Stream, si.StreamSeq = uint64(r.i64()), uint64(r.i64())
		}
		if _, dup := t.sessions[si.ID]; dup && r.err == nil {
			r.fail("duplicate session %#x", si.ID)
		}
		t.sessions[si.ID] = si
	}

	nmembers := r.u32()
	for i := uint32(0); i < nmembers && r.err == nil; i++ {
		id, inc := r.i64(), r.str()
		if _, dup := t.incarnations[id]; dup && r.err == nil {
			r.fail("duplicate member %d", id)
		}
		t.incarnations[id] = inc
	}

	nnodes := r.i64()
	if r.err == nil && nnodes < 1 {
		r.fail("node count %d", nnodes)
	}
	if r.err == nil {
		t.reserve(int(min(nnodes, 1<<22))) // no growth of the index on the way (a corrupt count allocates no more)
	}
	if nnodes > warmFrom {
		t.warm = startWarmer()
		defer func() { t.warm.close(); t.warm = nil }()
	}
	if r.err != nil {
		return nil, r.err
	}
	// Version 3: the ids by place in the list (parents are named by place), and the
	// index entries, placed at the end (bulkIndex).
	entries, err := restoreNodes(r, t, old, nnodes)
	if err != nil {
		return nil, err
	}
	if !old {
		t.bulkIndex(entries)
	}
	return t, nil
}

func (t *Tree) hasSession(id int64) bool {
	_, ok := t.sessions[zkproto.SessionID(id)]
	return ok
}
