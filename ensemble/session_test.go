package ensemble

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// An expired session whose close proposal fails is closed by a later attempt, with
// its ephemerals, rather than forgotten while this member stays leader.
func TestExpiredSessionCloseIsRetried(t *testing.T) {
	var attempts atomic.Int64
	s := startTest(t, func(c *Config) {
		c.failProposal = func(txn *datatree.Txn) error {
			if txn.Kind == datatree.TxnCloseSession && attempts.Add(1) <= 3 {
				return errors.New("injected: the log refused the entry")
			}
			return nil
		}
	})
	id := s.newSessionID()
	if res, err := s.propose(t.Context(), &datatree.Txn{Kind: datatree.TxnCreateSession, Session: id,
		Timeout: int32(s.cfg.MinSessionTimeout.Milliseconds()), Password: newPassword(), Server: s.cfg.ServerID}); err != nil || res.Err != zkproto.ErrOK {
		t.Fatalf("create session: %v %v", err, res)
	}
	if res, err := s.propose(t.Context(), &datatree.Txn{Kind: datatree.TxnRequest, Session: id, Op: zkproto.OpCreate, Server: s.cfg.ServerID,
		Request: &zkproto.CreateRequest{Path: "/eph", ACL: []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}, Flags: zkproto.ModeEphemeral}}); err != nil || res.Err != zkproto.ErrOK {
		t.Fatalf("create ephemeral: %v %v", err, res)
	}
	// Nobody touches the session: it expires after its timeout.
	eventually(t, "the expired session closed", func() bool {
		var alive, node bool
		s.fsm.read(func(t *datatree.Tree) {
			_, alive = t.Session(id)
			_, _, err := t.GetData("/eph", superAuth)
			node = err == zkproto.ErrOK
		})
		return !alive && !node
	})
	if n := attempts.Load(); n < 4 {
		t.Fatalf("%d close attempts, want the 3 failed ones and one that applied", n)
	}
}
