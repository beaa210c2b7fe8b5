package compat

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// A Scenario is a script of steps over raw connections. It runs once against each
// server, in a fresh namespace (run.root), and records a normalized transcript.
type Scenario struct {
	name    string // unique; the allow-list refers to it
	feature string // the row of the compatibility matrix (an area of the report)
	steps   func(r *run)
	// skipRef, when set, says why the scenario must not run against the reference
	// (it would crash it); the zkraft transcript is then compared with nothing, and
	// an allow-list entry must explain the difference.
	skipRef string
}

// Name is the scenario's unique name (area/op/case).
func (s Scenario) Name() string { return s.name }

// Feature is the row of the compatibility matrix, the area of the compat report.
func (s Scenario) Feature() string { return s.feature }

// SkipRef says why the scenario must not run against Apache ZooKeeper 3.8.0 (it
// would crash it), or is empty.
func (s Scenario) SkipRef() string { return s.skipRef }

// stepTimeout bounds the wait for any one reply.
const stepTimeout = 5 * time.Second

// defaultTimeout is the session timeout requested by connections a scenario opens
// implicitly: long enough that no session expires during a scenario.
const defaultTimeout = 10000

// A Runner runs scenarios against servers. Each run gets its own namespace,
// Prefix followed by a sequence number. A Runner is safe for concurrent use.
type Runner struct {
	// Prefix starts every namespace root: "/diff123_" gives /diff123_1, /diff123_2...;
	// "/zkraft-compat-ab12/" puts them under one parent node (which must exist).
	Prefix string
	// SuperPassword is the password of the server's superDigest; the scenarios that
	// authenticate as super use it. Transcripts show it as <super-password>.
	SuperPassword string
	// Cleanup deletes a run's namespace when the run ends.
	Cleanup bool
	seq     atomic.Int64
}

// Run runs s against the server at addr and returns its normalized transcript.
// With r.Cleanup, cleanupErr says what of the namespace could not be deleted.
func (rn *Runner) Run(s Scenario, addr string) (transcript []string, cleanupErr error) {
	r := &run{
		addr:  addr,
		root:  fmt.Sprintf("%s%d", rn.Prefix, rn.seq.Add(1)),
		super: rn.SuperPassword,
		start: time.Now(),
		conns: map[int]*rconn{},
	}
	r.Describer = &Describer{Root: r.root, SuperPassword: r.super, Start: r.start, Zxid: r.zxid, RelZxid: r.relZxid}
	transcript = r.exec(s)
	if rn.Cleanup {
		cleanupErr = r.cleanup()
	}
	return transcript, cleanupErr
}

// run is one execution of a scenario against one server.
type run struct {
	addr  string
	root  string
	super string
	start time.Time
	conns map[int]*rconn
	*Describer
	maxZxid zkproto.Zxid
	lines   []string
	fatal   string
}

type rconn struct {
	c      *rawzk.Conn
	closed bool
	seen   int // events already recorded
}

// errAbort stops a scenario after a harness failure (not a server difference).
type errAbort struct{ msg string }

// exec runs the scenario's steps and returns the normalized transcript.
func (r *run) exec(s Scenario) (transcript []string) {
	defer func() {
		if p := recover(); p != nil {
			if a, ok := p.(errAbort); ok {
				r.fatal = a.msg
			} else {
				panic(p)
			}
		}
		r.finish()
		transcript = r.normalize()
	}()
	// The namespace root: created on a connection of its own, not recorded, but its
	// zxid is part of the scenario's zxids (through the root's Stat in later steps).
	c0 := r.dial(zkproto.ConnectRequest{TimeOut: defaultTimeout, Passwd: make([]byte, 16), HasReadOnly: true})
	if c0 == nil {
		r.abort("cannot open the setup connection")
	}
	xid, _ := c0.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: r.root, ACL: openACL})
	if h, err := c0.Recv(xid, &zkproto.CreateResponse{}); err != nil || h.Err != 0 {
		r.abort(fmt.Sprintf("create root %s: %v %v", r.root, h.Err, err))
	}
	closeSession(c0)
	s.steps(r)
	return nil
}

