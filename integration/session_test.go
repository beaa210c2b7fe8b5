package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// TestSessionResume: a session resumes on a new connection with its id and password,
// keeps its ephemerals, adopts the timeout negotiated on resume (as ZooKeeper's
// reopenSession does), and the old connection is closed.
func TestSessionResume(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawConnect(t, srv.Addr, 4000)
	if code := rawCreate(t, a, "/eph", []byte("mine"), zkproto.ModeEphemeral); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	var gd zkproto.GetDataResponse
	xid, _ := a.Send(zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/eph"})
	h, err := a.Recv(xid, &gd)
	if err != nil {
		t.Fatal(err)
	}
	sess := a.Session
	b, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{LastZxidSeen: h.Zxid, TimeOut: 30000, SessionID: sess.SessionID, Passwd: sess.Passwd})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if b.Session.SessionID != sess.SessionID || b.Session.TimeOut != 30000 || string(b.Session.Passwd) != string(sess.Passwd) {
		t.Fatalf("resume answered %+v, want session %#x timeout 30000", b.Session, sess.SessionID)
	}
	// The session moved: the old connection is closed.
	expectClosed(t, a)
	var ex zkproto.ExistsResponse
	if code := rawCall(t, b, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/eph"}, &ex); code != zkproto.ErrOK || ex.Stat.EphemeralOwner != int64(sess.SessionID) {
		t.Fatalf("ephemeral after resume: %v %+v", code, ex.Stat)
	}
	// The resumed session keeps working, and its new ephemerals belong to it.
	if code := rawCreate(t, b, "/eph2", nil, zkproto.ModeEphemeral); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	var ge zkproto.GetEphemeralsResponse
	if code := rawCall(t, b, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: "/"}, &ge); code != zkproto.ErrOK || len(ge.Ephemerals) != 2 {
		t.Fatalf("getEphemerals after resume: %v %v", code, ge.Ephemerals)
	}
	// Silent for longer than the timeout, yet resumed in time once more: the
	// resume itself touched the session.
	b.Close()
	time.Sleep(time.Second)
	c, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 30000, SessionID: sess.SessionID, Passwd: sess.Passwd})
	if err != nil || c.Session.SessionID != sess.SessionID {
		t.Fatalf("second resume: %+v %v", c, err)
	}
	c.Close()
}

// TestSessionResumeRefused: a wrong password or an unknown session gets a connect
// response with timeout 0 and session id 0, then the connection closes; go-zookeeper
// reports the session as expired.
func TestSessionResumeRefused(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawConnect(t, srv.Addr, 10000)
	wrong := append([]byte(nil), a.Session.Passwd...)
	wrong[0] ^= 0xff
	for name, req := range map[string]zkproto.ConnectRequest{
		"wrong password":  {TimeOut: 10000, SessionID: a.Session.SessionID, Passwd: wrong},
		"unknown session": {TimeOut: 10000, SessionID: a.Session.SessionID + 12345, Passwd: a.Session.Passwd},
		"short password":  {TimeOut: 10000, SessionID: a.Session.SessionID, Passwd: a.Session.Passwd[:3]},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := rawzk.Connect(srv.Addr, req)
			if err != nil {
				t.Fatalf("expected a connect response with timeout 0, got %v", err)
			}
			defer c.Close()
			if c.Session.TimeOut != 0 || c.Session.SessionID != 0 {
				t.Fatalf("refused resume answered %+v, want timeout 0 and session 0", c.Session)
			}
			expectClosed(t, c)
		})
	}
	// The real owner is not disturbed.
	if code := rawCreate(t, a, "/still-here", nil, 0); code != zkproto.ErrOK {
		t.Fatalf("the session's own connection after refused resumes: %v", code)
	}
}

// TestLastZxidAhead: a client that has seen a newer zxid than the server gets no
// session: the connection is closed without a connect response.
func TestLastZxidAhead(t *testing.T) {
	srv := ensembletest.RunServer(t)
	_, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{LastZxidSeen: 1 << 40, TimeOut: 10000, Passwd: make([]byte, 16)})
	if err == nil {
		t.Fatal("connect with lastZxidSeen ahead of the server got a session")
	}
	// The same for a resume.
	a := rawConnect(t, srv.Addr, 10000)
	_, err = rawzk.Connect(srv.Addr, zkproto.ConnectRequest{LastZxidSeen: 1 << 40, TimeOut: 10000, SessionID: a.Session.SessionID, Passwd: a.Session.Passwd})
	if err == nil {
		t.Fatal("resume with lastZxidSeen ahead of the server succeeded")
	}
	rawPing(t, a)
}

