package integration

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// FIFO client order: a session's requests execute in the order sent, even when the
// client pipelines them (kazoo's async API, Curator, ClickHouse). A read sees every
// earlier write of its session and none of the later ones; closeSession runs after
// everything sent before it. Found by kazoo: set(v1), get, set(v2) sent back to back
// had the get return v2 in 1,362 of 2,000 rounds.

// fifoRounds is how many pipelined rounds each check sends; the reordering showed up
// in most rounds before the fix, so a few dozen rounds find it every time.
const fifoRounds = 60

func TestFIFOPipelinedReadBetweenWrites(t *testing.T) {
	forEachTopology(t, func(t *testing.T, addr string) {
		c := rawConnect(t, addr, 10000)
		path := fmt.Sprintf("/fifo-rw-%d", time.Now().UnixNano())
		if code := rawCall(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL}, &zkproto.CreateResponse{}); code != zkproto.ErrOK {
			t.Fatalf("create: %v", code)
		}
		for i := range fifoRounds {
			v1, v2 := fmt.Appendf(nil, "v1-%d", i), fmt.Appendf(nil, "v2-%d", i)
			x1 := send(t, c, zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: v1, Version: -1})
			xg := send(t, c, zkproto.OpGetData, &zkproto.GetDataRequest{Path: path})
			xm := send(t, c, zkproto.OpMultiRead, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
				{Header: zkproto.MultiHeader{Type: zkproto.OpGetData}, Request: &zkproto.GetDataRequest{Path: path}}}})
			x2 := send(t, c, zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: v2, Version: -1})
			expectOK(t, c, x1, &zkproto.SetDataResponse{})
			var get zkproto.GetDataResponse
			expectOK(t, c, xg, &get)
			var multi zkproto.MultiResponse
			expectOK(t, c, xm, &multi)
			expectOK(t, c, x2, &zkproto.SetDataResponse{})
			if !bytes.Equal(get.Data, v1) {
				t.Fatalf("round %d: pipelined getData between set(%s) and set(%s) returned %q", i, v1, v2, get.Data)
			}
			if len(multi.Results) != 1 {
				t.Fatalf("round %d: multiRead returned %d results", i, len(multi.Results))
			}
			if got := multi.Results[0].Response.(*zkproto.GetDataResponse).Data; !bytes.Equal(got, v1) {
				t.Fatalf("round %d: pipelined multiRead between set(%s) and set(%s) returned %q", i, v1, v2, got)
			}
		}
	})
}

func TestFIFOPipelinedCreateExistsDelete(t *testing.T) {
	forEachTopology(t, func(t *testing.T, addr string) {
		c := rawConnect(t, addr, 10000)
		for i := range fifoRounds {
			path := fmt.Sprintf("/fifo-ced-%d-%d", time.Now().UnixNano(), i)
			xc := send(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL})
			xe := send(t, c, zkproto.OpExists, &zkproto.ExistsRequest{Path: path})
			xd := send(t, c, zkproto.OpDelete, &zkproto.DeleteRequest{Path: path, Version: -1})
			xa := send(t, c, zkproto.OpExists, &zkproto.ExistsRequest{Path: path})
			expectOK(t, c, xc, &zkproto.CreateResponse{})
			if h, err := c.Recv(xe, &zkproto.ExistsResponse{}); err != nil || h.Err != zkproto.ErrOK {
				t.Fatalf("round %d: exists between create and delete: %v %v (want the node)", i, h.Err, err)
			}
			expectOK(t, c, xd, nil)
			if h, err := c.Recv(xa, &zkproto.ExistsResponse{}); err != nil || h.Err != zkproto.ErrNoNode {
				t.Fatalf("round %d: exists after delete: %v %v (want NONODE)", i, h.Err, err)
			}
		}
	})
}

