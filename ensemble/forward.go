package ensemble

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
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
type forwarder struct {
	s *Server

	mu      sync.Mutex
	leader  string // peer address the connection goes to
	nc      net.Conn
	w       *bufio.Writer
	seq     uint64
	pending map[uint64]chan fwdReply
	closed  bool // by close: no new connection (its reader would outlive Close)
}

func newForwarder(s *Server) *forwarder {
	return &forwarder{s: s, pending: map[uint64]chan fwdReply{}}
}

// send queues a request to the leader and returns where its reply will arrive (nil
// for a touch).
func (f *forwarder) send(kind byte, body []byte) (<-chan fwdReply, error) {
	addr, _ := f.s.raft.LeaderWithID()
	if addr == "" {
		// An election is likely under way: give it two ticks before failing.
		if !f.s.awaitLeader(2 * f.s.cfg.TickTime) {
			return nil, errNoLeader
		}
		addr, _ = f.s.raft.LeaderWithID()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	if f.nc == nil || f.leader != string(addr) {
		// What is still pending on the old connection fails (its outcome is unknown
		// and its client's connection closes): a session's writes must not be split
		// over two connections, whose requests the leader side runs concurrently.
		f.resetLocked(fmt.Errorf("leader changed to %s", addr))
		nc, err := dialPeer(f.s.peerTLS, string(addr), peerProtoForward, 2*time.Second)
		if err != nil {
			// Nothing was sent: the leader is gone or not yet listening.
			return nil, &leaderError{kind: kindNoLeader, msg: fmt.Sprintf("forward to leader %s: %v", addr, err), cause: err}
		}
		f.nc, f.w, f.leader = nc, bufio.NewWriter(nc), string(addr)
		pending := f.pending
		f.s.goAttach(func() { f.readReplies(nc, pending) })
	}
	f.seq++
	var ch chan fwdReply
	if kind != fwdTouch {
		ch = make(chan fwdReply, 1)
		f.pending[f.seq] = ch
	}
	var hdr [4 + 1 + 8]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(1+8+len(body)))
	hdr[4] = kind
	binary.BigEndian.PutUint64(hdr[5:], f.seq)
	f.w.Write(hdr[:])
	f.w.Write(body)
	if err := f.w.Flush(); err != nil {
		f.resetLocked(err)
		// Part of it may have reached the leader.
		return nil, &leaderError{kind: kindOutcomeUnknown, msg: fmt.Sprintf("forward to leader %s: %v", addr, err), cause: err}
	}
	return ch, nil
}

// resetLocked drops the connection and fails every request still waiting on it:
// they reached the leader, or may have, so their outcome is unknown.
func (f *forwarder) resetLocked(err error) {
	if f.nc != nil {
		f.nc.Close()
		f.nc = nil
	}
	failLocked(f.pending, err)
	f.pending = map[uint64]chan fwdReply{} // the old connection's reader keeps the old one
}

// failLocked fails requests that reached a leader, or may have: their outcome is
// unknown.
func failLocked(pending map[uint64]chan fwdReply, err error) {
	for seq, ch := range pending {
		ch <- fwdReply{err: &leaderError{kind: kindOutcomeUnknown, msg: err.Error(), cause: err}}
		delete(pending, seq)
	}
}

func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	f.resetLocked(ErrClosed)
	f.mu.Unlock()
}

func (f *forwarder) readReplies(nc net.Conn, pending map[uint64]chan fwdReply) {
	r := bufio.NewReader(nc)
	for {
		frame, err := readForwardFrame(r)
		if err != nil {
			f.mu.Lock()
			if f.nc == nc {
				f.resetLocked(fmt.Errorf("connection to leader lost: %w", err))
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
		ch, ok := pending[seq]
		delete(pending, seq)
		f.mu.Unlock()
		if ok {
			ch <- rep
		}
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
				errc := make(chan error, 1)
				go func() { errc <- f.Error() }()
				var err error
				select {
				case err = <-errc: // first: Index is set by Raft and safe to read only after
				case <-s.ctx.Done():
					return 0, ErrClosed
				}
				if err == nil {
					s.nudgeCommit()
				}
				return f.Index(), err
			}}
		case fwdSync:
			queue <- inflight{seq, func() (uint64, error) {
				idx, err := s.leaderSync()
				if err == nil {
					s.nudgeCommit() // the follower waits to apply idx: tell it of the commit now
				}
				return idx, err
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

// nudgeCommit asks commitNudger to tell the followers about the latest commit.
func (s *Server) nudgeCommit() {
	select {
	case s.nudge <- struct{}{}:
	default: // one is pending already; it covers this commit too
	}
}

// commitNudger makes the followers learn of commits at once. A follower answers its
// client's forwarded write once it has applied it, and it learns that the write
// committed from the leader's next AppendEntries; with no write after it, Raft would
// send that only after CommitTimeout (50 ms). A barrier is a small log entry that
// triggers an AppendEntries at once, carrying the commit index. Under load the next
// writes do this anyway and the nudges coalesce: at most one barrier is in flight.
func (s *Server) commitNudger() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.nudge:
		}
		if s.raft.State() != raft.Leader {
			continue
		}
		if err := s.raft.Barrier(time.Second).Error(); err != nil && s.ctx.Err() == nil {
			s.log.Debug("commit nudge", "err", err)
		}
	}
}