// TestSessionExpiry: a silent session expires after its timeout; its ephemerals are
// deleted (firing NodeDeleted on another client), and it cannot be resumed.
func TestSessionExpiry(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawConnect(t, srv.Addr, 300)
	if a.Session.TimeOut != 300 {
		t.Fatalf("negotiated timeout %d, want 300", a.Session.TimeOut)
	}
	for _, p := range []string{"/exp1", "/exp2"} {
		if code := rawCreate(t, a, p, nil, zkproto.ModeEphemeral); code != zkproto.ErrOK {
			t.Fatal(code)
		}
	}
	w := connect(t, srv.Addr)
	_, _, ch1, err := w.GetW("/exp1")
	if err != nil {
		t.Fatal(err)
	}
	_, _, ch2, err := w.ExistsW("/exp2")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// a goes silent (no pings) but keeps its socket open.
	for _, ch := range []<-chan zk.Event{ch1, ch2} {
		if ev := waitEvent(t, ch); ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v, want NodeDeleted", ev)
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("session expired after %v, before its 300ms timeout", d)
	}
	// The server closes the expired session's connection, and a resume is refused.
	expectClosed(t, a)
	c, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 300, SessionID: a.Session.SessionID, Passwd: a.Session.Passwd})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Session.TimeOut != 0 {
		t.Fatalf("resume of an expired session answered %+v", c.Session)
	}
}

// TestPingsKeepSessionAlive: a session that pings more often than its timeout lives.
func TestPingsKeepSessionAlive(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawConnect(t, srv.Addr, 300)
	if code := rawCreate(t, a, "/alive", nil, zkproto.ModeEphemeral); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		rawPing(t, a)
	}
	var ex zkproto.ExistsResponse
	if code := rawCall(t, a, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/alive"}, &ex); code != zkproto.ErrOK {
		t.Fatalf("ephemeral of a pinging session: %v", code)
	}
}

// TestCloseSession: closeSession deletes the ephemerals before its reply, then the
// server closes the connection.
func TestCloseSession(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawConnect(t, srv.Addr, 10000)
	for i := range 5 {
		if code := rawCreate(t, a, fmt.Sprintf("/e%d", i), nil, zkproto.ModeEphemeral); code != zkproto.ErrOK {
			t.Fatal(code)
		}
	}
	if code := rawCreate(t, a, "/kept", nil, 0); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	if code := rawCall(t, a, zkproto.OpCloseSession, nil, nil); code != zkproto.ErrOK {
		t.Fatalf("closeSession: %v", code)
	}
	expectClosed(t, a)
	b := connect(t, srv.Addr)
	kids, _, err := b.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if k != "zookeeper" && k != "kept" {
			t.Fatalf("after closeSession the root holds %v", kids)
		}
	}
	// The closed session cannot be resumed.
	c, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 10000, SessionID: a.Session.SessionID, Passwd: a.Session.Passwd})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Session.TimeOut != 0 {
		t.Fatalf("resume of a closed session: %+v", c.Session)
	}
}

// TestSessionTimeoutClamp: the requested timeout is clamped to [min, max], by default
// [2, 20] ticks, or as configured.
func TestSessionTimeoutClamp(t *testing.T) {
	cases := []struct {
		name     string
		min, max time.Duration
		tests    [][2]int32 // requested, negotiated
	}{
		{"defaults", 0, 0, [][2]int32{{1, 200}, {0, 200}, {-5, 200}, {200, 200}, {1000, 1000}, {2000, 2000}, {2001, 2000}, {600000, 2000}}},
		{"configured", 500 * time.Millisecond, 800 * time.Millisecond, [][2]int32{{100, 500}, {600, 600}, {5000, 800}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
				c.MinSessionTimeout, c.MaxSessionTimeout = tc.min, tc.max
			}))
			for _, tt := range tc.tests {
				c, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: tt[0], Passwd: make([]byte, 16)})
				if err != nil {
					t.Fatal(err)
				}
				got := c.Session.TimeOut
				rawCall(t, c, zkproto.OpCloseSession, nil, nil)
				c.Close()
				if got != tt[1] {
					t.Errorf("requested %dms, negotiated %dms, want %dms", tt[0], got, tt[1])
				}
			}
		})
	}
}

