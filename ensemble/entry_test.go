package ensemble

import (
	"bytes"
	"testing"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// Every write a client can send decodes back from its log entry: an entry that does
// not stops every member (fsm.Apply), so an encode/decode asymmetry would let one
// client stop the ensemble. Bodies come from the client as prepare decodes them.
func FuzzEntryRoundTrip(f *testing.F) {
	enc := func(r zkproto.Record) []byte { return zkproto.Marshal(r) }
	acl := zkproto.ACL{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}
	for _, seed := range []struct {
		op   zkproto.OpCode
		body []byte
	}{
		{zkproto.OpCreate, enc(&zkproto.CreateRequest{Path: "/a", Data: []byte("x"), ACL: []zkproto.ACL{acl}, Flags: zkproto.ModeEphemeral})},
		{zkproto.OpCreate2, enc(&zkproto.CreateRequest{Path: "/a"})},
		{zkproto.OpCreateTTL, enc(&zkproto.CreateTTLRequest{Path: "/t", ACL: []zkproto.ACL{acl}, Flags: zkproto.ModePersistentWithTTL, TTL: 100})},
		{zkproto.OpDelete, enc(&zkproto.DeleteRequest{Path: "/a", Version: -1})},
		{zkproto.OpSetData, enc(&zkproto.SetDataRequest{Path: "/a", Data: nil, Version: 3})},
		{zkproto.OpSetACL, enc(&zkproto.SetACLRequest{Path: "/a", ACL: []zkproto.ACL{acl}, Version: -1})},
		{zkproto.OpCheck, enc(&zkproto.CheckVersionRequest{Path: "/a", Version: 1})},
		{zkproto.OpMulti, enc(&zkproto.MultiRequest{Ops: []zkproto.MultiOp{
			{Header: zkproto.MultiHeader{Type: zkproto.OpCreate, Err: -1}, Request: &zkproto.CreateRequest{Path: "/m", ACL: []zkproto.ACL{acl}}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpCheck, Err: -1}, Request: &zkproto.CheckVersionRequest{Path: "/m", Version: 0}},
		}})},
		{zkproto.OpCreate, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}}, // null strings and ACL list
	} {
		f.Add(int32(seed.op), seed.body, "digest", "user:x")
	}
	f.Fuzz(func(t *testing.T, op int32, body []byte, scheme, id string) {
		code := zkproto.OpCode(op)
		if !code.IsWrite() || code == zkproto.OpReconfig || code == zkproto.OpCloseSession || code == zkproto.OpCreateSession {
			return // not proposed as a TxnRequest
		}
		req, known := zkproto.NewRequest(code)
		if !known || req == nil || zkproto.Unmarshal(body, req) != nil {
			return // prepare answers these without proposing
		}
		txn := &datatree.Txn{Kind: datatree.TxnRequest, Session: 7, Time: 9, Server: 1, Op: code, Request: req,
			Auth: []zkproto.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: scheme, ID: id}}}
		entry := encodeTxn(origin{Instance: 1, Seq: 2}, txn)
		_, got, err := decodeTxn(entry)
		if err != nil {
			t.Fatalf("op %v: the entry of a request prepare accepts does not decode: %v", code, err)
		}
		if again := encodeTxn(origin{Instance: 1, Seq: 2}, got); !bytes.Equal(again, entry) {
			t.Fatalf("op %v: entry changes across decode and encode:\n%x\n%x", code, entry, again)
		}
	})
}

// TestEntryFlags: a txn that enforces quotas travels as a version 3 entry, with or
// without a stream, and the leader's leaderFlags turns a follower's entry into one
// keeping its time and stream.
func TestEntryFlags(t *testing.T) {
	req := &zkproto.CreateRequest{Path: "/a"}
	for _, stream := range []uint64{0, 5} {
		txn := &datatree.Txn{Kind: datatree.TxnRequest, Session: 7, Time: 9, Server: 1, Op: zkproto.OpCreate, Request: req, Stream: stream, StreamSeq: stream * 2}
		plain := encodeTxn(origin{1, 2}, txn)
		if plain[1] == entryVersionFlags {
			t.Fatalf("stream %d: version 3 without the flag", stream)
		}
		s := &Server{cfg: Config{EnforceQuota: true}}
		flagged := s.leaderFlags(plain)
		if flagged[1] != entryVersionFlags {
			t.Fatalf("stream %d: leaderFlags wrote version %d", stream, flagged[1])
		}
		o, got, err := decodeTxn(flagged)
		if err != nil || !got.EnforceQuota || got.Stream != stream || got.StreamSeq != stream*2 || got.Time != 9 || o != (origin{1, 2}) {
			t.Fatalf("stream %d: decoded %+v %+v, %v", stream, o, got, err)
		}
		if off := (&Server{}).leaderFlags(plain); !bytes.Equal(off, plain) {
			t.Errorf("stream %d: leaderFlags changed an entry without enforceQuota", stream)
		}
	}
}

// TestDecodeTxnKeepsNoPasswordOfTheEntry: a decoded txn's data shares the entry's
// memory (the tree copies it), but the session password, which the session table
// keeps, is a copy: it must not pin a log entry for the session's life.
func TestDecodeTxnKeepsNoPasswordOfTheEntry(t *testing.T) {
	entry := encodeTxn(origin{Instance: 1, Seq: 2}, &datatree.Txn{Kind: datatree.TxnCreateSession, Session: 5, Timeout: 4000, Password: []byte("secretsecret1234")})
	_, txn, err := decodeTxn(entry)
	if err != nil {
		t.Fatal(err)
	}
	for i := range entry {
		entry[i] = 0
	}
	if string(txn.Password) != "secretsecret1234" {
		t.Fatalf("the password shares the entry's memory: %q", txn.Password)
	}
}
