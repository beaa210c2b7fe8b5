package ensemble_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// Writes that will never be applied (a member without a leader) close their
// connection, and none of them is awaited afterwards: a waiter holds the reads queued
// behind its write and, through them, the connection with its buffers, so one kept
// per lost write is memory lost at every leader change.
func TestLostWritesAreNotAwaited(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3)
	lone := cl.Members[(cl.Leader()+1)%3]
	c, err := rawzk.Connect(lone.Addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range cl.Members {
		if cl.Members[i] != lone {
			cl.Stop(i)
		}
	}
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	var last zkproto.Xid
	for i := range 8 { // pipelined, each with a read queued behind it
		if last, err = c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/lost-%d", i), ACL: acl}); err != nil {
			t.Fatal(err)
		}
		if last, err = c.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := c.Recv(last, nil); err == nil {
		t.Fatalf("writes without a leader: %+v, want the connection closed", h)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lone.ProposalsAwaited() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d lost writes still awaited after their connection closed", lone.ProposalsAwaited())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A sync rides out a leader change, as the handshake and writes' forwarding wait for
// the next leader: the member stops being able to reach the leader it knew, and the
// client's sync is answered once the next leader has confirmed the commit point.
func TestSyncRidesOutLeaderChange(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3)
	leader := cl.Leader()
	follower := cl.Members[(leader+1)%3]
	c, err := rawzk.Connect(follower.Addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stopped := make(chan struct{})
	go func() { defer close(stopped); cl.Stop(leader) }()
	for n := 0; ; n++ {
		if err := c.Call(zkproto.OpSync, &zkproto.SyncRequest{Path: "/"}, &zkproto.SyncResponse{}); err != nil {
			t.Fatalf("sync %d while the leader stops: %v", n, err)
		}
		select {
		case <-stopped:
			if follower.Mode() == "leader" || cl.Members[(leader+2)%3].Mode() == "leader" {
				return
			}
		default:
		}
	}
}