// TestRawOps covers the ops go-zookeeper does not speak.
func TestRawOps(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := rawConnect(t, srv.Addr, 10000)
	other := rawConnect(t, srv.Addr, 10000)
	for _, p := range []string{"/t", "/t/a", "/t/a/b", "/t/c", "/eph"} {
		if code := rawCreate(t, c, p, []byte(p), 0); code != zkproto.ErrOK {
			t.Fatal(p, code)
		}
	}
	for _, p := range []string{"/eph/x", "/t/a/e1", "/t/c/e2", "/t/e3"} {
		if code := rawCreate(t, c, p, nil, zkproto.ModeEphemeral); code != zkproto.ErrOK {
			t.Fatal(p, code)
		}
	}
	if code := rawCreate(t, other, "/t/others", nil, zkproto.ModeEphemeral); code != zkproto.ErrOK {
		t.Fatal(code)
	}

	t.Run("multiRead", func(t *testing.T) {
		req := &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
			{Header: zkproto.MultiHeader{Type: zkproto.OpGetData}, Request: &zkproto.GetDataRequest{Path: "/t/a"}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpGetData}, Request: &zkproto.GetDataRequest{Path: "/missing"}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpGetChildren}, Request: &zkproto.GetChildrenRequest{Path: "/t/a"}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpGetChildren}, Request: &zkproto.GetChildrenRequest{Path: "/nope"}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpGetData}, Request: &zkproto.GetDataRequest{Path: "/t/c"}},
		}}
		var resp zkproto.MultiResponse
		if code := rawCall(t, c, zkproto.OpMultiRead, req, &resp); code != zkproto.ErrOK {
			t.Fatalf("multiRead: %v", code)
		}
		if len(resp.Results) != 5 {
			t.Fatalf("%d results", len(resp.Results))
		}
		if gd, ok := resp.Results[0].Response.(*zkproto.GetDataResponse); !ok || string(gd.Data) != "/t/a" {
			t.Errorf("result 0: %+v", resp.Results[0])
		}
		if r := resp.Results[1]; r.Header.Type != zkproto.OpError || r.Header.Err != zkproto.ErrNoNode {
			t.Errorf("result 1: %+v, want error NONODE", r.Header)
		}
		if gc, ok := resp.Results[2].Response.(*zkproto.GetChildrenResponse); !ok || len(gc.Children) != 2 {
			t.Errorf("result 2: %+v", resp.Results[2])
		}
		if r := resp.Results[3]; r.Header.Type != zkproto.OpError || r.Header.Err != zkproto.ErrNoNode {
			t.Errorf("result 3: %+v, want error NONODE", r.Header)
		}
		// Not atomic: the read after a failed one still succeeds.
		if gd, ok := resp.Results[4].Response.(*zkproto.GetDataResponse); !ok || string(gd.Data) != "/t/c" {
			t.Errorf("result 4: %+v", resp.Results[4])
		}
	})

	t.Run("getEphemerals", func(t *testing.T) {
		for prefix, want := range map[string]int{"": 4, "/": 4, "/t": 3, "/t/a": 1, "/t/c/": 1, "/eph": 1, "/zzz": 0} {
			var ge zkproto.GetEphemeralsResponse
			if code := rawCall(t, c, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: prefix}, &ge); code != zkproto.ErrOK || len(ge.Ephemerals) != want {
				t.Errorf("getEphemerals(%q): %v %v, want %d paths", prefix, code, ge.Ephemerals, want)
			}
			for _, p := range ge.Ephemerals {
				if p == "/t/others" {
					t.Errorf("getEphemerals(%q) lists another session's node", prefix)
				}
			}
		}
	})

	t.Run("getAllChildrenNumber", func(t *testing.T) {
		for path, want := range map[string]int32{"/t": 7, "/t/a": 2, "/t/a/b": 0} {
			var r zkproto.GetAllChildrenNumberResponse
			if code := rawCall(t, c, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: path}, &r); code != zkproto.ErrOK || r.TotalNumber != want {
				t.Errorf("getAllChildrenNumber(%s): %v %d, want %d", path, code, r.TotalNumber, want)
			}
		}
		var r zkproto.GetAllChildrenNumberResponse
		if code := rawCall(t, c, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: "/nope"}, &r); code != zkproto.ErrNoNode {
			t.Errorf("getAllChildrenNumber of a missing node: %v", code)
		}
	})

	t.Run("whoAmI", func(t *testing.T) {
		var r zkproto.WhoAmIResponse
		if code := rawCall(t, c, zkproto.OpWhoAmI, nil, &r); code != zkproto.ErrOK {
			t.Fatal(code)
		}
		if len(r.ClientInfo) != 1 || r.ClientInfo[0].AuthScheme != "ip" || r.ClientInfo[0].User != "127.0.0.1" {
			t.Fatalf("whoAmI before addauth: %+v", r.ClientInfo)
		}
		if err := c.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte("alice:pw")}); err != nil {
			t.Fatal(err)
		}
		if h, err := c.Recv(zkproto.XidAuth, nil); err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("addauth: %v %v", h.Err, err)
		}
		if code := rawCall(t, c, zkproto.OpWhoAmI, nil, &r); code != zkproto.ErrOK {
			t.Fatal(code)
		}
		found := false
		for _, ci := range r.ClientInfo {
			if ci.AuthScheme == "digest" && (ci.User == "alice" || ci.User == digestID("alice", "pw")) {
				found = true
			}
		}
		if !found || len(r.ClientInfo) != 2 {
			t.Fatalf("whoAmI after addauth digest alice: %+v", r.ClientInfo)
		}
	})

	t.Run("ping", func(t *testing.T) {
		if err := c.SendXid(zkproto.XidPing, zkproto.OpPing, nil); err != nil {
			t.Fatal(err)
		}
		h, err := c.Recv(zkproto.XidPing, nil)
		if err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("ping: %+v %v", h, err)
		}
	})

	t.Run("reconfig", func(t *testing.T) {
		var r zkproto.GetDataResponse
		if code := rawCall(t, c, zkproto.OpReconfig, &zkproto.ReconfigRequest{JoiningServers: "server.2=127.0.0.1:2888:3888;2182", CurConfigID: -1}, &r); code != zkproto.ErrReconfigDisabled {
			t.Fatalf("reconfig: %v, want RECONFIGDISABLED", code)
		}
		rawPing(t, c) // the connection stays
	})

	t.Run("sasl", func(t *testing.T) {
		// No SASL configured: OK with a null token, the connection kept, as
		// ZooKeeper 3.8.0 answers (integration/fuzz repro-new-single-sasl).
		s := rawConnect(t, srv.Addr, 10000)
		r := zkproto.SetSASLResponse{Token: []byte("unset")}
		if code := rawCall(t, s, zkproto.OpSASL, &zkproto.GetSASLRequest{Token: []byte("x")}, &r); code != zkproto.ErrOK || r.Token != nil {
			t.Fatalf("sasl: %v %q", code, r.Token)
		}
		rawPing(t, s)
	})
}

