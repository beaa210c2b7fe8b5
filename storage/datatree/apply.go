package datatree

import (
	"slices"
	"strconv"

	"github.com/zkraft/zkraft/zkproto"
)

// Apply applies one transaction and returns what it did. It is deterministic: the
// result depends only on the tree and the txn. A failed transaction changes
// nothing and leaves the zxid; a successful one advances it by exactly one.
//
// The checks follow ZooKeeper's PrepRequestProcessor, in its order, so the first
// error is the one ZooKeeper reports. Apply keeps the data and ACL slices of
// txn.Request: the caller must not modify them afterwards.
func (t *Tree) Apply(txn *Txn) Result {
	t.fold(foldStep)
	res := t.apply(txn)
	t.compactArena()
	if len(t.quotaNotes) > 0 {
		res.QuotaExceeded = slices.Clone(t.quotaNotes)
		t.quotaNotes = t.quotaNotes[:0]
	}
	return res
}

func (t *Tree) apply(txn *Txn) Result {
	zxid := t.zxid + 1
	var (
		resp zkproto.Record
		ev   []Event
		code zkproto.ErrCode
	)
	if !t.inStream(txn) {
		return Result{Zxid: t.zxid, Err: zkproto.ErrConnectionLoss, OutOfOrder: true}
	}
	switch txn.Kind {
	case TxnCreateSession:
		code = t.createSession(txn)
	case TxnCloseSession:
		ev, code = t.closeSession(txn, zxid)
	case TxnRenewSession:
		code = t.renewSession(txn)
	case TxnMemberIncarnation:
		code = t.recordIncarnation(txn)
	case TxnRequest:
		if code = t.checkOwner(txn); code != zkproto.ErrOK {
			break
		}
		if txn.Op == zkproto.OpMulti {
			return t.applyMulti(txn, zxid)
		}
		resp, code = t.applyOp(txn, txn.Op, txn.Request, zxid, &ev)
	default:
		code = zkproto.ErrUnimplemented
	}
	if code != zkproto.ErrOK {
		return Result{Zxid: t.zxid, Err: code}
	}
	t.zxid = zxid
	return Result{Zxid: zxid, Response: resp, Events: ev}
}

// inStream tells whether a client's write follows the last write applied from its
// stream (or starts a new stream), and records it. A failed write counts as applied:
// it went through the log in its place.
func (t *Tree) inStream(txn *Txn) bool {
	if txn.Stream == 0 {
		return true
	}
	si, ok := t.sessions[txn.Session]
	if !ok {
		return true // checkOwner answers SESSIONEXPIRED
	}
	want := uint64(1)
	if si.Stream == txn.Stream {
		want = si.StreamSeq + 1
	}
	if txn.StreamSeq != want {
		return false
	}
	si.Stream, si.StreamSeq = txn.Stream, txn.StreamSeq
	t.sessions[txn.Session] = si
	return true
}

func (t *Tree) createSession(txn *Txn) zkproto.ErrCode {
	if _, ok := t.sessions[txn.Session]; ok {
		return zkproto.ErrBadArguments
	}
	t.sessions[txn.Session] = SessionInfo{ID: txn.Session, Timeout: txn.Timeout, Password: txn.Password, Owner: txn.Server}
	return zkproto.ErrOK
}

// renewSession adopts the timeout a resuming client negotiated and the server it
// now talks to.
func (t *Tree) renewSession(txn *Txn) zkproto.ErrCode {
	si, ok := t.sessions[txn.Session]
	if !ok {
		return zkproto.ErrSessionExpired
	}
	si.Timeout = txn.Timeout
	si.Owner = txn.Server
	t.sessions[txn.Session] = si
	return zkproto.ErrOK
}

// recordIncarnation records (or, with "", forgets) a member's incarnation. Another
// incarnation may take a member's place only after it was forgotten.
func (t *Tree) recordIncarnation(txn *Txn) zkproto.ErrCode {
	have, ok := t.incarnations[txn.Server]
	switch {
	case txn.Incarnation == "":
		delete(t.incarnations, txn.Server)
	case ok && have != txn.Incarnation:
		return zkproto.ErrBadArguments
	default:
		t.incarnations[txn.Server] = txn.Incarnation
	}
	return zkproto.ErrOK
}

