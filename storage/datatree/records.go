package datatree

import (
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/zkraft/zkraft/zkproto"
)

// Node records: the tree's content node by node, as ZooKeeper persists it, for
// importing a tree from elsewhere (a ZooKeeper data directory, a backup) and for
// exporting one (a ZooKeeper snapshot).

// ZooKeeper's encodings of a node's kind in StatPersisted.ephemeralOwner
// (EphemeralType): a container is Long.MIN_VALUE; a TTL node has the top byte 0xFF,
// the next two bytes zero (the TTL feature) and the TTL in ms in the low 40 bits.
const (
	ContainerOwner int64 = -1 << 63
	ttlOwnerTop    int64 = -1 << 56     // 0xFF00000000000000
	ttlFeatureBits int64 = 0xFFFF << 40 // the extended feature, 0 for TTL
	ttlOwnerValue  int64 = 0xFF_FFFF_FFFF
)

// NodeRecord is one znode with every field ZooKeeper persists for it.
type NodeRecord struct {
	Path string
	Data []byte // nil and empty both read back as empty
	ACL  []zkproto.ACL
	// Stat as ZooKeeper persists it (StatPersisted): Cversion is the number of child
	// creates ever (what clients see is 2*Cversion - numChildren), EphemeralOwner
	// the owning session, ContainerOwner for a container, or 0xFF00…|ttl for a TTL
	// node.
	Czxid, Mzxid, Pzxid zkproto.Zxid
	Ctime, Mtime        int64
	Version, Aversion   int32
	Cversion            int32
	EphemeralOwner      int64
}

// OwnerKind tells what a StatPersisted.ephemeralOwner means, as ZooKeeper's
// EphemeralType.get does with extended types enabled: "persistent", "ephemeral",
// "container" or "ttl" (with the TTL in ms).
func OwnerKind(owner int64) (kind string, ttl int64) {
	switch {
	case owner == 0:
		return "persistent", 0
	case owner == ContainerOwner:
		return "container", 0
	case owner&ttlOwnerTop == ttlOwnerTop && owner&ttlFeatureBits == 0:
		return "ttl", owner & ttlOwnerValue
	}
	return "ephemeral", 0
}

// TTLOwner is the ephemeralOwner ZooKeeper persists for a TTL node.
func TTLOwner(ttl int64) int64 { return ttlOwnerTop | ttl&ttlOwnerValue }

func (n *node) record(path string) NodeRecord {
	r := NodeRecord{
		Path: path, Data: n.data, ACL: n.acl,
		Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid,
		Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Aversion: n.aversion, Cversion: n.cseq,
	}
	switch n.kind {
	case kindEphemeral:
		r.EphemeralOwner = n.owner
	case kindContainer:
		r.EphemeralOwner = ContainerOwner
	case kindTTL:
		r.EphemeralOwner = TTLOwner(n.owner)
	}
	return r
}

// Nodes yields every node of the snapshot, sorted by path (so a parent comes before
// its children). The records share the tree's data and ACL slices: do not modify.
func (s *Snapshot) Nodes() iter.Seq[NodeRecord] {
	return func(yield func(NodeRecord) bool) {
		s.walk(func(id nodeID) bool {
			n := s.view(id)
			return yield(n.record(s.pathOf(id)))
		})
	}
}

// Sessions lists the snapshot's session table sorted by id.
func (s *Snapshot) Sessions() []SessionInfo {
	out := make([]SessionInfo, 0, len(s.sessions))
	for _, id := range slices.Sorted(maps.Keys(s.sessions)) {
		out = append(out, s.sessions[id])
	}
	return out
}

// NodeCount is the number of nodes in the snapshot.
func (s *Snapshot) NodeCount() int { return s.count }

// Build makes a tree at zxid from sessions and node records given in any order in
// which every parent comes before its children (sorted by path will do). It checks
// what Restore checks (valid paths, no duplicates, parents present and not
// ephemeral, ephemerals owned by a listed session) and returns an error naming the
// first offending path. The built-in nodes "/", "/zookeeper", "/zookeeper/quota"
// and "/zookeeper/config" are added as New makes them when the records lack them.
// The tree copies the records' data and keeps their ACL slices.
func Build(zxid zkproto.Zxid, sessions []SessionInfo, nodes iter.Seq[NodeRecord]) (*Tree, error) {
	t := newEmptyTree()
	t.zxid = zxid
	for _, si := range sessions {
		if _, dup := t.sessions[si.ID]; dup {
			return nil, fmt.Errorf("datatree: build: duplicate session %#x", si.ID)
		}
		t.sessions[si.ID] = si
	}
	for r := range nodes {
		if err := t.addRecord(r); err != nil {
			return nil, err
		}
	}
	fresh := New()
	for _, p := range []string{"/", procPath, quotaPath, configPath} {
		if _, ok := t.get(p); !ok {
			n, _ := fresh.get(p)
			if p != "/" {
				if _, ok := t.get(zkproto.ParentPath(p)); !ok {
					return nil, fmt.Errorf("datatree: build: %s missing", zkproto.ParentPath(p))
				}
			}
			t.rawInsert(p, n)
		}
	}
	return t, nil
}

func (t *Tree) addRecord(r NodeRecord) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("datatree: build: %s: "+format, append([]any{r.Path}, args...)...)
	}
	if zkproto.ValidatePath(r.Path) != nil {
		return fail("invalid path")
	}
	if _, dup := t.get(r.Path); dup {
		return fail("duplicate node")
	}
	n := node{
		data: r.Data, acl: r.ACL,
		czxid: r.Czxid, mzxid: r.Mzxid, pzxid: r.Pzxid,
		ctime: r.Ctime, mtime: r.Mtime,
		version: r.Version, aversion: r.Aversion, cseq: r.Cversion,
	}
	if slices.Equal(n.acl, openACL) {
		n.acl = openACL
	}
	switch kind, ttl := OwnerKind(r.EphemeralOwner); kind {
	case "container":
		n.kind = kindContainer
	case "ttl":
		n.kind, n.owner = kindTTL, ttl
	case "ephemeral":
		if !t.hasSession(r.EphemeralOwner) {
			return fail("ephemeral of session %#x, which is not in the session table", r.EphemeralOwner)
		}
		n.kind, n.owner = kindEphemeral, r.EphemeralOwner
	}
	if r.Path != "/" {
		p, ok := t.get(zkproto.ParentPath(r.Path))
		switch {
		case !ok:
			return fail("parent missing (records must list parents first)")
		case p.kind == kindEphemeral:
			return fail("child of an ephemeral node")
		}
	} else if n.kind != kindPersistent {
		return fail("the root must be persistent")
	}
	t.rawInsert(r.Path, n)
	return nil
}
