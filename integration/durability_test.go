package integration

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// TestRestartDurability: after a clean restart every acknowledged write is there,
// sequence counters and cversions continue, and a session (with its ephemerals)
// survives when its client reconnects within its timeout.
func TestRestartDurability(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(t.TempDir()))
	c := rawConnect(t, srv.Addr, 20000)
	const n = 200
	for i := range n {
		if code := rawCreate(t, c, fmt.Sprintf("/n%03d", i), []byte(fmt.Sprint(i)), 0); code != zkproto.ErrOK {
			t.Fatal(code)
		}
	}
	var sd zkproto.SetDataResponse
	for range 3 {
		rawCall(t, c, zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/n000", Data: []byte("v"), Version: -1}, &sd)
	}
	rawCreate(t, c, "/q", nil, 0)
	for range 3 {
		rawCreate(t, c, "/q/s-", nil, zkproto.ModePersistentSequential)
	}
	rawCall(t, c, zkproto.OpDelete, &zkproto.DeleteRequest{Path: "/q/s-0000000002", Version: -1}, nil)
	rawCreate(t, c, "/eph", []byte("e"), zkproto.ModeEphemeral)
	var before zkproto.ExistsResponse
	xid, _ := c.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/q"})
	h, err := c.Recv(xid, &before)
	if err != nil {
		t.Fatal(err)
	}
	lastZxid := h.Zxid
	sess := c.Session
	c.Close()

	srv = srv.Restart()

	// The session resumes (its lastZxidSeen is not ahead of the restarted server).
	r, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{LastZxidSeen: lastZxid, TimeOut: 20000, SessionID: sess.SessionID, Passwd: sess.Passwd})
	if err != nil {
		t.Fatalf("resume after restart: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	if r.Session.SessionID != sess.SessionID || r.Session.TimeOut == 0 {
		t.Fatalf("resume after restart answered %+v", r.Session)
	}
	var ex zkproto.ExistsResponse
	if code := rawCall(t, r, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/eph"}, &ex); code != zkproto.ErrOK || ex.Stat.EphemeralOwner != int64(sess.SessionID) {
		t.Fatalf("ephemeral after restart: %v %+v", code, ex.Stat)
	}
	for i := range n {
		var gd zkproto.GetDataResponse
		p := fmt.Sprintf("/n%03d", i)
		want := fmt.Sprint(i)
		if i == 0 {
			want = "v"
		}
		if code := rawCall(t, r, zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}, &gd); code != zkproto.ErrOK || string(gd.Data) != want {
			t.Fatalf("%s after restart: %v %q", p, code, gd.Data)
		}
		if i == 0 && gd.Stat.Version != 3 {
			t.Fatalf("/n000 version %d after restart, want 3", gd.Stat.Version)
		}
	}
	if code := rawCall(t, r, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/q"}, &ex); code != zkproto.ErrOK || ex.Stat != before.Stat {
		t.Fatalf("/q stat after restart %+v, before %+v", ex.Stat, before.Stat)
	}
	var cr zkproto.CreateResponse
	if code := rawCall(t, r, zkproto.OpCreate, &zkproto.CreateRequest{Path: "/q/s-", ACL: openACL, Flags: zkproto.ModePersistentSequential}, &cr); code != zkproto.ErrOK || cr.Path != "/q/s-0000000003" {
		t.Fatalf("sequential create after restart: %v %q, want /q/s-0000000003", code, cr.Path)
	}
	// New writes get zxids above the old ones.
	if code := rawCall(t, r, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/q/s-0000000003"}, &ex); code != zkproto.ErrOK || ex.Stat.Czxid <= lastZxid {
		t.Fatalf("zxid after restart %#x, not above %#x", ex.Stat.Czxid, lastZxid)
	}
}

// TestRestartExpiresAbandonedSession: a session whose client does not come back after
// a restart expires (a restart gives it a fresh timeout, not eternal life).
func TestRestartExpiresAbandonedSession(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(t.TempDir()))
	c := rawConnect(t, srv.Addr, 400)
	rawCreate(t, c, "/gone", nil, zkproto.ModeEphemeral)
	c.Close()
	srv = srv.Restart()
	w := connect(t, srv.Addr)
	eventually(t, 10*time.Second, func() error {
		ok, _, err := w.Exists("/gone")
		if err != nil {
			return err
		}
		if ok {
			return errors.New("the abandoned session's ephemeral still exists")
		}
		return nil
	})
}

// startZkraft runs the zkraft binary bin with args; the test's cleanup kills and
// reaps it.
func startZkraft(t *testing.T, bin string, args ...string) *testkit.Process {
	t.Helper()
	return testkit.Start(t, exec.Command(bin, args...))
}

// waitServing waits until the binary answers a session handshake.
func waitServing(t *testing.T, p *testkit.Process, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
		if err == nil && c.Session.TimeOut > 0 {
			rawCall(t, c, zkproto.OpCloseSession, nil, nil)
			c.Close()
			return
		}
		if c != nil {
			c.Close()
		}
		select {
		case <-p.Done():
			t.Fatalf("zkraft exited before serving:\n%s", p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zkraft not serving on %s within 30s: %v\n%s", addr, err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKill9 builds the real binary, acknowledges N writes, SIGKILLs the process and
// checks after a restart that every acknowledged write survived.
func TestKill9(t *testing.T) {
	bin := testkit.BuildZkraft(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := testkit.FreeAddr(t)
	args := []string{"serve", "--data-dir", data, "--client-addr", addr, "--log-level", "warn"}

	p := startZkraft(t, bin, args...)
	waitServing(t, p, addr)
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Pipeline the writes, as a busy client does, and count the acknowledged ones.
	const n = 500
	xids := make([]zkproto.Xid, n)
	for i := range n {
		xids[i], err = c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/k%04d", i), Data: []byte(fmt.Sprint(i)), ACL: openACL})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		var cr zkproto.CreateResponse
		if h, err := c.Recv(xids[i], &cr); err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("create %d: %v %v", i, h.Err, err)
		}
	}
	// And a few more in flight at the moment of the kill: they may or may not survive.
	for i := n; i < n+50; i++ {
		c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/k%04d", i), ACL: openACL})
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("zkraft survived SIGKILL")
	}
	c.Close()

	p2 := startZkraft(t, bin, args...)
	waitServing(t, p2, addr)
	r, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range n {
		var gd zkproto.GetDataResponse
		p := fmt.Sprintf("/k%04d", i)
		if code := rawCall(t, r, zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}, &gd); code != zkproto.ErrOK || string(gd.Data) != fmt.Sprint(i) {
			t.Fatalf("acknowledged %s lost after kill -9: %v %q\n%s", p, code, gd.Data, p2.Output())
		}
	}
	// The server is writable after recovery.
	if code := rawCreate(t, r, "/after-kill", nil, 0); code != zkproto.ErrOK {
		t.Fatalf("write after recovery: %v", code)
	}
	rawCall(t, r, zkproto.OpCloseSession, nil, nil)
}
