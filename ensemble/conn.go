package ensemble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// maxQueuedOutput is how much a client may leave unread before it is disconnected: a
// stuck reader must not hold the server's memory hostage.
const maxQueuedOutput = 64 << 20

// conn is one client connection. Three goroutines serve it: the reader decodes
// requests in order, proposes writes at once (so a client's writes are pipelined into
// Raft) and runs each read at its place in the session's order: at once when none of
// the session's writes is in flight, otherwise on the apply goroutine right after the
// last write sent before it is applied, before anything later (ZooKeeper's FIFO client
// order: a read sees every earlier write of its session and none of the later ones).
// The processor answers requests strictly in arrival order, and the writer drains the
// outbound queue that responses and watch events share.
type conn struct {
	srv      *Server
	nc       net.Conn
	remoteIP string
	log      *slog.Logger
	est      time.Time

	pending chan *request
	// unanswered counts the requests handed to the processor and not yet answered:
	// at zero, a read the reader has just run may be answered by the reader itself.
	unanswered atomic.Int64

	outMu   sync.Mutex
	out     []byte
	outWake chan struct{}
	// writeMu makes one goroutine at a time take what is queued and write it: the
	// writer, or the processor or reader when they have nothing else to do (they
	// then write their own reply if the socket takes it at once, saving a wakeup per
	// request). spare is the buffer the next one swaps in. raw is the socket for
	// those writes that do not wait (nil for TLS: the writer writes everything).
	writeMu sync.Mutex
	spare   []byte
	raw     syscall.RawConn
	// rawWrite writes rawBuf with one write(2) into rawN and rawErr (writeMu held):
	// made once per connection, where a closure per write cost three allocations.
	rawWrite func(fd uintptr) bool
	rawBuf   []byte
	rawN     int
	rawErr   error
	// Replies and watch events go out in the order ZooKeeper's single pipeline gives
	// them: a request's reply follows the events of every change made before the
	// request took effect, and precedes those of changes made after (a client
	// registers a watch when the reply arrives and drops an event that comes first).
	// Each request is numbered when it takes effect — a read when it reads the tree, a
	// write when it is applied, anything else at its place in the session's order —
	// but its reply is queued only when every earlier request is answered. taken
	// counts the requests numbered, replied the replies queued, and held keeps the
	// events that wait for a reply, each with the count of requests numbered before it.
	taken, replied uint64
	held           []heldEvent
	heldBytes      int

	// ctx ends when the connection closes (closed is its Done): what a request does
	// on the client's behalf — a sync, a reconfig riding out a leader change — stops
	// then, since the client has given up on it.
	ctx       context.Context
	cancel    context.CancelFunc
	closed    <-chan struct{}
	closeOnce sync.Once

	// lastWrite is the origin seq of the session's latest write on this connection
	// (reader only): the reads after it wait for it to be applied.
	lastWrite uint64
	// stream and streamSeq number this connection's writes (reader only), so that
	// the log applies them as a prefix of what was sent (datatree.Txn.Stream).
	stream, streamSeq uint64

	sessID  atomic.Int64
	timeout time.Duration
	closing atomic.Bool // nothing after the request being read is served: closeSession, failed addauth
	// roSession is a read-only session of a member without quorum: local, never
	// replicated, and refused every write.
	roSession bool
	authMu    sync.Mutex
	auth      []zkproto.Id
	// saslx is the connection's SASL exchange (reader only), from its first op 102.
	saslx    *sasl.Exchange
	saslDone bool

	stats connStats
}

// request is one client request on its way through the pipeline.
type request struct {
	hdr   zkproto.RequestHeader
	start time.Time
	// One of: a write in flight, a read of the tree (run by the reader or the apply
	// goroutine; reply is set when done is closed, or at once when done is nil), or
	// exec, run by the processor in order (after barrier, for sync).
	prop    *proposal
	barrier func() error
	read    func(t *datatree.Tree) []byte
	done    chan struct{}
	reply   []byte
	// res, when the read sets it instead of reply, is finished into the reply by the
	// processor, outside the tree's lock (sorting child names, encoding).
	res  readResult
	ran  uint64 // its place among the connection's requests that took effect (numbered)
	exec func() []byte
	// serial makes the reader wait until the request is answered before it reads
	// the next one: a reconfig or a sync runs outside the log, so nothing after it
	// may start earlier.
	serial   bool
	answered chan struct{}
	after    func() // runs after the reply is queued (close the connection, ...)
	counted  bool   // holds a globalOutstandingLimit slot
}

