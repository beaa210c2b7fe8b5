package datatree

import (
	"slices"
	"strings"

	"github.com/zkraft/zkraft/zkproto"
)

// nodeKind is what ZooKeeper encodes in StatPersisted.ephemeralOwner.
type nodeKind uint8

const (
	kindPersistent nodeKind = iota
	kindEphemeral           // owner is the session id
	kindContainer
	kindTTL // owner is the TTL in ms
)

// node is a znode as the tree's logic reads and writes it: a view of its record
// (see store.go). data and acl alias the arena and the ACL table, which are never
// modified in place; nkids is the number of children when the view was made.
type node struct {
	data     []byte
	acl      []zkproto.ACL
	nkids    int32
	czxid    zkproto.Zxid
	mzxid    zkproto.Zxid
	pzxid    zkproto.Zxid
	ctime    int64
	mtime    int64
	owner    int64 // session id (ephemeral) or TTL ms (ttl); 0 otherwise
	version  int32
	aversion int32
	cseq     int32 // C: child creates ever (ZooKeeper's persisted cversion)
	kind     nodeKind
}

func (n *node) numChildren() int { return int(n.nkids) }

// stat is the node's Stat as clients see it.
func (n *node) stat() zkproto.Stat {
	nc := int32(n.numChildren())
	var owner int64
	if n.kind == kindEphemeral {
		owner = n.owner // containers and TTL nodes show 0 (getClientEphemeralOwner)
	}
	return zkproto.Stat{
		Czxid:          n.czxid,
		Mzxid:          n.mzxid,
		Ctime:          n.ctime,
		Mtime:          n.mtime,
		Version:        n.version,
		Cversion:       n.cseq*2 - nc,
		Aversion:       n.aversion,
		EphemeralOwner: owner,
		DataLength:     int32(len(n.data)),
		NumChildren:    nc,
		Pzxid:          n.pzxid,
	}
}

// SessionInfo is one entry of the session table.
type SessionInfo struct {
	ID       zkproto.SessionID
	Timeout  int32
	Password []byte
	// Owner is the server the session's client is connected to; requests proposed
	// by another server fail with SESSIONMOVED. 0 accepts any server.
	Owner int64
	// Stream and StreamSeq are the client write stream (Txn.Stream) whose write the
	// session applied last, and that write's place on it.
	Stream, StreamSeq uint64
}

// Tree is the replicated state: znodes, sessions and the zxid. See the package
// documentation for locking.
type Tree struct {
	store

	zxid   zkproto.Zxid
	digest uint64 // see Digest
	// lastPut is the node put changed last, with its digest since: the next change
	// of the same node (a parent gaining children one create after another, a
	// session setting its znode) subtracts that instead of hashing it again.
	lastPut struct {
		id     nodeID
		digest uint64
	}
	sessions map[zkproto.SessionID]SessionInfo
	// incarnations are the ensemble members' data-directory incarnations, by id.
	incarnations map[int64]string

	// Derived indexes, rebuilt by Restore.
	ephemerals map[zkproto.SessionID]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	count      int
	dataSize   int64
	ephCount   int

	// quotas are the quota'd paths: those with a /zookeeper/quota<path>/zookeeper_limits
	// node (derived, kept by rawInsert and rawRemove).
	quotas map[string]struct{}
	// quotaNotes are the limits the transaction being applied passed (Result.QuotaExceeded).
	quotaNotes []QuotaExceeded
	// preMulti holds, during a multi, the stats nodes' data as it was before the
	// multi, by path: quotas are checked against it (checkQuota).
	preMulti map[string][]byte

	// Undo log of the multi being applied (nil outside a multi).
	undo    []undoRec
	logging bool
}

