package zkdata

import (
	"encoding/binary"
	"hash/crc32"
	"iter"
	"slices"
	"strings"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// Stat is ZooKeeper's StatPersisted: Cversion counts child creates; EphemeralOwner
// is a session id, datatree.ContainerOwner or a TTL owner (datatree.TTLOwner).
type Stat struct {
	Czxid, Mzxid, Ctime, Mtime  int64
	Version, Cversion, Aversion int32
	EphemeralOwner, Pzxid       int64
}

// Node is a znode of a Tree.
type Node struct {
	Data []byte
	ACL  []zkproto.ACL // shared between nodes with the same ACL: do not modify
	Stat Stat

	// gen identifies this node; parentGen is the gen of the parent whose children
	// set lists it (0: none lists it).
	gen, parentGen uint64
}

// Tree is a ZooKeeper DataTree and session table as a ZooKeeper server restores them
// from its data directory. Paths are keyed as clients write them (the root is "/").
type Tree struct {
	Nodes    map[string]*Node
	Sessions map[int64]int32 // session id → timeout (ms)
	// Zxid is the last processed zxid.
	Zxid int64

	ephemerals map[int64]map[string]struct{}
	acls       map[string][]zkproto.ACL // interned ACL lists by their key
	digest     uint64                   // ZooKeeper's tree digest, kept up to date
	gen        uint64
}

// NewTree is the tree of a ZooKeeper server that has never written anything: the
// root, /zookeeper, /zookeeper/quota and /zookeeper/config.
func NewTree() *Tree {
	t := newTree()
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		pp, _ := parentOf(p)
		n := &Node{Data: []byte{}, ACL: t.intern(openACL)}
		if p == "/zookeeper/config" {
			// addConfigNode: READ_ACL_UNSAFE, set with version -1.
			n.ACL = t.intern([]zkproto.ACL{{Perms: zkproto.PermRead, ID: openACL[0].ID}})
			n.Stat.Aversion = -1
		}
		t.link(p, t.Nodes[pp], n)
	}
	return t
}

func newTree() *Tree {
	return &Tree{
		Nodes:      map[string]*Node{},
		Sessions:   map[int64]int32{},
		ephemerals: map[int64]map[string]struct{}{},
		acls:       map[string][]zkproto.ACL{},
	}
}

var openACL = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}

// intern returns the tree's shared copy of acl.
func (t *Tree) intern(acl []zkproto.ACL) []zkproto.ACL {
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(a.ID.Scheme)
		b.WriteByte(0)
		b.WriteString(a.ID.ID)
		b.WriteByte(0)
		b.WriteByte(byte(a.Perms))
	}
	k := b.String()
	if s, ok := t.acls[k]; ok {
		return s
	}
	s := slices.Clone(acl)
	t.acls[k] = s
	return s
}

// Digest is the tree digest ZooKeeper 3.6+ computes (DigestCalculator, version 2):
// the sum over nodes of the CRC-32 of the path ("" for the root), the data and the
// persisted stat, leaving out everything under /zookeeper/.
func (t *Tree) Digest() uint64 { return t.digest }

// DigestVersion is the version of the digest Digest computes.
const DigestVersion = 2

// NodeDigest is one node's part of the tree digest.
func NodeDigest(path string, data []byte, s *Stat) uint64 {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0
	}
	if path == "/" {
		path = ""
	}
	var b [60]byte
	binary.BigEndian.PutUint64(b[0:], uint64(s.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(s.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(s.Pzxid))
	binary.BigEndian.PutUint64(b[24:], uint64(s.Ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(s.Mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(s.Version))
	binary.BigEndian.PutUint32(b[44:], uint32(s.Cversion))
	binary.BigEndian.PutUint32(b[48:], uint32(s.Aversion))
	binary.BigEndian.PutUint64(b[52:], uint64(s.EphemeralOwner))
	c := crc32.NewIEEE()
	c.Write([]byte(path))
	c.Write(data)
	c.Write(b[:])
	return uint64(c.Sum32())
}

// RecordsDigest is the tree digest of node records (see Tree.Digest).
func RecordsDigest(nodes iter.Seq[datatree.NodeRecord]) uint64 {
	var sum uint64
	for r := range nodes {
		s := statOf(&r)
		sum += NodeDigest(r.Path, r.Data, &s)
	}
	return sum
}

func statOf(r *datatree.NodeRecord) Stat {
	return Stat{
		Czxid: int64(r.Czxid), Mzxid: int64(r.Mzxid), Ctime: r.Ctime, Mtime: r.Mtime,
		Version: r.Version, Cversion: r.Cversion, Aversion: r.Aversion,
		EphemeralOwner: r.EphemeralOwner, Pzxid: int64(r.Pzxid),
	}
}

func (t *Tree) put(path string, n *Node) {
	if old, ok := t.Nodes[path]; ok {
		t.digest -= NodeDigest(path, old.Data, &old.Stat)
		t.unindex(path, old)
	}
	t.Nodes[path] = n
	t.digest += NodeDigest(path, n.Data, &n.Stat)
	if kind, _ := datatree.OwnerKind(n.Stat.EphemeralOwner); kind == "ephemeral" {
		set := t.ephemerals[n.Stat.EphemeralOwner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[n.Stat.EphemeralOwner] = set
		}
		set[path] = struct{}{}
	}
}

func (t *Tree) unindex(path string, n *Node) {
	if kind, _ := datatree.OwnerKind(n.Stat.EphemeralOwner); kind == "ephemeral" {
		if set := t.ephemerals[n.Stat.EphemeralOwner]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, n.Stat.EphemeralOwner)
			}
		}
	}
}

