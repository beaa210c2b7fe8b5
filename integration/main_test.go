package integration

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// TestMain fails the package when a test leaves goroutines behind: servers, clients and
// child processes must all be stopped by the tests that start them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eventually polls fn every 10ms until it returns nil or timeout passes, then fails
// with fn's last error.
func eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawConnect opens a new raw session (timeout in ms) and closes the socket at test end.
func rawConnect(t testing.TB, addr string, timeoutMs int32) *rawzk.Conn {
	t.Helper()
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatalf("raw connect: %v", err)
	}
	if c.Session.SessionID == 0 || c.Session.TimeOut == 0 {
		c.Close()
		t.Fatalf("raw connect: no session: %+v", c.Session)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawCall runs one request on c and returns the server's code (ErrOK on success); a
// transport failure fails the test.
func rawCall(t testing.TB, c *rawzk.Conn, op zkproto.OpCode, req, resp zkproto.Record) zkproto.ErrCode {
	t.Helper()
	err := c.Call(op, req, resp)
	var code zkproto.ErrCode
	if err == nil {
		return zkproto.ErrOK
	}
	if errors.As(err, &code) {
		return code
	}
	t.Fatalf("%v: %v", op, err)
	return 0
}

// openACL is world:anyone with every permission.
var openACL = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}

// rawCreate creates path with the raw client and returns the server's code.
func rawCreate(t testing.TB, c *rawzk.Conn, path string, data []byte, mode zkproto.CreateMode) zkproto.ErrCode {
	t.Helper()
	var resp zkproto.CreateResponse
	return rawCall(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: path, Data: data, ACL: openACL, Flags: mode}, &resp)
}

// expectClosed reads from c until the server closes the connection (ignoring any
// frames it still sends) and fails if that does not happen within 5s.
func expectClosed(t testing.TB, c *rawzk.Conn) {
	t.Helper()
	c.Raw().SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for i := 0; i < 10000; i++ {
		if _, err := c.Raw().Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after 5s")
			}
			return
		}
	}
	t.Fatalf("server kept sending without closing")
}

// checkServes proves a well-behaved go-zookeeper client still gets writes and reads
// through: a create, a set and a get of a fresh node.
func checkServes(t testing.TB, c *zk.Conn, path string) {
	t.Helper()
	if _, err := c.Create(path, []byte("a"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("healthy client create %s: %v", path, err)
	}
	if _, err := c.Set(path, []byte("b"), 0); err != nil {
		t.Fatalf("healthy client set %s: %v", path, err)
	}
	if d, _, err := c.Get(path); err != nil || string(d) != "b" {
		t.Fatalf("healthy client get %s: %q %v", path, d, err)
	}
}

// waitEvent receives one event from ch or fails after 5s.
func waitEvent(t testing.TB, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no watch event within 5s")
	}
	return zk.Event{}
}

// noEvent fails if ch delivers within d.
func noEvent(t testing.TB, ch <-chan zk.Event, d time.Duration) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(d):
	}
}

// rawPing round-trips a ping on c: every event queued on the connection before the
// ping's reply has then been read into c.Events.
func rawPing(t testing.TB, c *rawzk.Conn) {
	t.Helper()
	if err := c.SendXid(zkproto.XidPing, zkproto.OpPing, nil); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if _, err := c.Recv(zkproto.XidPing, nil); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// eventKey is a compact, comparable form of a watch event.
type eventKey struct {
	Type zkproto.EventType
	Path string
}

func rawEventKeys(c *rawzk.Conn) []eventKey {
	out := make([]eventKey, 0, len(c.Events))
	for _, ev := range c.Events {
		out = append(out, eventKey{ev.Type, ev.Path})
	}
	return out
}
