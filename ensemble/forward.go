package ensemble

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/zkproto"
)

// Forwarding: a follower sends the writes of its clients (already encoded as log
// entries), its sync requests and its session touches to the leader over the peer
// port. One connection per follower keeps a session's writes in order. The leader
// answers each txn once Raft has committed it; the result itself comes from the
// follower's own FSM when it applies the entry (see origin), so a follower's client
// reads its own writes.
const (
	fwdTxn      byte = 1 // body: a log entry; reply: error or ok
	fwdSync     byte = 2 // no body; reply: the leader's applied index after a quorum check
	fwdTouch    byte = 3 // body: session ids to keep alive; no reply
	fwdReconfig byte = 4 // body: a ReconfigRequest; reply: error (with its code) or ok
	// fwdReconfigCheck validates a reconfig without making it (for a caller without
	// permission, who is told what is wrong with the request before NOAUTH).
	fwdReconfigCheck byte = 5 // body: a ReconfigRequest; reply: error (with its code) or ok
)

// A reply is: seq, index, code, message, kind (a leaderErrKind, one byte; an older
// leader sends none, an older follower ignores it). code is set only for kindCode, so
// that an older follower still reads reconfig codes as it did.

const maxForwardFrame = 64 << 20

type fwdReply struct {
	index uint64
	err   error // a *leaderError
}

// forwarder is a follower's connection to the current leader.
//
// A leader change does not lose the clients' writes in flight: a write of a client's
// write stream (datatree.Txn.Stream) that was sent to a leader which then went away
// is sent again, in its order, to the next leader, ahead of anything newer. Sending
// it twice is safe: the log applies a stream's writes as a prefix of what was sent,
// so the copy of a write that already took effect is refused, and the result the
// client gets is that of the copy that took effect (both carry the same origin, and
// the first applied takes the waiter). Other requests fail with an unknown outcome.
type forwarder struct {
	s *Server

	mu      sync.Mutex
	leader  string // peer address the connection goes to
	nc      net.Conn
	w       *bufio.Writer
	seq     uint64
	pending map[uint64]*fwdPending
	// resend are the writes to send again to the next leader, in their order, and
	// resendBy when to give up on finding one (a resender goroutine runs meanwhile).
	resend   []*fwdPending
	resendBy time.Time
	// carrying counts, by client write stream, the writes sent and not yet answered:
	// while a stream has some, its next writes go the same way, even on the leader
	// (see Server.proposeAsync).
	carrying map[uint64]int
	carried  atomic.Int64 // the sum of carrying, read without the lock
	closed   bool         // by close: no new connection (its reader would outlive Close)
}

// fwdPending is a request sent to the leader and not answered yet.
type fwdPending struct {
	seq    uint64
	kind   byte
	body   []byte // kept for a write that is sent again after a leader change
	origin uint64 // the write's origin seq: not sent again once its client gave up on it
	stream uint64 // the write's client write stream
	reply  chan fwdReply
}

func newForwarder(s *Server) *forwarder {
	return &forwarder{s: s, pending: map[uint64]*fwdPending{}, carrying: map[uint64]int{}}
}

// answerLocked gives p its final reply.
func (f *forwarder) answerLocked(p *fwdPending, rep fwdReply) {
	if p.body != nil {
		f.carried.Add(-1)
		if f.carrying[p.stream]--; f.carrying[p.stream] <= 0 {
			delete(f.carrying, p.stream)
		}
	}
	p.reply <- rep
}

// settleLocked gives up on resending p: a write already applied here (its first
// copy took effect, its result is there) is answered as committed, any other fails
// with err.
func (f *forwarder) settleLocked(p *fwdPending, err error) {
	if f.s.fsm.pending(p.origin) {
		f.answerLocked(p, fwdReply{err: err})
	} else {
		f.answerLocked(p, fwdReply{})
	}
}

