// Package recorder is the recording proxy of the client matrix
// (integration/clients/MATRIX.md): a client under test talks to a zkraft server
// through a Proxy, which decodes the op code of each request and the error code of its
// reply and notes, per client and op code, which tests saw which codes.
//
// It is a non-test package so that every package of integration/clients (the clients
// package itself, curator, cclient) records through the same code; each of them used
// to carry its own copy in a _test.go file, which cannot be imported.
package recorder

import (
	"bufio"
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

// LabelPrefix: a sync on /__matrix__/<name> names the test that owns the connection
// (the pytest fixtures of integration/clients/test_kazoo.py send one right after
// connecting). Such syncs are not recorded.
const LabelPrefix = "/__matrix__/"

// Cell holds, per reply error code, the tests that saw one client's op answered with it.
type Cell map[zkproto.ErrCode]map[string]bool

type cellKey struct {
	client string
	op     zkproto.OpCode
}

// Recorder collects what Proxies saw. It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	cells map[cellKey]Cell
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{cells: map[cellKey]Cell{}} }

// Record notes that test saw client's op answered with code.
func (r *Recorder) Record(client, test string, op zkproto.OpCode, code zkproto.ErrCode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := cellKey{client, op}
	c := r.cells[k]
	if c == nil {
		c = Cell{}
		r.cells[k] = c
	}
	if c[code] == nil {
		c[code] = map[string]bool{}
	}
	c[code][test] = true
}

// OK reports whether client's op was answered with OK in some test.
func (r *Recorder) OK(client string, op zkproto.OpCode) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cells[cellKey{client, op}][zkproto.ErrOK]) > 0
}

// Column returns a copy of what was seen of client, by op code.
func (r *Recorder) Column(client string) map[zkproto.OpCode]Cell {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[zkproto.OpCode]Cell{}
	for k, c := range r.cells {
		if k.client != client {
			continue
		}
		cc := Cell{}
		for code, tests := range c {
			cc[code] = map[string]bool{}
			for n := range tests {
				cc[code][n] = true
			}
		}
		out[k.op] = cc
	}
	return out
}

// Summary renders one line per op code seen of client, naming every test, for a test log.
func (r *Recorder) Summary(client string) string {
	col := r.Column(client)
	var ops []int
	for op := range col {
		ops = append(ops, int(op))
	}
	sort.Ints(ops)
	var b strings.Builder
	for _, o := range ops {
		c := col[zkproto.OpCode(o)]
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

func names(m map[string]bool) string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Proxy forwards client connections to a server and records their ops as client's.
type Proxy struct {
	ln     net.Listener
	rec    *Recorder
	client string
	label  string // default test name for connections that do not label themselves
	server string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// StartProxy listens on a free loopback port and forwards to server, recording into
// rec under client's name and, unless a connection labels itself, t's name. It stops
// when the test ends.
func StartProxy(t testing.TB, rec *Recorder, client, server string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, rec: rec, client: client, label: t.Name(), server: server}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) close() {
	p.ln.Close()
	p.DropConns()
	p.wg.Wait()
}

// DropConns closes every connection open through the proxy, as a network failure
// would; clients reconnect through it.
func (p *Proxy) DropConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *Proxy) accept() {
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
		st := &connState{p: p, label: p.label, pending: map[zkproto.Xid][]pendingOp{}}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); st.clientToServer(c, s) }()
		go func() { defer p.wg.Done(); st.serverToClient(s, c) }()
	}
}

type pendingOp struct {
	op    zkproto.OpCode
	subs  []zkproto.OpCode // ops inside a multi
	label bool             // a labelling sync: not recorded
}

type connState struct {
	p       *Proxy
	mu      sync.Mutex
	label   string
	pending map[zkproto.Xid][]pendingOp
	fourLW  bool
}

func readFrame(r io.Reader) (raw []byte, body []byte, err error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > 64<<20 {
		return l[:], nil, fmt.Errorf("frame of %d bytes", n)
	}
	raw = make([]byte, 4+n)
	copy(raw, l[:])
	if _, err := io.ReadFull(r, raw[4:]); err != nil {
		return nil, nil, err
	}
	return raw, raw[4:], nil
}

func (st *connState) clientToServer(c, s net.Conn) {
	defer s.Close()
	var first [4]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return
	}
	if _, ok := zkproto.FourLetterWord(first); ok {
		st.mu.Lock()
		st.fourLW = true
		st.mu.Unlock()
		s.Write(first[:])
		io.Copy(s, c)
		return
	}
	// The ConnectRequest: no header, nothing to record.
	n := binary.BigEndian.Uint32(first[:])
	if n > 64<<20 {
		return
	}
	cr := make([]byte, n)
	if _, err := io.ReadFull(c, cr); err != nil {
		return
	}
	if _, err := s.Write(append(first[:], cr...)); err != nil {
		return
	}
	for {
		raw, body, err := readFrame(c)
		if err != nil {
			return
		}
		st.noteRequest(body)
		if _, err := s.Write(raw); err != nil {
			return
		}
	}
}

func (st *connState) noteRequest(body []byte) {
	if len(body) < 8 {
		return
	}
	xid := zkproto.Xid(int32(binary.BigEndian.Uint32(body)))
	op := zkproto.OpCode(int32(binary.BigEndian.Uint32(body[4:])))
	po := pendingOp{op: op}
	switch op {
	case zkproto.OpSync:
		var q zkproto.SyncRequest
		if zkproto.Unmarshal(body[8:], &q) == nil && strings.HasPrefix(q.Path, LabelPrefix) {
			po.label = true
			st.mu.Lock()
			st.label = strings.TrimPrefix(q.Path, LabelPrefix)
			st.mu.Unlock()
		}
	case zkproto.OpMulti, zkproto.OpMultiRead:
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

func (st *connState) serverToClient(s, c net.Conn) {
	defer c.Close()
	// The first frame is the ConnectResponse, or the raw text answering a four-letter
	// word: copy that through in as few writes as it arrived (kazoo reads it with a
	// single recv).
	r := bufio.NewReaderSize(s, 64<<10)
	if _, err := r.Peek(1); err != nil {
		return
	}
	st.mu.Lock()
	raw4 := st.fourLW
	st.mu.Unlock()
	if raw4 {
		r.WriteTo(c)
		return
	}
	raw, _, err := readFrame(r)
	if err != nil {
		return
	}
	if _, err := c.Write(raw); err != nil {
		return
	}
	for {
		raw, body, err := readFrame(r)
		if err != nil {
			return
		}
		st.noteReply(body)
		if _, err := c.Write(raw); err != nil {
			return
		}
	}
}

func (st *connState) noteReply(body []byte) {
	if len(body) < 16 {
		return
	}
	xid := zkproto.Xid(int32(binary.BigEndian.Uint32(body)))
	code := zkproto.ErrCode(int32(binary.BigEndian.Uint32(body[12:])))
	if xid == zkproto.XidWatchEvent {
		return
	}
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
	label := st.label
	st.mu.Unlock()
	if po.label {
		return
	}
	st.p.rec.Record(st.p.client, label, po.op, code)
	// An op inside a multi counts as working when the multi succeeded (every op OK);
	// in a failed multi it is recorded with the multi's code.
	for _, sub := range po.subs {
		st.p.rec.Record(st.p.client, label, sub, code)
	}
}
