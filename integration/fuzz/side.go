package fuzz

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/integration/compat"
	"github.com/zkraft/zkraft/zkproto"
)

// A Target is a server or an ensemble that programs run on.
type Target struct {
	Name string
	// Addrs are the members' client addresses; sessions are spread over them, and
	// a resumed session moves to the next one.
	Addrs []string
	// Tick is the target's tickTime: sessions expire within a tick or two after
	// their timeout.
	Tick time.Duration
}

const (
	// sessionTimeout is what every session asks for (the servers grant it as is).
	sessionTimeout = 2000
	// keepaliveAfter: an idle session is pinged, so that only an expire step expires it.
	keepaliveAfter = 400 * time.Millisecond
	// replyTimeout bounds the wait for any reply: generous, for a loaded machine.
	replyTimeout = 15 * time.Second
	// reapWithin bounds the wait for the reaper after a node became reapable.
	reapWithin = 5 * time.Second
)

// Slot states.
const (
	slotNone     = iota // no session: the next use opens one
	slotAttached        // a session with an open connection
	slotDetached        // a session without a connection: the next use resumes it
)

type slot struct {
	state    int
	c        *rawzk.Conn
	id       zkproto.SessionID
	passwd   []byte
	member   int
	lastZxid zkproto.Zxid
	lastUse  time.Time
	dropped  time.Time // when the connection went, if detached
}

type specialKind int

const (
	container specialKind = iota + 1
	shortTTL              // a TTL node reaped as soon as it has no children
)

// A side is one run of a program on one target: its sessions, what each of them
// observed (a stream of lines per slot, and a global one for the tree), and the
// labels of the zxids it saw.
type side struct {
	t       Target
	root    string
	super   string
	d       *compat.Describer
	lab     labeler
	slots   []*slot
	obs     []*rawzk.Conn // one observer session (super) per member
	obsUse  []time.Time
	streams map[int][]string // slot → lines; treeStream: the tree
	special map[string]specialKind
	// restricted holds the paths ever given an ACL without READ for world.
	restricted map[string]bool
	ops        int
	err        error // a harness failure (not a server difference)
	// mu guards streams: while a step runs, keepaliveDuring pings the other
	// sessions from another goroutine and logs the events it reads.
	mu sync.Mutex
	// pingMu makes keepalives take turns (the step's own, while it waits, and
	// keepaliveDuring's).
	pingMu sync.Mutex
}

// treeStream is the key of the global stream (tree dumps, reaper and expiry notes).
const treeStream = -1

func newSide(t Target, root, super string, slots int) (*side, error) {
	s := &side{t: t, root: root, super: super, streams: map[int][]string{}, special: map[string]specialKind{},
		restricted: map[string]bool{}}
	s.d = &compat.Describer{Root: root, SuperPassword: super, Start: time.Now(), Zxid: s.lab.zxid, RelZxid: s.lab.rel}
	for range slots {
		s.slots = append(s.slots, &slot{})
	}
	for _, a := range t.Addrs {
		c, err := rawzk.Connect(a, zkproto.ConnectRequest{TimeOut: 20000, Passwd: make([]byte, 16), HasReadOnly: true})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s: observer connection to %s: %w", t.Name, a, err)
		}
		s.obs = append(s.obs, c)
		s.obsUse = append(s.obsUse, time.Now())
		c.Raw().SetDeadline(time.Now().Add(replyTimeout))
		err = c.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte("super:" + super)})
		if err == nil {
			var h zkproto.ReplyHeader
			if h, err = c.Recv(zkproto.XidAuth, nil); err == nil && h.Err != 0 {
				err = h.Err
			}
		}
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s: observer auth as super: %w", t.Name, err)
		}
	}
	return s, nil
}

// close closes every session and connection of the side.
func (s *side) close() {
	for _, sl := range s.slots {
		if sl.state == slotAttached {
			sl.c.Raw().SetDeadline(time.Now().Add(2 * time.Second))
			if xid, err := sl.c.Send(zkproto.OpCloseSession, nil); err == nil {
				sl.c.Recv(xid, nil)
			}
			sl.c.Close()
		}
	}
	for _, c := range s.obs {
		c.Raw().SetDeadline(time.Now().Add(2 * time.Second))
		if xid, err := c.Send(zkproto.OpCloseSession, nil); err == nil {
			c.Recv(xid, nil)
		}
		c.Close()
	}
}