// acceptLoop serves a client port, the secure one when secure; a listener that
// fails for good stops the server.
func (s *Server) acceptLoop(ln net.Listener, secure bool) {
	port := "client port"
	if secure {
		port = "secure client port"
	}
	err := serveAccept(ln, s.ctx.Done(), &s.quiet, s.log, port, func(nc net.Conn) {
		if secure || s.cfg.TLS.ClientPortUnification {
			s.goAttach(func() { s.serveClientTLS(nc, secure) })
			return
		}
		if c := s.newConn(nc); c != nil {
			s.goAttach(c.serve)
		}
	})
	if err != nil {
		s.fail(fmt.Errorf("the %s %s stopped accepting connections: %w; start the member again", port, ln.Addr(), err))
	}
}

// newConn registers a connection, or refuses it when its address already holds
// maxClientCnxns connections or the server maxCnxns, as ZooKeeper does (the client
// sees connection loss).
func (s *Server) newConn(nc net.Conn) *conn {
	ip := remoteIP(nc.RemoteAddr())
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.ctx.Err() != nil {
		// Shutting down: teardown may have closed the registered connections
		// already (a TLS handshake can finish after the listener closed).
		nc.Close()
		return nil
	}
	if why := s.connRefusal(ip); why != "" {
		s.refuseConn(ip, why)
		nc.Close()
		return nil
	}
	s.countPlaintext(nc)
	c := &conn{
		srv:      s,
		nc:       nc,
		remoteIP: ip,
		log:      s.log.With("remote", nc.RemoteAddr().String()),
		est:      time.Now(),
		pending:  make(chan *request, maxPendingPerConn),
		outWake:  make(chan struct{}, 1),
		// Like ZooKeeper, every connection is identified by its address for ip ACLs.
		auth: []zkproto.Id{{Scheme: "ip", ID: ip}},
	}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
		c.rawWrite = func(fd uintptr) bool {
			c.rawN, c.rawErr = syscall.Write(int(fd), c.rawBuf)
			return true // never wait for the socket: that is the writer's job
		}
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	c.closed = c.ctx.Done()
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	return c
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// close shuts the connection; the goroutines notice and exit. Idempotent. The socket
// closes first: a request that gives up when the context ends (a reconfig riding out
// a missing leader) must not get its answer written in between.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.nc.Close()
		c.cancel()
	})
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// serve runs the connection to its end.
func (c *conn) serve() {
	var wg sync.WaitGroup
	defer func() {
		c.close()
		wg.Wait()
		c.unregister()
	}()
	wg.Add(1)
	go func() { defer wg.Done(); c.writeLoop() }()

	fr := zkproto.NewFrameReader(c.nc, c.srv.cfg.MaxBuffer)
	c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.SessionlessCnxnTimeout))
	if word, ok, err := fr.PeekFourLetterWord(); err != nil {
		c.firstReadFailed(err)
		return
	} else if ok {
		c.fourLetterWord(word)
		return
	}
	if !c.handshake(fr) {
		return
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.processLoop() }()
	c.readLoop(fr)
	if c.closing.Load() {
		// Let the processor answer closeSession; it closes the connection after.
		select {
		case <-c.closed:
		case <-time.After(c.timeout):
		}
	}
}

func (c *conn) unregister() {
	s := c.srv
	s.watches.RemoveWatcher(c)
	// Drop the requests that never completed.
	for {
		select {
		case r := <-c.pending:
			c.drop(r)
			continue
		default:
		}
		break
	}
	s.connMu.Lock()
	delete(s.conns, c)
	if s.perIP[c.remoteIP]--; s.perIP[c.remoteIP] <= 0 {
		delete(s.perIP, c.remoteIP)
	}
	if id := zkproto.SessionID(c.sessID.Load()); id != 0 && s.bySess[id] == c {
		delete(s.bySess, id)
	}
	s.connMu.Unlock()
}

