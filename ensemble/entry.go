package ensemble

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// A Raft log entry is one byte of entry type and a body. New types are added, never
// changed; a node that meets a type it does not know stops rather than diverge.
const (
	entryTxn byte = 1 // one datatree.Txn
)

// entryVersion is written after the type so a body layout can evolve. Version 2
// appends the client write stream (datatree.Txn.Stream, StreamSeq) to a version 1
// body; it is written only for a client's writes, so that a member that would not
// check the stream stops at it instead of diverging. Version 3 appends the stream
// (0 for none) and a flags byte (flagEnforceQuota); it is written only for a txn
// that enforces quotas, so that a member that would not enforce them stops at it.
const (
	entryVersion       = 1
	entryVersionStream = 2
	entryVersionFlags  = 3
)

// Flags of a version 3 entry.
const flagEnforceQuota byte = 1

// origin names the server instance that proposed an entry and its sequence number
// there, so that the proposer's own FSM can hand the result to the waiting client
// whichever node the entry was replicated through. Instance is drawn at random at
// start, so entries replayed from an earlier run never match a new waiter.
type origin struct {
	Instance uint64
	Seq      uint64
}

// entryTimeOffset is where a txn entry's time lives: the leader overwrites it with its
// own clock when it proposes a write forwarded by a follower.
const entryTimeOffset = 3 + 8 + 8 + 8

// stampTime sets a txn entry's time (the leader's clock at proposal).
func stampTime(entry []byte, ms int64) {
	binary.BigEndian.PutUint64(entry[entryTimeOffset:], uint64(ms))
}

// encodeTxn renders a Txn as a log entry.
func encodeTxn(o origin, t *datatree.Txn) []byte {
	return zkproto.Render(func(e *zkproto.Encoder) { appendTxn(e, o, t) })
}

func appendTxn(e *zkproto.Encoder, o origin, t *datatree.Txn) {
	version := byte(entryVersion)
	switch {
	case t.EnforceQuota:
		version = entryVersionFlags
	case t.Stream != 0:
		version = entryVersionStream
	}
	e.Buf = append(e.Buf, entryTxn, version, byte(t.Kind))
	e.Long(int64(o.Instance))
	e.Long(int64(o.Seq))
	e.Long(int64(t.Session))
	e.Long(t.Time)
	e.Long(t.Server)
	switch t.Kind {
	case datatree.TxnRequest:
		e.Int(int32(t.Op))
		e.Int(int32(len(t.Auth)))
		for _, id := range t.Auth {
			e.String(id.Scheme)
			e.String(id.ID)
		}
		t.Request.Encode(e)
	case datatree.TxnCreateSession:
		e.Int(t.Timeout)
		e.Buffer(t.Password)
	case datatree.TxnRenewSession:
		e.Int(t.Timeout)
	case datatree.TxnMemberIncarnation:
		e.String(t.Incarnation)
	case datatree.TxnCloseSession:
	}
	if version >= entryVersionStream {
		e.Long(int64(t.Stream))
		e.Long(int64(t.StreamSeq))
	}
	if version == entryVersionFlags {
		e.Buf = append(e.Buf, flagEnforceQuota)
	}
}

// decodeTxn parses a log entry written by encodeTxn. A log entry is never written
// again, so the txn's data shares its memory (the tree copies what it keeps); the
// session password, kept for the session's life, is copied.
func decodeTxn(b []byte) (origin, *datatree.Txn, error) {
	var o origin
	if len(b) < entryTimeOffset+8 {
		return o, nil, fmt.Errorf("log entry of %d bytes is too short", len(b))
	}
	if b[0] != entryTxn || b[1] < entryVersion || b[1] > entryVersionFlags {
		return o, nil, fmt.Errorf("log entry type %d version %d is unknown to this zkraft version", b[0], b[1])
	}
	t := &datatree.Txn{Kind: datatree.TxnKind(b[2])}
	d := zkproto.NewAliasingDecoder(b[3:])
	o.Instance = uint64(d.Long())
	o.Seq = uint64(d.Long())
	t.Session = zkproto.SessionID(d.Long())
	t.Time = d.Long()
	t.Server = d.Long()
	switch t.Kind {
	case datatree.TxnRequest:
		t.Op = zkproto.OpCode(d.Int())
		n := int(d.Int())
		if n < 0 || n > d.Remaining()/8 {
			return o, nil, fmt.Errorf("log entry: bad auth count %d", n)
		}
		for i := 0; i < n; i++ {
			t.Auth = append(t.Auth, zkproto.Id{Scheme: d.String(), ID: d.String()})
		}
		req, ok := zkproto.NewRequest(t.Op)
		if !ok || req == nil {
			return o, nil, fmt.Errorf("log entry: op %v has no request body", t.Op)
		}
		req.Decode(d)
		t.Request = req
	case datatree.TxnCreateSession:
		t.Timeout = d.Int()
		t.Password = slices.Clone(d.Buffer())
	case datatree.TxnRenewSession:
		t.Timeout = d.Int()
	case datatree.TxnMemberIncarnation:
		t.Incarnation = d.String()
	case datatree.TxnCloseSession:
	default:
		return o, nil, fmt.Errorf("log entry: unknown txn kind %d", t.Kind)
	}
	if b[1] >= entryVersionStream {
		t.Stream = uint64(d.Long())
		t.StreamSeq = uint64(d.Long())
		if t.Stream == 0 && b[1] == entryVersionStream && d.Err() == nil {
			return o, nil, fmt.Errorf("log entry: version %d without a stream", b[1])
		}
	}
	if b[1] == entryVersionFlags {
		t.EnforceQuota = d.Bool() // flagEnforceQuota, the only flag
	}
	if err := d.Err(); err != nil {
		return o, nil, fmt.Errorf("log entry: %w", err)
	}
	return o, t, nil
}
