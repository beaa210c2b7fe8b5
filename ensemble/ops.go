package ensemble

import (
	"slices"
	"strings"
	"time"

	"github.com/zkraft/zkraft/ensemble/watch"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// prepare turns a request frame into a pipeline entry. Writes are proposed here, at
// once, so that a client's pipelined writes share Raft batches; reads of the tree
// become functions that the reader schedules at their place in the session's order;
// the rest become closures that the processor runs in order. It returns nil when the
// connection must close.
func (c *conn) prepare(hdr zkproto.RequestHeader, body []byte, now time.Time) *request {
	s := c.srv
	r := &request{hdr: hdr, start: now}
	replyErr := func(code zkproto.ErrCode) *request {
		r.exec = func() []byte { return c.header(hdr.Xid, code) }
		return r
	}
	switch hdr.Type {
	case zkproto.OpAuth:
		return c.authenticate(r, body)
	case zkproto.OpSASL:
		return c.saslStep(r, body)
	}
	if !c.authorized() {
		return c.refuseUnauthenticated(r)
	}
	switch hdr.Type {
	case zkproto.OpPing:
		r.exec = func() []byte { return c.header(zkproto.XidPing, zkproto.ErrOK) }
		return r
	case zkproto.OpCloseSession:
		if c.roSession { // nothing replicated to close
			r.exec = func() []byte { return c.header(hdr.Xid, zkproto.ErrOK) }
			r.after = c.flushAndClose
			c.closing.Store(true)
			return r
		}
		c.closing.Store(true)
		txn := c.inStream(&datatree.Txn{Kind: datatree.TxnCloseSession, Session: c.session(), Time: now.UnixMilli()})
		p := s.proposeAsync(txn)
		r.prop = &p
		r.after = c.flushAndClose
		return r
	case zkproto.OpDeleteContainer:
		// Internal to the reaper; a client must not delete containers with it.
		// ZooKeeper 3.8 answers BADARGUMENTS and keeps the connection.
		return replyErr(zkproto.ErrBadArguments)
	case zkproto.OpCreateSession:
		// A valid op type whose body (a CreateSessionTxn) a client cannot send:
		// ZooKeeper 3.8 fails to read it and answers MARSHALLINGERROR.
		return replyErr(zkproto.ErrMarshallingError)
	}

	req, known := zkproto.NewRequest(hdr.Type)
	if !known {
		return c.unimplemented(r)
	}
	if req != nil {
		if err := zkproto.Unmarshal(body, req); err != nil {
			c.log.Info("malformed request", "op", hdr.Type, "err", err)
			return replyErr(zkproto.ErrMarshallingError)
		}
	}

	if c.roSession && (hdr.Type.IsWrite() || hdr.Type == zkproto.OpSync) {
		return replyErr(zkproto.ErrNotReadOnly)
	}

	if hdr.Type.IsWrite() {
		if hdr.Type == zkproto.OpReconfig {
			return c.prepareReconfig(r, req.(*zkproto.ReconfigRequest))
		}
		if !s.cfg.ExtendedTypesEnabled && usesTTL(hdr.Type, req) {
			return replyErr(zkproto.ErrUnimplemented)
		}
		txn := c.inStream(&datatree.Txn{Kind: datatree.TxnRequest, Session: c.session(), Time: now.UnixMilli(),
			Op: hdr.Type, Request: req, Auth: c.identities(), Server: s.cfg.ServerID})
		p := s.proposeAsync(txn)
		r.prop = &p
		return r
	}

	switch hdr.Type {
	case zkproto.OpSync:
		// Sync makes this member catch up with the leader's commit point, riding out a
		// leader change (it changes nothing, so it is safe to repeat, unlike a write).
		// Serial: the processor runs it after every earlier request is answered, and
		// nothing after it starts before it is answered, so the reads after it see
		// what it caught up with and none of the session's later writes.
		r.barrier = func() error { return s.sync(c.ctx) }
		r.serial = true
		r.exec = func() []byte {
			return c.reply(hdr.Xid, s.lastZxid(), zkproto.ErrOK, &zkproto.SyncResponse{Path: req.(*zkproto.SyncRequest).Path})
		}
	case zkproto.OpSetWatches, zkproto.OpSetWatches2:
		r.read = func(t *datatree.Tree) []byte { return c.setWatches(t, hdr, req) }
	default:
		auth := c.identities()
		r.read = func(t *datatree.Tree) []byte {
			r.res = c.read(t, hdr, req, auth)
			return nil
		}
	}
	return r
}

// unimplemented answers UNIMPLEMENTED and closes the connection, as ZooKeeper's
// UnimplementedRequestProcessor does for an unknown op code: the request never got
// a zxid, so the reply carries -1.
func (c *conn) unimplemented(r *request) *request {
	c.log.Info("unknown op code; closing connection", "op", r.hdr.Type)
	r.exec = func() []byte {
		return frameOf(&zkproto.ReplyHeader{Xid: r.hdr.Xid, Zxid: -1, Err: zkproto.ErrUnimplemented}, nil)
	}
	r.after = c.flushAndClose
	return r
}

func usesTTL(op zkproto.OpCode, req zkproto.Record) bool {
	switch q := req.(type) {
	case *zkproto.CreateTTLRequest:
		return true
	case *zkproto.CreateRequest:
		return q.Flags.IsTTL()
	case *zkproto.MultiRequest:
		for _, o := range q.Ops {
			if usesTTL(o.Header.Type, o.Request) {
				return true
			}
		}
	}
	return false
}

// header is a reply with no body, stamped with the last applied zxid.
func (c *conn) header(xid zkproto.Xid, code zkproto.ErrCode) []byte {
	return frameOf(&zkproto.ReplyHeader{Xid: xid, Zxid: c.srv.lastZxid(), Err: code}, nil)
}

func (c *conn) reply(xid zkproto.Xid, zxid zkproto.Zxid, code zkproto.ErrCode, body zkproto.Record) []byte {
	if code != zkproto.ErrOK {
		body = nil
	}
	return frameOf(&zkproto.ReplyHeader{Xid: xid, Zxid: zxid, Err: code}, body)
}

// writeReply answers a replicated write. A failed multi still carries its per-op
// results, under a header whose err is OK, as ZooKeeper's FinalRequestProcessor does
// (it rethrows a multi's exception only for SessionMoved): clients find the failure
// in the results (kazoo and the Java client read them only when the header's err is 0).
func (c *conn) writeReply(hdr zkproto.RequestHeader, res *datatree.Result) []byte {
	body := res.Response
	code := res.Err
	if _, ok := body.(*zkproto.MultiResponse); ok && hdr.Type == zkproto.OpMulti {
		code = zkproto.ErrOK
	} else if code != zkproto.ErrOK {
		body = nil
	}
	return frameOf(&zkproto.ReplyHeader{Xid: hdr.Xid, Zxid: res.Zxid, Err: code}, body)
}

func (c *conn) identities() []zkproto.Id {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return append([]zkproto.Id(nil), c.auth...)
}

func (c *conn) addIdentity(id zkproto.Id) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	for _, have := range c.auth {
		if have == id {
			return
		}
	}
	c.auth = append(c.auth, id)
}