// handshake reads the ConnectRequest and opens or resumes the session.
func (c *conn) handshake(fr *zkproto.FrameReader) bool {
	s := c.srv
	frame, err := fr.Next()
	if err != nil {
		c.firstReadFailed(err)
		return false
	}
	s.obs.metrics.ConnectionRequestCount.Inc()
	s.obs.metrics.BytesReceived.Add(int64(len(frame) + 4))
	var req zkproto.ConnectRequest
	if err := zkproto.Unmarshal(frame, &req); err != nil {
		c.log.Warn("malformed connect request; closing", "err", err)
		return false
	}
	if last := s.lastZxid(); req.LastZxidSeen > last {
		// Single system image: this server is behind what the client has seen.
		c.log.Info("refusing session: client has seen a newer zxid; it must try another server",
			"client_zxid", fmt.Sprintf("0x%x", req.LastZxidSeen), "zxid", fmt.Sprintf("0x%x", last))
		return false
	}
	timeout := s.cfg.clampTimeout(req.TimeOut)
	// ZooKeeper 3.8 writes the readOnly byte only to clients that sent one
	// (ZooKeeperServer.finishSessionInit: !cnxn.isOldClient); measured by
	// integration/diff.
	resp := zkproto.ConnectResponse{TimeOut: timeout, HasReadOnly: req.HasReadOnly}

	if s.readOnly.Load() {
		if !req.ReadOnly {
			c.log.Info("refusing session: no quorum, and the client does not accept read-only mode")
			return false
		}
		// A read-only session is local: the client connects with session id 0 until
		// it has seen a read-write server.
		c.roSession = true
		resp.SessionID, resp.Passwd, resp.ReadOnly = s.newSessionID(), newPassword(), true
	} else if !s.standalone() && !s.inConfiguration() {
		c.log.Info("refusing session: a reconfig removed this member from the ensemble; the client tries another server")
		return false
	} else if req.SessionID == 0 {
		if !s.awaitLeader(c.ctx, time.Duration(timeout)*time.Millisecond) {
			c.log.Info("refusing session: the ensemble has no leader")
			return false
		}
		txn := &datatree.Txn{Kind: datatree.TxnCreateSession, Timeout: timeout, Server: s.cfg.ServerID}
		// A leader change is ridden out within the client's timeout, each attempt
		// with a new id: one whose outcome is unknown may have committed, and expires.
		var res *datatree.Result
		ctx, cancel := context.WithTimeout(s.ctx, time.Duration(timeout)*time.Millisecond)
		err := s.rideOutLeaderChange(ctx, func() (err error) {
			txn.Session, txn.Password, txn.Time = s.newSessionID(), newPassword(), time.Now().UnixMilli()
			res, err = s.propose(ctx, txn)
			return err
		})
		cancel()
		if err != nil || res.Err != zkproto.ErrOK {
			c.log.Warn("create session failed", "err", errOr(err, res))
			return false
		}
		resp.SessionID, resp.Passwd = txn.Session, txn.Password
		c.log.Debug("new session", "session_id", sessionHex(txn.Session), "timeout", timeout)
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, time.Duration(timeout)*time.Millisecond)
		defer cancel()
		var si datatree.SessionInfo
		var ok bool
		s.fsm.read(func(t *datatree.Tree) { si, ok = t.Session(req.SessionID) })
		if !ok && !s.leader.Load() && !s.standalone() {
			// This member may not have applied the session's creation yet: the
			// session table is global, so catch up with the leader and look again.
			// Without a leader to ask, the session's fate is unknown here: refuse
			// the connection, never answer "expired".
			if err := s.sync(ctx); err != nil {
				c.log.Info("refusing session resume: cannot reach a leader to look the session up; the client tries another server", "session_id", sessionHex(req.SessionID), "err", err)
				return false
			}
			s.fsm.read(func(t *datatree.Tree) { si, ok = t.Session(req.SessionID) })
		}
		if !ok || !equalBytes(si.Password, req.Passwd) || !s.touchSession(req.SessionID) {
			// Expired, unknown or a wrong password: timeout 0 tells the client its
			// session has expired.
			c.log.Info("refusing session resume: expired, unknown or wrong password", "session_id", sessionHex(req.SessionID))
			c.enqueue(frameOf(nil, &zkproto.ConnectResponse{Passwd: make([]byte, zkproto.PasswordLen), HasReadOnly: req.HasReadOnly}))
			c.flushAndClose()
			return false
		}
		resp.SessionID, resp.Passwd = req.SessionID, si.Password
		// The resuming client negotiates its timeout again and the session adopts it;
		// a session that comes from another server moves here (its old server
		// closes its connection, and requests still proposed there fail with
		// SESSIONMOVED).
		if timeout != si.Timeout || si.Owner != s.cfg.ServerID {
			txn := &datatree.Txn{Kind: datatree.TxnRenewSession, Session: req.SessionID, Time: time.Now().UnixMilli(), Timeout: timeout, Server: s.cfg.ServerID}
			// A renewal may apply twice: a leader change is ridden out.
			var res *datatree.Result
			err := s.rideOutLeaderChange(ctx, func() (err error) {
				res, err = s.propose(ctx, txn)
				return err
			})
			if err != nil || res.Err != zkproto.ErrOK {
				c.log.Info("refusing session resume: could not renew its timeout; the client tries another server", "session_id", sessionHex(req.SessionID), "err", errOr(err, res))
				return false
			}
		}
	}
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	c.sessID.Store(int64(resp.SessionID))
	if c.roSession {
		c.enqueue(frameOf(nil, &resp))
		return true
	}
	s.connMu.Lock()
	old := s.bySess[resp.SessionID]
	s.bySess[resp.SessionID] = c
	s.connMu.Unlock()
	if old != nil {
		old.close() // the client moved to this connection
	}
	// The session may have been closed or expired since it was looked up. From the
	// registration above on, its close transaction closes this connection
	// (onApplied); one applied before it shows here.
	var alive bool
	s.fsm.read(func(t *datatree.Tree) { _, alive = t.Session(resp.SessionID) })
	if !alive {
		c.log.Info("refusing session resume: the session ended during the handshake", "session_id", sessionHex(resp.SessionID))
		c.enqueue(frameOf(nil, &zkproto.ConnectResponse{Passwd: make([]byte, zkproto.PasswordLen), HasReadOnly: true}))
		c.flushAndClose()
		return false
	}
	c.enqueue(frameOf(nil, &resp))
	return true
}