var (
	openACL     = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	readOnlyACL = []zkproto.ACL{{Perms: zkproto.PermRead, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
)

// Built-in paths (ZooDefs / Quotas).
const (
	procPath   = "/zookeeper"
	quotaPath  = "/zookeeper/quota"
	configPath = "/zookeeper/config"
)

// isSpecialPath is DataTree.isSpecialPath: these can't be deleted (BADARGUMENTS).
func isSpecialPath(p string) bool {
	return p == "/" || p == procPath || p == quotaPath || p == configPath
}

func newEmptyTree() *Tree {
	return &Tree{
		store:        newStore(),
		sessions:     make(map[zkproto.SessionID]SessionInfo),
		incarnations: make(map[int64]string),
		ephemerals:   make(map[zkproto.SessionID]map[string]struct{}),
		containers:   make(map[string]struct{}),
		ttls:         make(map[string]struct{}),
	}
}

// New returns the tree of a fresh ZooKeeper server: "/", "/zookeeper",
// "/zookeeper/quota" and "/zookeeper/config", with all-zero stats as DataTree
// makes them. /zookeeper/config is readable by anyone and writable by nobody but a
// super user (READ_ACL_UNSAFE, aversion -1, as DataTree.addConfigNode leaves it).
func New() *Tree {
	t := newEmptyTree()
	t.insert("/", node{data: []byte{}, acl: openACL})
	t.insert(procPath, node{data: []byte{}, acl: openACL})
	t.insert(quotaPath, node{data: []byte{}, acl: openACL})
	t.insert(configPath, node{data: []byte{}, acl: readOnlyACL, aversion: -1})
	return t
}

// LastZxid is the zxid of the last successful transaction (0 for a new tree).
func (t *Tree) LastZxid() zkproto.Zxid { return t.zxid }

// get returns the node at path.
func (t *Tree) get(path string) (node, bool) {
	id := t.lookup(path)
	if id == 0 {
		return node{}, false
	}
	return t.view(id), true
}

func nodeSize(path string, n *node) int64 { return int64(len(path) + len(n.data)) }

// set replaces the content of an existing node.
func (t *Tree) set(path string, old, n node) {
	if t.logging {
		t.undo = append(t.undo, undoRec{kind: undoSet, path: path, old: old})
	}
	t.put(path, n)
	t.dataSize += int64(len(n.data) - len(old.data))
}

// put stores n as the content of the existing node at path (its replicated fields,
// data and ACL; not its children), keeping the digest current.
func (t *Tree) put(path string, n node) {
	id := t.lookup(path)
	if id == 0 {
		panic("datatree: put " + path + ", which does not exist")
	}
	cur := t.view(id)
	if t.lastPut.id == id {
		t.digest -= t.lastPut.digest
	} else {
		t.digest -= nodeDigest(path, &cur)
	}
	t.update(id, path, &cur, &n)
	d := nodeDigest(path, &n)
	t.digest += d
	t.lastPut.id, t.lastPut.digest = id, d
}

// insert adds a node at a new path and links it into its parent's children.
func (t *Tree) insert(path string, n node) {
	if t.logging {
		t.undo = append(t.undo, undoRec{kind: undoInsert, path: path})
	}
	t.rawInsert(path, n)
}

// rawInsert keeps path itself, beyond its copy in the arena, where keepsPath says:
// a caller that lends it a path it will write over (Restore) passes a copy there.
func (t *Tree) rawInsert(path string, n node) {
	var parent nodeID
	if path != "/" {
		if parent = t.lookup(zkproto.ParentPath(path)); parent == 0 {
			panic("datatree: insert " + path + " without its parent") // callers check first
		}
	}
	t.insertUnder(parent, path, n, true, true)
}

// insertUnder is rawInsert with the parent's id found (0 for the root), and returns
// the new node's id. index adds it to the index and hash to the digest: a restore
// from a snapshot that carries the digest does neither (it builds the index at the
// end: bulkIndex).
func (t *Tree) insertUnder(parent nodeID, path string, n node, index, hash bool) nodeID {
	id := t.add(path, &n)
	if index {
		t.indexInsert(path, id)
	}
	if parent != 0 {
		t.link(parent, id)
	}
	if hash {
		t.digest += nodeDigest(path, &n)
	}
	t.count++
	t.dataSize += nodeSize(path, &n)
	t.indexQuota(path, true)
	switch n.kind {
	case kindEphemeral:
		sid := zkproto.SessionID(n.owner)
		set := t.ephemerals[sid]
		if set == nil {
			set = make(map[string]struct{})
			t.ephemerals[sid] = set
		}
		set[path] = struct{}{}
		t.ephCount++
	case kindContainer:
		t.containers[path] = struct{}{}
	case kindTTL:
		t.ttls[path] = struct{}{}
	}
	return id
}

// keepsPath tells whether rawInsert keeps the path of a node of kind in an index
// (ephemerals, containers, TTLs, quotas).
func keepsPath(path string, kind nodeKind) bool {
	return kind != kindPersistent || quotaTarget(path) != ""
}

// remove deletes the (childless) node n at path and unlinks it from its parent.
func (t *Tree) remove(path string, n node) {
	if t.logging {
		t.undo = append(t.undo, undoRec{kind: undoRemove, path: path, old: n})
	}
	t.rawRemove(path, n)
}

func (t *Tree) rawRemove(path string, n node) {
	id := t.lookup(path)
	if id == 0 {
		panic("datatree: remove " + path + ", which does not exist")
	}
	cur := t.view(id)
	t.digest -= nodeDigest(path, &cur)
	if t.lastPut.id == id {
		t.lastPut.id = 0 // the id may name another node next
	}
	if t.rec(id).parent != 0 {
		t.unlink(id)
	}
	t.indexDelete(path, id)
	t.drop(id)
	t.count--
	t.dataSize -= nodeSize(path, &n)
	t.indexQuota(path, false)
	switch n.kind {
	case kindEphemeral:
		sid := zkproto.SessionID(n.owner)
		if set := t.ephemerals[sid]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, sid)
			}
		}
		t.ephCount--
	case kindContainer:
		delete(t.containers, path)
	case kindTTL:
		delete(t.ttls, path)
	}
}

