package datatree

import (
	"bytes"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

func TestRenewSession(t *testing.T) {
	tr := New()
	if r := tr.Apply(&Txn{Kind: TxnCreateSession, Session: 7, Timeout: 10000, Password: []byte("p")}); r.Err != zkproto.ErrOK {
		t.Fatalf("create session: %v", r.Err)
	}
	before := tr.LastZxid()
	r := tr.Apply(&Txn{Kind: TxnRenewSession, Session: 7, Timeout: 4000, Server: 2})
	if r.Err != zkproto.ErrOK || r.Zxid != before+1 {
		t.Fatalf("set timeout: %+v", r)
	}
	if si, _ := tr.Session(7); si.Timeout != 4000 || string(si.Password) != "p" || si.Owner != 2 {
		t.Fatalf("session after renewal: %+v", si)
	}
	if r := tr.Apply(&Txn{Kind: TxnRenewSession, Session: 8, Timeout: 4000}); r.Err != zkproto.ErrSessionExpired || r.Zxid != before+1 {
		t.Fatalf("unknown session: %+v, want SESSIONEXPIRED and no zxid", r)
	}
}

// A request proposed by a server the session has moved away from fails with
// SESSIONMOVED and changes nothing.
func TestSessionMoved(t *testing.T) {
	tr := New()
	tr.Apply(&Txn{Kind: TxnCreateSession, Session: 7, Timeout: 10000, Password: []byte("p"), Server: 1})
	create := func(server int64, path string) zkproto.ErrCode {
		return tr.Apply(&Txn{Kind: TxnRequest, Session: 7, Server: server, Op: zkproto.OpCreate,
			Request: &zkproto.CreateRequest{Path: path, ACL: []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}}}).Err
	}
	if code := create(1, "/a"); code != zkproto.ErrOK {
		t.Fatalf("create from the owner: %v", code)
	}
	tr.Apply(&Txn{Kind: TxnRenewSession, Session: 7, Timeout: 10000, Server: 2})
	if code := create(1, "/b"); code != zkproto.ErrSessionMoved {
		t.Fatalf("create from the old server: %v, want SESSIONMOVED", code)
	}
	if _, ok := tr.Exists("/b"); ok {
		t.Fatal("a SESSIONMOVED create changed the tree")
	}
	if code := create(2, "/c"); code != zkproto.ErrOK {
		t.Fatalf("create from the new owner: %v", code)
	}
}

// A client request of a session that is gone fails with SESSIONEXPIRED, as
// ZooKeeper's checkSession makes it; server-internal txns carry no session and pass.
func TestRequestOfClosedSessionExpired(t *testing.T) {
	tr := New()
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	create := func(session zkproto.SessionID, server int64, path string) zkproto.ErrCode {
		return tr.Apply(&Txn{Kind: TxnRequest, Session: session, Server: server, Op: zkproto.OpCreate,
			Request: &zkproto.CreateRequest{Path: path, ACL: acl}}).Err
	}
	tr.Apply(&Txn{Kind: TxnCreateSession, Session: 9, Timeout: 10000, Password: []byte("p"), Server: 1})
	tr.Apply(&Txn{Kind: TxnCloseSession, Session: 9})
	if code := create(9, 1, "/late"); code != zkproto.ErrSessionExpired {
		t.Fatalf("create of a closed session: %v, want SESSIONEXPIRED", code)
	}
	if code := create(0, 0, "/internal"); code != zkproto.ErrOK {
		t.Fatalf("server-internal create: %v", code)
	}
}

// Member incarnations are replicated state: recorded, refused when another one
// claims a recorded member, forgotten on removal, and kept by snapshots.
func TestMemberIncarnation(t *testing.T) {
	tr := New()
	rec := func(id int64, inc string) zkproto.ErrCode {
		return tr.Apply(&Txn{Kind: TxnMemberIncarnation, Server: id, Incarnation: inc}).Err
	}
	if code := rec(2, "a1"); code != zkproto.ErrOK || tr.Incarnation(2) != "a1" {
		t.Fatalf("record: %v %q", code, tr.Incarnation(2))
	}
	if code := rec(2, "b2"); code != zkproto.ErrBadArguments || tr.Incarnation(2) != "a1" {
		t.Fatalf("another incarnation for a recorded member: %v %q", code, tr.Incarnation(2))
	}
	var buf bytes.Buffer
	if _, err := tr.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Restore(&buf)
	if err != nil || back.Incarnation(2) != "a1" {
		t.Fatalf("after restore: %q %v", back.Incarnation(2), err)
	}
	if code := rec(2, ""); code != zkproto.ErrOK || tr.Incarnation(2) != "" {
		t.Fatalf("forget: %v %q", code, tr.Incarnation(2))
	}
	if code := rec(2, "b2"); code != zkproto.ErrOK {
		t.Fatalf("a new incarnation after the member was forgotten: %v", code)
	}
}