func (c *conn) session() zkproto.SessionID { return zkproto.SessionID(c.sessID.Load()) }

func (c *conn) logReadErr(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, zkproto.ErrFrameTooLarge), errors.Is(err, zkproto.ErrBadFrameLength):
		c.frameTooLarge(err)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.log.Info("closing idle connection", "session_id", sessionHex(c.session()))
			return
		}
		if !c.isClosed() {
			c.log.Info("closing connection", "err", err)
		}
	}
}

// readLoop decodes requests in order and hands them to the processor.
func (c *conn) readLoop(fr *zkproto.FrameReader) {
	s := c.srv
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.timeout))
		frame, err := fr.Next()
		if err != nil {
			c.logReadErr(err)
			return
		}
		now := time.Now()
		c.stats.received.Add(1)
		s.stats.received.Add(1)
		s.obs.metrics.BytesReceived.Add(int64(len(frame) + 4))
		s.sessions.touch(c.session(), now)

		d := zkproto.NewDecoder(frame)
		var hdr zkproto.RequestHeader
		hdr.Decode(d)
		if d.Err() != nil {
			c.log.Warn("closing connection: malformed request header", "err", d.Err())
			return
		}
		r := c.prepare(hdr, frame[8:], now)
		if r == nil {
			return
		}
		switch {
		case r.prop != nil:
			c.lastWrite = r.prop.seq
			c.numberAtApply(r)
		case !r.serial: // a read, or an answer that needs no replication
			c.schedule(r)
		}
		if r.read != nil && r.done == nil && c.unanswered.Load() == 0 {
			// Read already, and nothing before it waits for an answer: answer it
			// here, one handoff fewer than through the processor.
			c.answerRead(r)
			continue
		}
		c.unanswered.Add(1)
		if r.serial {
			r.answered = make(chan struct{})
		}
		// globalOutstandingLimit, then maxPendingPerConn: stop reading while the
		// server, or this connection, has too many requests in flight.
		if !acquire(s.outstanding, struct{}{}, c.closed, s.obs.metrics.RequestThrottleWait) {
			c.drop(r)
			return
		}
		r.counted = true
		if !acquire(c.pending, r, c.closed, s.obs.metrics.RequestThrottleWait) {
			c.drop(r)
			return
		}
		if c.closing.Load() {
			return // nothing after closeSession or a failed addauth is served
		}
		if r.serial {
			select {
			case <-r.answered:
			case <-c.closed:
				return
			}
		}
	}
}