func (s *side) log(slot int, format string, args ...any) {
	line := s.d.Norm(fmt.Sprintf(format, args...))
	s.mu.Lock()
	s.streams[slot] = append(s.streams[slot], line)
	s.mu.Unlock()
}

// step runs one program step.
func (s *side) step(st Step) {
	if st.Kind != KindTree && (st.Slot < 0 || st.Slot >= len(s.slots)) {
		s.log(treeStream, "step on slot %d: no such slot", st.Slot)
		return
	}
	switch st.Kind {
	case KindOps:
		s.doOps(st.Slot, st.Ops)
	case KindClose:
		s.closeSession(st.Slot)
	case KindDrop:
		sl := s.slots[st.Slot]
		if sl.state != slotAttached {
			s.log(st.Slot, "drop: not connected")
			return
		}
		s.settle(st.Slot)
		sl.c.Close()
		sl.state, sl.dropped = slotDetached, time.Now()
		s.log(st.Slot, "drop")
	case KindExpire:
		s.expire(st.Slot)
	case KindTree:
		s.tree()
	default:
		s.log(treeStream, "unknown step kind %q", st.Kind)
	}
}

// conn returns the slot's connection, opening a session or resuming the slot's.
func (s *side) conn(i int) *rawzk.Conn {
	sl := s.slots[i]
	switch sl.state {
	case slotAttached:
		return sl.c
	case slotDetached:
		sl.member = (sl.member + 1) % len(s.t.Addrs)
		resp, c, err := s.connect(sl.member, zkproto.ConnectRequest{TimeOut: sessionTimeout, SessionID: sl.id,
			Passwd: sl.passwd, LastZxidSeen: sl.lastZxid, HasReadOnly: true})
		switch {
		case err != nil:
			s.log(i, "resume %s → %v", s.d.SID(sl.id), err)
			return nil
		case resp.TimeOut == 0:
			c.Close()
			s.log(i, "resume %s → expired", s.d.SID(sl.id))
			sl.state = slotNone
		default:
			s.log(i, "resume %s → %s timeout=%d", s.d.SID(sl.id), s.d.SID(resp.SessionID), resp.TimeOut)
			sl.c, sl.state, sl.lastUse = c, slotAttached, time.Now()
			return c
		}
	}
	sl.member = i % len(s.t.Addrs)
	resp, c, err := s.connect(sl.member, zkproto.ConnectRequest{TimeOut: sessionTimeout, Passwd: make([]byte, 16), HasReadOnly: true})
	if err != nil {
		s.log(i, "connect → %v", err)
		return nil
	}
	s.d.AddSession(resp.SessionID)
	s.log(i, "connect → %s timeout=%d", s.d.SID(resp.SessionID), resp.TimeOut)
	*sl = slot{state: slotAttached, c: c, id: resp.SessionID, passwd: resp.Passwd, member: sl.member, lastUse: time.Now()}
	return c
}

func (s *side) connect(member int, req zkproto.ConnectRequest) (zkproto.ConnectResponse, *rawzk.Conn, error) {
	c, err := rawzk.Dial(s.t.Addrs[member])
	if err != nil {
		return zkproto.ConnectResponse{}, nil, err
	}
	if err := c.Handshake(req); err != nil {
		c.Close()
		return zkproto.ConnectResponse{}, nil, errors.New("connection closed")
	}
	return c.Session, c, nil
}

