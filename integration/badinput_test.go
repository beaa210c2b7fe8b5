package integration

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// TestBadInput: bad bytes close the offending connection (or get ZooKeeper's error),
// and a well-behaved client on the same server keeps being served after each.
func TestBadInput(t *testing.T) {
	srv := ensembletest.RunServer(t)
	healthy := connect(t, srv.Addr)
	n := 0
	afterEach := func(t *testing.T) {
		t.Helper()
		n++
		name := fmt.Sprintf("/healthy-%d", n)
		checkServes(t, healthy, name)
	}
	frame := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	// Garbage before any handshake: the server must close the connection.
	handshakeGarbage := map[string][]byte{
		"http request":        []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"tiny frame":          frame([]byte("hello")),
		"empty frame":         frame(nil),
		"negative length":     {0xff, 0xff, 0xff, 0xfe, 1, 2, 3},
		"oversized length":    binary.BigEndian.AppendUint32(nil, zkproto.DefaultMaxBuffer+1),
		"connect, bad passwd": frame(append(make([]byte, 4+8+4+8), 0x7f, 0xff, 0xff, 0xff)),
	}
	for name, b := range handshakeGarbage {
		t.Run("handshake/"+name, func(t *testing.T) {
			c, err := rawzk.Dial(srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Raw().Write(b); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c)
			afterEach(t)
		})
	}

	t.Run("oversized frame after handshake", func(t *testing.T) {
		c := rawConnect(t, srv.Addr, 10000)
		if _, err := c.Raw().Write(binary.BigEndian.AppendUint32(nil, zkproto.DefaultMaxBuffer+1)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
		afterEach(t)
	})

	t.Run("oversized setData", func(t *testing.T) {
		c := rawConnect(t, srv.Addr, 10000)
		if code := rawCreate(t, c, "/big", nil, 0); code != zkproto.ErrOK {
			t.Fatal(code)
		}
		// Just under the limit passes...
		ok := make([]byte, zkproto.DefaultMaxBuffer-1024)
		var sd zkproto.SetDataResponse
		if code := rawCall(t, c, zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/big", Data: ok, Version: -1}, &sd); code != zkproto.ErrOK || sd.Stat.DataLength != int32(len(ok)) {
			t.Fatalf("setData of %d bytes: %v %+v", len(ok), code, sd.Stat)
		}
		// ...a frame over jute.maxbuffer closes the connection and changes nothing.
		big := make([]byte, zkproto.DefaultMaxBuffer+1)
		if _, err := c.Send(zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/big", Data: big, Version: -1}); err != nil {
			t.Logf("write of the oversized frame: %v", err)
		}
		expectClosed(t, c)
		_, st, err := healthy.Get("/big")
		if err != nil || st.Version != 1 {
			t.Fatalf("/big after the oversized setData: %+v %v", st, err)
		}
		afterEach(t)
	})

	t.Run("malformed request bodies", func(t *testing.T) {
		c := rawConnect(t, srv.Addr, 10000)
		bodies := []struct {
			op   zkproto.OpCode
			body []byte
		}{
			{zkproto.OpGetData, []byte{0, 0}},                               // truncated string length
			{zkproto.OpGetData, []byte{0, 0, 0, 9, '/', 'a'}},               // string longer than the frame
			{zkproto.OpCreate, []byte{0, 0, 0, 2, '/', 'a', 0xff, 0xff, 0}}, // truncated data
			{zkproto.OpSetData, nil},                                        // no body at all
			{zkproto.OpMulti, []byte{0, 0, 0, 77, 0, 0xff, 0xff, 0xff, 0xff}},
			{zkproto.OpGetChildren2, []byte{0x80, 0, 0, 0}}, // negative string length
			{zkproto.OpSetACL, []byte{0, 0, 0, 2, '/', 'a', 0x7f, 0xff, 0xff, 0xff}},
		}
		for i, b := range bodies {
			e := zkproto.Encoder{}
			hdr := zkproto.RequestHeader{Xid: zkproto.Xid(1000 + i), Type: b.op}
			hdr.Encode(&e)
			if err := c.WriteFrame(append(e.Buf, b.body...)); err != nil {
				t.Fatal(err)
			}
			h, err := c.Recv(zkproto.Xid(1000+i), nil)
			if err != nil {
				t.Fatalf("malformed %v body %d: %v", b.op, i, err)
			}
			if h.Err != zkproto.ErrMarshallingError {
				t.Fatalf("malformed %v body %d: %v, want MARSHALLINGERROR", b.op, i, h.Err)
			}
		}
		afterEach(t)
	})

	t.Run("truncated request header", func(t *testing.T) {
		c := rawConnect(t, srv.Addr, 10000)
		if err := c.WriteFrame([]byte{0, 0, 0, 1, 0}); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
		afterEach(t)
	})

	t.Run("invalid paths", func(t *testing.T) {
		c := rawConnect(t, srv.Addr, 10000)
		if code := rawCreate(t, c, "/a", nil, 0); code != zkproto.ErrOK {
			t.Fatal(code)
		}
		// ZooKeeper's PrepRequestProcessor: no '/' or a NUL → BADARGUMENTS; then the
		// parent (everything before the last '/') must exist → NONODE; then the whole
		// path is validated → BADARGUMENTS.
		bad, noNode := zkproto.ErrBadArguments, zkproto.ErrNoNode
		paths := []struct {
			path string
			want zkproto.ErrCode
		}{
			{"", bad}, {"a", bad}, {"noslash/x", noNode}, {"/a/", bad}, {"//", bad}, {"//a", bad},
			{"/a//b", noNode}, {"/.", bad}, {"/..", bad}, {"/a/.", bad}, {"/a/..", bad}, {"/a/../b", noNode},
			{"/./a", noNode}, {"/a\x00b", bad}, {"/nope/x\x00", bad}, {"/nope/x\x01", noNode},
			{"/a\x01", bad}, {"/a\x1f", bad}, {"/a\u007f", bad}, {"/a\u0085", bad}, {"/a\u009f", bad},
			{"/a\ue000", bad}, {"/a\uf8ff", bad}, {"/a\ufff0", bad}, {"/a\uffff", bad}, {"/a/b\u0001c", bad},
		}
		for _, tc := range paths {
			for _, mode := range []zkproto.CreateMode{zkproto.ModePersistent, zkproto.ModeEphemeral} {
				if code := rawCreate(t, c, tc.path, nil, mode); code != tc.want {
					t.Errorf("create(%q, mode %d): %v, want %v", tc.path, mode, code, tc.want)
				}
			}
			var cr zkproto.Create2Response
			if code := rawCall(t, c, zkproto.OpCreate2, &zkproto.CreateRequest{Path: tc.path, ACL: openACL}, &cr); code != tc.want {
				t.Errorf("create2(%q): %v, want %v", tc.path, code, tc.want)
			}
		}
		// Sequential creates validate path+"1": a trailing slash is legal there.
		var cr zkproto.CreateResponse
		if code := rawCall(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: "/", ACL: openACL, Flags: zkproto.ModePersistentSequential}, &cr); code != zkproto.ErrOK || !seqSuffix.MatchString(cr.Path[min(1, len(cr.Path)):]) {
			t.Errorf("sequential create of \"/\": %v %q", code, cr.Path)
		}
		// Names that look odd but are valid.
		for _, p := range []string{"/a.b", "/...", "/.a", "/a b", "/ü", "/a\u00a0"} {
			if code := rawCreate(t, c, p, nil, 0); code != zkproto.ErrOK {
				t.Errorf("create(%q): %v, want OK", p, code)
			}
		}
		// Invalid create modes.
		if code := rawCreate(t, c, "/mode", nil, 42); code == zkproto.ErrOK {
			t.Errorf("create with mode 42 succeeded")
		}
		// Nothing invalid was created.
		var gc zkproto.GetChildrenResponse
		rawCall(t, c, zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/"}, &gc)
		for _, k := range gc.Children {
			for _, r := range k {
				if r < 0x20 || r >= 0x7f && r <= 0x9f || r >= 0xe000 && r <= 0xf8ff || r >= 0xfff0 {
					t.Errorf("invalid name %q was created", k)
				}
			}
		}
		rawPing(t, c)
		afterEach(t)
	})
}

// TestMaxClientCnxns: with maxClientCnxns 3 the fourth connection from 127.0.0.1 is
// closed; the three others keep working, and a slot frees when one closes.
func TestMaxClientCnxns(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.MaxClientCnxns = 3 }))
	var conns []*rawzk.Conn
	for range 3 {
		conns = append(conns, rawConnect(t, srv.Addr, 10000))
	}
	fourth, err := rawzk.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	if err := fourth.Handshake(zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}); err == nil {
		t.Fatalf("fourth connection got a session: %+v", fourth.Session)
	}
	for i, c := range conns {
		if code := rawCreate(t, c, fmt.Sprintf("/c%d", i), nil, 0); code != zkproto.ErrOK {
			t.Fatalf("connection %d after the refusal: %v", i, code)
		}
	}
	conns[0].Close()
	eventually(t, 5*time.Second, func() error {
		c, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
		if err != nil {
			return err
		}
		c.Close()
		return nil
	})
}
