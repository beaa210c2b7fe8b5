package zkdata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/golang/snappy"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// File magics (FileHeader.magic) and the format version.
const (
	snapMagic   = 0x5a4b534e // "ZKSN"
	logMagic    = 0x5a4b4c47 // "ZKLG"
	fileVersion = 2
)

// SnapshotInfo is what a snapshot says about itself besides the tree.
type SnapshotInfo struct {
	File string
	// Zxid is the zxid in the file's name: the last txn applied when the snapshot
	// started. Txns after it must be replayed (the snapshot is fuzzy).
	Zxid int64
	// DigestZxid and Digest are the tree digest the server recorded with the
	// snapshot (3.6+; DigestZxid 0 if none), valid once the replay reaches
	// DigestZxid.
	DigestZxid    int64
	DigestVersion int32
	Digest        uint64
	Nodes         int
	Sessions      int
}

// parseName returns the zxid in a file name "prefix.<hex zxid>[.ext]"
// (Util.getZxidFromName), or ok=false.
func parseName(name, prefix string) (int64, bool) {
	parts := strings.Split(name, ".")
	if len(parts) < 2 || parts[0] != prefix {
		return 0, false
	}
	z, err := strconv.ParseUint(parts[1], 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(z), true
}

// snapshotReader opens a snapshot file, decompressing by its extension as
// SnapStream does (.gz, .snappy; anything else is read as it is).
func snapshotReader(path string) (io.Reader, io.Closer, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	parts := strings.Split(filepath.Base(path), ".")
	switch strings.ToLower(parts[len(parts)-1]) {
	case "gz":
		z, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, false, &FormatError{File: path, What: "not a gzip stream: " + err.Error()}
		}
		z.Multistream(false)
		return z, f, true, nil
	case "snappy":
		return &xerialSnappyReader{r: f, file: path}, f, true, nil
	case "zst", "zstd":
		f.Close()
		return nil, nil, false, &FormatError{File: path, What: "zstd snapshots are not supported (ZooKeeper up to 3.9 writes gz and snappy only)"}
	}
	return f, f, false, nil
}

// xerialSnappyReader reads snappy-java's SnappyOutputStream format: a 16-byte
// header (0x82 "SNAPPY" 0x00, version 1, compatible version 1), then blocks, each an
// int length and a raw snappy block.
type xerialSnappyReader struct {
	r      io.Reader
	file   string
	off    int64 // in the compressed file
	header bool
	buf    []byte
	comp   []byte
}

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func (x *xerialSnappyReader) fail(what string) error {
	return &FormatError{File: x.file, Offset: x.off, What: what}
}

func (x *xerialSnappyReader) Read(p []byte) (int, error) {
	for len(x.buf) == 0 {
		if !x.header {
			var h [16]byte
			if _, err := io.ReadFull(x.r, h[:]); err != nil {
				return 0, x.fail("no snappy-java header")
			}
			if !bytes.Equal(h[:8], xerialMagic) {
				return 0, x.fail("not a snappy-java stream")
			}
			x.header, x.off = true, 16
		}
		var l [4]byte
		if _, err := io.ReadFull(x.r, l[:]); err != nil {
			if err == io.EOF {
				return 0, io.EOF
			}
			return 0, x.fail("truncated snappy block length")
		}
		n := binary.BigEndian.Uint32(l[:])
		if n > maxBuffer {
			return 0, x.fail(fmt.Sprintf("snappy block of %d bytes", n))
		}
		if cap(x.comp) < int(n) {
			x.comp = make([]byte, n)
		}
		x.comp = x.comp[:n]
		if _, err := io.ReadFull(x.r, x.comp); err != nil {
			return 0, x.fail("truncated snappy block")
		}
		out, err := snappy.Decode(nil, x.comp)
		if err != nil {
			return 0, x.fail("bad snappy block: " + err.Error())
		}
		x.off += 4 + int64(n)
		x.buf = out
	}
	n := copy(p, x.buf)
	x.buf = x.buf[n:]
	return n, nil
}