// doOps sends ops back to back on the slot's connection, then reads the replies.
func (s *side) doOps(i int, ops []Op) {
	c := s.conn(i)
	sl := s.slots[i]
	if c == nil {
		return
	}
	xids := make([]zkproto.Xid, len(ops))
	frames := make([][]byte, len(ops))
	reqs := make([]zkproto.Record, len(ops))
	for k, op := range ops {
		reqs[k] = op.request(s.root, s.super)
		xids[k] = op.xid()
		if xids[k] == 0 {
			xids[k] = c.NextXid()
		}
		e := zkproto.Encoder{}
		(&zkproto.RequestHeader{Xid: xids[k], Type: op.Code}).Encode(&e)
		if reqs[k] != nil {
			reqs[k].Encode(&e)
		}
		frames[k] = e.Buf
		s.ops += 1 + len(op.Sub)
		s.noteACL(op)
	}
	c.Raw().SetDeadline(time.Now().Add(replyTimeout))
	// Written from a goroutine: a server may stop reading while its replies wait.
	wrote := make(chan error, 1)
	go func() {
		for _, f := range frames {
			if err := c.WriteFrame(f); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	closed := false
	for k, op := range ops {
		label := op.Code.String() + s.d.Request(reqs[k])
		if closed {
			s.log(i, "%s → not answered", label)
			continue
		}
		h, dec, err := s.readReply(i, c)
		if err != nil {
			s.log(i, "%s → %s", label, err)
			closed = true
			continue
		}
		if h.Xid != xids[k] {
			s.log(i, "%s → reply with xid %d, want %d", label, h.Xid, xids[k])
			closed = true
			continue
		}
		line, resp := s.d.Reply(op.Code, h, dec)
		s.log(i, "%s → %s", label, line)
		s.noteCreated(op, h.Err, resp)
		if op.Code == zkproto.OpAuth && h.Err == zkproto.ErrAuthFailed {
			// Both close the connection after AUTHFAILED; whether a keepalive ping or
			// the next request finds it closed depends on timing, so wait for it here.
			s.log(i, "%s", s.awaitClose(i, c))
			closed = true
		}
	}
	<-wrote
	sl.lastUse = time.Now()
	if closed {
		c.Close()
		sl.state, sl.dropped = slotDetached, time.Now()
	}
}

// awaitClose waits for the server to close the slot's connection, logging the
// events it sends first.
func (s *side) awaitClose(i int, c *rawzk.Conn) string {
	c.Raw().SetDeadline(time.Now().Add(replyTimeout))
	h, _, err := s.readReply(i, c)
	switch {
	case err == nil:
		return fmt.Sprintf("the server sends a reply (xid %d) after AUTHFAILED", h.Xid)
	case errors.Is(err, errNoReply):
		return "the server keeps the connection open"
	}
	return "the server closes the connection"
}

// errNoReply is readReply's error when the deadline passes without a reply.
var errNoReply = errors.New("no reply (timeout)")

// readReply reads frames on the slot's connection until a reply, logging the
// watch events before it.
func (s *side) readReply(i int, c *rawzk.Conn) (zkproto.ReplyHeader, *zkproto.Decoder, error) {
	for {
		b, err := c.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return zkproto.ReplyHeader{}, nil, errNoReply
			}
			return zkproto.ReplyHeader{}, nil, errors.New("connection closed")
		}
		dec := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(dec)
		if h.Xid == zkproto.XidWatchEvent {
			s.log(i, "%s", s.d.Event(dec))
			continue
		}
		if sl := s.slots[i]; h.Zxid > sl.lastZxid {
			sl.lastZxid = h.Zxid
		}
		return h, dec, nil
	}
}

// settle syncs the slot's session before its connection is dropped, logging the
// events read before the sync's reply: the member has then applied every write
// acknowledged so far, so the events of earlier steps are all read, on both sides,
// instead of as many as happened to arrive (the sync's reply is not logged).
func (s *side) settle(i int) {
	c := s.slots[i].c
	c.Raw().SetDeadline(time.Now().Add(replyTimeout))
	if err := c.SendXid(c.NextXid(), zkproto.OpSync, &zkproto.SyncRequest{Path: "/"}); err == nil {
		s.readReply(i, c)
	}
}

// ping sends a ping on the slot's connection and logs the events before its reply
// (the reply itself is not logged: when pings happen depends on timing).
func (s *side) ping(i int) {
	sl := s.slots[i]
	c := sl.c
	c.Raw().SetDeadline(time.Now().Add(replyTimeout))
	sl.lastUse = time.Now()
	if err := c.SendXid(zkproto.XidPing, zkproto.OpPing, nil); err == nil {
		if h, _, err := s.readReply(i, c); err == nil && h.Xid == zkproto.XidPing {
			return
		}
	}
	s.log(i, "ping → connection lost")
	c.Close()
	sl.state, sl.dropped = slotDetached, time.Now()
}

// keepalive pings the sessions (and observers) idle for a while.
func (s *side) keepalive(except int) {
	s.pingSessions(except)
	for m := range s.obs {
		if time.Since(s.obsUse[m]) > 5*time.Second {
			s.obsCall(m, zkproto.OpPing, nil, nil)
		}
	}
}