// authenticate handles addauth in the reader, so that the requests after it carry the
// new identity. Unknown schemes fail and close the connection, as in ZooKeeper.
func (c *conn) authenticate(r *request, body []byte) *request {
	var ap zkproto.AuthPacket
	code := zkproto.ErrOK
	if err := zkproto.Unmarshal(body, &ap); err != nil {
		code = zkproto.ErrMarshallingError
	} else {
		switch ap.Scheme {
		case "digest":
			id := datatree.Digest(string(ap.Auth))
			c.addIdentity(zkproto.Id{Scheme: "digest", ID: id})
			if c.srv.cfg.SuperDigest != "" && id == c.srv.cfg.SuperDigest {
				c.addIdentity(zkproto.Id{Scheme: "super"})
			}
		case "ip":
			// Every connection already carries its address.
		default:
			code = zkproto.ErrAuthFailed
		}
	}
	// ZooKeeper echoes the request's xid: the Java client sends -4, go-zookeeper a
	// regular xid that it then waits for.
	r.exec = func() []byte { return frameOf(&zkproto.ReplyHeader{Xid: r.hdr.Xid, Err: code}, nil) }
	if code != zkproto.ErrOK {
		// ZooKeeper closes the connection after AUTHFAILED and serves nothing the
		// client pipelined behind the addauth: read no further.
		c.log.Info("authentication failed; closing connection", "scheme", ap.Scheme)
		r.after = c.flushAndClose
		c.closing.Store(true)
	}
	return r
}

