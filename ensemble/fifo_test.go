package ensemble_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// Writes that will never be applied (a member without a leader) close their
// connection, and none of them is awaited afterwards: a waiter holds the reads queued
// behind its write and, through them, the connection with its buffers, so one kept
// per lost write is memory lost at every leader change.
func TestLostWritesAreNotAwaited(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3)
	lone := cl.Members[(cl.Leader()+1)%3]
	c := dialSession(t, lone.Addr)
	defer c.Close()
	for i := range cl.Members {
		if cl.Members[i] != lone {
			cl.Stop(i)
		}
	}
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	var (
		last zkproto.Xid
		err  error
	)
	// The member may close the connection while these are still being sent (its
	// first lost write closes it): a failed send is that closing, as a failed Recv is.
	sent := true
	for i := range 8 { // pipelined, each with a read queued behind it
		if last, err = c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/lost-%d", i), ACL: acl}); err != nil {
			sent = false
			break
		}
		if last, err = c.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/"}); err != nil {
			sent = false
			break
		}
	}
	if !sent {
		t.Logf("the member closed the connection during the sends: %v", err)
	} else if h, err := c.Recv(last, nil); err == nil {
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
	c := dialSession(t, follower.Addr)
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

// A session's writes are applied in the order sent, with no gaps: a write refused by
// a leader handing over leadership closes the connection, and none sent after it is
// applied through the next leader. Before, a follower forwarded the writes after the
// refused one to the next leader as soon as it knew it: round 0 applied creates 0-7
// and 264, not 8-263.
func TestNoWriteAppliedAfterAnEarlierOneFailed(t *testing.T) {
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	for round := range 2 {
		cl := ensembletest.RunCluster(t, 3)
		leader := cl.Leader()
		follower := cl.Members[(leader+1)%3]
		c := dialSession(t, follower.Addr)
		if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/seq", ACL: acl}, &zkproto.CreateResponse{}); err != nil {
			t.Fatal(err)
		}
		const n = 2000
		for i := range n { // pipelined; the leader hands over a little way in
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
			if i == 500 {
				go cl.Members[leader].TransferLeadership(0)
			}
			if _, err := c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/seq/%05d", i), ACL: acl}); err != nil {
				break // closed: the rest is not sent
			}
		}
		c.Close()
		check := dialSession(t, follower.Addr)
		var kids zkproto.GetChildrenResponse
		if err := check.Call(zkproto.OpSync, &zkproto.SyncRequest{Path: "/seq"}, &zkproto.SyncResponse{}); err != nil {
			t.Fatal(err)
		}
		// Writes still in flight when the connection closed may apply later; give them
		// time (a gap that closes later was a gap a reader could see).
		time.Sleep(200 * time.Millisecond)
		if err := check.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/seq"}, &kids); err != nil {
			t.Fatal(err)
		}
		check.Close()
		applied := make([]int, 0, len(kids.Children))
		for _, k := range kids.Children {
			i, _ := strconv.Atoi(k)
			applied = append(applied, i)
		}
		sort.Ints(applied)
		for i, v := range applied {
			if v != i {
				t.Fatalf("round %d: create %d was applied and create %d, sent before it, was not (%d applied)", round, v, i, len(applied))
			}
		}
		t.Logf("round %d: creates 0-%d applied, the rest not", round, len(applied)-1)
	}
}

// dialSession opens a raw session (10 s timeout) on addr; the caller closes it.
func dialSession(t *testing.T, addr string) *rawzk.Conn {
	t.Helper()
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A client that sends a long burst before it reads any reply (a bulk loader,
// pipelined async clients) is served: the server keeps reading while the replies
// queue, never blocked on the client's full socket, where the client, still
// writing, would block on the server's for ever (until the session timeout closes
// the connection).
func TestBurstBeforeReading(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(t.TempDir()))
	c := dialSession(t, srv.Addr)
	defer c.Close()
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	data := make([]byte, 1024)
	path := "/" + strings.Repeat("x", 1000) // big requests too: both directions fill
	if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, Data: data, ACL: acl}, &zkproto.CreateResponse{}); err != nil {
		t.Fatal(err)
	}
	// 48 MiB each way: more than loopback's socket buffers hold (tcp_rmem allows
	// 32 MiB here), less than the server queues for a client (maxQueuedOutput).
	const n = 48 << 10
	xids := make([]zkproto.Xid, 0, n)
	for i := range n {
		var xid zkproto.Xid
		var err error
		if i%64 == 63 { // writes too, so that some reads wait for them
			xid, err = c.Send(zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: data, Version: -1})
		} else {
			xid, err = c.Send(zkproto.OpGetData, &zkproto.GetDataRequest{Path: path})
		}
		if err != nil {
			t.Fatalf("send %d of %d before reading: %v", i+1, n, err)
		}
		xids = append(xids, xid)
	}
	for i, xid := range xids {
		h, err := c.Recv(xid, nil)
		if err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("reply %d of %d: %+v %v", i+1, n, h, err)
		}
	}
}