// pingSessions pings the sessions idle for a while, but slot except's.
func (s *side) pingSessions(except int) {
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	for i, sl := range s.slots {
		if i != except && sl.state == slotAttached && time.Since(sl.lastUse) > keepaliveAfter {
			s.ping(i)
		}
	}
}

// keepaliveDuring keeps the sessions other than slot's alive while a step runs on
// slot (on this side or on the other, which may take long: ZooKeeper logs a failed
// request's whole buffer, seconds for a large multi), until stop is closed.
func (s *side) keepaliveDuring(slot int, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
			s.pingSessions(slot)
		}
	}
}

// flush pings every connected session, so that every event queued for it is logged.
func (s *side) flush() {
	for i, sl := range s.slots {
		if sl.state == slotAttached {
			s.ping(i)
		}
	}
}

func (s *side) closeSession(i int) {
	sl := s.slots[i]
	if sl.state == slotNone {
		s.log(i, "closeSession: no session")
		return
	}
	c := s.conn(i)
	if c == nil || sl.state != slotAttached {
		return
	}
	c.Raw().SetDeadline(time.Now().Add(replyTimeout))
	if err := c.SendXid(c.NextXid(), zkproto.OpCloseSession, nil); err != nil {
		s.log(i, "closeSession → connection closed")
	} else if h, _, err := s.readReply(i, c); err != nil {
		s.log(i, "closeSession → %v", err)
	} else {
		s.log(i, "closeSession → %s", compat.ErrName(h.Err))
	}
	c.Close()
	sl.state = slotNone
}

// expire drops the slot's connection and waits until the server expires the
// session: a resume probe after each session timeout (a probe that finds the
// session alive renews it, hence the full wait between probes), then until its
// ephemerals are gone.
//
// The other sessions without a connection are resumed first: the waits here would
// expire them too, in an order that depends on timing (and with it the zxids of
// their closes, which the tree shows in pzxids), not on the program.
func (s *side) expire(i int) {
	sl := s.slots[i]
	if sl.state == slotNone {
		s.log(i, "expire: no session")
		return
	}
	s.pingMu.Lock() // keepaliveDuring pings the other slots meanwhile
	for j, other := range s.slots {
		if j != i && other.state == slotDetached {
			s.conn(j)
		}
	}
	s.pingMu.Unlock()
	if sl.state == slotAttached {
		s.settle(i)
		sl.c.Close()
		sl.state, sl.dropped = slotDetached, time.Now()
	}
	expired := false
	for probe := 0; probe < 4 && !expired; probe++ {
		s.sleep(time.Duration(sessionTimeout)*time.Millisecond+2*s.t.Tick+300*time.Millisecond, i)
		resp, c, err := s.connect(sl.member, zkproto.ConnectRequest{TimeOut: sessionTimeout, SessionID: sl.id,
			Passwd: sl.passwd, LastZxidSeen: sl.lastZxid, HasReadOnly: true})
		if err == nil {
			c.Close()
			expired = resp.TimeOut == 0
		}
	}
	if !expired {
		s.log(i, "expire %s → still alive after 4 session timeouts", s.d.SID(sl.id))
		return
	}
	deadline := time.Now().Add(reapWithin)
	for s.ownsNodes(sl.id) && time.Now().Before(deadline) {
		s.sleep(50*time.Millisecond, -2)
	}
	if s.ownsNodes(sl.id) {
		s.log(i, "expire %s → expired, but its ephemerals are still there after %v", s.d.SID(sl.id), reapWithin)
	} else {
		s.log(i, "expire %s → expired", s.d.SID(sl.id))
	}
	sl.state = slotNone
}

// sleep waits d, keeping the other sessions alive.
func (s *side) sleep(d time.Duration, except int) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		time.Sleep(min(100*time.Millisecond, time.Until(end)))
		s.keepalive(except)
	}
}

// obsCall is a synchronous request on member m's observer session.
func (s *side) obsCall(m int, op zkproto.OpCode, req, resp zkproto.Record) (zkproto.ReplyHeader, error) {
	c := s.obs[m]
	c.Raw().SetDeadline(time.Now().Add(replyTimeout))
	s.obsUse[m] = time.Now()
	xid := zkproto.Xid(0)
	var err error
	if op == zkproto.OpPing {
		xid, err = zkproto.XidPing, c.SendXid(zkproto.XidPing, op, nil)
	} else {
		xid, err = c.Send(op, req)
	}
	if err != nil {
		s.fail(fmt.Errorf("observer on %s: %w", s.t.Addrs[m], err))
		return zkproto.ReplyHeader{}, err
	}
	h, err := c.Recv(xid, resp)
	if err != nil {
		s.fail(fmt.Errorf("observer on %s: %w", s.t.Addrs[m], err))
	}
	return h, err
}