// read serves a read from the local tree, which the caller holds locked. Watches are
// registered under the same lock as the read, so no change can slip between them.
func (c *conn) read(t *datatree.Tree, hdr zkproto.RequestHeader, req zkproto.Record, auth []zkproto.Id) readResult {
	zxid := t.LastZxid()
	body, errBody, code := c.readBody(t, hdr, req, auth)
	return readResult{done: true, zxid: zxid, code: code, body: body, errBody: errBody}
}

// readResult is a read as it ran under the tree's lock (request.res). What it holds
// stays valid after the lock is released (the tree never writes over the data, ACLs
// and names it returns), so it is sorted and encoded outside the lock (readReply).
type readResult struct {
	done          bool
	zxid          zkproto.Zxid
	code          zkproto.ErrCode
	body, errBody zkproto.Record
}

// readReply sorts the child names r's read holds (datatree.ChildrenUnsorted) and
// encodes its reply.
func (c *conn) readReply(r *request) []byte {
	res := &r.res
	if res.errBody != nil {
		return frameOf(&zkproto.ReplyHeader{Xid: r.hdr.Xid, Zxid: res.zxid, Err: res.code}, res.errBody)
	}
	sortChildren(res.body)
	return c.reply(r.hdr.Xid, res.zxid, res.code, res.body)
}

func sortChildren(body zkproto.Record) {
	switch b := body.(type) {
	case *zkproto.GetChildrenResponse:
		slices.Sort(b.Children)
	case *zkproto.GetChildren2Response:
		slices.Sort(b.Children)
	case *zkproto.MultiResponse:
		for _, res := range b.Results {
			sortChildren(res.Response)
		}
	}
}

