package ensemble

import (
	"context"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// Inspection for the external tests of this package.

// ProposalsAwaited counts this member's own entries still awaited (their waiters).
func (s *Server) ProposalsAwaited() int {
	s.fsm.waitMu.Lock()
	defer s.fsm.waitMu.Unlock()
	return len(s.fsm.waiters)
}

// Crash stops s as a crash would: without handing leadership over first, so the other
// members learn of it only when their heartbeats go unanswered. Close stays safe to
// call after it.
func Crash(s *Server) {
	s.closeOnce.Do(s.teardown)
	<-s.done
}

// DigestChecks counts the leader's digest records this member compared with its own,
// and those that differed.
func (s *Server) DigestChecks() (compared, mismatched uint64) {
	return s.fsm.digestCompared.Load(), s.fsm.digestMismatch.Load()
}

// Diverge applies a create of path to this member's tree alone, as a member that
// applied an entry the others did not would have.
func (s *Server) Diverge(path string) {
	s.fsm.mu.Lock()
	defer s.fsm.mu.Unlock()
	s.fsm.tree.Apply(&datatree.Txn{Kind: datatree.TxnRequest, Op: zkproto.OpCreate,
		Request: &zkproto.CreateRequest{Path: path, ACL: []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}}})
}

// FollowerFailing tells whether this member, leading, counts member id as failing
// its heartbeats (reconfig's NEWCONFIGNOQUORUM check).
func (s *Server) FollowerFailing(id int64) bool { return s.health.isFailing(raftID(id)) }

// ForwardReconfig forwards a reconfig to the leader as a follower does for its client,
// with ctx the client's connection.
func (s *Server) ForwardReconfig(ctx context.Context, req *zkproto.ReconfigRequest) error {
	ch, err := s.forwarder.send(ctx, fwdReconfig, zkproto.Marshal(req))
	if err != nil {
		return err
	}
	return (<-ch).err
}