func (s *side) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// ownsNodes says whether a node of the namespace is owned by session id.
func (s *side) ownsNodes(id zkproto.SessionID) bool {
	found := false
	s.walk(0, s.root, func(p string, st zkproto.Stat) {
		if zkproto.SessionID(st.EphemeralOwner) == id {
			found = true
		}
	})
	return found
}

// walk visits the namespace depth-first, children in order, on member m.
func (s *side) walk(m int, p string, visit func(p string, st zkproto.Stat)) {
	var ex zkproto.ExistsResponse
	if h, err := s.obsCall(m, zkproto.OpExists, &zkproto.ExistsRequest{Path: p}, &ex); err != nil || h.Err != 0 {
		return
	}
	visit(p, ex.Stat)
	var ch zkproto.GetChildrenResponse
	if h, err := s.obsCall(m, zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p}, &ch); err != nil || h.Err != 0 {
		return
	}
	sort.Strings(ch.Children)
	for _, c := range ch.Children {
		s.walk(m, p+"/"+c, visit)
	}
}

// dump renders member m's namespace: every node with its data, Stat and ACL.
func (s *side) dump(m int) []string {
	var lines []string
	s.walk(m, s.root, func(p string, _ zkproto.Stat) {
		var gd zkproto.GetDataResponse
		h, err := s.obsCall(m, zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}, &gd)
		if err != nil || h.Err != 0 {
			lines = append(lines, fmt.Sprintf("tree %s getData → %v %v", p, compat.ErrName(h.Err), err))
			return
		}
		var ga zkproto.GetACLResponse
		h, err = s.obsCall(m, zkproto.OpGetACL, &zkproto.GetACLRequest{Path: p}, &ga)
		acl := "?"
		if err == nil && h.Err == 0 {
			acl = s.d.Response(&ga)
		}
		lines = append(lines, s.d.Norm(fmt.Sprintf("tree %s %s %s", p, s.d.Response(&gd), acl)))
	})
	if len(lines) == 0 {
		lines = append(lines, "tree: the namespace root is gone")
	}
	return lines
}

// tree logs the namespace as member 0 sees it, and where another member sees it
// otherwise (after quiesce, every member must agree).
func (s *side) tree() {
	base := s.dump(0)
	s.mu.Lock()
	s.streams[treeStream] = append(s.streams[treeStream], base...)
	s.mu.Unlock()
	for m := 1; m < len(s.obs); m++ {
		other := s.dump(m)
		// Member 1's dump saw some zxids first and wrote where they fall ("z4<z3");
		// the others see them known.
		if !slices.Equal(firstSightless(base), other) {
			s.log(treeStream, "member %d's tree differs from member 1's:\n%s", m+1,
				compat.SideBySide(base, other, "member 1", fmt.Sprintf("member %d", m+1)))
		}
	}
}

// readable says whether an ACL lets world READ. Paths given one that does not are
// where the open watch-ACL difference of issue 8 (b) shows (side.restricted).
func readable(acl []ACL) bool {
	for _, a := range acl {
		if a.Scheme == "world" && a.ID == "anyone" && a.Perms&zkproto.PermRead != 0 {
			return true
		}
	}
	return false
}

var firstSight = regexp.MustCompile(`(z[0-9]+)<z[0-9]+`)

// firstSightless drops from lines where the labeler placed zxids it saw first.
func firstSightless(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = firstSight.ReplaceAllString(l, "$1")
	}
	return out
}

// noteACL remembers the path of a setACL that may make it unreadable.
func (s *side) noteACL(op Op) {
	if op.Code == zkproto.OpSetACL && !readable(op.ACL) {
		s.restricted[op.Path] = true
	}
}

