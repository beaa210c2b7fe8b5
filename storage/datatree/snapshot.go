package datatree

import (
	"bufio"
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
	"unsafe"

	"github.com/zkraft/zkraft/zkproto"
)

// Snapshot format, version 2. All integers are big-endian.
//
//	magic    "ZKRTREE\x00"
//	version  uint32 (2; 1 is read too: it has no stream fields)
//	zxid     int64
//	sessions uint32 count, then per session, sorted by id:
//	         id int64, timeout int32, password (int32 length, -1 for nil; bytes),
//	         owner int64 (the serving member), stream, streamSeq int64
//	members  uint32 count, then per member, sorted by id:
//	         id int64, incarnation (uint32 length; bytes)
//	nodes    uint64 count, then per node, sorted by path (so parents come first):
//	         path (uint32 length; bytes), data (int32 length, -1 for nil; bytes),
//	         acl (uint32 count; per entry perms int32, scheme, id as uint32-length strings),
//	         czxid, mzxid, pzxid, ctime, mtime, owner int64,
//	         version, aversion, cseq int32, kind uint8
//	trailer  CRC-32C (Castagnoli) of every byte before it, uint32
//
// The children index, node count, data size and the ephemeral, container and TTL
// indexes are derived and rebuilt by Restore.
const (
	snapMagic   = "ZKRTREE\x00"
	snapVersion = 2
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
		count: t.count, zxid: t.zxid,
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

// nodeAt is the path and content of the node id.
func (s *Snapshot) nodeAt(id nodeID) (string, node) {
	r := s.rec(id)
	p, _ := blobAt(s.arena, r.chunk, r.off)
	return p, viewOf(r, s.arena, s.acls)
}

// sortedIDs lists the snapshot's nodes sorted by path. The records past the last
// id ever handed out are zero, so not live.
func (s *Snapshot) sortedIDs() []nodeID {
	ids := make([]nodeID, 0, s.count)
	for id := nodeID(1); int(id) < len(s.recs)*recBlockLen; id++ {
		if s.rec(id).flags&flagLive != 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b nodeID) int { return strings.Compare(s.pathOf(a), s.pathOf(b)) })
	return ids
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

func (w *snapWriter) maybeFlush() {
	if len(w.buf) >= 64<<10 {
		w.flush()
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
func (s *Snapshot) WriteTo(dst io.Writer) (int64, error) {
	w := &snapWriter{w: dst, buf: make([]byte, 0, 80<<10)}
	w.buf = append(w.buf, snapMagic...)
	w.u32(snapVersion)
	w.i64(int64(s.zxid))

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

	nodes := s.sortedIDs()
	w.i64(int64(len(nodes)))
	for _, id := range nodes {
		p, n := s.nodeAt(id)
		w.str(p)
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

// snapReader reads with bounds checks and keeps the running CRC.
type snapReader struct {
	r      *bufio.Reader
	crc    uint32
	err    error
	tmp    [8]byte
	tmpStr [256]byte
	intern map[string]string
}

func (r *snapReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
	}
}

func (r *snapReader) read(b []byte) {
	if r.err != nil {
		return
	}
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.fail("truncated: %v", err)
		return
	}
	r.crc = crc32.Update(r.crc, castagnoli, b)
}

func (r *snapReader) u8() uint8 {
	r.read(r.tmp[:1])
	if r.err != nil {
		return 0
	}
	return r.tmp[0]
}

func (r *snapReader) u32() uint32 {
	r.read(r.tmp[:4])
	if r.err != nil {
		return 0
	}
	return binary.BigEndian.Uint32(r.tmp[:4])
}

func (r *snapReader) i32() int32 { return int32(r.u32()) }

func (r *snapReader) i64() int64 {
	r.read(r.tmp[:8])
	if r.err != nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(r.tmp[:8]))
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

// blobInto reads n bytes into *buf, grown as needed, and returns them: valid
// until *buf is read into again. Without a buffer, or beyond blobChunk (a corrupt
// length must fail on the truncation), it reads into a new slice (blob).
func (r *snapReader) blobInto(buf *[]byte, n int) []byte {
	if buf == nil || n > blobChunk {
		return r.blob(n)
	}
	if cap(*buf) < n {
		*buf = make([]byte, n, max(n, 256))
	}
	b := (*buf)[:n]
	r.read(b)
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

// strInto reads a string into *buf (blobInto) and returns it as a string aliasing
// what it was read into: valid until *buf is read into again.
func (r *snapReader) strInto(buf *[]byte) string {
	n, ok := r.strLen()
	if !ok {
		return ""
	}
	b := r.blobInto(buf, n) // shorter than n when the read fails
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// istr reads a string through an intern table: ACL schemes and ids repeat.
func (r *snapReader) istr() string {
	n, ok := r.strLen()
	if !ok {
		return ""
	}
	if n > 256 {
		return string(r.blob(n))
	}
	b := r.tmpStr[:n]
	r.read(b)
	if s, ok := r.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(r.intern) < 4096 {
		r.intern[s] = s
	}
	return s
}

// bytesInto reads a byte string into *buf (blobInto) and returns it, or nil for a
// nil one. The tree copies it.
func (r *snapReader) bytesInto(buf *[]byte) []byte {
	n := r.i32()
	if r.err != nil || n == -1 {
		return nil
	}
	if n < 0 {
		r.fail("byte length %d", n)
		return nil
	}
	return r.blobInto(buf, int(n))
}

// bytes reads a byte string into a new slice.
func (r *snapReader) bytes() []byte { return r.bytesInto(nil) }

// Restore reads a snapshot written by WriteTo and rebuilds the tree and its
// indexes. Any damage (bad magic or version, truncation, CRC mismatch, unsorted or
// orphaned paths, unknown node kinds, trailing bytes) is an error wrapping
// ErrCorruptSnapshot; it never panics.
func Restore(src io.Reader) (*Tree, error) {
	r := &snapReader{r: bufio.NewReaderSize(src, 256<<10), intern: make(map[string]string)}
	var magic [len(snapMagic)]byte
	r.read(magic[:])
	if r.err == nil && string(magic[:]) != snapMagic {
		r.fail("bad magic %q", magic[:])
	}
	version := r.u32()
	if r.err == nil && version != snapVersion && version != 1 {
		r.fail("unsupported version %d", version)
	}
	t := newEmptyTree()
	t.zxid = zkproto.Zxid(r.i64())

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
	prev := ""
	var scratch, prevACL []zkproto.ACL
	data := make([]byte, 0, 512) // never nil: an empty data field must stay non-nil
	// Paths are read into two buffers in turn (the previous one is prev) and copied
	// only where the tree keeps them as strings.
	var paths [2][]byte
	for i := int64(0); i < nnodes && r.err == nil; i++ {
		path := r.strInto(&paths[i&1])
		var n node
		n.data = r.bytesInto(&data)
		nacl := r.u32()
		if r.err == nil && nacl > 1<<16 {
			r.fail("%s: ACL count %d", path, nacl)
		}
		scratch = scratch[:0]
		for j := uint32(0); j < nacl && r.err == nil; j++ {
			scratch = append(scratch, zkproto.ACL{Perms: r.i32(), ID: zkproto.Id{Scheme: r.istr(), ID: r.istr()}})
		}
		switch {
		case slices.Equal(scratch, openACL):
			n.acl = openACL
		case nacl > 0 && slices.Equal(scratch, prevACL):
			n.acl = prevACL // consecutive nodes mostly share an ACL
		case nacl > 0:
			n.acl = slices.Clone(scratch) // interned by rawInsert, or garbage
			prevACL = n.acl
		}
		n.czxid = zkproto.Zxid(r.i64())
		n.mzxid = zkproto.Zxid(r.i64())
		n.pzxid = zkproto.Zxid(r.i64())
		n.ctime = r.i64()
		n.mtime = r.i64()
		n.owner = r.i64()
		n.version = r.i32()
		n.aversion = r.i32()
		n.cseq = r.i32()
		n.kind = nodeKind(r.u8())
		if r.err != nil {
			break
		}
		switch {
		case i == 0 && path != "/":
			r.fail("first node is %q, not the root", path)
		case i > 0 && path <= prev:
			r.fail("path %q out of order after %q", path, prev)
		case zkproto.ValidatePath(path) != nil:
			r.fail("invalid path %q", path)
		case n.kind > kindTTL:
			r.fail("%s: unknown node kind %d", path, n.kind)
		case n.kind == kindEphemeral && !t.hasSession(n.owner):
			r.fail("%s: ephemeral of unknown session %#x", path, n.owner)
		}
		if r.err != nil {
			break
		}
		if i > 0 {
			p, ok := t.get(zkproto.ParentPath(path))
			switch {
			case !ok:
				r.fail("%s: parent missing", path)
			case p.kind == kindEphemeral:
				r.fail("%s: child of an ephemeral", path)
			}
			if r.err != nil {
				break
			}
		}
		owned := path
		if keepsPath(path, n.kind) {
			owned = strings.Clone(path)
		}
		t.rawInsert(owned, n)
		prev = path
	}
	if r.err != nil {
		return nil, r.err
	}
	want := r.crc
	var trailer [4]byte
	if _, err := io.ReadFull(r.r, trailer[:]); err != nil {
		return nil, fmt.Errorf("%w: missing CRC: %v", ErrCorruptSnapshot, err)
	}
	if got := binary.BigEndian.Uint32(trailer[:]); got != want {
		return nil, fmt.Errorf("%w: CRC %#08x, want %#08x", ErrCorruptSnapshot, got, want)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing bytes after the CRC", ErrCorruptSnapshot)
	}
	return t, nil
}

func (t *Tree) hasSession(id int64) bool {
	_, ok := t.sessions[zkproto.SessionID(id)]
	return ok
}
