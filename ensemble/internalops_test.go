package ensemble_test

import (
	"errors"
	"testing"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// multiOf encodes a multi of a delete of /victim, then one op of type op.
type multiOf struct {
	op   zkproto.OpCode
	body zkproto.Record
}

func (m *multiOf) Encode(e *zkproto.Encoder) {
	(&zkproto.MultiHeader{Type: zkproto.OpDelete, Err: -1}).Encode(e)
	(&zkproto.DeleteRequest{Path: "/victim", Version: -1}).Encode(e)
	(&zkproto.MultiHeader{Type: m.op, Err: -1}).Encode(e)
	if m.body != nil {
		m.body.Encode(e)
	}
	(&zkproto.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(e)
}
func (m *multiOf) Decode(*zkproto.Decoder) {}

// Op codes that are ZooKeeper's own (ZooDefs.OpCode createSession, error,
// notification, deleteContainer), alone or inside a multi, get ZooKeeper 3.8's answer
// (integration/diff compares them with the reference: op/unknown-op/*) and change
// nothing: the last zxid stays, /victim stays.
func TestInternalOpCodesNeverReachTheLog(t *testing.T) {
	srv := ensembletest.RunServer(t)
	watcher := rawSession(t, srv.Addr)
	if err := watcher.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/victim", ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
		t.Fatal(err)
	}
	lastZxid := func() zkproto.Zxid {
		t.Helper()
		xid, err := watcher.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/victim"})
		if err != nil {
			t.Fatal(err)
		}
		h, err := watcher.Recv(xid, &zkproto.ExistsResponse{})
		if err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("exists /victim: %+v %v", h, err)
		}
		return h.Zxid
	}
	for _, tc := range []struct {
		name   string
		op     zkproto.OpCode
		body   zkproto.Record
		want   zkproto.ErrCode
		closes bool
	}{
		{"createSession", zkproto.OpCreateSession, nil, zkproto.ErrMarshallingError, false},
		{"deleteContainer", zkproto.OpDeleteContainer, &zkproto.DeleteRequest{Path: "/victim", Version: -1}, zkproto.ErrBadArguments, false},
		{"error", zkproto.OpError, nil, zkproto.ErrUnimplemented, true},
		{"notification", zkproto.OpNotification, nil, zkproto.ErrUnimplemented, true},
		{"multi with createSession", zkproto.OpMulti, &multiOf{op: zkproto.OpCreateSession}, zkproto.ErrMarshallingError, false},
		{"multi with deleteContainer", zkproto.OpMulti, &multiOf{op: zkproto.OpDeleteContainer, body: &zkproto.DeleteRequest{Path: "/victim", Version: -1}}, zkproto.ErrMarshallingError, false},
		{"multi with error", zkproto.OpMulti, &multiOf{op: zkproto.OpError, body: &zkproto.ErrorResponse{}}, zkproto.ErrMarshallingError, false},
		{"multi with closeSession", zkproto.OpMulti, &multiOf{op: zkproto.OpCloseSession}, zkproto.ErrMarshallingError, false},
	} {
		c, err := rawzk.Connect(srv.Addr, newSession)
		if err != nil {
			t.Fatal(err)
		}
		before := lastZxid()
		xid, err := c.Send(tc.op, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Recv(xid, nil)
		if err != nil || h.Err != tc.want {
			t.Errorf("%s: reply %+v %v, want %v", tc.name, h, err, tc.want)
		}
		xid, _ = c.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/victim"})
		_, err = c.Recv(xid, &zkproto.ExistsResponse{})
		if closed := errors.Is(err, rawzk.ErrClosed); closed != tc.closes {
			t.Errorf("%s: connection closed %v, want %v (%v)", tc.name, closed, tc.closes, err)
		}
		if after := lastZxid(); after != before {
			t.Errorf("%s: last zxid moved from %#x to %#x", tc.name, before, after)
		}
		c.Close()
	}
}