// checkOwner refuses a client's request whose session is gone (SESSIONEXPIRED) or
// was proposed by a server the session has moved away from (SESSIONMOVED), as
// ZooKeeper's checkSession does. Server-internal txns (no session or no server) pass.
func (t *Tree) checkOwner(txn *Txn) zkproto.ErrCode {
	if txn.Session == 0 || txn.Server == 0 {
		return zkproto.ErrOK
	}
	si, ok := t.sessions[txn.Session]
	switch {
	case !ok:
		return zkproto.ErrSessionExpired
	case si.Owner != 0 && si.Owner != txn.Server:
		return zkproto.ErrSessionMoved
	}
	return zkproto.ErrOK
}

// closeSession removes the session and deletes its ephemerals, in ZooKeeper's order
// (zkEphemeralOrder).
func (t *Tree) closeSession(txn *Txn, zxid zkproto.Zxid) ([]Event, zkproto.ErrCode) {
	if _, ok := t.sessions[txn.Session]; !ok {
		return nil, zkproto.ErrSessionExpired
	}
	paths := zkEphemeralOrder(t.Ephemerals(txn.Session, ""), func(p string) zkproto.Zxid {
		n, _ := t.get(p)
		return n.czxid
	})
	var ev []Event
	if len(paths) > 0 {
		ev = make([]Event, 0, 2*len(paths))
	}
	for _, p := range paths {
		n, _ := t.get(p)
		t.deleteNode(p, n, zxid, &ev)
	}
	delete(t.sessions, txn.Session)
	return ev, zkproto.ErrOK
}