type undoKind uint8

const (
	undoSet    undoKind = iota + 1 // restore old content
	undoInsert                     // remove the inserted node
	undoRemove                     // re-insert old
)

type undoRec struct {
	kind undoKind
	path string
	old  node
}

// rollback reverts the undo log, newest first.
func (t *Tree) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := &t.undo[i]
		switch u.kind {
		case undoSet:
			cur, _ := t.get(u.path)
			t.put(u.path, u.old)
			t.dataSize += int64(len(u.old.data) - len(cur.data))
		case undoInsert:
			cur, _ := t.get(u.path)
			t.rawRemove(u.path, cur)
		case undoRemove:
			t.rawInsert(u.path, u.old)
		}
	}
}

// Reads. None of them changes the tree; they may run concurrently with each other.

// GetData returns a node's data (shared: do not modify) and Stat; it needs READ.
func (t *Tree) GetData(path string, auth []zkproto.Id) ([]byte, zkproto.Stat, zkproto.ErrCode) {
	n, ok := t.get(path)
	if !ok {
		return nil, zkproto.Stat{}, zkproto.ErrNoNode
	}
	if !CheckPerm(n.acl, zkproto.PermRead, auth) {
		return nil, zkproto.Stat{}, zkproto.ErrNoAuth
	}
	return n.data, n.stat(), zkproto.ErrOK
}

// Exists returns a node's Stat. ZooKeeper checks no ACL for exists.
func (t *Tree) Exists(path string) (zkproto.Stat, bool) {
	n, ok := t.get(path)
	if !ok {
		return zkproto.Stat{}, false
	}
	return n.stat(), true
}

// NodeACL returns a node's ACL without any permission check, for the server's own
// decisions (watches, addWatch). Shared: do not modify.
func (t *Tree) NodeACL(path string) ([]zkproto.ACL, bool) {
	n, ok := t.get(path)
	return n.acl, ok
}

// Children returns the names of a node's children, sorted (ZooKeeper returns hash
// order; any order is legal), and its Stat; it needs READ.
func (t *Tree) Children(path string, auth []zkproto.Id) ([]string, zkproto.Stat, zkproto.ErrCode) {
	names, stat, code := t.ChildrenUnsorted(path, auth)
	slices.Sort(names)
	return names, stat, code
}

// ChildrenUnsorted is Children without the sort, for a server that sorts the names
// after it releases the tree's lock (they stay valid: see the package documentation).
func (t *Tree) ChildrenUnsorted(path string, auth []zkproto.Id) ([]string, zkproto.Stat, zkproto.ErrCode) {
	id := t.lookup(path)
	if id == 0 {
		return nil, zkproto.Stat{}, zkproto.ErrNoNode
	}
	n := t.view(id)
	if !CheckPerm(n.acl, zkproto.PermRead, auth) {
		return nil, zkproto.Stat{}, zkproto.ErrNoAuth
	}
	return t.childNames(id, path), n.stat(), zkproto.ErrOK
}

// GetACL returns a node's ACL and Stat; it needs READ or ADMIN. Without ADMIN the
// digest ids are redacted to "user:x", as ZooKeeper's FinalRequestProcessor does.
func (t *Tree) GetACL(path string, auth []zkproto.Id) ([]zkproto.ACL, zkproto.Stat, zkproto.ErrCode) {
	n, ok := t.get(path)
	if !ok {
		return nil, zkproto.Stat{}, zkproto.ErrNoNode
	}
	if !CheckPerm(n.acl, zkproto.PermRead|zkproto.PermAdmin, auth) {
		return nil, zkproto.Stat{}, zkproto.ErrNoAuth
	}
	acl := n.acl
	if !CheckPerm(n.acl, zkproto.PermAdmin, auth) {
		acl = redactDigests(acl)
	}
	return acl, n.stat(), zkproto.ErrOK
}

