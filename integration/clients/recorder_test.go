//go:build clients

package clients

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// The client matrix is measured, not claimed: every client in this package talks to
// zkraft through a recording proxy that decodes each request's op code and the error
// code of its reply. TestMain writes what was seen to MATRIX.md when
// ZKRAFT_WRITE_MATRIX=1.

// labelPrefix: a sync on /__matrix__/<name> names the test that owns the connection
// (the pytest fixtures send one right after connecting). Such syncs are not recorded.
const labelPrefix = "/__matrix__/"

type cellKey struct {
	client string
	op     zkproto.OpCode
}

// cell holds, per reply error code, the tests that saw that op answered with it.
type cell map[zkproto.ErrCode]map[string]bool

var seen = struct {
	sync.Mutex
	cells map[cellKey]cell
}{cells: map[cellKey]cell{}}

func record(client, test string, op zkproto.OpCode, code zkproto.ErrCode) {
	seen.Lock()
	defer seen.Unlock()
	k := cellKey{client, op}
	c := seen.cells[k]
	if c == nil {
		c = cell{}
		seen.cells[k] = c
	}
	if c[code] == nil {
		c[code] = map[string]bool{}
	}
	c[code][test] = true
}

// seenOK reports whether client's op was answered with OK in some test.
func seenOK(client string, op zkproto.OpCode) bool {
	seen.Lock()
	defer seen.Unlock()
	return len(seen.cells[cellKey{client, op}][zkproto.ErrOK]) > 0
}

// proxy forwards client connections to the server and records their ops.
type proxy struct {
	ln     net.Listener
	client string
	label  string // default test name for connections that do not label themselves
	server string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// startProxy listens on a free loopback port; it stops when the test ends.
func startProxy(t *testing.T, client, server string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, client: client, label: t.Name(), server: server}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// dropConns closes every connection open through the proxy, as a network failure
// would; clients reconnect through it.
func (p *proxy) dropConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
	return true
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
		p.track(c)
		p.track(s)
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
	p       *proxy
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
		if zkproto.Unmarshal(body[8:], &q) == nil && strings.HasPrefix(q.Path, labelPrefix) {
			po.label = true
			st.mu.Lock()
			st.label = strings.TrimPrefix(q.Path, labelPrefix)
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
	record(st.p.client, label, po.op, code)
	// An op inside a multi counts as working when the multi succeeded (every op OK);
	// in a failed multi it is recorded with the multi's code.
	for _, sub := range po.subs {
		record(st.p.client, label, sub, code)
	}
}

// The rows of the matrix: every op code a client may send.
var matrixOps = []zkproto.OpCode{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22,
	100, 101, 102, 103, 104, 105, 106, 107, -11}

var matrixClients = []string{"go-zookeeper", "kazoo", "zkCli.sh"}

// cannotSend explains, per client, the ops its API has no way to send.
var cannotSend = map[cellKey]string{}

func init() {
	for _, op := range []zkproto.OpCode{15, 17, 18, 22, 102, 103, 104, 105, 106, 107} {
		cannotSend[cellKey{"go-zookeeper", op}] = "not in go-zookeeper v1.0.4's API"
	}
	cannotSend[cellKey{"go-zookeeper", 8}] = "Children/ChildrenW send getChildren2 (12)"
	cannotSend[cellKey{"kazoo", 101}] = "kazoo 2.8 forgets its watchers on connection loss (fires NONE), never re-arms them"
	for _, op := range []zkproto.OpCode{17, 18, 19, 21, 22, 103, 104, 105, 106, 107} {
		cannotSend[cellKey{"kazoo", op}] = "not in kazoo 2.8.0's API"
	}
	cannotSend[cellKey{"kazoo", 102}] = "sent only with sasl_options (SASL is not offered by zkraft)"
	cannotSend[cellKey{"zkCli.sh", 13}] = "no check command (its only multi is deleteall's batch of deletes)"
	cannotSend[cellKey{"zkCli.sh", 15}] = "zkCli.sh's create never asks for a Stat, so never sends create2"
	cannotSend[cellKey{"zkCli.sh", 22}] = "no multiRead command in zkCli.sh"
	cannotSend[cellKey{"zkCli.sh", 17}] = "removewatches sends 18; checkWatches is API-only"
	cannotSend[cellKey{"zkCli.sh", 102}] = "sent only with a JAAS login configured"
	cannotSend[cellKey{"zkCli.sh", 101}] = "Java 3.8 re-arms watches with setWatches2 (105)"
}

func opName(op zkproto.OpCode) string { return op.String() }

func shortTests(m map[string]bool) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 2 {
		return strings.Join(names[:2], ", ") + fmt.Sprintf(" (+%d)", len(names)-2)
	}
	return strings.Join(names, ", ")
}

func renderMatrix() string {
	seen.Lock()
	defer seen.Unlock()
	var b strings.Builder
	b.WriteString("# Client × op code matrix\n\n")
	b.WriteString("Generated by `ZKRAFT_WRITE_MATRIX=1 go test -race -count=1 -tags clients ./integration/clients/`\n")
	b.WriteString("(integration/clients/recorder_test.go). Every client talks to an in-process zkraft through a\n")
	b.WriteString("recording proxy that decodes the op code of each request and the error code of its reply;\n")
	b.WriteString("a cell names the tests (Go test, or pytest test in test_kazoo.py) in which that client's op\n")
	b.WriteString("was answered. Ops inside a multi (1, 2, 5, 13, 15, 19, 21 in a transaction) are counted with\n")
	b.WriteString("the multi's result. Pings (11) carry xid -2, auth (100) -4, setWatches (101/105) -8.\n\n")
	b.WriteString("Legend: **ok** = answered with OK (0); **err** = only answered with error codes (listed, all\n")
	b.WriteString("the expected ones for the test); **—** = the client cannot send it (reason given); **not seen** =\n")
	b.WriteString("the client can send it but no test made it do so.\n\n")
	b.WriteString("| op | name |")
	for _, c := range matrixClients {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|---|")
	for range matrixClients {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, op := range matrixOps {
		fmt.Fprintf(&b, "| %d | %s |", op, opName(op))
		for _, cl := range matrixClients {
			k := cellKey{cl, op}
			c := seen.cells[k]
			switch {
			case len(c[zkproto.ErrOK]) > 0:
				extra := ""
				var errs []string
				for code, tests := range c {
					if code != zkproto.ErrOK {
						errs = append(errs, fmt.Sprintf("%d in %s", code, shortTests(tests)))
					}
				}
				sort.Strings(errs)
				if len(errs) > 0 {
					extra = "; also err " + strings.Join(errs, "; ")
				}
				fmt.Fprintf(&b, " ok: %s%s |", shortTests(c[zkproto.ErrOK]), extra)
			case len(c) > 0:
				var errs []string
				for code, tests := range c {
					errs = append(errs, fmt.Sprintf("%d (%s) in %s", code, code, shortTests(tests)))
				}
				sort.Strings(errs)
				fmt.Fprintf(&b, " err: %s |", strings.Join(errs, "; "))
			case cannotSend[k] != "":
				fmt.Fprintf(&b, " — %s |", cannotSend[k])
			default:
				b.WriteString(" not seen |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv("ZKRAFT_WRITE_MATRIX") != "" {
		if code != 0 {
			fmt.Fprintln(os.Stderr, "tests failed: MATRIX.md not written")
		} else if err := os.WriteFile("MATRIX.md", []byte(renderMatrix()+matrixNotes), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write MATRIX.md:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func opCode(i int32) zkproto.OpCode { return zkproto.OpCode(i) }
