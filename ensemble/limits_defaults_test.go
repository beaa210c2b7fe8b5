package ensemble_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// mntrValue reads one zk_<name> line of addr's mntr.
func mntrValue(t *testing.T, addr, name string) int64 {
	t.Helper()
	return mntrField(t, fourLetter(t, addr, "mntr"), name)
}

func mntrField(t *testing.T, out, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^zk_` + name + `\t(-?\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no zk_%s in mntr:\n%s", name, out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// logCount is a slog handler that counts the records whose message contains a string.
type logCount struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCount) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logCount) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCount) WithGroup(string) slog.Handler      { return l }
func (l *logCount) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

var (
	newSession = zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	openACL    = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
)

// rawSession opens a session on addr (dialSession), closed when the test ends.
func rawSession(t *testing.T, addr string) *rawzk.Conn {
	t.Helper()
	c := dialSession(t, addr)
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer waits (up to 5 s) for the server to close c.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the connection: %v", err)
	}
}

// maxCnxns bounds the client connections in total, whatever their address: the
// connection past it is closed before its handshake, counted in
// zk_connection_rejected and logged once however many follow; the others serve.
func TestMaxCnxnsTotal(t *testing.T) {
	logs := &logCount{}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.MaxCnxns = 2
		c.Logger = slog.New(logs)
	}))
	a := rawSession(t, srv.Addr)
	b := rawSession(t, srv.Addr)
	for range 10 {
		c, err := rawzk.Dial(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Handshake(newSession); err == nil {
			t.Fatal("a connection past maxCnxns got a session")
		}
		c.Close()
	}
	if err := a.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/a", ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
		t.Fatalf("a connection within the limit: %v", err)
	}
	if n := logs.count("maxCnxns"); n != 1 {
		t.Errorf("%d log lines for 10 refusals, want 1", n)
	}
	b.Close() // frees a slot for mntr
	var rejected int64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out, err := rawzk.FourLetter(srv.Addr, "mntr", time.Second); err == nil && strings.Contains(out, "zk_connection_rejected") {
			rejected = mntrField(t, out, "connection_rejected")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot freed for mntr after a connection closed")
		}
	}
	if rejected < 10 {
		t.Errorf("zk_connection_rejected = %d, want at least 10", rejected)
	}
}

// A connection that sends no ConnectRequest, or only part of one, within
// nio.sessionlessCnxnTimeout is closed and counted in
// zk_sessionless_connections_expired; connections that do are not affected.
func TestSessionlessConnectionTimeout(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.SessionlessCnxnTimeout = 300 * time.Millisecond }))
	silent, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	partial, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	partial.Write([]byte{0, 0, 0, 44, 0, 0}) // a length and two bytes of the request
	good := rawSession(t, srv.Addr)
	start := time.Now()
	closedByServer(t, silent)
	closedByServer(t, partial)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("closed after %v, want about 300ms", took)
	}
	// The session outlives the handshake timeout.
	time.Sleep(400 * time.Millisecond)
	if err := good.Call(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/"}, &zkproto.ExistsResponse{}); err != nil {
		t.Fatalf("an established session after the handshake timeout: %v", err)
	}
	if n := mntrValue(t, srv.Addr, "sessionless_connections_expired"); n != 2 {
		t.Errorf("zk_sessionless_connections_expired = %d, want 2", n)
	}
}

// A frame over jute.maxbuffer closes its connection before the body is read, and
// is counted in zk_large_requests_rejected.
func TestFrameTooLargeCounted(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := rawSession(t, srv.Addr)
	c.Raw().Write([]byte{0x00, 0x10, 0x00, 0x00}) // 1 MiB: one past the default
	closedByServer(t, c.Raw())
	if n := mntrValue(t, srv.Addr, "large_requests_rejected"); n != 1 {
		t.Errorf("zk_large_requests_rejected = %d, want 1", n)
	}
}