// ReadSnapshot reads a snapshot file into a tree whose Zxid is the file's zxid.
// Any damage is a *FormatError naming the file and the offset.
func ReadSnapshot(path string, progress func(nodes int)) (*Tree, *SnapshotInfo, error) {
	zxid, ok := parseName(filepath.Base(path), "snapshot")
	if !ok {
		return nil, nil, fmt.Errorf("%s: not a snapshot file name (snapshot.<hex zxid>)", path)
	}
	src, closer, compressed, err := snapshotReader(path)
	if err != nil {
		return nil, nil, err
	}
	defer closer.Close()
	r := newStreamReader(src, path, compressed)
	info := &SnapshotInfo{File: path, Zxid: zxid}
	t, err := readSnapshot(r, info, progress)
	if err != nil {
		return nil, nil, err
	}
	t.Zxid = zxid
	return t, info, nil
}

func readSnapshot(r *streamReader, info *SnapshotInfo, progress func(int)) (*Tree, error) {
	if magic := r.int32(); r.err == nil && magic != snapMagic {
		r.failAt(0, "magic %#x is not a ZooKeeper snapshot's (ZKSN)", uint32(magic))
	}
	if v := r.int32(); r.err == nil && v != fileVersion {
		r.failAt(4, "snapshot format version %d (only 2 exists)", v)
	}
	r.int64() // dbid
	t := newTree()

	at := r.off
	nsess, _ := r.length(maxCount, "session count")
	for i := 0; i < nsess && r.err == nil; i++ {
		id, to := r.int64(), r.int32()
		t.Sessions[id] = to
	}
	if r.err == nil && len(t.Sessions) != nsess {
		r.failAt(at, "duplicate sessions")
	}

	// The ACL cache.
	at = r.off
	nacl, _ := r.length(maxCount, "ACL cache size")
	cache := map[int64][]zkproto.ACL{}
	for i := 0; i < nacl && r.err == nil; i++ {
		id := r.int64()
		acl := r.acls()
		if r.err == nil {
			cache[id] = t.intern(acl)
		}
	}
	if r.err == nil && len(cache) != nacl {
		r.failAt(at, "duplicate ACL ids in the ACL cache")
	}
	cache[-1] = t.intern(openACL)

	// The nodes, depth first, ended by "/".
	for r.err == nil {
		at := r.off
		path := r.str()
		if r.err != nil || path == "/" {
			break
		}
		n := &Node{Data: r.buffer()}
		aclID := r.int64()
		n.Stat = Stat{Czxid: r.int64(), Mzxid: r.int64(), Ctime: r.int64(), Mtime: r.int64(),
			Version: r.int32(), Cversion: r.int32(), Aversion: r.int32(), EphemeralOwner: r.int64(), Pzxid: r.int64()}
		if r.err != nil {
			break
		}
		acl, ok := cache[aclID]
		if !ok {
			r.failAt(at, "node %q has ACL id %d, which the ACL cache lacks", path, aclID)
			break
		}
		n.ACL = acl
		if path == "" {
			if len(t.Nodes) > 0 {
				r.failAt(at, "a second root node")
				break
			}
			t.link("/", nil, n)
			continue
		}
		if !strings.HasPrefix(path, "/") || zkproto.ValidatePath(path) != nil {
			r.failAt(at, "invalid node path %q", path)
			break
		}
		pp, _ := parentOf(path)
		parent := t.Nodes[pp]
		if parent == nil {
			r.failAt(at, "node %q comes before its parent", path)
			break
		}
		if _, dup := t.Nodes[path]; dup {
			r.failAt(at, "node %q appears twice", path)
			break
		}
		t.link(path, parent, n)
		if progress != nil && len(t.Nodes)%100000 == 0 {
			progress(len(t.Nodes))
		}
	}
	if r.err == nil && t.Nodes["/"] == nil {
		r.failAt(r.off, "no root node")
	}
	checkSeal(r)
	if r.err == nil && !r.atEOF() {
		// 3.6+: the digest of the tree at some zxid, sealed.
		info.DigestZxid = r.int64()
		info.DigestVersion = r.int32()
		if info.DigestVersion < 2 {
			d, err := strconv.ParseUint(r.str(), 16, 64)
			if err == nil {
				info.Digest = d
			}
		} else {
			info.Digest = uint64(r.int64())
		}
		checkSeal(r)
		if r.err == nil && !r.atEOF() {
			r.int64() // 3.9: the last processed zxid
			checkSeal(r)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	info.Nodes = len(t.Nodes)
	info.Sessions = len(t.Sessions)
	return t, nil
}

// checkSeal reads SnapStream's seal: the Adler-32 of everything before it and "/".
func checkSeal(r *streamReader) {
	if r.err != nil {
		return
	}
	want := int64(r.sum.Sum32())
	at := r.off
	got := r.int64()
	if p := r.str(); r.err == nil && p != "/" {
		r.failAt(at, "bad seal after the checksum")
	}
	if r.err == nil && got != want {
		r.failAt(at, "checksum %#x, but the content before it sums to %#x (Adler-32): the snapshot is damaged", got, want)
	}
}

// ErrNoSnapshot: the directory has no snapshot file.
var ErrNoSnapshot = errors.New("zkdata: no snapshot")

// WriteSnapshot writes nodes (sorted by path, so parents come first) and sessions
// as a ZooKeeper 3.8 snapshot, uncompressed, with the digest section for zxid
// (which ZooKeeper checks when it loads the snapshot). It returns the tree digest.
func WriteSnapshot(w io.Writer, zxid int64, sessions map[int64]int32, nodes iter.Seq[datatree.NodeRecord]) (uint64, error) {
	// The ACL cache: each distinct ACL list gets an id in order of first use. The
	// nodes are walked twice: once for the ACLs, once to write them.
	type aclKey = string
	ids := map[aclKey]int64{}
	var lists [][]zkproto.ACL
	key := func(acl []zkproto.ACL) aclKey {
		var b strings.Builder
		for _, a := range acl {
			fmt.Fprintf(&b, "%d\x00%s\x00%s\x00", a.Perms, a.ID.Scheme, a.ID.ID)
		}
		return b.String()
	}
	for r := range nodes {
		k := key(r.ACL)
		if _, ok := ids[k]; !ok {
			ids[k] = int64(len(lists) + 1)
			lists = append(lists, r.ACL)
		}
	}
	jw := newJuteWriter(w)
	jw.int32(snapMagic)
	jw.int32(fileVersion)
	jw.int64(-1)
	jw.int32(int32(len(sessions)))
	for _, id := range sortedKeys(sessions) {
		jw.int64(id)
		jw.int32(sessions[id])
	}
	jw.int32(int32(len(lists)))
	for i, l := range lists {
		jw.int64(int64(i + 1))
		jw.acls(l)
	}
	var digest uint64
	for r := range nodes {
		path := r.Path
		if path == "/" {
			path = ""
		}
		s := statOf(&r)
		digest += NodeDigest(r.Path, r.Data, &s)
		jw.str(path)
		jw.buffer(r.Data)
		jw.int64(ids[key(r.ACL)])
		jw.int64(s.Czxid)
		jw.int64(s.Mzxid)
		jw.int64(s.Ctime)
		jw.int64(s.Mtime)
		jw.int32(s.Version)
		jw.int32(s.Cversion)
		jw.int32(s.Aversion)
		jw.int64(s.EphemeralOwner)
		jw.int64(s.Pzxid)
		if jw.err != nil {
			break
		}
	}
	jw.str("/")
	jw.seal()
	jw.int64(zxid)
	jw.int32(DigestVersion)
	jw.int64(int64(digest))
	jw.seal()
	return digest, jw.flush()
}

func sortedKeys[V any](m map[int64]V) []int64 { return slices.Sorted(maps.Keys(m)) }