// A sync in the pipeline orders like a write: the read after it sees the write
// before it, and not the one after.
func TestFIFOPipelinedSync(t *testing.T) {
	forEachTopology(t, func(t *testing.T, addr string) {
		c := rawConnect(t, addr, 10000)
		path := fmt.Sprintf("/fifo-sync-%d", time.Now().UnixNano())
		if code := rawCall(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL}, &zkproto.CreateResponse{}); code != zkproto.ErrOK {
			t.Fatalf("create: %v", code)
		}
		for i := range fifoRounds / 2 {
			v1, v2 := fmt.Appendf(nil, "s1-%d", i), fmt.Appendf(nil, "s2-%d", i)
			x1 := send(t, c, zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: v1, Version: -1})
			xs := send(t, c, zkproto.OpSync, &zkproto.SyncRequest{Path: path})
			xg := send(t, c, zkproto.OpGetData, &zkproto.GetDataRequest{Path: path})
			x2 := send(t, c, zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: v2, Version: -1})
			expectOK(t, c, x1, &zkproto.SetDataResponse{})
			var sr zkproto.SyncResponse
			expectOK(t, c, xs, &sr)
			if sr.Path != path {
				t.Fatalf("sync answered path %q, want %q", sr.Path, path)
			}
			var get zkproto.GetDataResponse
			expectOK(t, c, xg, &get)
			expectOK(t, c, x2, &zkproto.SetDataResponse{})
			if !bytes.Equal(get.Data, v1) {
				t.Fatalf("round %d: getData after sync between set(%s) and set(%s) returned %q", i, v1, v2, get.Data)
			}
		}
	})
}

// closeSession runs after every earlier request: a read sent before it still sees the
// session's ephemeral node.
func TestFIFOReadBeforeCloseSessionSeesEphemerals(t *testing.T) {
	forEachTopology(t, func(t *testing.T, addr string) {
		for i := range fifoRounds / 3 {
			c := rawConnect(t, addr, 10000)
			path := fmt.Sprintf("/fifo-close-%d-%d", time.Now().UnixNano(), i)
			xc := send(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL, Flags: zkproto.ModeEphemeral})
			xe := send(t, c, zkproto.OpExists, &zkproto.ExistsRequest{Path: path})
			xg := send(t, c, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: path})
			xx := send(t, c, zkproto.OpCloseSession, nil)
			expectOK(t, c, xc, &zkproto.CreateResponse{})
			if h, err := c.Recv(xe, &zkproto.ExistsResponse{}); err != nil || h.Err != zkproto.ErrOK {
				t.Fatalf("round %d: exists before closeSession: %v %v (want the ephemeral)", i, h.Err, err)
			}
			var eph zkproto.GetEphemeralsResponse
			expectOK(t, c, xg, &eph)
			if len(eph.Ephemerals) != 1 || eph.Ephemerals[0] != path {
				t.Fatalf("round %d: getEphemerals before closeSession = %q, want [%s]", i, eph.Ephemerals, path)
			}
			expectOK(t, c, xx, nil)
			c.Close()
		}
	})
}

// forEachTopology runs check against a single node, and against the leader and a
// follower of a 3-member ensemble (a follower forwards writes and reads locally).
func forEachTopology(t *testing.T, check func(t *testing.T, addr string)) {
	t.Run("single", func(t *testing.T) { check(t, ensembletest.RunServer(t).Addr) })
	t.Run("ensemble", func(t *testing.T) {
		cl := ensembletest.RunCluster(t, 3)
		leader := cl.Leader()
		t.Run("leader", func(t *testing.T) { check(t, cl.Addrs()[leader]) })
		t.Run("follower", func(t *testing.T) { check(t, cl.Addrs()[(leader+1)%3]) })
	})
}

func send(t *testing.T, c *rawzk.Conn, op zkproto.OpCode, req zkproto.Record) zkproto.Xid {
	t.Helper()
	xid, err := c.Send(op, req)
	if err != nil {
		t.Fatalf("send %v: %v", op, err)
	}
	return xid
}