// TestRefusedOps: unknown op codes are answered with UNIMPLEMENTED and the connection
// is closed; deleteContainer (internal) gets BADARGUMENTS and createSession (a valid
// type with a body no client can send) MARSHALLINGERROR, on a connection that stays
// open, as on ZooKeeper 3.8.0 (integration/diff); nothing is changed.
func TestRefusedOps(t *testing.T) {
	srv := ensembletest.RunServer(t)
	healthy := connect(t, srv.Addr)
	if _, err := healthy.CreateContainer("/box", nil, zk.FlagContainer, worldAll); err != nil {
		t.Fatal(err)
	}
	for _, op := range []zkproto.OpCode{zkproto.OpDeleteContainer, 99, 1000, -3, zkproto.OpCreateSession, zkproto.OpNotification} {
		t.Run(op.String(), func(t *testing.T) {
			c := rawConnect(t, srv.Addr, 10000)
			var body zkproto.Record = &zkproto.DeleteRequest{Path: "/box", Version: -1}
			if op == zkproto.OpCreateSession {
				body = &zkproto.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)}
			}
			xid, err := c.Send(op, body)
			if err != nil {
				t.Fatal(err)
			}
			want := zkproto.ErrUnimplemented
			switch op {
			case zkproto.OpDeleteContainer:
				want = zkproto.ErrBadArguments
			case zkproto.OpCreateSession:
				want = zkproto.ErrMarshallingError
			}
			h, err := c.Recv(xid, nil)
			if err != nil || h.Err != want {
				t.Fatalf("op %v: %v %v, want %v", op, h.Err, err, want)
			}
			if want == zkproto.ErrUnimplemented {
				expectClosed(t, c)
			} else {
				rawPing(t, c)
			}
			if ok, _, err := healthy.Exists("/box"); !ok || err != nil {
				t.Fatalf("/box after op %v: %v %v", op, ok, err)
			}
		})
	}
	checkServes(t, healthy, "/after")
}

// TestFailedAuthServesNothingAfter: requests pipelined behind an addauth that fails
// are not served (ZooKeeper answers AUTHFAILED, stops reading and closes the
// connection); before the fix zkraft's reader had already proposed them. Found by the
// differential fuzzer (repro-new-single-authfailed-then-create).
func TestFailedAuthServesNothingAfter(t *testing.T) {
	srv := ensembletest.RunServer(t)
	for round := range 20 {
		c := rawConnect(t, srv.Addr, 10000)
		path := fmt.Sprintf("/after-failed-auth-%d", round)
		if err := c.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "nope", Auth: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL}); err != nil {
			t.Fatal(err)
		}
		h, err := c.Recv(zkproto.XidAuth, nil)
		if err != nil || h.Err != zkproto.ErrAuthFailed {
			t.Fatalf("round %d: addauth answered %+v, %v; want AUTHFAILED", round, h, err)
		}
		expectClosed(t, c)
		check := rawConnect(t, srv.Addr, 10000)
		var resp zkproto.ExistsResponse
		if code := rawCall(t, check, zkproto.OpExists, &zkproto.ExistsRequest{Path: path}, &resp); code != zkproto.ErrNoNode {
			t.Fatalf("round %d: the create pipelined behind the failed addauth ran (exists: %v)", round, code)
		}
	}
}
