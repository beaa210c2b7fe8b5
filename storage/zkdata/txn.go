package zkdata

import (
	"errors"
	"fmt"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// Txn is one transaction of a ZooKeeper log (TxnHeader, the txn record, and the
// tree digest after it when the server wrote one).
type Txn struct {
	ClientID int64
	Cxid     int32
	Zxid     int64
	Time     int64
	Type     zkproto.OpCode
	Record   any // one of the *…Txn types below; nil for a closeSession without paths
	// Digest is the digest of the tree after this txn (3.6+), if logged.
	Digest *TxnDigest
}

// TxnDigest is ZooKeeper's TxnDigest record.
type TxnDigest struct {
	Version    int32
	TreeDigest uint64
}

// The txn records (zookeeper.jute, module org.apache.zookeeper.txn).
type (
	CreateTxn struct {
		Path           string
		Data           []byte
		ACL            []zkproto.ACL
		Ephemeral      bool
		ParentCVersion int32 // -1 in a 3.2-era CreateTxnV0
	}
	CreateTTLTxn struct {
		Path           string
		Data           []byte
		ACL            []zkproto.ACL
		ParentCVersion int32
		TTL            int64
	}
	CreateContainerTxn struct {
		Path           string
		Data           []byte
		ACL            []zkproto.ACL
		ParentCVersion int32
	}
	DeleteTxn  struct{ Path string }
	SetDataTxn struct {
		Path    string
		Data    []byte
		Version int32
	}
	CheckVersionTxn struct {
		Path    string
		Version int32
	}
	SetACLTxn struct {
		Path    string
		ACL     []zkproto.ACL
		Version int32
	}
	CreateSessionTxn struct{ Timeout int32 }
	CloseSessionTxn  struct{ Paths2Delete []string }
	ErrorTxn         struct{ Err int32 }
	MultiTxn         struct{ Txns []SubTxn }
	// SubTxn is one op of a multi: its type and its encoded record.
	SubTxn struct {
		Type zkproto.OpCode
		Data []byte
	}
)

const digestSize = 4 + 8

// DecodeTxn parses one log entry (SerializeUtils.deserializeTxn).
func DecodeTxn(b []byte) (*Txn, error) {
	d := zkproto.NewDecoder(b)
	t := &Txn{ClientID: d.Long(), Cxid: d.Int(), Zxid: d.Long(), Time: d.Long(), Type: zkproto.OpCode(d.Int())}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("txn header: %w", err)
	}
	rec, err := decodeRecord(t.Type, d, true)
	if err != nil {
		return t, fmt.Errorf("%v txn at zxid %#x: %w", t.Type, t.Zxid, err)
	}
	t.Record = rec
	if d.Remaining() >= digestSize {
		t.Digest = &TxnDigest{Version: d.Int(), TreeDigest: uint64(d.Long())}
	}
	return t, nil
}