// isCarrying tells whether writes of the client write stream are on their way
// through the forwarder.
func (f *forwarder) isCarrying(stream uint64) bool {
	if f.carried.Load() == 0 {
		return false // the leader's usual case, without the lock
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.carrying[stream] > 0
}

// send queues a request to the leader and returns where its reply will arrive (nil
// for a touch); not once ctx is done.
func (f *forwarder) send(ctx context.Context, kind byte, body []byte) (<-chan fwdReply, error) {
	return f.sendRequest(ctx, kind, body, 0, 0)
}

// sendWrite forwards a client's write of write stream stream, proposed with origin
// seq origin: it survives leader changes (see forwarder).
func (f *forwarder) sendWrite(entry []byte, origin, stream uint64) (<-chan fwdReply, error) {
	return f.sendRequest(f.s.ctx, fwdTxn, entry, origin, stream)
}

// sendRequest sends a request; one with an origin seq is a client's write, sent
// again to the next leader if its leader goes away — or, when no leader takes it
// now (none is known, or the one Raft still names refuses the connection: it is
// gone and the election has not ended yet), sent to the next leader once there is
// one, like the writes a lost leader left.
func (f *forwarder) sendRequest(ctx context.Context, kind byte, body []byte, origin, stream uint64) (<-chan fwdReply, error) {
	resendable := origin != 0
	addr, _ := f.s.raft.LeaderWithID()
	if addr == "" {
		// An election is likely under way: give it two ticks before failing.
		if !f.s.awaitLeader(ctx, 2*f.s.cfg.TickTime) && !resendable {
			return nil, errNoLeader
		}
		addr, _ = f.s.raft.LeaderWithID()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	p := &fwdPending{kind: kind}
	if kind != fwdTouch {
		p.reply = make(chan fwdReply, 1)
	}
	if resendable {
		p.body, p.origin, p.stream = body, origin, stream
		f.carrying[stream]++
		f.carried.Add(1)
	}
	err := errNoLeader
	if addr != "" {
		err = f.connectLocked(string(addr))
	}
	if err != nil {
		if resendable {
			f.queueResendLocked(p) // behind the stream's earlier writes, if any wait
			return p.reply, nil
		}
		return nil, err
	}
	if err := ctx.Err(); err != nil && !resendable {
		// Its caller gave up while the election ran or the leader was dialled: a
		// reconfig whose client went away must not be made by the leader (the
		// client may have made another change since).
		return nil, err
	}
	if err := f.writeLocked(p, body); err != nil {
		if resendable {
			return p.reply, nil // sent again to the next leader
		}
		// Part of it may have reached the leader.
		return nil, &leaderError{kind: kindOutcomeUnknown, msg: fmt.Sprintf("forward to leader %s: %v", addr, err), cause: err}
	}
	return p.reply, nil
}

// connectLocked makes sure the connection goes to the leader at addr, and sends the
// writes a lost leader left first.
func (f *forwarder) connectLocked(addr string) error {
	if f.nc == nil || f.leader != addr {
		// A session's writes must not be split over two connections, whose requests
		// the leader side runs concurrently: the old one closes first.
		f.lostLocked(fmt.Errorf("leader changed to %s", addr))
		nc, err := dialPeer(f.s.peerTLS, f.s.peerSrc, addr, peerProtoForward, 2*time.Second)
		if err != nil {
			// Nothing was sent: the leader is gone or not yet listening.
			return &leaderError{kind: kindNoLeader, msg: fmt.Sprintf("forward to leader %s: %v", addr, err), cause: err}
		}
		f.nc, f.w, f.leader = nc, bufio.NewWriter(nc), addr
		pending := f.pending
		f.s.goAttach(func() { f.readReplies(nc, pending) })
	}
	resend := f.resend
	f.resend = nil
	for i, p := range resend {
		if !f.s.fsm.pending(p.origin) {
			// Applied meanwhile (its first copy took effect: its result is
			// there), or its client gave up on it: nothing to send.
			f.answerLocked(p, fwdReply{})
			continue
		}
		if err := f.writeLocked(p, p.body); err != nil {
			// lostLocked queued those sent so far again: the rest follow them.
			f.resend = append(f.resend, resend[i+1:]...)
			return &leaderError{kind: kindNoLeader, msg: fmt.Sprintf("forward to leader %s: %v", addr, err), cause: err}
		}
	}
	return nil
}

// writeLocked sends p on the connection under a new seq; when the write fails, the
// connection is dropped (lostLocked).
func (f *forwarder) writeLocked(p *fwdPending, body []byte) error {
	f.seq++
	p.seq = f.seq
	if p.reply != nil {
		f.pending[p.seq] = p
	}
	var hdr [4 + 1 + 8]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(1+8+len(body)))
	hdr[4] = p.kind
	binary.BigEndian.PutUint64(hdr[5:], p.seq)
	f.w.Write(hdr[:])
	f.w.Write(body)
	err := f.w.Flush()
	if err != nil {
		f.lostLocked(err)
	}
	return err
}

// lostLocked drops the connection. The writes still waiting on it are queued to be
// sent again to the next leader; every other request fails: it reached the leader,
// or may have, so its outcome is unknown.
func (f *forwarder) lostLocked(err error) {
	if f.nc != nil {
		f.nc.Close()
		f.nc = nil
	}
	for _, seq := range slices.Sorted(maps.Keys(f.pending)) {
		p := f.pending[seq]
		delete(f.pending, seq) // answered here, not by the old connection's reader
		if p.body != nil && !f.closed {
			f.queueResendLocked(p)
			continue
		}
		f.answerLocked(p, fwdReply{err: &leaderError{kind: kindOutcomeUnknown, msg: err.Error(), cause: err}})
	}
	f.pending = map[uint64]*fwdPending{}
}

// queueResendLocked queues a write for the next leader, starting the resender unless
// it runs.
func (f *forwarder) queueResendLocked(p *fwdPending) {
	f.resend = append(f.resend, p)
	if f.resendBy.IsZero() {
		f.resendBy = time.Now().Add(f.s.leaderWait())
		f.s.goAttach(f.resender)
	}
}

// resender sends the writes a lost leader left to the next one, when no newer request
// does it first, and fails them if no leader takes them before resendBy.
func (f *forwarder) resender() {
	backoff := 5 * time.Millisecond
	for {
		f.mu.Lock()
		if len(f.resend) == 0 || f.closed {
			f.resendBy = time.Time{}
			f.mu.Unlock()
			return
		}
		if time.Now().After(f.resendBy) {
			err := &leaderError{kind: kindOutcomeUnknown, msg: "the leader went away with the write in flight, and no new leader took it again within " + f.s.leaderWait().String()}
			for _, p := range f.resend {
				f.settleLocked(p, err)
			}
			f.resend, f.resendBy = nil, time.Time{}
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if addr, _ := f.s.raft.LeaderWithID(); addr != "" {
			f.mu.Lock()
			if !f.closed {
				f.connectLocked(string(addr)) // on failure the loop tries again
			}
			f.mu.Unlock()
		}
		select {
		case <-f.s.ctx.Done():
			return // close fails what is left
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// linked tells whether the connection goes to the leader at addr.
func (f *forwarder) linked(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nc != nil && f.leader == addr
}

// link connects to the leader at addr now rather than at the first forwarded
// request, so that the connection's end tells of the leader's (leaderlink.go). A
// failure is left to the next request, which connects again.
func (f *forwarder) link(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.connectLocked(addr)
	}
}

func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	f.lostLocked(ErrClosed)
	for _, p := range f.resend {
		f.answerLocked(p, fwdReply{err: &leaderError{kind: kindOutcomeUnknown, msg: ErrClosed.Error(), cause: ErrClosed}})
	}
	f.resend = nil
	f.mu.Unlock()
}

func (f *forwarder) readReplies(nc net.Conn, pending map[uint64]*fwdPending) {
	r := bufio.NewReader(nc)
	for {
		frame, err := readForwardFrame(r)
		if err != nil {
			f.mu.Lock()
			if f.nc == nc {
				// Ended by the leader's side, not by this member moving on.
				f.lostLocked(fmt.Errorf("connection to leader lost: %w", err))
				if leader := f.leader; !f.closed {
					f.s.goAttach(func() { f.s.checkLeaderGone(leader) })
				}
			}
			f.mu.Unlock()
			return
		}
		d := zkproto.NewDecoder(frame)
		seq := uint64(d.Long())
		idx := uint64(d.Long())
		code := zkproto.ErrCode(d.Int())
		msg := d.String()
		if d.Err() != nil {
			nc.Close()
			continue
		}
		kind := kindUnclassified
		if d.Remaining() > 0 {
			kind = leaderErrKind(frame[len(frame)-d.Remaining()])
		}
		switch { // an older leader sends no kind: a code, or a message only
		case kind == kindUnclassified && code != zkproto.ErrOK:
			kind = kindCode
		case kind == kindUnclassified && msg != "":
			kind = kindOther
		}
		rep := fwdReply{index: idx}
		if kind != kindUnclassified {
			rep.err = &leaderError{kind: kind, code: code, msg: "leader: " + msg}
		}
		f.mu.Lock()
		p, ok := pending[seq]
		delete(pending, seq)
		if ok && p.body != nil && !f.closed && errors.Is(rep.err, errNoLeader) {
			// The leader lost its leadership with the write in flight: the next one
			// gets it again (the log knows whether it took effect), and everything
			// sent after it on this connection, in their order.
			f.queueResendLocked(p)
			f.lostLocked(fmt.Errorf("the leader lost its leadership: %w", rep.err))
			ok = false
		}
		if ok {
			f.answerLocked(p, rep)
		}
		f.mu.Unlock()
	}
}

func readForwardFrame(r *bufio.Reader) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > maxForwardFrame {
		return nil, fmt.Errorf("forward frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// serveForward is the leader's side of one follower's forwarding connection: requests
// are proposed in arrival order and answered in the same order.
func (s *Server) serveForward(nc net.Conn) {
	defer nc.Close()
	type inflight struct {
		seq  uint64
		wait func() (uint64, error)
	}
	queue := make(chan inflight, 1024)
	done := make(chan struct{})
	go func() { // the replier: owned by this handler, which waits for it below
		defer close(done)
		w := bufio.NewWriter(nc)
		for in := range queue {
			idx, err := in.wait()
			e := zkproto.Encoder{Buf: make([]byte, 4, 32)}
			e.Long(int64(in.seq))
			e.Long(int64(idx))
			msg, kind, code := "", kindUnclassified, zkproto.ErrOK
			if err != nil {
				msg = err.Error()
				kind, code = classify(err)
			}
			e.Int(int32(code))
			e.String(msg)
			e.Buf = append(e.Buf, byte(kind))
			binary.BigEndian.PutUint32(e.Buf, uint32(len(e.Buf)-4))
			w.Write(e.Buf)
			if len(queue) == 0 {
				if err := w.Flush(); err != nil {
					nc.Close()
				}
			}
		}
	}()
	defer func() { close(queue); <-done }()

	r := bufio.NewReader(nc)
	for {
		frame, err := readForwardFrame(r)
		if err != nil || len(frame) < 9 {
			return
		}
		kind, seq, body := frame[0], binary.BigEndian.Uint64(frame[1:9]), frame[9:]
		switch kind {
		case fwdTxn:
			if len(body) < entryTimeOffset+8 {
				return
			}
			stampTime(body, time.Now().UnixMilli())
			body = s.leaderFlags(body)
			s.recordProposal(body)
			f := s.raft.Apply(body, 0)
			queue <- inflight{seq, func() (uint64, error) {
				// Raft may drop the future at shutdown (see proposal.wait).
				var err error
				select {
				case err = <-errorChan(f): // first: Index is set by Raft and safe to read only after
				case <-s.ctx.Done():
					return 0, ErrClosed
				}
				return f.Index(), err
			}}
		case fwdSync:
			queue <- inflight{seq, func() (uint64, error) {
				return s.leaderSync()
			}}
		case fwdReconfig, fwdReconfigCheck:
			var req zkproto.ReconfigRequest
			if err := zkproto.Unmarshal(body, &req); err != nil {
				return
			}
			queue <- inflight{seq, func() (uint64, error) {
				ctx, cancel := context.WithTimeout(s.ctx, reconfigTimeout)
				defer cancel()
				return s.reconfigForwarded(ctx, kind, &req)
			}}
		case fwdTouch:
			d := zkproto.NewDecoder(body)
			now := time.Now()
			for d.Remaining() >= 8 {
				s.sessions.touch(zkproto.SessionID(d.Long()), now)
			}
		default:
			return
		}
	}
}

// leaderSync confirms leadership with a quorum and returns an index that covers every
// write committed before the call.
func (s *Server) leaderSync() (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, errNoLeader
	}
	if err := s.raft.Barrier(0).Error(); err != nil {
		return 0, leaderErr(err)
	}
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return 0, leaderErr(err)
	}
	// The barrier had every earlier entry applied: the tree's index covers every
	// write committed before the call.
	return s.fsm.index.Load(), nil
}