func expectOK(t *testing.T, c *rawzk.Conn, xid zkproto.Xid, resp zkproto.Record) {
	t.Helper()
	h, err := c.Recv(xid, resp)
	if err != nil {
		t.Fatalf("reply %d: %v", xid, err)
	}
	if h.Err != zkproto.ErrOK {
		t.Fatalf("reply %d: %v", xid, h.Err)
	}
}

// A watch event goes out after the reply of the read that set the watch, even when
// that reply waits behind earlier requests of its session: a client registers the
// watch when the reply arrives, so an event that overtakes it is lost, and a lock
// waiting for its predecessor's deletion waits forever. Another session changes the
// node right after the pipelined read; the read's reply is held behind the write and
// the reads before it while the change applies.
func TestFIFOWatchEventAfterTheReadThatSetIt(t *testing.T) {
	forEachTopology(t, func(t *testing.T, addr string) {
		a, b := rawConnect(t, addr, 10000), rawConnect(t, addr, 10000)
		watched := fmt.Sprintf("/fifo-watch-%d", time.Now().UnixNano())
		other := watched + "-other"
		for _, p := range []string{watched, other} {
			if code := rawCall(t, a, zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL}, &zkproto.CreateResponse{}); code != zkproto.ErrOK {
				t.Fatalf("create %s: %v", p, code)
			}
		}
		for i := range fifoRounds / 2 {
			changed := fmt.Appendf(nil, "changed-%d", i)
			a.Log, a.Events = nil, nil
			xw := send(t, a, zkproto.OpSetData, &zkproto.SetDataRequest{Path: other, Version: -1})
			var before []zkproto.Xid
			for range 20 {
				before = append(before, send(t, a, zkproto.OpGetData, &zkproto.GetDataRequest{Path: other}))
			}
			xg := send(t, a, zkproto.OpGetData, &zkproto.GetDataRequest{Path: watched, Watch: true})
			expectOK(t, b, send(t, b, zkproto.OpSetData, &zkproto.SetDataRequest{Path: watched, Data: changed, Version: -1}), &zkproto.SetDataResponse{})

			expectOK(t, a, xw, &zkproto.SetDataResponse{})
			for _, x := range before {
				expectOK(t, a, x, &zkproto.GetDataResponse{})
			}
			var get zkproto.GetDataResponse
			expectOK(t, a, xg, &get)
			early := len(a.Events)
			// b's change is applied here: an event for it is queued before this reply.
			if h, err := a.Recv(send(t, a, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/"}), &zkproto.ExistsResponse{}); err != nil || h.Err != zkproto.ErrOK {
				t.Fatalf("round %d: exists /: %v %v", i, h.Err, err)
			}
			if early > 0 {
				t.Fatalf("round %d: the watch event %+v arrived before the reply of the getData that set the watch (order %q); a client would drop it", i, a.Events[0], a.Log)
			}
			want := 1 // the read saw the old data, so the change fires its watch
			if bytes.Equal(get.Data, changed) {
				want = 0 // the read saw the change: the watch is for the next one
			}
			if len(a.Events) != want {
				t.Fatalf("round %d: getData returned %q and %d events followed (%+v), want %d", i, get.Data, len(a.Events), a.Events, want)
			}
			if want == 0 {
				// Use the watch up so that the next round starts without one.
				expectOK(t, b, send(t, b, zkproto.OpSetData, &zkproto.SetDataRequest{Path: watched, Version: -1}), &zkproto.SetDataResponse{})
				if h, err := a.Recv(send(t, a, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/"}), &zkproto.ExistsResponse{}); err != nil || h.Err != zkproto.ErrOK || len(a.Events) != 1 {
					t.Fatalf("round %d: using the watch up: %v %v, events %+v", i, h.Err, err, a.Events)
				}
			}
		}
	})
}
