package datatree

import "github.com/zkraft/zkraft/zkproto"

// TxnKind says what a Txn does to the replicated state.
type TxnKind uint8

const (
	// TxnRequest applies a client write request (create*, delete, setData, setACL,
	// check, multi) or the internal deleteContainer of the reaper.
	TxnRequest TxnKind = iota + 1
	// TxnCreateSession adds a session to the session table.
	TxnCreateSession
	// TxnCloseSession removes a session and deletes its ephemerals in the same
	// transaction (explicit close or expiry).
	TxnCloseSession
	// TxnRenewSession records a resume: the client's newly negotiated timeout and
	// the server it is now connected to (ZooKeeper's reopenSession).
	TxnRenewSession
	// TxnMemberIncarnation records the incarnation of member Server's data
	// directory ("" forgets it, when the member is removed). A member whose data was
	// wiped comes back with another one and is refused.
	TxnMemberIncarnation
)

// Txn is one change to the replicated state, with everything the leader decided when
// it proposed it (time, session id, password, the caller's identities), so that Apply
// needs no clock, randomness or node-local state.
type Txn struct {
	Kind    TxnKind
	Session zkproto.SessionID
	Time    int64 // ms since the epoch, the leader's clock at proposal

	// TxnRequest: Op and the decoded request (*zkproto.CreateRequest for create,
	// create2 and createContainer; *zkproto.CreateTTLRequest; *zkproto.DeleteRequest
	// for delete and deleteContainer; *zkproto.SetDataRequest; *zkproto.SetACLRequest;
	// *zkproto.CheckVersionRequest; *zkproto.MultiRequest). Auth holds the session's
	// identities, including ("ip", addr) and ("super", "") for a super user.
	Op      zkproto.OpCode
	Request zkproto.Record
	Auth    []zkproto.Id

	// TxnCreateSession: the negotiated timeout and the password the leader drew.
	Timeout  int32
	Password []byte

	// Incarnation: for TxnMemberIncarnation.
	Incarnation string

	// Stream and StreamSeq place a client's write among the writes its connection
	// sent: Stream is drawn by the server for each client connection, StreamSeq counts
	// that connection's writes from 1. A session's writes apply as a prefix of what
	// its connection sent: a write whose predecessor on the stream never reached the
	// log (refused in a leader change) is refused too (Result.OutOfOrder). 0: not a
	// client's write, not checked.
	Stream    uint64
	StreamSeq uint64

	// EnforceQuota refuses, with QUOTAEXCEEDED, a create or setData that would pass a
	// hard quota (the leader's enforceQuota when it proposed the txn).
	EnforceQuota bool

	// Server is the id of the server that proposed the txn for its client: the owner
	// of a created or renewed session, and checked against the owner of the session
	// of a request (SESSIONMOVED). 0 for the server's own txns.
	Server int64
}

// Event is a change that watches observe, produced by Apply in the order the changes
// happened.
type Event struct {
	Type zkproto.EventType // NodeCreated, NodeDeleted, NodeDataChanged, NodeChildrenChanged
	Path string
	// ACL decides who may see the event (READ): the ACL of the node at Path as it is
	// once the change is made, for NodeDeleted the deleted node's, and for
	// NodeChildrenChanged the parent's, which is Path. It is the tree's own slice
	// (never modified in place): do not modify it.
	ACL []zkproto.ACL
}

// Result is what Apply did.
type Result struct {
	// Zxid is the zxid given to a successful transaction; for a failed one it is the
	// last zxid (failures change nothing and do not advance it).
	Zxid zkproto.Zxid
	// Err is ErrOK or the ZooKeeper error code. A failed multi has Err set to the
	// first failure and Response set to the per-op results.
	Err zkproto.ErrCode
	// Response is the reply body: *zkproto.CreateResponse (create),
	// *zkproto.Create2Response (create2, createContainer, createTTL),
	// *zkproto.SetDataResponse, *zkproto.SetACLResponse, *zkproto.MultiResponse;
	// nil for delete, check, sessions.
	Response zkproto.Record
	// Events are the watch triggers of a successful transaction, in order.
	Events []Event
	// OutOfOrder: the txn was refused, changing nothing, because an earlier write of
	// its stream is not in the log. Its connection must close: the client learns of
	// the lost writes as a connection loss, as it would from ZooKeeper.
	OutOfOrder bool
	// QuotaExceeded lists the quota limits the transaction passed, or would have
	// passed when it was refused with QUOTAEXCEEDED: ZooKeeper logs them.
	QuotaExceeded []QuotaExceeded
}