// noteCreated remembers the containers and short-TTL nodes a create made: the
// reaper may delete them, and the fuzzer waits for it where it must.
func (s *side) noteCreated(op Op, err zkproto.ErrCode, resp zkproto.Record) {
	kind := func(o Op) specialKind {
		switch {
		case o.Code == zkproto.OpCreateContainer || (isCreate(o.Code) && o.Mode == int32(zkproto.ModeContainer)):
			return container
		case o.Code == zkproto.OpCreateTTL && zkproto.CreateMode(o.Mode).IsTTL() && o.TTL == 1:
			return shortTTL
		}
		return 0
	}
	path := func(r zkproto.Record) string {
		switch p := r.(type) {
		case *zkproto.CreateResponse:
			return p.Path
		case *zkproto.Create2Response:
			return p.Path
		}
		return ""
	}
	note := func(o Op, p string) {
		if p == "" {
			return
		}
		if k := kind(o); k != 0 {
			s.special[p] = k
		} else {
			delete(s.special, p) // a container deleted and created again as a plain node
		}
		if isCreate(o.Code) && !readable(o.ACL) {
			s.restricted[strings.TrimPrefix(p, s.root)] = true
		}
	}
	if err != 0 || resp == nil {
		return
	}
	note(op, path(resp))
	if mr, ok := resp.(*zkproto.MultiResponse); ok && op.Code == zkproto.OpMulti {
		for k, res := range mr.Results {
			if k < len(op.Sub) && res.Header.Err == 0 {
				note(op.Sub[k], path(res.Response))
			}
		}
	}
}

func isCreate(c zkproto.OpCode) bool {
	return c == zkproto.OpCreate || c == zkproto.OpCreate2 || c == zkproto.OpCreateTTL || c == zkproto.OpCreateContainer
}

// awaitReaper waits until the reaper has deleted every node that it may now
// delete (an empty container that had children, an empty short-TTL node), so that
// what it does happens between steps, at the same point on both targets.
func (s *side) awaitReaper() {
	// A reap can make another node reapable (a short-TTL child goes, and its
	// container parent is empty): pass again until a pass reaps nothing.
	for s.reapPass() {
	}
}

// reapPass waits for each node the reaper may delete now; it reports whether one went.
func (s *side) reapPass() (reaped bool) {
	paths := make([]string, 0, len(s.special))
	for p := range s.special {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		var ex zkproto.ExistsResponse
		h, err := s.obsCall(0, zkproto.OpExists, &zkproto.ExistsRequest{Path: p}, &ex)
		if err != nil {
			return false
		}
		if h.Err == zkproto.ErrNoNode {
			delete(s.special, p)
			continue
		}
		reapable := ex.Stat.NumChildren == 0 && (s.special[p] == shortTTL || ex.Stat.Cversion > 0)
		if !reapable {
			continue
		}
		deadline := time.Now().Add(reapWithin)
		for {
			h, err := s.obsCall(0, zkproto.OpExists, &zkproto.ExistsRequest{Path: p}, &ex)
			if err != nil {
				return false
			}
			if h.Err == zkproto.ErrNoNode {
				delete(s.special, p)
				reaped = true
				break
			}
			if time.Now().After(deadline) {
				s.log(treeStream, "%s not reaped within %v", p, reapWithin)
				delete(s.special, p)
				break
			}
			s.sleep(30*time.Millisecond, -2)
		}
	}
	return reaped
}

// A labeler names zxids by order of first sight (z1, z2...) and writes where a
// zxid falls among those already seen when it is not the newest ("z7<z3": seen
// seventh, older than z3): two targets agree on every label exactly when their
// zxids are ordered alike, whatever their values.
type labeler struct {
	label  map[zkproto.Zxid]int
	sorted []zkproto.Zxid
}

func (l *labeler) zxid(z zkproto.Zxid) string {
	if z == 0 {
		return "0"
	}
	if l.label == nil {
		l.label = map[zkproto.Zxid]int{}
	}
	if n, ok := l.label[z]; ok {
		return fmt.Sprintf("z%d", n)
	}
	n := len(l.label) + 1
	l.label[z] = n
	at, _ := slices.BinarySearch(l.sorted, z)
	l.sorted = slices.Insert(l.sorted, at, z)
	if at == len(l.sorted)-1 {
		return fmt.Sprintf("z%d", n)
	}
	return fmt.Sprintf("z%d<z%d", n, l.label[l.sorted[at+1]])
}

// rel places a zxid that names no transaction of its own relative to the newest seen.
func (l *labeler) rel(z zkproto.Zxid) string {
	switch {
	case z == 0:
		return "=0"
	case z == -1:
		return "=-1"
	case len(l.sorted) == 0 || z >= l.sorted[len(l.sorted)-1]:
		return "≥max"
	}
	return "<max"
}