// readBody runs one read; errBody is the rare error reply that has a body.
func (c *conn) readBody(t *datatree.Tree, hdr zkproto.RequestHeader, req zkproto.Record, auth []zkproto.Id) (body, errBody zkproto.Record, code zkproto.ErrCode) {
	w := c.srv.watches
	if path, ok := watchPath(req); ok && !c.mayWatch(path) {
		code = zkproto.ErrQuotaExceeded
		return
	}
	switch q := req.(type) {
	case *zkproto.ExistsRequest:
		if strings.IndexByte(q.Path, 0) >= 0 {
			// FinalRequestProcessor checks exists paths for '\0' only.
			code = zkproto.ErrBadArguments
			return
		}
		stat, ok := t.Exists(q.Path)
		if q.Watch {
			// Set whether or not the node exists: it fires on creation too.
			w.Add(c, q.Path, watch.Exist)
		}
		if !ok {
			code = zkproto.ErrNoNode
			return
		}
		body = &zkproto.ExistsResponse{Stat: stat}
		c.srv.readStat(q.Path, 0)
	case *zkproto.GetDataRequest:
		body, code = c.getData(t, q, auth)
		if r, ok := body.(*zkproto.GetDataResponse); ok && code == zkproto.ErrOK {
			c.srv.readStat(q.Path, len(r.Data))
		}
	case *zkproto.GetChildrenRequest:
		var kids []string
		if kids, _, code = c.children(t, q.Path, q.Watch, auth); code == zkproto.ErrOK {
			body = &zkproto.GetChildrenResponse{Children: kids}
			c.srv.readStat(q.Path, namesLen(kids))
		}
	case *zkproto.GetChildren2Request:
		kids, stat, err := c.children(t, q.Path, q.Watch, auth)
		if code = err; code == zkproto.ErrOK {
			body = &zkproto.GetChildren2Response{Children: kids, Stat: stat}
			c.srv.readStat(q.Path, namesLen(kids))
		}
	case *zkproto.GetACLRequest:
		acl, stat, err := t.GetACL(q.Path, auth)
		if code = err; code == zkproto.ErrOK {
			body = &zkproto.GetACLResponse{ACL: acl, Stat: stat}
		}
	case *zkproto.GetAllChildrenNumberRequest:
		var n int
		if n, code = t.AllChildrenNumber(q.Path, auth); code == zkproto.ErrOK {
			body = &zkproto.GetAllChildrenNumberResponse{TotalNumber: int32(n)}
		}
	case *zkproto.GetEphemeralsRequest:
		body = &zkproto.GetEphemeralsResponse{Ephemerals: t.Ephemerals(c.session(), q.PrefixPath)}
	case *zkproto.MultiRequest:
		if !q.IsRead() {
			// ZooKeeper throws "Invalid type of op" on a write op in a multiRead:
			// MARSHALLINGERROR, with the empty MultiResponse it had begun as body.
			code = zkproto.ErrMarshallingError
			errBody = &zkproto.MultiResponse{}
			return
		}
		body = c.multiRead(t, q, auth)
	case *zkproto.CheckWatchesRequest:
		code = watchResult(w.Contains(c, q.Path, q.Type))
	case *zkproto.RemoveWatchesRequest:
		code = watchResult(w.Remove(c, q.Path, q.Type))
	case *zkproto.AddWatchRequest:
		k, ok := watch.KindOfAddWatchMode(q.Mode)
		if !ok {
			code = zkproto.ErrMarshallingError
			return
		}
		w.Add(c, q.Path, k)
		// ZooKeeper answers addWatch with an ErrorResponse body, which the Java
		// client reads.
		body = &zkproto.ErrorResponse{}
	case nil:
		if hdr.Type == zkproto.OpWhoAmI {
			body = whoAmI(auth)
			return
		}
		code = zkproto.ErrUnimplemented
	default:
		code = zkproto.ErrUnimplemented
	}
	return
}

func (c *conn) getData(t *datatree.Tree, q *zkproto.GetDataRequest, auth []zkproto.Id) (zkproto.Record, zkproto.ErrCode) {
	data, stat, code := t.GetData(q.Path, auth)
	if code != zkproto.ErrOK {
		return nil, code
	}
	if q.Watch {
		c.srv.watches.Add(c, q.Path, watch.Data)
	}
	return &zkproto.GetDataResponse{Data: data, Stat: stat}, zkproto.ErrOK
}

// children reads a node's children, setting a child watch when asked and the read
// succeeds (a failed read sets none, as in ZooKeeper).
func (c *conn) children(t *datatree.Tree, path string, setWatch bool, auth []zkproto.Id) ([]string, zkproto.Stat, zkproto.ErrCode) {
	kids, stat, code := t.ChildrenUnsorted(path, auth) // sorted outside the lock (readResult)
	if code == zkproto.ErrOK && setWatch {
		c.srv.watches.Add(c, path, watch.Child)
	}
	return kids, stat, code
}

// multiRead answers each read independently: it is not atomic in ZooKeeper either.
func (c *conn) multiRead(t *datatree.Tree, q *zkproto.MultiRequest, auth []zkproto.Id) *zkproto.MultiResponse {
	resp := &zkproto.MultiResponse{Results: make([]zkproto.MultiResult, 0, len(q.Ops))}
	for _, op := range q.Ops {
		var body zkproto.Record
		code := zkproto.ErrOK
		switch r := op.Request.(type) {
		// ZooKeeper's MultiOperationRecord rebuilds each read as Op.getData(path) or
		// Op.getChildren(path), dropping the watch flag: a multiRead sets no watches.
		case *zkproto.GetDataRequest:
			g := *r
			g.Watch = false
			body, code = c.getData(t, &g, auth)
		case *zkproto.GetChildrenRequest:
			var kids []string
			if kids, _, code = c.children(t, r.Path, false, auth); code == zkproto.ErrOK {
				body = &zkproto.GetChildrenResponse{Children: kids}
			}
		default:
			code = zkproto.ErrBadArguments
		}
		if code != zkproto.ErrOK {
			resp.Results = append(resp.Results, zkproto.MultiResult{
				Header: zkproto.MultiHeader{Type: zkproto.OpError, Err: code}, Response: &zkproto.ErrorResponse{Err: code}})
			continue
		}
		resp.Results = append(resp.Results, zkproto.MultiResult{Header: zkproto.MultiHeader{Type: op.Header.Type}, Response: body})
	}
	return resp
}