// errOutOfOrder: the log refused a write because an earlier write of the same
// connection never reached it (refused in a leader change).
var errOutOfOrder = errors.New("an earlier write of this connection was not applied; closing it so the client learns of the loss")

// inStream places a client's write on this connection's write stream.
func (c *conn) inStream(txn *datatree.Txn) *datatree.Txn {
	for c.stream == 0 {
		c.stream = randomUint64()
	}
	c.streamSeq++
	txn.Stream, txn.StreamSeq = c.stream, c.streamSeq
	return txn
}

// schedule runs a read, or numbers a request answered without the log, at its place
// in the session's order: right after the session's last write is applied if that
// write is still in flight, else now. Only this reader proposes the session's writes,
// so none can be applied between the check and the read.
func (c *conn) schedule(r *request) {
	fsm := c.srv.fsm
	run := func(t *datatree.Tree) {
		if r.read != nil {
			r.reply = r.read(t)
		}
		r.ran = c.numbered()
	}
	if c.lastWrite != 0 && fsm.pending(c.lastWrite) {
		done := make(chan struct{})
		if fsm.after(c.lastWrite, func(t *datatree.Tree) { run(t); close(done) }) {
			r.done = done
			return
		}
	}
	if r.read != nil {
		fsm.read(run)
	} else {
		r.ran = c.numbered()
	}
}

// numberAtApply numbers a write when it is applied, after the events it triggers
// (ZooKeeper sends a write's events before its reply). Its hook is the first queued
// on its entry: the reads after it queue theirs later. A write already applied (the
// log was faster than this reader) is numbered now.
func (c *conn) numberAtApply(r *request) {
	if !c.srv.fsm.after(r.prop.seq, func(*datatree.Tree) { r.ran = c.numbered() }) {
		r.ran = c.numbered()
	}
}

// drop gives up a request that will not be answered: it gives back its outstanding
// slot, and its write is no longer awaited (one that is never applied would keep its
// waiter, and the reads queued behind it, for ever).
func (c *conn) drop(r *request) {
	if r.prop != nil {
		c.srv.fsm.forget(r.prop.seq)
	}
	if r.counted {
		<-c.srv.outstanding
	}
}

// processLoop completes requests in arrival order.
func (c *conn) processLoop() {
	for {
		var r *request
		select {
		case r = <-c.pending:
		case <-c.closed:
			return
		}
		var reply []byte
		var err error
		switch {
		case r.prop != nil:
			var res *datatree.Result
			if res, err = r.prop.wait(c.srv.ctx); err == nil {
				if res.OutOfOrder {
					err = errOutOfOrder
				} else {
					reply = c.writeReply(r.hdr, res)
				}
			}
		case r.barrier != nil:
			if err = r.barrier(); err == nil {
				reply = r.exec()
			}
		default:
			if r.done != nil {
				select {
				case <-r.done:
				case <-c.closed:
					c.drop(r)
					return
				}
			}
			switch {
			case r.res.done:
				reply = c.readReply(r)
			case r.read != nil:
				reply = r.reply
			default:
				reply = r.exec()
			}
		}
		if err != nil {
			// Lost leadership or shutting down: the request's fate is unknown to us,
			// as it is to a ZooKeeper client on connection loss.
			if !c.isClosed() && c.srv.ctx.Err() == nil {
				c.log.Warn("request failed; closing connection", "op", r.hdr.Type, "err", err)
			}
			c.close()
			<-c.srv.outstanding
			return
		}
		if r.serial {
			r.ran = c.numbered() // took effect just now (sync, reconfig)
		}
		if c.enqueueNumbered(reply, r.ran) {
			c.flush(len(c.pending) > 0)
		}
		c.record(r, len(reply))
		if r.counted {
			<-c.srv.outstanding
		}
		if r.answered != nil {
			close(r.answered)
		}
		if r.after != nil {
			r.after()
		}
		// Only now: what after does (close the connection) comes before the reader
		// answers anything itself.
		c.unanswered.Add(-1)
	}
}