// change runs fn on the node at path, keeping the digest (preChange/postChange).
func (t *Tree) change(path string, n *Node, fn func(*Node)) {
	t.digest -= NodeDigest(path, n.Data, &n.Stat)
	fn(n)
	t.digest += NodeDigest(path, n.Data, &n.Stat)
}

func (t *Tree) remove(path string) {
	n := t.Nodes[path]
	t.digest -= NodeDigest(path, n.Data, &n.Stat)
	t.unindex(path, n)
	delete(t.Nodes, path)
}

// parentOf is the parent path the way DataTree computes it (text before the last
// '/', "" being the root, which we key "/").
func parentOf(path string) (string, bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", false
	}
	if i == 0 {
		return "/", true
	}
	return path[:i], true
}

// createNode is DataTree.createNode. A node exists for it when its parent lists it
// (the parent's children set), as in ZooKeeper: a node left behind by a delete of
// its parent during a fuzzy snapshot is replaced.
func (t *Tree) createNode(path string, data []byte, acl []zkproto.ACL, owner int64, parentCVersion int32, zxid, time int64) zkproto.ErrCode {
	pp, ok := parentOf(path)
	if !ok || path == "/" {
		return zkproto.ErrNoNode
	}
	parent := t.Nodes[pp]
	if parent == nil {
		return zkproto.ErrNoNode
	}
	if old, exists := t.Nodes[path]; exists && old.parentGen == parent.gen {
		return zkproto.ErrNodeExists
	}
	t.change(pp, parent, func(p *Node) {
		if parentCVersion == -1 {
			parentCVersion = p.Stat.Cversion + 1
		}
		if parentCVersion > p.Stat.Cversion {
			p.Stat.Cversion = parentCVersion
			p.Stat.Pzxid = zxid
		}
	})
	if acl == nil {
		acl = openACL // convertAcls(null) is the open ACL
	}
	t.link(path, parent, &Node{Data: data, ACL: t.intern(acl), Stat: Stat{
		Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: time, Mtime: time, EphemeralOwner: owner,
	}})
	return zkproto.ErrOK
}

// link puts n at path as a child of parent (nil for the root).
func (t *Tree) link(path string, parent, n *Node) {
	t.gen++
	n.gen = t.gen
	if parent != nil {
		n.parentGen = parent.gen
	}
	t.put(path, n)
}

// deleteNode is DataTree.deleteNode: the parent's pzxid moves forward even when the
// child is already gone (a fuzzy snapshot), and only the node itself goes.
func (t *Tree) deleteNode(path string, zxid int64) zkproto.ErrCode {
	pp, ok := parentOf(path)
	if !ok || path == "/" {
		return zkproto.ErrNoNode
	}
	parent := t.Nodes[pp]
	if parent == nil {
		return zkproto.ErrNoNode
	}
	if zxid > parent.Stat.Pzxid {
		t.change(pp, parent, func(p *Node) { p.Stat.Pzxid = zxid })
	}
	n, ok := t.Nodes[path]
	if !ok {
		return zkproto.ErrNoNode
	}
	n.parentGen = 0
	t.remove(path)
	return zkproto.ErrOK
}

// setData is DataTree.setData: the version comes from the txn.
func (t *Tree) setData(path string, data []byte, version int32, zxid, time int64) zkproto.ErrCode {
	n := t.Nodes[path]
	if n == nil {
		return zkproto.ErrNoNode
	}
	t.change(path, n, func(n *Node) {
		n.Data = data
		n.Stat.Mtime = time
		n.Stat.Mzxid = zxid
		n.Stat.Version = version
	})
	return zkproto.ErrOK
}

// setACL is DataTree.setACL.
func (t *Tree) setACL(path string, acl []zkproto.ACL, version int32) zkproto.ErrCode {
	n := t.Nodes[path]
	if n == nil {
		return zkproto.ErrNoNode
	}
	if acl == nil {
		acl = openACL
	}
	t.change(path, n, func(n *Node) {
		n.Stat.Aversion = version
		n.ACL = t.intern(acl)
	})
	return zkproto.ErrOK
}

// setCversionPzxid is DataTree.setCversionPzxid.
func (t *Tree) setCversionPzxid(path string, cversion int32, zxid int64) {
	n := t.Nodes[path]
	if n == nil {
		return
	}
	if cversion == -1 {
		cversion = n.Stat.Cversion + 1
	}
	if cversion > n.Stat.Cversion {
		t.change(path, n, func(n *Node) {
			n.Stat.Cversion = cversion
			n.Stat.Pzxid = zxid
		})
	}
}

// killSession deletes a closing session's ephemerals: the paths its CloseSessionTxn
// lists, then any other it still owns (DataTree.killSession).
func (t *Tree) killSession(session, zxid int64, listed []string) {
	for _, p := range listed {
		t.deleteNode(p, zxid)
	}
	rest := t.ephemerals[session]
	paths := make([]string, 0, len(rest))
	for p := range rest {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		t.deleteNode(p, zxid)
	}
	delete(t.ephemerals, session)
}

// reachable reports which nodes hang from the root through their parents' children
// sets; ZooKeeper writes only those to its next snapshot.
func (t *Tree) dropUnreachable() int {
	dropped := 0
	for {
		n := 0
		for p, node := range t.Nodes {
			if p == "/" {
				continue
			}
			pp, _ := parentOf(p)
			parent := t.Nodes[pp]
			if parent == nil || node.parentGen != parent.gen {
				t.remove(p)
				n++
			}
		}
		if n == 0 {
			return dropped
		}
		dropped += n
	}
}