func watchResult(found bool, err error) zkproto.ErrCode {
	switch {
	case err != nil:
		return zkproto.ErrMarshallingError
	case !found:
		return zkproto.ErrNoWatcher
	}
	return zkproto.ErrOK
}

// whoAmI lists the identities in the order ZooKeeper iterates a connection's
// (datatree.AuthOrder).
func whoAmI(auth []zkproto.Id) *zkproto.WhoAmIResponse {
	resp := &zkproto.WhoAmIResponse{ClientInfo: make([]zkproto.ClientInfo, 0, len(auth))}
	for _, id := range datatree.AuthOrder(auth) {
		user := id.ID
		if id.Scheme == "digest" {
			// DigestAuthenticationProvider.getUserName: the user, without the hash.
			user, _, _ = strings.Cut(user, ":")
		}
		resp.ClientInfo = append(resp.ClientInfo, zkproto.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return resp
}

// setWatches re-arms a reconnecting client's watches, first delivering what it missed
// since relativeZxid (the rules of ZooKeeper's DataTree.setWatches).
func (c *conn) setWatches(t *datatree.Tree, hdr zkproto.RequestHeader, req zkproto.Record) []byte {
	var sw zkproto.SetWatches2
	switch q := req.(type) {
	case *zkproto.SetWatches:
		sw = zkproto.SetWatches2{RelativeZxid: q.RelativeZxid, DataWatches: q.DataWatches, ExistWatches: q.ExistWatches, ChildWatches: q.ChildWatches}
	case *zkproto.SetWatches2:
		sw = *q
	}
	w := c.srv.watches
	event := func(typ zkproto.EventType, path string) {
		c.Notify(zkproto.WatcherEvent{Type: typ, State: zkproto.StateSyncConnected, Path: path})
	}
	// A data or child watch fires NodeDeleted for a node that is gone, its change
	// event if the node changed after relativeZxid, and is re-armed otherwise.
	rearm := func(paths []string, k watch.Kind, changed zkproto.EventType, zxidOf func(zkproto.Stat) zkproto.Zxid) {
		for _, p := range paths {
			switch stat, ok := t.Exists(p); {
			case !ok:
				event(zkproto.EventNodeDeleted, p)
			case zxidOf(stat) > sw.RelativeZxid:
				event(changed, p)
			default:
				if c.mayWatch(p) {
					w.Add(c, p, k)
				}
			}
		}
	}
	rearm(sw.DataWatches, watch.Data, zkproto.EventNodeDataChanged, func(st zkproto.Stat) zkproto.Zxid { return st.Mzxid })
	for _, p := range sw.ExistWatches {
		if _, ok := t.Exists(p); ok {
			event(zkproto.EventNodeCreated, p)
		} else if c.mayWatch(p) {
			w.Add(c, p, watch.Exist)
		}
	}
	rearm(sw.ChildWatches, watch.Child, zkproto.EventNodeChildrenChanged, func(st zkproto.Stat) zkproto.Zxid { return st.Pzxid })
	// Beyond zkraft.maxWatchesPerSession the rest are dropped (and logged): clients
	// do not look at setWatches' reply.
	for _, p := range sw.PersistentWatches {
		if c.mayWatch(p) {
			w.Add(c, p, watch.Persistent)
		}
	}
	for _, p := range sw.PersistentRecursiveWatches {
		if c.mayWatch(p) {
			w.Add(c, p, watch.PersistentRecursive)
		}
	}
	return c.header(hdr.Xid, zkproto.ErrOK)
}
