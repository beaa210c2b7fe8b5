package datatree

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/zkraft/zkraft/zkproto"
)

// Restoring a large tree is two jobs of about the same size: decoding the snapshot's
// nodes (and checking what needs no tree: order, paths, kinds, owners) and inserting
// them (parents, the arena, the index). From pipelineFrom nodes on they run on two
// goroutines, the decoder a batch ahead: a restart of 1M znodes spent ~0.4 s in the
// restore on one core.

// pipelineFrom is the node count from which the decoding runs on its own goroutine.
var pipelineFrom int64 = 50_000

const (
	batchNodes = 4096
	batchBytes = 1 << 20
	// batchRoom is what a batch keeps free for the next node's path and data; a
	// node longer than that gets its own allocation.
	batchRoom = 64 << 10
)

// nodeBatch is a run of decoded nodes; their paths and data alias bytes.
type nodeBatch struct {
	nodes []decodedNode
	bytes []byte
	err   error // the decoder's, after the last node (last only)
	last  bool
}

type decodedNode struct {
	path  string
	place uint32 // the parent's place in the list (version 3)
	n     node
}

// restoreNodes reads nnodes nodes from r into t (see Restore), then checks the
// snapshot's CRC; unless old, it returns the index entries, for bulkIndex. The first
// damage found, in the stream's order, is the error.
func restoreNodes(r *snapReader, t *Tree, old bool, nnodes int64) ([]uint64, error) {
	in := &nodeInserter{t: t, old: old}
	if !old {
		in.ids = make([]nodeID, 0, min(nnodes, 1<<22))
		in.entries = make([]uint64, 0, min(nnodes, 1<<22))
	}
	dec := &nodeDecoder{r: r, t: t, old: old}
	if nnodes < pipelineFrom {
		// One batch, inserted whenever it fills: twice the room is enough.
		b := &nodeBatch{bytes: make([]byte, 0, 2*batchRoom)}
		var insErr error
		decErr := dec.run(nnodes,
			func() *nodeBatch { b.nodes, b.bytes = b.nodes[:0], b.bytes[:0]; return b },
			func(b *nodeBatch) bool { insErr = in.insert(b); return insErr == nil })
		if insErr != nil {
			return nil, insErr
		}
		return in.entries, decErr
	}

	full := make(chan *nodeBatch, 2)
	free := make(chan *nodeBatch, 3) // every batch fits: returning one never blocks
	for range cap(free) {
		free <- &nodeBatch{bytes: make([]byte, 0, batchBytes)}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop) // first: the decoder gives up whatever ends the insertion (a panic too)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			// Restore never panics; were the decoder to, the damage is reported as
			// such, not a crash of the process from a goroutine no caller can recover.
			if p := recover(); p != nil {
				select {
				case full <- &nodeBatch{err: corruptf("decoding failed: %v", p), last: true}:
				case <-stop:
				}
			}
		}()
		get := func() *nodeBatch {
			select {
			case b := <-free:
				b.nodes, b.bytes = b.nodes[:0], b.bytes[:0]
				return b
			case <-stop:
				return nil
			}
		}
		put := func(b *nodeBatch) bool {
			select {
			case full <- b:
				return true
			case <-stop:
				return false
			}
		}
		dec.run(nnodes, get, put)
	}()
	for {
		b := <-full
		if err := in.insert(b); err != nil {
			return nil, err
		}
		if b.last {
			return in.entries, b.err
		}
		free <- b
	}
}

// nodeDecoder reads the nodes and checks what needs no tree; the sessions it reads
// in t are not written while it runs.
type nodeDecoder struct {
	r       *snapReader
	t       *Tree
	old     bool
	prev    []byte // the path before, kept apart from the batches
	scratch []zkproto.ACL
	// Consecutive nodes mostly share an ACL: lastACL is the node before's, prevACL
	// the last one that was neither empty nor openACL.
	lastACL, prevACL []zkproto.ACL
}

// run decodes nnodes nodes into batches from get and hands them to put (either
// may say stop: nil, false), the last one marked, with the decoder's error (a
// damaged node, or the CRC after the last); it returns that error.
func (d *nodeDecoder) run(nnodes int64, get func() *nodeBatch, put func(*nodeBatch) bool) error {
	r := d.r
	b := get()
	if b == nil {
		return nil
	}
	for i := int64(0); i < nnodes && r.err == nil; i++ {
		if len(b.nodes) == batchNodes || cap(b.bytes)-len(b.bytes) < batchRoom {
			if !put(b) {
				return nil
			}
			if b = get(); b == nil {
				return nil
			}
		}
		d.node(b, i)
	}
	err := r.err
	if err == nil {
		err = r.end()
	}
	b.err, b.last = err, true
	put(b)
	return err
}

