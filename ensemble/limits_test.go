package ensemble_test

import (
	"fmt"
	"testing"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// globalOutstandingLimit throttles, as in ZooKeeper: with more requests pipelined
// than the limit, the server stops reading until replies go out, and every request
// still completes, in order, with no error.
func TestOutstandingLimitThrottles(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.GlobalOutstandingLimit = 2 }))
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	a, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 300
	var xids []zkproto.Xid
	for i := 0; i < n; i++ { // pipelined: nothing is read until all are sent
		xid, err := a.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/p%03d", i), ACL: acl})
		if err != nil {
			t.Fatal(err)
		}
		xids = append(xids, xid)
	}
	// Another client is served meanwhile.
	if err := b.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/other", ACL: acl}, &zkproto.CreateResponse{}); err != nil {
		t.Fatalf("second client while the first is throttled: %v", err)
	}
	for i, xid := range xids {
		var cr zkproto.CreateResponse
		h, err := a.Recv(xid, &cr)
		if err != nil || h.Err != zkproto.ErrOK || cr.Path != fmt.Sprintf("/p%03d", i) {
			t.Fatalf("request %d: %+v %q %v", i, h, cr.Path, err)
		}
	}
}