func redactDigests(acl []zkproto.ACL) []zkproto.ACL {
	var out []zkproto.ACL
	for i, a := range acl {
		if a.ID.Scheme != "digest" {
			continue
		}
		if out == nil {
			out = slices.Clone(acl)
		}
		if j := strings.IndexByte(a.ID.ID, ':'); j >= 0 {
			out[i].ID.ID = a.ID.ID[:j] + ":x"
		}
	}
	if out == nil {
		return acl
	}
	return out
}

// AllChildrenNumber is the number of descendants of path (getAllChildrenNumber);
// it needs READ on path.
func (t *Tree) AllChildrenNumber(path string, auth []zkproto.Id) (int, zkproto.ErrCode) {
	id := t.lookup(path)
	if id == 0 {
		return 0, zkproto.ErrNoNode
	}
	if !CheckPerm(t.view(id).acl, zkproto.PermRead, auth) {
		return 0, zkproto.ErrNoAuth
	}
	if path == "/" {
		return t.count - 1, zkproto.ErrOK
	}
	return t.descendants(id), zkproto.ErrOK
}

func (t *Tree) descendants(id nodeID) int {
	kids := t.kidsOf(t.rec(id))
	total := len(kids)
	for _, k := range kids {
		if t.rec(k).kids != 0 {
			total += t.descendants(k)
		}
	}
	return total
}

// childNames lists the names of the children of the node id at path, in no order.
// They alias the arena (never written over), so they stay valid.
func (t *Tree) childNames(id nodeID, path string) []string {
	kids := t.kidsOf(t.rec(id))
	names := make([]string, len(kids))
	skip := len(path) + 1
	if path == "/" {
		skip = 1
	}
	for i, k := range kids {
		names[i] = t.pathOf(k)[skip:]
	}
	return names
}

// Ephemerals lists the session's ephemeral nodes whose path starts with prefix
// (all of them for "", "/" or blanks, as getEphemerals does), sorted.
func (t *Tree) Ephemerals(session zkproto.SessionID, prefix string) []string {
	set := t.ephemerals[session]
	all := strings.TrimSpace(prefix) == "" || strings.TrimSpace(prefix) == "/"
	out := make([]string, 0, len(set))
	for p := range set {
		if all || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// NodeCount is the number of znodes, the root and /zookeeper included. ZooKeeper's
// zk_znode_count is one more: its node map holds the root twice ("" and "/").
func (t *Tree) NodeCount() int { return t.count }

// ApproximateDataSize is the sum of len(path)+len(data) over all nodes
// (zk_approximate_data_size).
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize }

// EphemeralCount is the number of ephemeral nodes (zk_ephemerals_count).
func (t *Tree) EphemeralCount() int { return t.ephCount }

// Session looks up a session.
func (t *Tree) Session(id zkproto.SessionID) (SessionInfo, bool) {
	s, ok := t.sessions[id]
	return s, ok
}

// Sessions lists the session table sorted by id.
func (t *Tree) Sessions() []SessionInfo {
	out := make([]SessionInfo, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return cmpInt(a.ID, b.ID) })
	return out
}

func cmpInt[T ~int64 | ~int32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReapCandidates lists, sorted, the nodes the leader's reaper should try to delete
// with deleteContainer at wall-clock time now (ms), as ContainerManager does:
// containers that have had at least one child (C > 0) and have none now, and TTL
// nodes without children whose mtime + ttl < now. (ZooKeeper's optional
// znode.container.maxNeverUsedIntervalMs rule for never-used containers is not
// applied.)
func (t *Tree) ReapCandidates(now int64) []string {
	var out []string
	for p := range t.containers {
		if n, ok := t.get(p); ok && n.cseq > 0 && n.numChildren() == 0 {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		if n, ok := t.get(p); ok && n.numChildren() == 0 && ttlExpired(&n, now) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func ttlExpired(n *node, now int64) bool {
	return n.owner > 0 && now-n.mtime > n.owner
}

// Incarnation is the recorded incarnation of member id's data directory ("" if none).
func (t *Tree) Incarnation(id int64) string { return t.incarnations[id] }
