package zkdata

import (
	"iter"
	"slices"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// Records yields the tree's nodes sorted by path, parents first.
func (t *Tree) Records() iter.Seq[datatree.NodeRecord] {
	return func(yield func(datatree.NodeRecord) bool) {
		paths := make([]string, 0, len(t.Nodes))
		for p := range t.Nodes {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			n := t.Nodes[p]
			s := &n.Stat
			r := datatree.NodeRecord{
				Path: p, Data: n.Data, ACL: n.ACL,
				Czxid: zkproto.Zxid(s.Czxid), Mzxid: zkproto.Zxid(s.Mzxid), Pzxid: zkproto.Zxid(s.Pzxid),
				Ctime: s.Ctime, Mtime: s.Mtime,
				Version: s.Version, Aversion: s.Aversion, Cversion: s.Cversion,
				EphemeralOwner: s.EphemeralOwner,
			}
			if !yield(r) {
				return
			}
		}
	}
}

// ConfigPath is the node that holds a ZooKeeper ensemble's dynamic configuration.
// It describes the ZooKeeper servers, not zkraft's members: ToDataTree leaves it out,
// and the zkraft tree gets its own (members publish theirs).
const ConfigPath = "/zookeeper/config"

// ToDataTree makes a zkraft tree of the ZooKeeper tree: every znode with its data,
// ACL and persisted Stat (cversion as the count of child creates, so sequential
// names continue), the zxid, and the open sessions with the passwords ZooKeeper gave
// their clients, so that a client can resume its session on zkraft; a session that
// no client resumes expires after its timeout, taking its ephemerals with it.
func (t *Tree) ToDataTree() (*datatree.Tree, error) {
	sessions := make([]datatree.SessionInfo, 0, len(t.Sessions))
	for _, id := range sortedKeys(t.Sessions) {
		sessions = append(sessions, datatree.SessionInfo{ID: zkproto.SessionID(id), Timeout: t.Sessions[id], Password: SessionPassword(id)})
	}
	nodes := func(yield func(datatree.NodeRecord) bool) {
		for r := range t.Records() {
			if r.Path == ConfigPath {
				continue
			}
			if !yield(r) {
				return
			}
		}
	}
	return datatree.Build(zkproto.Zxid(t.Zxid), sessions, nodes)
}

// SessionPassword is the password a ZooKeeper server gives session id
// (ZooKeeperServer.generatePasswd): 16 bytes of java.util.Random seeded with
// id ^ 0xB3415C00.
func SessionPassword(id int64) []byte {
	const (
		mult = 0x5DEECE66D
		mask = 1<<48 - 1
	)
	seed := (uint64(id^0xB3415C00) ^ mult) & mask
	next := func() int32 {
		seed = (seed*mult + 0xB) & mask
		return int32(seed >> 16)
	}
	p := make([]byte, 16)
	for i := 0; i < len(p); {
		rnd := next()
		for n := min(len(p)-i, 4); n > 0; n-- {
			p[i] = byte(rnd)
			i++
			rnd >>= 8
		}
	}
	return p
}
