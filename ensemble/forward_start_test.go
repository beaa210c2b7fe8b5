package ensemble

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// A member that has just restarted is still the leader for its followers, which
// forward writes to it as soon as its peer port accepts, before its Raft runs. Such a
// request waits for Raft (and is then refused: this member does not lead) instead of
// crashing the member on a nil Raft (found by integration/chaos: SIGTERM of the
// leader, restart).
func TestForwardBeforeRaftStarts(t *testing.T) {
	body := make([]byte, entryTimeOffset+8)
	frame := binary.BigEndian.AppendUint32([]byte{peerProtoForward}, uint32(1+8+len(body)))
	frame = append(frame, fwdTxn)
	frame = binary.BigEndian.AppendUint64(frame, 7)
	early := &bufferedConn{in: bytes.NewReader(append(frame, body...)), closed: make(chan struct{})}
	s := startLone(t, func(ln net.Listener) net.Listener { return &firstConnListener{Listener: ln, first: early} })

	deadline := time.Now().Add(10 * time.Second)
	for len(early.written()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reply to a request forwarded before Raft started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f := newForwarder(s)
	ch := make(chan fwdReply, 1)
	client, server := net.Pipe()
	go func() { server.Write(early.written()); server.Close() }()
	f.readReplies(client, map[uint64]*fwdPending{7: {kind: fwdTxn, reply: ch}})
	if rep := <-ch; rep.err == nil {
		t.Fatal("a member that does not lead accepted a forwarded write")
	}
}

// firstConnListener hands out first before the connections of the listener it wraps.
type firstConnListener struct {
	net.Listener
	once  sync.Once
	first net.Conn
}

func (l *firstConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.first })
	if c != nil {
		return c, nil
	}
	return l.Listener.Accept()
}

// bufferedConn reads what it was given, then blocks until closed; it keeps what is
// written to it.
type bufferedConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	once   sync.Once
	closed chan struct{}
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	n, _ := c.in.Read(p)
	c.mu.Unlock()
	if n > 0 {
		return n, nil
	}
	<-c.closed
	return 0, io.EOF
}

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *bufferedConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

func (c *bufferedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// memberAddr is where a bufferedConn comes from: startLone's members' host, which
// the peer port admits.
var memberAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func (c *bufferedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *bufferedConn) RemoteAddr() net.Addr             { return memberAddr }
func (c *bufferedConn) SetDeadline(time.Time) error      { return nil }
func (c *bufferedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bufferedConn) SetWriteDeadline(time.Time) error { return nil }