func (r *run) abort(msg string) { panic(errAbort{msg}) }

// finish flushes the events still queued on every open connection (a ping makes the
// server send everything queued before it), records them, and closes the sessions.
func (r *run) finish() {
	for _, i := range r.connIDs() {
		rc := r.conns[i]
		if rc.closed || r.fatal != "" {
			continue
		}
		r.pingQuiet(i, "end")
	}
	for _, i := range r.connIDs() {
		rc := r.conns[i]
		if !rc.closed {
			closeSession(rc.c)
		}
	}
}

func (r *run) connIDs() []int {
	ids := make([]int, 0, len(r.conns))
	for i := range r.conns {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	return ids
}

func closeSession(c *rawzk.Conn) {
	c.Raw().SetDeadline(time.Now().Add(2 * time.Second))
	if xid, err := c.Send(zkproto.OpCloseSession, nil); err == nil {
		c.Recv(xid, nil)
	}
	c.Close()
}

func (r *run) dial(req zkproto.ConnectRequest) *rawzk.Conn {
	c, err := rawzk.Connect(r.addr, req)
	if err != nil {
		return nil
	}
	return c
}

func (r *run) logf(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// P is the namespace path of p ("" is the namespace root itself).
func (r *run) P(p string) string { return r.root + p }

// C returns connection i, opening it (and recording the connect) on first use.
func (r *run) C(i int) *rawzk.Conn {
	if rc, ok := r.conns[i]; ok {
		return rc.c
	}
	r.Connect(i, zkproto.ConnectRequest{TimeOut: defaultTimeout, Passwd: make([]byte, 16), HasReadOnly: true})
	rc, ok := r.conns[i]
	if !ok {
		r.abort(fmt.Sprintf("c%d: could not connect", i))
	}
	return rc.c
}

// Connect opens connection i with req (replacing a previous connection i, which is
// closed without closing its session) and records the connect response and whether
// the server closed the connection.
func (r *run) Connect(i int, req zkproto.ConnectRequest) {
	if old, ok := r.conns[i]; ok && !old.closed {
		old.c.Close()
	}
	delete(r.conns, i)
	c, err := rawzk.Dial(r.addr)
	if err != nil {
		r.abort(fmt.Sprintf("dial: %v", err))
	}
	c.Raw().SetDeadline(time.Now().Add(stepTimeout))
	if err := c.WriteFrame(zkproto.Marshal(&req)); err != nil {
		r.abort(fmt.Sprintf("write connect: %v", err))
	}
	b, err := c.ReadFrame()
	if err != nil {
		r.logf("c%d connect(timeout=%d sid=%s pwd=%s lastZxid=%s) → %s", i, req.TimeOut, r.SID(req.SessionID),
			pwd(req.Passwd), r.relZxid(req.LastZxidSeen), connErr(err))
		c.Close()
		r.conns[i] = &rconn{c: c, closed: true}
		return
	}
	var resp zkproto.ConnectResponse
	d := zkproto.NewDecoder(b)
	resp.Decode(d)
	c.Session = resp
	r.conns[i] = &rconn{c: c}
	r.AddSession(resp.SessionID)
	r.logf("c%d connect(timeout=%d sid=%s pwd=%s lastZxid=%s) → proto=%d timeout=%d sid=%s pwd=%s readOnly=%v/%v%s",
		i, req.TimeOut, r.SID(req.SessionID), pwd(req.Passwd), r.relZxid(req.LastZxidSeen),
		resp.ProtocolVersion, resp.TimeOut, r.SID(resp.SessionID), pwd(resp.Passwd), resp.HasReadOnly, resp.ReadOnly,
		decodeErr(d))
	if resp.TimeOut == 0 {
		// A refused session: the server closes the connection after its response.
		r.logf("c%d after refused connect: %s", i, r.probeClosed(i))
	}
}

// probeClosed reports whether the server closed connection i (reading for up to 2s).
func (r *run) probeClosed(i int) string {
	rc := r.conns[i]
	rc.c.Raw().SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := rc.c.ReadFrame()
	if err == nil {
		return "unexpected frame"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "still open"
	}
	rc.closed = true
	rc.c.Close()
	return "closed"
}

func connErr(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "no reply (timeout)"
	case err != nil:
		return "connection closed"
	}
	return "ok"
}

func pwd(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) == 0 {
		return "empty"
	}
	if bytes.Count(b, []byte{0}) == len(b) {
		return fmt.Sprintf("zero%d", len(b))
	}
	return fmt.Sprintf("set%d", len(b))
}

