package datatree

import (
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

func TestSetSessionTimeout(t *testing.T) {
	tr := New()
	if r := tr.Apply(&Txn{Kind: TxnCreateSession, Session: 7, Timeout: 10000, Password: []byte("p")}); r.Err != zkproto.ErrOK {
		t.Fatalf("create session: %v", r.Err)
	}
	before := tr.LastZxid()
	r := tr.Apply(&Txn{Kind: TxnSetSessionTimeout, Session: 7, Timeout: 4000})
	if r.Err != zkproto.ErrOK || r.Zxid != before+1 {
		t.Fatalf("set timeout: %+v", r)
	}
	if si, _ := tr.Session(7); si.Timeout != 4000 || string(si.Password) != "p" {
		t.Fatalf("session after renewal: %+v", si)
	}
	if r := tr.Apply(&Txn{Kind: TxnSetSessionTimeout, Session: 8, Timeout: 4000}); r.Err != zkproto.ErrSessionExpired || r.Zxid != before+1 {
		t.Fatalf("unknown session: %+v, want SESSIONEXPIRED and no zxid", r)
	}
}
