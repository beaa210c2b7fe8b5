package ensemble

import (
	"encoding/binary"
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// A follower learns that its leader's process is gone the way a ZooKeeper follower
// does, from its connection to the leader breaking, instead of only once a heartbeat
// timeout (one to two ticks) has passed: that wait was most of a failover (issue 9:
// 1.04 s against ZooKeeper's 0.47 s at tickTime 500). The forwarder's connection is
// the link: it is opened within half a tick of a leader being known, not at the first
// forwarded request, and when the leader's side ends it, checkLeaderGone probes the
// leader's peer port. A refusal or a reset means nothing listens there — the process
// crashed or was killed — and Raft is told to stand at once (LeaderGone, patch 6 of
// the raft copy). Anything else (an answer, a timeout: a slow or partitioned leader)
// is left to the heartbeat timeout.

// linkLeader makes sure this follower is linked to the leader it follows; the
// leadership loop calls it every half tick, so a new leader is linked within one.
func (s *Server) linkLeader() {
	addr, id := s.raft.LeaderWithID()
	if addr == "" || id == raftID(s.cfg.ServerID) || s.forwarder.linked(string(addr)) {
		return
	}
	if s.linking.CompareAndSwap(false, true) { // one dial at a time: it may take seconds
		s.goAttach(func() {
			defer s.linking.Store(false)
			s.forwarder.link(string(addr))
		})
	}
}

// checkLeaderGone runs when the leader at addr ended this follower's link to it.
func (s *Server) checkLeaderGone(addr string) {
	if cur, _ := s.raft.LeaderWithID(); string(cur) != addr {
		return // Raft has moved on already
	}
	if !s.processGone(addr) {
		return
	}
	s.log.Info("the leader's process is gone (its peer port refuses or resets connections); standing for election now", "leader", addr)
	s.raft.LeaderGone(raft.ServerAddress(addr))
}

// processGone asks the member at addr the startup probe's question and tells
// whether its process is gone: the port refuses the connection, or resets or ends it
// unanswered (a dying process's kernel took it into the backlog, then closed the
// listener). An answer, a timeout or any other error says nothing of the sort.
func (s *Server) processGone(addr string) bool {
	gone := func(err error) bool {
		return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
			errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	}
	// A refusal comes at once; an answer may take a while on a loaded machine, and
	// waiting for it costs nothing but this goroutine.
	wait := max(s.cfg.TickTime, 2*time.Second)
	c, err := dialPeer(s.peerTLS, s.peerSrc, addr, peerProtoProbe, wait)
	if err != nil {
		return gone(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(s.cfg.ServerID))
	if _, err := c.Write(id[:]); err != nil {
		return gone(err)
	}
	_, err = c.Read(id[:1])
	return err != nil && gone(err)
}