// decodeRecord reads the record of a txn of type typ. top: a log entry, which may
// end with a digest (a sub-txn of a multi is its own buffer).
func decodeRecord(typ zkproto.OpCode, d *zkproto.Decoder, top bool) (any, error) {
	start := d.Remaining()
	var rec any
	switch typ {
	case zkproto.OpCreateSession:
		rec = &CreateSessionTxn{Timeout: d.Int()}
	case zkproto.OpCloseSession:
		// Without zookeeper.closeSessionTxn.enabled (and before 3.6) the entry has no
		// record; with it, a vector of paths, then maybe the digest.
		if d.Remaining() == 0 || (top && d.Remaining() == digestSize && !plausibleClose(d)) {
			return nil, nil
		}
		rec = &CloseSessionTxn{Paths2Delete: d.Strings()}
	case zkproto.OpCreate, zkproto.OpCreate2:
		c := &CreateTxn{Path: d.String(), Data: d.Buffer(), ACL: d.ACLs(), Ephemeral: d.Bool()}
		if d.Err() == nil && d.Remaining() < 4 {
			c.ParentCVersion = -1 // CreateTxnV0
		} else {
			c.ParentCVersion = d.Int()
		}
		rec = c
	case zkproto.OpCreateTTL:
		rec = &CreateTTLTxn{Path: d.String(), Data: d.Buffer(), ACL: d.ACLs(), ParentCVersion: d.Int(), TTL: d.Long()}
	case zkproto.OpCreateContainer:
		rec = &CreateContainerTxn{Path: d.String(), Data: d.Buffer(), ACL: d.ACLs(), ParentCVersion: d.Int()}
	case zkproto.OpDelete, zkproto.OpDeleteContainer:
		rec = &DeleteTxn{Path: d.String()}
	case zkproto.OpSetData, zkproto.OpReconfig:
		rec = &SetDataTxn{Path: d.String(), Data: d.Buffer(), Version: d.Int()}
	case zkproto.OpSetACL:
		rec = &SetACLTxn{Path: d.String(), ACL: d.ACLs(), Version: d.Int()}
	case zkproto.OpCheck:
		rec = &CheckVersionTxn{Path: d.String(), Version: d.Int()}
	case zkproto.OpError:
		rec = &ErrorTxn{Err: d.Int()}
	case zkproto.OpMulti:
		n := d.Int()
		if d.Err() == nil && (n < 0 || int(n) > d.Remaining()/8) {
			return nil, fmt.Errorf("multi of %d txns", n)
		}
		m := &MultiTxn{}
		for i := int32(0); i < n && d.Err() == nil; i++ {
			m.Txns = append(m.Txns, SubTxn{Type: zkproto.OpCode(d.Int()), Data: d.Buffer()})
		}
		rec = m
	default:
		return nil, fmt.Errorf("unsupported txn type %d", typ)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	if start == d.Remaining() && typ != zkproto.OpCloseSession {
		return nil, errors.New("empty record")
	}
	return rec, nil
}

// plausibleClose tells a CloseSessionTxn of 12 bytes (one path of 4 bytes) from a
// digest that follows no record: the digest starts with its version, 2.
func plausibleClose(d *zkproto.Decoder) bool {
	probe := *d
	n := probe.Int()
	return n == 1
}

// Apply applies a transaction as DataTree.processTxn does when a ZooKeeper server
// restores its data directory: failures (a create of an existing node, a delete of
// a missing one) are ignored; they happen when replaying over a fuzzy snapshot.
// It returns an error only for a txn ZooKeeper itself would fail to process.
func (t *Tree) Apply(txn *Txn) error {
	switch txn.Type {
	case zkproto.OpCreateSession:
		t.Sessions[txn.ClientID] = txn.Record.(*CreateSessionTxn).Timeout
	case zkproto.OpCloseSession:
		delete(t.Sessions, txn.ClientID)
	}
	code, err := t.process(txn.Type, txn.Record, txn)
	if err != nil {
		return err
	}
	if txn.Type == zkproto.OpCreate && code == zkproto.ErrNodeExists {
		c := txn.Record.(*CreateTxn)
		if pp, ok := parentOf(c.Path); ok {
			t.setCversionPzxid(pp, c.ParentCVersion, txn.Zxid)
		}
	}
	if txn.Zxid > t.Zxid {
		t.Zxid = txn.Zxid
	}
	return nil
}

func (t *Tree) process(typ zkproto.OpCode, rec any, h *Txn) (zkproto.ErrCode, error) {
	switch typ {
	case zkproto.OpCreate, zkproto.OpCreate2:
		c := rec.(*CreateTxn)
		var owner int64
		if c.Ephemeral {
			owner = h.ClientID
		}
		return t.createNode(c.Path, c.Data, c.ACL, owner, c.ParentCVersion, h.Zxid, h.Time), nil
	case zkproto.OpCreateTTL:
		c := rec.(*CreateTTLTxn)
		if c.TTL <= 0 || c.TTL > zkproto.MaxTTL {
			return 0, fmt.Errorf("createTTL %s at zxid %#x: ttl %d out of range", c.Path, h.Zxid, c.TTL)
		}
		return t.createNode(c.Path, c.Data, c.ACL, datatree.TTLOwner(c.TTL), c.ParentCVersion, h.Zxid, h.Time), nil
	case zkproto.OpCreateContainer:
		c := rec.(*CreateContainerTxn)
		return t.createNode(c.Path, c.Data, c.ACL, datatree.ContainerOwner, c.ParentCVersion, h.Zxid, h.Time), nil
	case zkproto.OpDelete, zkproto.OpDeleteContainer:
		return t.deleteNode(rec.(*DeleteTxn).Path, h.Zxid), nil
	case zkproto.OpSetData, zkproto.OpReconfig:
		s := rec.(*SetDataTxn)
		return t.setData(s.Path, s.Data, s.Version, h.Zxid, h.Time), nil
	case zkproto.OpSetACL:
		s := rec.(*SetACLTxn)
		return t.setACL(s.Path, s.ACL, s.Version), nil
	case zkproto.OpCloseSession:
		var listed []string
		if c, ok := rec.(*CloseSessionTxn); ok && c != nil {
			listed = c.Paths2Delete
		}
		t.killSession(h.ClientID, h.Zxid, listed)
		return zkproto.ErrOK, nil
	case zkproto.OpError:
		return zkproto.ErrCode(rec.(*ErrorTxn).Err), nil
	case zkproto.OpCheck, zkproto.OpCreateSession:
		return zkproto.ErrOK, nil
	case zkproto.OpMulti:
		return t.processMulti(rec.(*MultiTxn), h)
	}
	return 0, fmt.Errorf("txn type %d at zxid %#x", typ, h.Zxid)
}

// processMulti applies a multi's ops in order; a multi with an error op failed as a
// whole and changes nothing.
func (t *Tree) processMulti(m *MultiTxn, h *Txn) (zkproto.ErrCode, error) {
	for _, s := range m.Txns {
		if s.Type == zkproto.OpError {
			return zkproto.ErrRuntimeInconsistency, nil
		}
	}
	code := zkproto.ErrOK
	for i, s := range m.Txns {
		switch s.Type {
		case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateTTL, zkproto.OpCreateContainer,
			zkproto.OpDelete, zkproto.OpDeleteContainer, zkproto.OpSetData, zkproto.OpCheck:
		default:
			return 0, fmt.Errorf("multi at zxid %#x: op %d has type %d, which a multi cannot hold", h.Zxid, i, s.Type)
		}
		rec, err := decodeRecord(s.Type, zkproto.NewDecoder(s.Data), false)
		if err != nil {
			return 0, fmt.Errorf("multi at zxid %#x, op %d: %w", h.Zxid, i, err)
		}
		c, err := t.process(s.Type, rec, h)
		if err != nil {
			return 0, err
		}
		if c != zkproto.ErrOK && code == zkproto.ErrOK {
			code = c
		}
	}
	return code, nil
}
