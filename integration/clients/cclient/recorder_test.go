//go:build clients

package cclient

// A recording proxy, as integration/clients/recorder_test.go has (that one lives in a
// _test.go file of another package, so it cannot be imported): it forwards client
// connections to a server and records, per op code, the error codes of the replies,
// for the C client column of integration/clients/MATRIX.md.

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

type recorder struct {
	mu    sync.Mutex
	cells map[zkproto.OpCode]map[zkproto.ErrCode]map[string]bool
}

func newRecorder() *recorder {
	return &recorder{cells: map[zkproto.OpCode]map[zkproto.ErrCode]map[string]bool{}}
}

func (r *recorder) record(test string, op zkproto.OpCode, code zkproto.ErrCode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cells[op]
	if c == nil {
		c = map[zkproto.ErrCode]map[string]bool{}
		r.cells[op] = c
	}
	if c[code] == nil {
		c[code] = map[string]bool{}
	}
	c[code][test] = true
}

func (r *recorder) ok(op zkproto.OpCode) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cells[op][zkproto.ErrOK]) > 0
}

func names(m map[string]bool) string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// cells renders one matrix cell per op seen, in MATRIX.md's format.
func (r *recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ops []int
	for op := range r.cells {
		ops = append(ops, int(op))
	}
	sort.Ints(ops)
	var b strings.Builder
	for _, o := range ops {
		c := r.cells[zkproto.OpCode(o)]
		var errs []string
		for code, tests := range c {
			if code != zkproto.ErrOK {
				errs = append(errs, fmt.Sprintf("%d in %s", code, names(tests)))
			}
		}
		sort.Strings(errs)
		if len(c[zkproto.ErrOK]) > 0 {
			fmt.Fprintf(&b, "%d %s: ok: %s", o, zkproto.OpCode(o), names(c[zkproto.ErrOK]))
			if len(errs) > 0 {
				b.WriteString("; also err " + strings.Join(errs, "; "))
			}
		} else {
			fmt.Fprintf(&b, "%d %s: err: %s", o, zkproto.OpCode(o), strings.Join(errs, "; "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// proxy forwards loopback connections to server, recording ops under test's name.
type proxy struct {
	ln     net.Listener
	rec    *recorder
	test   string
	server string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t *testing.T, rec *recorder, server string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, rec: rec, test: t.Name(), server: server}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) close() {
	p.ln.Close()
	p.dropConns()
	p.wg.Wait()
}

// dropConns closes every proxied connection, as a network failure would.
func (p *proxy) dropConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.server)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		st := &connState{p: p, pending: map[zkproto.Xid][]pendingOp{}}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); defer s.Close(); st.pipe(c, s, st.noteRequest) }()
		go func() { defer p.wg.Done(); defer c.Close(); st.pipe(s, c, st.noteReply) }()
	}
}

type pendingOp struct {
	op   zkproto.OpCode
	subs []zkproto.OpCode
}

type connState struct {
	p       *proxy
	mu      sync.Mutex
	pending map[zkproto.Xid][]pendingOp
}

// pipe copies length-prefixed frames from r to w; the first frame (connect request or
// response) is not noted. Four-letter words are not used by the clients tested here.
func (st *connState) pipe(r, w net.Conn, note func([]byte)) {
	for first := true; ; first = false {
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(l[:])
		if n > 64<<20 {
			return
		}
		frame := make([]byte, 4+n)
		copy(frame, l[:])
		if _, err := io.ReadFull(r, frame[4:]); err != nil {
			return
		}
		if !first {
			note(frame[4:])
		}
		if _, err := w.Write(frame); err != nil {
			return
		}
	}
}

func (st *connState) noteRequest(body []byte) {
	if len(body) < 8 {
		return
	}
	xid := zkproto.Xid(int32(binary.BigEndian.Uint32(body)))
	po := pendingOp{op: zkproto.OpCode(int32(binary.BigEndian.Uint32(body[4:])))}
	if po.op == zkproto.OpMulti || po.op == zkproto.OpMultiRead {
		var q zkproto.MultiRequest
		if zkproto.Unmarshal(body[8:], &q) == nil {
			for _, o := range q.Ops {
				po.subs = append(po.subs, o.Header.Type)
			}
		}
	}
	st.mu.Lock()
	st.pending[xid] = append(st.pending[xid], po)
	st.mu.Unlock()
}

func (st *connState) noteReply(body []byte) {
	if len(body) < 16 {
		return
	}
	xid := zkproto.Xid(int32(binary.BigEndian.Uint32(body)))
	if xid == zkproto.XidWatchEvent {
		return
	}
	code := zkproto.ErrCode(int32(binary.BigEndian.Uint32(body[12:])))
	st.mu.Lock()
	q := st.pending[xid]
	if len(q) == 0 {
		st.mu.Unlock()
		return
	}
	po := q[0]
	if len(q) == 1 {
		delete(st.pending, xid)
	} else {
		st.pending[xid] = q[1:]
	}
	st.mu.Unlock()
	st.p.rec.record(st.p.test, po.op, code)
	for _, sub := range po.subs {
		st.p.rec.record(st.p.test, sub, code)
	}
}
