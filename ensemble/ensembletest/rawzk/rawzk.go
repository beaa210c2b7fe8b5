// Package rawzk is a minimal, synchronous ZooKeeper wire client for tests: it sends
// any request record, including the ones go-zookeeper/zk does not speak (addWatch,
// multiRead, getEphemerals, whoAmI, setWatches2), and malformed bytes on purpose.
package rawzk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// Conn is one raw connection. It is not safe for concurrent use.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	xid     zkproto.Xid
	Session zkproto.ConnectResponse
	// Events holds watch events received while waiting for replies, in arrival order.
	Events []zkproto.WatcherEvent
	// Log records every frame received: a watch event as "event", a reply as "reply:<xid>",
	// so tests can check the order in which they arrived.
	Log []string
}

// Dial opens a TCP connection without a handshake.
func Dial(addr string) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &Conn{nc: nc, r: bufio.NewReader(nc)}, nil
}

// New wraps an open connection (a TLS one, say) without a handshake.
func New(nc net.Conn) *Conn {
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &Conn{nc: nc, r: bufio.NewReader(nc)}
}

// Connect dials and opens (or, with a session id, resumes) a session.
func Connect(addr string, req zkproto.ConnectRequest) (*Conn, error) {
	c, err := Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Handshake(req); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Handshake sends a ConnectRequest and reads the ConnectResponse.
func (c *Conn) Handshake(req zkproto.ConnectRequest) error {
	if err := c.WriteFrame(zkproto.Marshal(&req)); err != nil {
		return err
	}
	b, err := c.ReadFrame()
	if err != nil {
		return err
	}
	return zkproto.Unmarshal(b, &c.Session)
}

func (c *Conn) Close() error { return c.nc.Close() }

// Raw gives the underlying connection, to write garbage.
func (c *Conn) Raw() net.Conn { return c.nc }

// WriteFrame writes a length-prefixed frame.
func (c *Conn) WriteFrame(body []byte) error {
	buf := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	_, err := c.nc.Write(append(buf, body...))
	return err
}

// ReadFrame reads one frame.
func (c *Conn) ReadFrame() ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(c.r, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("reply frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return b, err
}

// NextXid takes the next xid, for a request written later (as pipelined ones are).
func (c *Conn) NextXid() zkproto.Xid {
	c.xid++
	return c.xid
}

// Send writes a request with the next xid and returns that xid.
func (c *Conn) Send(op zkproto.OpCode, req zkproto.Record) (zkproto.Xid, error) {
	c.xid++
	return c.xid, c.SendXid(c.xid, op, req)
}

// SendXid writes a request with the given xid.
func (c *Conn) SendXid(xid zkproto.Xid, op zkproto.OpCode, req zkproto.Record) error {
	e := zkproto.Encoder{}
	hdr := zkproto.RequestHeader{Xid: xid, Type: op}
	hdr.Encode(&e)
	if req != nil {
		req.Encode(&e)
	}
	return c.WriteFrame(e.Buf)
}

// ErrClosed means the server closed the connection.
var ErrClosed = errors.New("rawzk: connection closed by server")

// Recv reads frames until the reply with xid arrives, collecting watch events.
func (c *Conn) Recv(xid zkproto.Xid, resp zkproto.Record) (zkproto.ReplyHeader, error) {
	for {
		b, err := c.ReadFrame()
		if err != nil {
			// A server that closes a connection with requests still unread in its
			// socket buffer resets it instead: closed either way.
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
				return zkproto.ReplyHeader{}, ErrClosed
			}
			return zkproto.ReplyHeader{}, err
		}
		d := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			return h, d.Err()
		}
		if h.Xid == zkproto.XidWatchEvent {
			var ev zkproto.WatcherEvent
			ev.Decode(d)
			c.Events = append(c.Events, ev)
			c.Log = append(c.Log, "event")
			continue
		}
		c.Log = append(c.Log, fmt.Sprintf("reply:%d", h.Xid))
		if h.Xid != xid {
			return h, fmt.Errorf("reply xid %d, want %d (replies out of order)", h.Xid, xid)
		}
		if resp != nil && h.Err == zkproto.ErrOK || isMulti(resp) {
			resp.Decode(d)
			if d.Err() != nil {
				return h, fmt.Errorf("decode %T: %w", resp, d.Err())
			}
		}
		return h, nil
	}
}

func isMulti(r zkproto.Record) bool {
	_, ok := r.(*zkproto.MultiResponse)
	return ok
}

// Call sends a request and waits for its reply; a non-OK code is returned as the error.
func (c *Conn) Call(op zkproto.OpCode, req, resp zkproto.Record) error {
	xid, err := c.Send(op, req)
	if err != nil {
		return err
	}
	h, err := c.Recv(xid, resp)
	if err != nil {
		return err
	}
	if h.Err != zkproto.ErrOK {
		return h.Err
	}
	return nil
}

// FourLetter sends a four-letter word (srvr, ruok, ...) to addr and returns the answer,
// read until the server closes; timeout bounds the dial and the whole exchange.
func FourLetter(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(c)
	return b.String(), err
}