func decodeErr(d *zkproto.Decoder) string {
	if d.Err() != nil {
		return fmt.Sprintf(" DECODE-ERROR(%v)", d.Err())
	}
	if n := d.Remaining(); n > 0 {
		return fmt.Sprintf(" +%d trailing bytes", n)
	}
	return ""
}

// Close closes connection i's socket without closing the session.
func (r *run) Close(i int) {
	if rc, ok := r.conns[i]; ok {
		rc.c.Close()
		rc.closed = true
	}
	r.logf("c%d socket closed by client", i)
}

// Session returns connection i's session id and password (for resume scenarios).
func (r *run) Session(i int) (zkproto.SessionID, []byte) {
	c := r.C(i)
	return c.Session.SessionID, c.Session.Passwd
}

// result of one request as the scenario sees it.
type result struct {
	Err    zkproto.ErrCode
	Resp   zkproto.Record
	Closed bool
}

// Do sends one request on connection i and records its reply, the watch events that
// arrived before it, or what happened to the connection.
func (r *run) Do(i int, op zkproto.OpCode, req zkproto.Record) result {
	return r.do(i, op, req, nil)
}

// DoXid is Do with an explicit xid (auth -4, ping -2, setWatches -8...).
func (r *run) DoXid(i int, xid zkproto.Xid, op zkproto.OpCode, req zkproto.Record) result {
	return r.do(i, op, req, &xid)
}

func (r *run) do(i int, op zkproto.OpCode, req zkproto.Record, xidp *zkproto.Xid) result {
	c := r.C(i)
	rc := r.conns[i]
	label := fmt.Sprintf("c%d %s%s", i, op, r.Request(req))
	if rc.closed {
		r.logf("%s → not sent: connection closed", label)
		return result{Closed: true}
	}
	c.Raw().SetDeadline(time.Now().Add(stepTimeout))
	var xid zkproto.Xid
	var err error
	if xidp != nil {
		xid = *xidp
		err = c.SendXid(xid, op, req)
	} else {
		xid, err = c.Send(op, req)
	}
	if err != nil {
		// The server closed while we were still writing (a large frame): the same
		// observation as a close while reading.
		rc.closed = true
		r.logf("%s → connection closed", label)
		return result{Closed: true}
	}
	return r.recv(i, xid, op, label)
}

// recv reads frames until the reply with xid, recording events as they arrive.
func (r *run) recv(i int, xid zkproto.Xid, op zkproto.OpCode, label string) result {
	rc := r.conns[i]
	for {
		b, err := rc.c.ReadFrame()
		if err != nil {
			rc.closed = true
			rc.c.Close()
			r.logf("%s → %s", label, connErr(err))
			return result{Closed: true}
		}
		d := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(d)
		if h.Xid == zkproto.XidWatchEvent {
			r.logf("c%d   %s", i, r.Event(d))
			continue
		}
		if h.Xid != xid {
			r.logf("%s → reply with xid %d (want %d)", label, h.Xid, xid)
			continue
		}
		line, resp := r.Reply(op, h, d)
		r.logf("%s → %s", label, line)
		return result{Err: h.Err, Resp: resp}
	}
}

// Ping sends a ping on connection i (flushing queued events) and records it.
func (r *run) Ping(i int) {
	r.DoXid(i, zkproto.XidPing, zkproto.OpPing, nil)
}

