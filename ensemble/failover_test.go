package ensemble_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/zkproto"
)

// A follower's client does not notice a leader change: the writes it forwarded to
// the lost leader are sent again to the next one, each taking effect exactly once
// and in the order sent, and the connection stays open. Pipelined sequential
// creates show all of it: every one is answered OK, in order, their sequence numbers
// increase in the order sent, and the tree holds exactly the znodes acknowledged.
func TestForwardedWritesRideOutLeaderChange(t *testing.T) {
	testForwardedWritesRideOut(t, func(cl *ensembletest.Cluster, i int) { cl.Stop(i) })
}

// The same when the leader crashes (no hand-over): writes that reach the follower
// while Raft still names the dead leader, whose port refuses them, wait for the next
// leader instead of failing.
func TestForwardedWritesRideOutLeaderCrash(t *testing.T) {
	testForwardedWritesRideOut(t, func(cl *ensembletest.Cluster, i int) { ensemble.Crash(cl.Members[i].Server) })
}

func testForwardedWritesRideOut(t *testing.T, stop func(cl *ensembletest.Cluster, leader int)) {
	cl := ensembletest.RunCluster(t, 3)
	leader := cl.Leader()
	follower := cl.Members[(leader+1)%3]
	c := dialSession(t, follower.Addr)
	defer c.Close()
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/seq", ACL: acl}, &zkproto.CreateResponse{}); err != nil {
		t.Fatal(err)
	}
	const before, after = 400, 200
	var xids []zkproto.Xid
	send := func(n int) {
		for range n {
			xid, err := c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/seq/n-", ACL: acl, Flags: zkproto.ModePersistentSequential})
			if err != nil {
				t.Fatal(err)
			}
			xids = append(xids, xid)
		}
	}
	send(before)
	stopped := make(chan struct{})
	var names []string
	for i := 0; i < before+after; i++ {
		if i == 20 {
			// Many writes are in flight now: take their leader away.
			go func() { defer close(stopped); stop(cl, leader) }()
		}
		if i == 40 {
			send(after) // some of these reach the follower during the election
		}
		var resp zkproto.CreateResponse
		h, err := c.Recv(xids[i], &resp)
		if err != nil {
			t.Fatalf("create %d of %d: %v (the leader change reached the client)", i+1, before+after, err)
		}
		if h.Err != zkproto.ErrOK {
			t.Fatalf("create %d of %d: %v", i+1, before+after, h.Err)
		}
		names = append(names, resp.Path)
	}
	<-stopped
	last := -1
	for i, name := range names {
		n, err := strconv.Atoi(strings.TrimPrefix(name, "/seq/n-"))
		if err != nil || n <= last {
			t.Fatalf("create %d made %s after sequence number %d: want increasing numbers in the order sent", i+1, name, last)
		}
		last = n
	}
	var kids zkproto.GetChildrenResponse
	if err := c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/seq"}, &kids); err != nil {
		t.Fatal(err)
	}
	if len(kids.Children) != len(names) {
		t.Fatalf("/seq has %d children, %d creates were acknowledged: a write took effect twice or was lost", len(kids.Children), len(names))
	}
	t.Logf("%d pipelined creates across the leader change, sequence numbers %s..%s", len(names), names[0], fmt.Sprint(last))
}