// answerRead answers a read that ran on the reader with nothing before it
// unanswered.
func (c *conn) answerRead(r *request) {
	reply := r.reply
	if r.res.done {
		reply = c.readReply(r)
	}
	if c.enqueueNumbered(reply, r.ran) {
		c.flush(false)
	}
	c.record(r, len(reply))
}

// flush writes what is queued on the caller's goroutine, saving the writer's
// wakeup, unless more replies are about to follow (later), the writer is busy or
// the socket is full: the processor and the reader never wait for a client that
// does not read (its replies queue for the writer, up to maxQueuedOutput, as
// before this shortcut).
func (c *conn) flush(later bool) {
	if later || c.raw == nil || !c.writeMu.TryLock() {
		c.wakeWriter()
		return
	}
	all := c.tryFlushLocked()
	c.writeMu.Unlock()
	if !all {
		c.wakeWriter()
	}
}

// tryFlushLocked writes what is queued without waiting (writeMu held); what the
// socket does not take goes back in front of the queue. It reports false when
// something is left for the writer.
func (c *conn) tryFlushLocked() bool {
	c.outMu.Lock()
	buf := c.out
	c.out, c.spare = c.spare[:0], nil
	c.outMu.Unlock()
	n := 0
	var werr error
	if len(buf) > 0 {
		c.rawBuf, c.rawN, c.rawErr = buf, 0, nil
		err := c.raw.Write(c.rawWrite)
		n, werr = max(c.rawN, 0), c.rawErr
		c.rawBuf = nil
		if werr == syscall.EAGAIN || werr == syscall.EINTR {
			werr = nil
		}
		if werr == nil && !errors.Is(err, os.ErrDeadlineExceeded) { // a deadline is the writer's
			werr = err
		}
	}
	if werr != nil {
		c.spare = buf[:0]
		c.close()
		return true
	}
	if n < len(buf) {
		c.outMu.Lock()
		c.out = append(slices.Clone(buf[n:]), c.out...)
		c.outMu.Unlock()
	}
	c.spare = buf[:0]
	return n == len(buf)
}

// record accounts for an answered request (latency, stats).
func (c *conn) record(r *request, replyLen int) {
	took := time.Since(r.start)
	c.stats.record(r.hdr, took, c.srv.lastZxid)
	c.srv.recordRequest(r.prop != nil, took, replyLen)
}

// Notify queues a watch event (watch.Watcher), behind the replies of the requests
// that took effect before it. It never blocks.
func (c *conn) Notify(ev zkproto.WatcherEvent) {
	frame := frameOf(&zkproto.ReplyHeader{Xid: zkproto.XidWatchEvent, Zxid: -1}, &ev)
	c.outMu.Lock()
	if c.replied < c.taken && c.fits(len(frame)) {
		c.held = append(c.held, heldEvent{after: c.taken, frame: frame})
		c.heldBytes += len(frame)
		c.outMu.Unlock()
		return
	}
	ok := c.queueLocked(frame)
	c.outMu.Unlock()
	if c.queued(ok, 1) {
		c.wakeWriter()
	}
}

// heldEvent is a watch event waiting for the reply of a request that took effect
// before it.
type heldEvent struct {
	after uint64 // the requests numbered before the event
	frame []byte
}

// numbered numbers a request that just took effect (a read or write under the tree
// lock): the events triggered after it are held until its reply is queued.
func (c *conn) numbered() uint64 {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.taken++
	return c.taken
}

// enqueueNumbered queues the reply (if any) of request number ran, then the events
// held for it, and tells whether they are queued (else the connection closes). A
// request never numbered (ran 0: its connection is closing) holds nothing back. The
// caller wakes the writer, or writes.
func (c *conn) enqueueNumbered(reply []byte, ran uint64) bool {
	c.outMu.Lock()
	ok, n := true, 0
	if reply != nil {
		ok, n = c.queueLocked(reply), 1
	}
	c.replied = max(c.replied, ran)
	for ok && len(c.held) > 0 && c.held[0].after <= c.replied {
		e := c.held[0]
		c.held = c.held[1:]
		c.heldBytes -= len(e.frame)
		ok = c.queueLocked(e.frame)
		n++
	}
	if len(c.held) == 0 {
		c.held = nil
	}
	c.outMu.Unlock()
	return c.queued(ok, n)
}

