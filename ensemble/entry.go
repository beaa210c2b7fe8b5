package ensemble

import (
	"fmt"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// A Raft log entry is one byte of entry type and a body. New types are added, never
// changed; a node that meets a type it does not know stops rather than diverge.
const (
	entryTxn byte = 1 // one datatree.Txn
)

// entryVersion is written after the type so a body layout can evolve.
const entryVersion = 1

// encodeTxn renders a Txn as a log entry.
func encodeTxn(t *datatree.Txn) []byte {
	e := zkproto.Encoder{Buf: make([]byte, 0, 64)}
	e.Buf = append(e.Buf, entryTxn, entryVersion, byte(t.Kind))
	e.Long(int64(t.Session))
	e.Long(t.Time)
	switch t.Kind {
	case datatree.TxnRequest:
		e.Int(int32(t.Op))
		e.Int(int32(len(t.Auth)))
		for _, id := range t.Auth {
			e.String(id.Scheme)
			e.String(id.ID)
		}
		t.Request.Encode(&e)
	case datatree.TxnCreateSession:
		e.Int(t.Timeout)
		e.Buffer(t.Password)
	case datatree.TxnCloseSession:
	}
	return e.Buf
}

// decodeTxn parses a log entry written by encodeTxn.
func decodeTxn(b []byte) (*datatree.Txn, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("log entry of %d bytes is too short", len(b))
	}
	if b[0] != entryTxn || b[1] != entryVersion {
		return nil, fmt.Errorf("log entry type %d version %d is unknown to this zkraft version", b[0], b[1])
	}
	t := &datatree.Txn{Kind: datatree.TxnKind(b[2])}
	d := zkproto.NewDecoder(b[3:])
	t.Session = zkproto.SessionID(d.Long())
	t.Time = d.Long()
	switch t.Kind {
	case datatree.TxnRequest:
		t.Op = zkproto.OpCode(d.Int())
		n := int(d.Int())
		if n < 0 || n > d.Remaining()/8 {
			return nil, fmt.Errorf("log entry: bad auth count %d", n)
		}
		for i := 0; i < n; i++ {
			t.Auth = append(t.Auth, zkproto.Id{Scheme: d.String(), ID: d.String()})
		}
		req, ok := zkproto.NewRequest(t.Op)
		if !ok || req == nil {
			return nil, fmt.Errorf("log entry: op %v has no request body", t.Op)
		}
		req.Decode(d)
		t.Request = req
	case datatree.TxnCreateSession:
		t.Timeout = d.Int()
		t.Password = d.Buffer()
	case datatree.TxnCloseSession:
	default:
		return nil, fmt.Errorf("log entry: unknown txn kind %d", t.Kind)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("log entry: %w", err)
	}
	return t, nil
}