// take reads n bytes into b's bytes, or into a slice of their own past what b has
// room for (a large node's data; grown as the bytes arrive, as blob does).
func (d *nodeDecoder) take(b *nodeBatch, n int) []byte {
	if n > cap(b.bytes)-len(b.bytes) {
		return d.r.blob(n)
	}
	s := b.bytes[len(b.bytes) : len(b.bytes)+n]
	d.r.read(s)
	b.bytes = b.bytes[:len(b.bytes)+n]
	return s
}

// node decodes node i into b.
func (d *nodeDecoder) node(b *nodeBatch, i int64) {
	r := d.r
	plen, ok := r.strLen()
	if !ok {
		return
	}
	pb := d.take(b, plen)
	path := unsafe.String(unsafe.SliceData(pb), len(pb))
	var place uint32
	if !d.old {
		place = r.u32()
	}
	var n node
	if dlen, ok := r.byteLen(); ok && dlen >= 0 {
		n.data = d.take(b, dlen) // never nil: an empty data field stays non-nil
	}
	nacl := r.u32()
	if r.err == nil && nacl > 1<<16 {
		r.fail("%s: ACL count %d", path, nacl)
	}
	d.scratch = d.scratch[:0]
	for j := uint32(0); j < nacl && r.err == nil; j++ {
		var like zkproto.Id
		if int(j) < len(d.lastACL) {
			like = d.lastACL[j].ID
		}
		perms := r.i32()
		scheme := r.istr(like.Scheme)
		d.scratch = append(d.scratch, zkproto.ACL{Perms: perms, ID: zkproto.Id{Scheme: scheme, ID: r.istr(like.ID)}})
	}
	switch {
	case slices.Equal(d.scratch, openACL):
		n.acl = openACL
	case nacl > 0 && slices.Equal(d.scratch, d.prevACL):
		n.acl = d.prevACL
	case nacl > 0:
		n.acl = slices.Clone(d.scratch) // interned by rawInsert, or garbage
		d.prevACL = n.acl
	}
	if nacl > 0 {
		d.lastACL = n.acl
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
		return
	}
	switch {
	case i == 0 && path != "/":
		r.fail("first node is %q, not the root", path)
	case i > 0 && path <= string(d.prev):
		r.fail("path %q out of order after %q", path, d.prev)
	case zkproto.ValidatePath(path) != nil:
		r.fail("invalid path %q", path)
	case n.kind > kindTTL:
		r.fail("%s: unknown node kind %d", path, n.kind)
	case n.kind == kindEphemeral && !d.t.hasSession(n.owner):
		r.fail("%s: ephemeral of unknown session %#x", path, n.owner)
	}
	if r.err != nil {
		return
	}
	d.prev = append(d.prev[:0], path...)
	b.nodes = append(b.nodes, decodedNode{path: path, place: place, n: n})
}

// nodeInserter links decoded nodes into the tree, in the snapshot's order.
type nodeInserter struct {
	t   *Tree
	old bool
	i   int64    // the next node's place in the list
	ids []nodeID // by place in the list (version 3 names parents by place)
	// entries are the index entries, for bulkIndex.
	entries []uint64
	// The parent of the last node inserted (old format, where parents are looked
	// up): siblings mostly come in a row.
	parentPath string
	parentID   nodeID
}

func (in *nodeInserter) insert(b *nodeBatch) error {
	t := in.t
	for k := range b.nodes {
		d := &b.nodes[k]
		i, path := in.i, d.path
		in.i++
		var parent nodeID
		switch {
		case i == 0:
			if d.place != 0 {
				return corruptf("the root's parent at %d", d.place)
			}
		case !in.old:
			if int64(d.place) >= i {
				return corruptf("%s: parent at %d, not before the node's %d", path, d.place, i)
			}
			parent = in.ids[d.place]
			switch p := t.rec(parent); {
			case t.pathOf(parent) != zkproto.ParentPath(path):
				return corruptf("%s: the parent given is %s", path, t.pathOf(parent))
			case p.flags&flagKind == uint8(kindEphemeral):
				return corruptf("%s: child of an ephemeral", path)
			}
		default:
			if pp := zkproto.ParentPath(path); pp == in.parentPath {
				parent = in.parentID
			} else {
				parent = t.lookup(pp)
				switch {
				case parent == 0:
					return corruptf("%s: parent missing", path)
				case t.rec(parent).flags&flagKind == uint8(kindEphemeral):
					return corruptf("%s: child of an ephemeral", path)
				}
				in.parentID, in.parentPath = parent, t.pathOf(parent) // in the arena: stays
			}
		}
		owned := path // the tree copies it into its arena; an index keeps a copy of its own
		if keepsPath(path, d.n.kind) {
			owned = strings.Clone(path)
		}
		if in.old {
			t.insertUnder(parent, owned, d.n, true, true)
		} else {
			id := t.insertUnder(parent, owned, d.n, false, false)
			in.ids = append(in.ids, id)
			in.entries = append(in.entries, pathHash(path)>>idBits<<idBits|uint64(id))
		}
	}
	return nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}