// zkraft.maxWatchesPerSession: a request that would set one watch more than the
// limit gets QUOTAEXCEEDED and sets none; setting a watch again on a watched path,
// reading without a watch, and other sessions are not affected; a fired watch frees
// its place. Each refusal is counted in zk_watches_refused.
func TestWatchesPerSessionLimit(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.MaxWatchesPerSession = 3 }))
	c := rawSession(t, srv.Addr)
	for i := range 5 {
		if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("/n%d", i), ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(c *rawzk.Conn, path string, watch bool) error {
		return c.Call(zkproto.OpGetData, &zkproto.GetDataRequest{Path: path, Watch: watch}, &zkproto.GetDataResponse{})
	}
	for i := range 3 {
		if err := get(c, fmt.Sprintf("/n%d", i), true); err != nil {
			t.Fatalf("watch %d of 3: %v", i+1, err)
		}
	}
	refused := []struct {
		name string
		call func() error
	}{
		{"getData", func() error { return get(c, "/n3", true) }},
		{"exists", func() error {
			return c.Call(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/none", Watch: true}, &zkproto.ExistsResponse{})
		}},
		{"getChildren", func() error {
			return c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/", Watch: true}, &zkproto.GetChildrenResponse{})
		}},
		{"addWatch", func() error {
			return c.Call(zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: "/n4", Mode: zkproto.AddWatchPersistent}, &zkproto.ErrorResponse{})
		}},
	}
	for _, r := range refused {
		if err := r.call(); !errors.Is(err, zkproto.ErrQuotaExceeded) {
			t.Errorf("%s past the limit: %v, want QUOTAEXCEEDED", r.name, err)
		}
	}
	if err := get(c, "/n0", true); err != nil {
		t.Errorf("a watch again on a watched path: %v", err)
	}
	if err := get(c, "/n3", false); err != nil {
		t.Errorf("a read without a watch: %v", err)
	}
	other := rawSession(t, srv.Addr)
	if err := get(other, "/n3", true); err != nil {
		t.Errorf("another session's watch: %v", err)
	}
	// /n0's watch fires and frees a place.
	if err := other.Call(zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/n0", Data: []byte("x"), Version: -1}, &zkproto.SetDataResponse{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(zkproto.OpSync, &zkproto.SyncRequest{Path: "/"}, &zkproto.SyncResponse{}); err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != 1 || c.Events[0].Path != "/n0" {
		t.Fatalf("events %+v, want /n0's", c.Events)
	}
	if err := get(c, "/n3", true); err != nil {
		t.Errorf("a watch after one fired: %v", err)
	}
	if n := mntrValue(t, srv.Addr, "watches_refused"); n != int64(len(refused)) {
		t.Errorf("zk_watches_refused = %d, want %d", n, len(refused))
	}
}

// One connection that pipelines more requests than maxPendingPerConn holds no more
// than that of globalOutstandingLimit: its reader waits (counted in
// zk_request_throttle_wait_count), another client is served meanwhile, and every
// request completes in order.
func TestOutstandingPerConnection(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawSession(t, srv.Addr)
	b := rawSession(t, srv.Addr)
	const n = 2000
	var buf bytes.Buffer
	xids := make([]zkproto.Xid, n)
	for i := range n { // written at once: the server reads as fast as it may
		xids[i] = a.NextXid()
		e := zkproto.Encoder{Buf: make([]byte, 4, 64)}
		(&zkproto.RequestHeader{Xid: xids[i], Type: zkproto.OpCreate}).Encode(&e)
		(&zkproto.CreateRequest{Path: fmt.Sprintf("/p%04d", i), ACL: openACL}).Encode(&e)
		l := len(e.Buf) - 4
		e.Buf[0], e.Buf[1], e.Buf[2], e.Buf[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		buf.Write(e.Buf)
	}
	go a.Raw().Write(buf.Bytes())
	if err := b.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: "/other", ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
		t.Fatalf("second client while the first pipelines: %v", err)
	}
	for i, xid := range xids {
		var cr zkproto.CreateResponse
		h, err := a.Recv(xid, &cr)
		if err != nil || h.Err != zkproto.ErrOK || cr.Path != fmt.Sprintf("/p%04d", i) {
			t.Fatalf("request %d: %+v %q %v", i, h, cr.Path, err)
		}
	}
	if w := mntrValue(t, srv.Addr, "request_throttle_wait_count"); w == 0 {
		t.Error("zk_request_throttle_wait_count = 0 after 2000 pipelined writes on one connection")
	}
}