// MayRead tells the watch table whether this connection's identities may READ a
// znode with acl (watch.Watcher). The table asks only for ACLs that world:anyone
// may not read.
func (c *conn) MayRead(acl []zkproto.ACL) bool {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return datatree.CheckPerm(acl, zkproto.PermRead, c.auth)
}

// SessionID identifies the watcher in wchc/wchp dumps.
func (c *conn) SessionID() zkproto.SessionID { return c.session() }

// Stale tells the watch table not to register watches for a closed connection.
func (c *conn) Stale() bool { return c.isClosed() }

// enqueue appends an encoded frame to the outbound queue.
func (c *conn) enqueue(frame []byte) {
	c.outMu.Lock()
	ok := c.queueLocked(frame)
	c.outMu.Unlock()
	if c.queued(ok, 1) {
		c.wakeWriter()
	}
}

// fits tells whether n more bytes may wait for the client (outMu held).
func (c *conn) fits(n int) bool { return len(c.out)+c.heldBytes+n <= maxQueuedOutput }

// queueLocked appends frame to the outbound queue (outMu held); false when the client
// has left too much unread.
func (c *conn) queueLocked(frame []byte) bool {
	if !c.fits(len(frame)) {
		return false
	}
	c.out = append(c.out, frame...)
	c.srv.obs.metrics.ResponseBytes.Add(int64(len(frame)))
	return true
}

// queued counts n frames just queued and reports true, or closes the connection of
// a client that is not reading.
func (c *conn) queued(ok bool, n int) bool {
	if !ok {
		c.log.Warn("closing connection: client is not reading its responses")
		c.close()
		return false
	}
	c.stats.sent.Add(int64(n))
	c.srv.stats.sent.Add(int64(n))
	return true
}

// wakeWriter tells the writer that frames are queued.
func (c *conn) wakeWriter() {
	select {
	case c.outWake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued frames; many small replies go out in one write.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.outWake:
		case <-c.closed:
			return
		}
		c.writeMu.Lock()
		ok := c.flushLocked()
		c.writeMu.Unlock()
		if !ok {
			return
		}
	}
}

// flushLocked writes everything queued (writeMu held); false when the connection
// failed and is closed.
func (c *conn) flushLocked() bool {
	c.outMu.Lock()
	buf := c.out
	c.out, c.spare = c.spare[:0], nil
	c.outMu.Unlock()
	if len(buf) == 0 {
		c.spare = buf
		return true
	}
	c.nc.SetWriteDeadline(time.Now().Add(max(c.timeout, time.Second)))
	_, err := c.nc.Write(buf)
	if err == nil && c.raw != nil {
		c.nc.SetWriteDeadline(time.Time{}) // else the writes that do not wait fail once it passes
	}
	c.spare = buf[:0]
	if err != nil {
		c.close()
		return false
	}
	return true
}

// flushAndClose closes the connection once everything queued so far is written.
func (c *conn) flushAndClose() {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		c.outMu.Lock()
		n := len(c.out)
		c.outMu.Unlock()
		if n == 0 || c.isClosed() {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The writer took the last bytes; give it a moment to hand them to the kernel.
	time.Sleep(5 * time.Millisecond)
	c.close()
}

// sessionClosed is called when this connection's session was closed or expired.
func (c *conn) sessionClosed() {
	if c.closing.Load() {
		return // the client's own closeSession: the processor closes after replying
	}
	c.close()
}

// frameOf encodes a reply frame: length, header (nil for the connect response) and body.
func frameOf(hdr *zkproto.ReplyHeader, body zkproto.Record) []byte {
	return zkproto.Render(func(e *zkproto.Encoder) {
		start := e.BeginFrame()
		if hdr != nil {
			hdr.Encode(e)
		}
		if body != nil {
			body.Encode(e)
		}
		e.EndFrame(start)
	})
}

func equalBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range a {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

func sessionHex(id zkproto.SessionID) string { return fmt.Sprintf("0x%x", uint64(id)) }

func errOr(err error, res *datatree.Result) error {
	if err != nil {
		return err
	}
	return res.Err
}
