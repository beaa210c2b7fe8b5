package ensemble

import (
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// startLone starts member 1 of a two-member ensemble whose member 2 never comes: it
// never has a leader, and never leads. wrap, if given, wraps its peer listener.
func startLone(t *testing.T, wrap ...func(net.Listener) net.Listener) *Server {
	t.Helper()
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	client, peer, absent := listen(), listen(), listen()
	absent.Close() // member 2's peer port refuses connections
	cfg := NewConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.ClientAddr = client.Addr().String()
	cfg.ClientListener, cfg.PeerListener = client, peer
	for _, w := range wrap {
		cfg.PeerListener = w(cfg.PeerListener)
	}
	cfg.Peers = []Peer{{ID: 1, PeerAddr: peer.Addr().String()}, {ID: 2, PeerAddr: absent.Addr().String()}}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forwardOnce sends one forwarding request to srv over a pipe, as a follower's
// forwarder does, and returns the error the follower makes of the reply.
func forwardOnce(t *testing.T, srv *Server, kind byte, body []byte) error {
	t.Helper()
	follower, leader := net.Pipe()
	served := make(chan struct{})
	go func() { defer close(served); srv.serveForward(leader) }()
	f := newForwarder(srv)
	ch := make(chan fwdReply, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		f.readReplies(follower, map[uint64]*fwdPending{7: {kind: fwdTxn, reply: ch}})
	}()
	defer func() { follower.Close(); <-served; <-read }()

	frame := make([]byte, 4+1+8, 4+1+8+len(body))
	binary.BigEndian.PutUint32(frame, uint32(1+8+len(body)))
	frame[4] = kind
	binary.BigEndian.PutUint64(frame[5:], 7)
	if _, err := follower.Write(append(frame, body...)); err != nil {
		t.Fatal(err)
	}
	select {
	case rep := <-ch:
		return rep.err
	case <-time.After(10 * time.Second):
		t.Fatal("no reply from the leader's side")
		return nil
	}
}

// A follower receives the leader's failures with their kind, so that errors.Is and
// errors.As tell "no leader" (retry at the next one) from a ZooKeeper error code.
func TestForwardedErrorsKeepTheirKind(t *testing.T) {
	lone, leader := startLone(t), startTest(t, nil)
	txn := encodeTxn(origin{}, &datatree.Txn{Kind: datatree.TxnCloseSession, Session: 1})
	stale := zkproto.Marshal(&zkproto.ReconfigRequest{LeavingServers: "2", CurConfigID: 0x7777})

	for _, tc := range []struct {
		name     string
		srv      *Server
		kind     byte
		body     []byte
		noLeader bool
		code     zkproto.ErrCode
	}{
		{"write to a member that does not lead", lone, fwdTxn, txn, true, zkproto.ErrOK},
		{"sync to a member that does not lead", lone, fwdSync, nil, true, zkproto.ErrOK},
		{"reconfig to a member that does not lead", lone, fwdReconfig, stale, true, zkproto.ErrOK},
		{"reconfig from a stale config version", leader, fwdReconfig, stale, false, zkproto.ErrBadVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := forwardOnce(t, tc.srv, tc.kind, tc.body)
			if err == nil {
				t.Fatal("the leader's side answered ok")
			}
			if got := errors.Is(err, errNoLeader); got != tc.noLeader {
				t.Errorf("errors.Is(%q, errNoLeader) = %v, want %v", err, got, tc.noLeader)
			}
			if errors.Is(err, errOutcomeUnknown) {
				t.Errorf("%q says the outcome is unknown; the request was refused before it was proposed", err)
			}
			var code zkproto.ErrCode
			errors.As(err, &code)
			if code != tc.code {
				t.Errorf("code of %q = %v, want %v", err, code, tc.code)
			}
		})
	}
}

// A reply from an older leader (no kind byte) still reads as before: a code when
// it carries one, an error otherwise.
func TestForwardReplyFromOlderLeader(t *testing.T) {
	for _, tc := range []struct {
		code zkproto.ErrCode
		msg  string
		kind leaderErrKind
	}{
		{zkproto.ErrBadArguments, "bad server line", kindCode},
		{zkproto.ErrOK, "node is not the leader", kindOther},
		{zkproto.ErrOK, "", kindUnclassified},
	} {
		follower, leader := net.Pipe()
		ch := make(chan fwdReply, 1)
		read := make(chan struct{})
		go func() {
			defer close(read)
			newForwarder(nil).readReplies(follower, map[uint64]*fwdPending{3: {kind: fwdTxn, reply: ch}})
		}()
		e := zkproto.Encoder{Buf: make([]byte, 4)}
		e.Long(3)
		e.Long(42)
		e.Int(int32(tc.code))
		e.String(tc.msg)
		binary.BigEndian.PutUint32(e.Buf, uint32(len(e.Buf)-4))
		leader.Write(e.Buf)
		rep := <-ch
		leader.Close()
		<-read
		var le *leaderError
		switch {
		case tc.kind == kindUnclassified && rep.err != nil:
			t.Errorf("ok reply read as %v", rep.err)
		case tc.kind != kindUnclassified && (!errors.As(rep.err, &le) || le.kind != tc.kind || le.code != tc.code):
			t.Errorf("reply (%v, %q) read as %#v, want kind %d", tc.code, tc.msg, rep.err, tc.kind)
		case rep.index != 42:
			t.Errorf("index %d, want 42", rep.index)
		}
	}
}

// rideOutLeaderChange retries what failed for want of a leader, and nothing else.
func TestRideOutLeaderChange(t *testing.T) {
	s := startTest(t, nil)
	calls := 0
	err := s.rideOutLeaderChange(t.Context(), func() error {
		if calls++; calls < 3 {
			return &leaderError{kind: kindOutcomeUnknown, msg: "leadership lost"}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("after two leader changes: err %v after %d calls, want success after 3", err, calls)
	}
	calls = 0
	err = s.rideOutLeaderChange(t.Context(), func() error { calls++; return zkproto.ErrBadVersion })
	if !errors.Is(err, zkproto.ErrBadVersion) || calls != 1 {
		t.Fatalf("a ZooKeeper error: err %v after %d calls, want it at once", err, calls)
	}
}

// A session created while the leader changes waits for the next leader instead of
// being refused: a proposal the leader refused (it did not commit) is sent again.
func TestCreateSessionRidesOutLeaderChange(t *testing.T) {
	var refused atomic.Int64
	s := startTest(t, func(c *Config) {
		c.failProposal = func(txn *datatree.Txn) error {
			if txn.Kind == datatree.TxnCreateSession && refused.Add(1) <= 2 {
				return raft.ErrNotLeader
			}
			return nil
		}
	})
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	body := zkproto.Marshal(&zkproto.ConnectRequest{TimeOut: 5000, Passwd: make([]byte, zkproto.PasswordLen)})
	if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)); err != nil {
		t.Fatal(err)
	}
	frame, err := zkproto.NewFrameReader(nc, 1<<20).Next()
	if err != nil {
		t.Fatalf("handshake refused after the leader refused twice: %v", err)
	}
	var resp zkproto.ConnectResponse
	if err := zkproto.Unmarshal(frame, &resp); err != nil || resp.SessionID == 0 {
		t.Fatalf("connect response %+v: %v", resp, err)
	}
	if n := refused.Load(); n != 3 {
		t.Fatalf("%d create-session proposals, want 2 refused and 1 applied", n)
	}
}