func (r *run) pingQuiet(i int, why string) {
	rc := r.conns[i]
	rc.c.Raw().SetDeadline(time.Now().Add(stepTimeout))
	if err := rc.c.SendXid(zkproto.XidPing, zkproto.OpPing, nil); err != nil {
		r.logf("c%d %s flush → connection closed", i, why)
		rc.closed = true
		return
	}
	for {
		b, err := rc.c.ReadFrame()
		if err != nil {
			r.logf("c%d %s flush → %s", i, why, connErr(err))
			rc.closed = true
			return
		}
		d := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(d)
		if h.Xid == zkproto.XidWatchEvent {
			r.logf("c%d   %s", i, r.Event(d))
			continue
		}
		if h.Xid == zkproto.XidPing {
			return
		}
		r.logf("c%d %s flush → unexpected reply xid %d err %s", i, why, h.Xid, ErrName(h.Err))
	}
}

// Expect records a scenario-level observation (a polled condition, a note).
func (r *run) Expect(format string, args ...any) { r.logf("# "+format, args...) }

// WaitGone polls (on connection i, unrecorded) until path is gone or d passes, and
// records which happened.
func (r *run) WaitGone(i int, path string, d time.Duration) {
	c := r.C(i)
	deadline := time.Now().Add(d)
	for {
		c.Raw().SetDeadline(time.Now().Add(stepTimeout))
		xid, err := c.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: path})
		if err != nil {
			r.logf("# wait %s gone: connection closed", r.Norm(path))
			return
		}
		var resp zkproto.ExistsResponse
		h, err := c.Recv(xid, &resp)
		if err != nil {
			r.logf("# wait %s gone: %v", r.Norm(path), err)
			return
		}
		if h.Err == zkproto.ErrNoNode {
			r.logf("# %s is gone within %v", r.Norm(path), d)
			return
		}
		if time.Now().After(deadline) {
			r.logf("# %s still there after %v", r.Norm(path), d)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Sleep pauses the scenario (for timing-based behaviour: TTLs, expiry).
func (r *run) Sleep(d time.Duration) { time.Sleep(d) }

// Zxids are written into lines as markers and ranked when the run ends.
const zxMark = "\x00Z"

func (r *run) zxid(z zkproto.Zxid) string {
	if z > r.maxZxid {
		r.maxZxid = z
	}
	return zxMark + strconv.FormatInt(int64(z), 10) + "\x00"
}

// relZxid compares z with the newest zxid seen so far.
func (r *run) relZxid(z zkproto.Zxid) string {
	switch {
	case z == 0:
		return "=0"
	case z == -1:
		return "=-1"
	case z >= r.maxZxid:
		return "≥max"
	default:
		return "<max"
	}
}

// normalize ranks the zxids of the transcript: z1 is the oldest.
func (r *run) normalize() []string {
	var all []int64
	for _, l := range r.lines {
		for _, m := range zxRe(l) {
			all = append(all, m)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	rank := map[int64]int{}
	for i, z := range all {
		rank[z] = i + 1
	}
	out := make([]string, 0, len(r.lines)+1)
	for _, l := range r.lines {
		var sb strings.Builder
		for {
			i := strings.Index(l, zxMark)
			if i < 0 {
				break
			}
			j := strings.IndexByte(l[i+2:], 0)
			z, _ := strconv.ParseInt(l[i+2:i+2+j], 10, 64)
			sb.WriteString(l[:i])
			fmt.Fprintf(&sb, "z%d", rank[z])
			l = l[i+2+j+1:]
		}
		sb.WriteString(l)
		out = append(out, r.Norm(sb.String()))
	}
	if r.fatal != "" {
		out = append(out, "HARNESS ABORT: "+r.Norm(r.fatal))
	}
	return out
}

func zxRe(l string) []int64 {
	var out []int64
	for {
		i := strings.Index(l, zxMark)
		if i < 0 {
			return out
		}
		j := strings.IndexByte(l[i+2:], 0)
		z, _ := strconv.ParseInt(l[i+2:i+2+j], 10, 64)
		out = append(out, z)
		l = l[i+2+j+1:]
	}
}

// rawRecord sends arbitrary bytes as a request body. desc, when set, describes
// them in the transcript (instead of their length, which may depend on the
// namespace's name).
type rawRecord struct {
	b    []byte
	desc string
}

func (r *rawRecord) Encode(e *zkproto.Encoder) { e.Buf = append(e.Buf, r.b...) }
func (r *rawRecord) Decode(d *zkproto.Decoder) {}

// openACL is world:anyone with every permission.
var openACL = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