// applyOp applies one write op (alone or inside a multi) at zxid. It validates
// everything before it changes anything.
func (t *Tree) applyOp(txn *Txn, op zkproto.OpCode, req zkproto.Record, zxid zkproto.Zxid, ev *[]Event) (zkproto.Record, zkproto.ErrCode) {
	switch op {
	case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer:
		r, ok := req.(*zkproto.CreateRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return t.create(txn, op, r.Path, r.Data, r.ACL, r.Flags, -1, zxid, ev)
	case zkproto.OpCreateTTL:
		r, ok := req.(*zkproto.CreateTTLRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return t.create(txn, op, r.Path, r.Data, r.ACL, r.Flags, r.TTL, zxid, ev)
	case zkproto.OpDelete:
		r, ok := req.(*zkproto.DeleteRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return nil, t.delete(txn, r.Path, r.Version, zxid, ev)
	case zkproto.OpDeleteContainer:
		r, ok := req.(*zkproto.DeleteRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return nil, t.deleteContainer(txn, r.Path, zxid, ev)
	case zkproto.OpSetData:
		r, ok := req.(*zkproto.SetDataRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return t.setData(txn, r, zxid, ev)
	case zkproto.OpSetACL:
		r, ok := req.(*zkproto.SetACLRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return t.setACL(txn, r)
	case zkproto.OpCheck:
		r, ok := req.(*zkproto.CheckVersionRequest)
		if !ok {
			return nil, zkproto.ErrMarshallingError
		}
		return nil, t.check(txn, r)
	}
	return nil, zkproto.ErrUnimplemented
}

// nextVersion is checkAndIncVersion: -1 matches any version; the counter skips -1
// when it wraps (ZOOKEEPER-4743).
func nextVersion(cur, expected int32) (int32, bool) {
	if expected != -1 && expected != cur {
		return 0, false
	}
	next := cur + 1
	if next == -1 {
		next = 0
	}
	return next, true
}

// parentOf is the parent path the way ZooKeeper computes it for writes (text
// before the last '/', with "" meaning the root), or ok=false when there is no '/'
// or a NUL (BADARGUMENTS).
func parentOf(path string) (string, bool) {
	last := -1
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case 0:
			return "", false
		case '/':
			last = i
		}
	}
	switch {
	case last < 0:
		return "", false
	case last == 0:
		return "/", true
	}
	return path[:last], true
}

func (t *Tree) create(txn *Txn, op zkproto.OpCode, path string, data []byte, acl []zkproto.ACL,
	mode zkproto.CreateMode, ttl int64, zxid zkproto.Zxid, ev *[]Event) (zkproto.Record, zkproto.ErrCode) {
	// validateCreateRequest: CreateMode.fromFlag, EphemeralType.validateTTL. A
	// container flag on create/create2 makes a persistent node on ZooKeeper (its
	// CreateTxn has no owner); TTL ops need TTL flags; the container op makes a
	// container from any other valid flags.
	if !mode.Valid() {
		return nil, zkproto.ErrBadArguments
	}
	kind := kindPersistent
	switch {
	case op == zkproto.OpCreateTTL:
		if !mode.IsTTL() || ttl <= 0 || ttl > zkproto.MaxTTL {
			return nil, zkproto.ErrBadArguments
		}
		kind = kindTTL
	case mode.IsTTL():
		return nil, zkproto.ErrBadArguments
	case op == zkproto.OpCreateContainer:
		// ZooKeeper writes a CreateContainerTxn whatever the (valid, non-TTL) flags
		// say: an ephemeral flag is ignored, a sequential one still adds the suffix
		// (measured against 3.8.0 by integration/diff).
		kind = kindContainer
	case mode.IsEphemeral():
		if _, ok := t.sessions[txn.Session]; !ok {
			return nil, zkproto.ErrSessionExpired
		}
		kind = kindEphemeral
	}
	parentPath, ok := parentOf(path)
	if !ok {
		return nil, zkproto.ErrBadArguments
	}
	acl, ok = fixupACL(acl, txn.Auth)
	if !ok {
		return nil, zkproto.ErrInvalidACL
	}
	parent, ok := t.get(parentPath)
	if !ok {
		return nil, zkproto.ErrNoNode
	}
	if !CheckPerm(parent.acl, zkproto.PermCreate, txn.Auth) {
		return nil, zkproto.ErrNoAuth
	}
	if mode.IsSequential() {
		path = path + seqSuffix(parent.cseq)
	}
	if zkproto.ValidatePath(path) != nil {
		return nil, zkproto.ErrBadArguments
	}
	if _, exists := t.get(path); exists {
		return nil, zkproto.ErrNodeExists
	}
	if parent.kind == kindEphemeral {
		return nil, zkproto.ErrNoChildrenForEphemerals
	}
	if code := t.checkQuota(txn, path, 1, int64(len(data))); code != zkproto.ErrOK {
		return nil, code
	}

	// Apply. The parent is written before the child is linked into it.
	np := parent
	np.cseq++
	np.pzxid = zxid
	t.set(parentPath, parent, np)
	n := node{
		data: data, acl: acl,
		czxid: zxid, mzxid: zxid, pzxid: zxid,
		ctime: txn.Time, mtime: txn.Time,
		kind: kind,
	}
	switch kind {
	case kindEphemeral:
		n.owner = int64(txn.Session)
	case kindTTL:
		n.owner = ttl
	}
	t.insert(path, n)
	stat := n.stat() // before the quota stats rewrite a stats node's data
	t.quotaOnCreate(path, data)
	*ev = append(*ev,
		Event{Type: zkproto.EventNodeCreated, Path: path, ACL: acl},
		Event{Type: zkproto.EventNodeChildrenChanged, Path: parentPath, ACL: np.acl})
	if op == zkproto.OpCreate {
		return &zkproto.CreateResponse{Path: path}, zkproto.ErrOK
	}
	return &zkproto.Create2Response{Path: path, Stat: stat}, zkproto.ErrOK
}

// seqSuffix is String.format("%010d", c) for an int32.
func seqSuffix(c int32) string {
	var buf [16]byte
	b := buf[:0]
	v := int64(c)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	digits := strconv.AppendInt(nil, v, 10)
	for pad := 10 - len(b) - len(digits); pad > 0; pad-- {
		b = append(b, '0')
	}
	b = append(b, digits...)
	return string(b)
}

// deleteNode removes n (no children) at path, updates its parent's pzxid and
// appends the events: NodeDeleted under n's ACL, NodeChildrenChanged under the
// parent's.
func (t *Tree) deleteNode(path string, n node, zxid zkproto.Zxid, ev *[]Event) {
	t.remove(path, n)
	if q := t.maxQuotaPrefix(path); q != "" {
		t.updateQuotaStat(q, -int64(len(n.data)), -1)
	}
	pp := zkproto.ParentPath(path)
	var parentACL []zkproto.ACL
	if p, ok := t.get(pp); ok {
		np := p
		np.pzxid = zxid
		t.set(pp, p, np)
		parentACL = p.acl
	}
	*ev = append(*ev,
		Event{Type: zkproto.EventNodeDeleted, Path: path, ACL: n.acl},
		Event{Type: zkproto.EventNodeChildrenChanged, Path: pp, ACL: parentACL})
}

func (t *Tree) delete(txn *Txn, path string, version int32, zxid zkproto.Zxid, ev *[]Event) zkproto.ErrCode {
	parentPath, ok := parentOf(path)
	if !ok || isSpecialPath(path) {
		return zkproto.ErrBadArguments
	}
	parent, ok := t.get(parentPath)
	if !ok {
		return zkproto.ErrNoNode
	}
	if !CheckPerm(parent.acl, zkproto.PermDelete, txn.Auth) {
		return zkproto.ErrNoAuth
	}
	n, ok := t.get(path)
	if !ok {
		return zkproto.ErrNoNode
	}
	if _, ok := nextVersion(n.version, version); !ok {
		return zkproto.ErrBadVersion
	}
	if n.numChildren() > 0 {
		return zkproto.ErrNotEmpty
	}
	t.deleteNode(path, n, zxid, ev)
	return zkproto.ErrOK
}

// deleteContainer is the reaper's conditional delete: no ACL check; the node must
// be a container or TTL node (else BADVERSION, as ZooKeeper answers) without
// children (NOTEMPTY). A TTL node must also still be expired at txn.Time, so a
// node touched after the reaper chose it survives.
func (t *Tree) deleteContainer(txn *Txn, path string, zxid zkproto.Zxid, ev *[]Event) zkproto.ErrCode {
	_, ok := parentOf(path)
	if !ok || isSpecialPath(path) {
		return zkproto.ErrBadArguments
	}
	n, ok := t.get(path)
	if !ok {
		return zkproto.ErrNoNode
	}
	if n.numChildren() > 0 {
		return zkproto.ErrNotEmpty
	}
	switch n.kind {
	case kindContainer:
	case kindTTL:
		if !ttlExpired(&n, txn.Time) {
			return zkproto.ErrBadVersion
		}
	default:
		return zkproto.ErrBadVersion
	}
	t.deleteNode(path, n, zxid, ev)
	return zkproto.ErrOK
}

func (t *Tree) setData(txn *Txn, r *zkproto.SetDataRequest, zxid zkproto.Zxid, ev *[]Event) (zkproto.Record, zkproto.ErrCode) {
	if zkproto.ValidatePath(r.Path) != nil {
		return nil, zkproto.ErrBadArguments
	}
	n, ok := t.get(r.Path)
	if !ok {
		return nil, zkproto.ErrNoNode
	}
	if !CheckPerm(n.acl, zkproto.PermWrite, txn.Auth) {
		return nil, zkproto.ErrNoAuth
	}
	if code := t.checkQuota(txn, r.Path, 0, int64(len(r.Data)-len(n.data))); code != zkproto.ErrOK {
		return nil, code
	}
	v, ok := nextVersion(n.version, r.Version)
	if !ok {
		return nil, zkproto.ErrBadVersion
	}
	nn := n
	nn.data = r.Data
	nn.version = v
	nn.mzxid = zxid
	nn.mtime = txn.Time
	t.set(r.Path, n, nn)
	if q := t.maxQuotaPrefix(r.Path); q != "" {
		t.updateQuotaStat(q, int64(len(r.Data)-len(n.data)), 0)
	}
	*ev = append(*ev, Event{Type: zkproto.EventNodeDataChanged, Path: r.Path, ACL: nn.acl})
	return &zkproto.SetDataResponse{Stat: nn.stat()}, zkproto.ErrOK
}

func (t *Tree) setACL(txn *Txn, r *zkproto.SetACLRequest) (zkproto.Record, zkproto.ErrCode) {
	if zkproto.ValidatePath(r.Path) != nil {
		return nil, zkproto.ErrBadArguments
	}
	acl, ok := fixupACL(r.ACL, txn.Auth)
	if !ok {
		return nil, zkproto.ErrInvalidACL
	}
	n, ok := t.get(r.Path)
	if !ok {
		return nil, zkproto.ErrNoNode
	}
	if !CheckPerm(n.acl, zkproto.PermAdmin, txn.Auth) {
		return nil, zkproto.ErrNoAuth
	}
	v, ok := nextVersion(n.aversion, r.Version)
	if !ok {
		return nil, zkproto.ErrBadVersion
	}
	nn := n
	nn.acl = acl
	nn.aversion = v
	t.set(r.Path, n, nn)
	return &zkproto.SetACLResponse{Stat: nn.stat()}, zkproto.ErrOK
}

func (t *Tree) check(txn *Txn, r *zkproto.CheckVersionRequest) zkproto.ErrCode {
	if zkproto.ValidatePath(r.Path) != nil {
		return zkproto.ErrBadArguments
	}
	n, ok := t.get(r.Path)
	if !ok {
		return zkproto.ErrNoNode
	}
	if !CheckPerm(n.acl, zkproto.PermRead, txn.Auth) {
		return zkproto.ErrNoAuth
	}
	if _, ok := nextVersion(n.version, r.Version); !ok {
		return zkproto.ErrBadVersion
	}
	return zkproto.ErrOK
}

// multiOpAllowed lists the ops a multi may hold (MultiOperationRecord).
func multiOpAllowed(op zkproto.OpCode) bool {
	switch op {
	case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer, zkproto.OpCreateTTL,
		zkproto.OpDelete, zkproto.OpSetData, zkproto.OpCheck:
		return true
	}
	return false
}

// applyMulti applies all ops at one zxid, or none. On failure the results are
// error results: OK for the ops before the failing one, its code for it, and
// RUNTIMEINCONSISTENCY after it; Result.Err is the failing op's code.
func (t *Tree) applyMulti(txn *Txn, zxid zkproto.Zxid) Result {
	mr, ok := txn.Request.(*zkproto.MultiRequest)
	if !ok {
		return Result{Zxid: t.zxid, Err: zkproto.ErrMarshallingError}
	}
	for _, op := range mr.Ops {
		if !multiOpAllowed(op.Header.Type) {
			return Result{Zxid: t.zxid, Err: zkproto.ErrMarshallingError}
		}
	}
	results := make([]zkproto.MultiResult, len(mr.Ops))
	ev := make([]Event, 0, len(mr.Ops)) // mostly one per op: grown from nil, it was reallocated four times in a multi of 10
	t.logging = true
	if len(t.quotas) > 0 {
		t.preMulti = map[string][]byte{}
	}
	defer func() {
		t.logging = false
		t.preMulti = nil
		clear(t.undo)
		t.undo = t.undo[:0]
	}()
	for i, op := range mr.Ops {
		if r, ok := op.Request.(*zkproto.CreateRequest); ok && r.Flags.IsTTL() {
			// A TTL mode under a create, create2 or createContainer header (no TTL
			// field): ZooKeeper 3.8's Op.create builds a createTTL op around a
			// CreateRequest, and preparing it throws (ClassCastException) when the
			// multi reaches it: the whole request fails with MARSHALLINGERROR and
			// no results; an earlier failing op stops the multi first (found by
			// integration/fuzz).
			t.rollback()
			return Result{Zxid: t.zxid, Err: zkproto.ErrMarshallingError}
		}
		resp, code := t.applyOp(txn, op.Header.Type, op.Request, zxid, &ev)
		if code != zkproto.ErrOK {
			t.rollback()
			for j := range results {
				c := zkproto.ErrOK
				switch {
				case j == i:
					c = code
				case j > i:
					c = zkproto.ErrRuntimeInconsistency
				}
				results[j] = zkproto.MultiResult{
					Header:   zkproto.MultiHeader{Type: zkproto.OpError, Err: c},
					Response: &zkproto.ErrorResponse{Err: c},
				}
			}
			return Result{Zxid: t.zxid, Err: code, Response: &zkproto.MultiResponse{Results: results}}
		}
		typ := op.Header.Type
		switch typ {
		case zkproto.OpCreateContainer, zkproto.OpCreateTTL:
			typ = zkproto.OpCreate2 // ZooKeeper's CreateResult(path, stat) is a create2
		case zkproto.OpCreate2:
			// ZooKeeper 3.8.0 logs a create2 inside a multi as a create txn and
			// answers CreateResult(path), without the Stat (integration/diff).
			typ = zkproto.OpCreate
			if cr, ok := resp.(*zkproto.Create2Response); ok {
				resp = &zkproto.CreateResponse{Path: cr.Path}
			}
		}
		results[i] = zkproto.MultiResult{Header: zkproto.MultiHeader{Type: typ}, Response: resp}
	}
	t.zxid = zxid
	return Result{Zxid: zxid, Response: &zkproto.MultiResponse{Results: results}, Events: ev}
}
