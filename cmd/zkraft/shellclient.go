package main

import (
	be "encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// shellClient is the ZooKeeper client behind zkraft shell: one session over one
// connection at a time, every op of the protocol (addWatch, getEphemerals, whoAmI,
// ... that go-zookeeper lacks), pings while idle, and a resume of the session on
// another server when the connection drops. Calls are made one at a time, as a shell
// makes them.
type shellClient struct {
	servers []string
	timeout int32 // requested session timeout, ms
	events  chan zkproto.WatcherEvent

	callMu sync.Mutex // one call at a time

	mu       sync.Mutex // guards the fields below
	nc       net.Conn
	addr     string
	session  zkproto.ConnectResponse
	waitXid  zkproto.Xid
	waitCh   chan reply
	auths    []zkproto.AuthPacket // replayed on a resume
	closed   bool
	expired  bool
	lastZxid atomic.Int64

	done chan struct{}
	wg   sync.WaitGroup
}

type reply struct {
	hdr  zkproto.ReplyHeader
	body []byte
	err  error
}

// errNotConnected is the state of a client whose session ended.
var errNotConnected = errors.New("not connected")

func dialShell(servers []string, timeoutMs int32) (*shellClient, error) {
	c := &shellClient{servers: servers, timeout: timeoutMs, events: make(chan zkproto.WatcherEvent, 256), done: make(chan struct{})}
	if err := c.connect(); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.pinger()
	return c, nil
}

// connect opens (or resumes) the session on one of the servers, in random order.
func (c *shellClient) connect() error {
	order := mrand.Perm(len(c.servers))
	var last error
	for _, i := range order {
		addr := c.servers[i]
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			last = err
			continue
		}
		c.mu.Lock()
		req := zkproto.ConnectRequest{TimeOut: c.timeout, SessionID: c.session.SessionID, Passwd: c.session.Passwd, LastZxidSeen: zkproto.Zxid(c.lastZxid.Load()), HasReadOnly: true}
		c.mu.Unlock()
		if req.Passwd == nil {
			req.Passwd = make([]byte, 16)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := writeFrame(nc, zkproto.Marshal(&req)); err != nil {
			nc.Close()
			last = err
			continue
		}
		fr := zkproto.NewFrameReader(nc, 0)
		b, err := fr.Next()
		if err != nil {
			nc.Close()
			last = err
			continue
		}
		var resp zkproto.ConnectResponse
		if err := zkproto.Unmarshal(b, &resp); err != nil {
			nc.Close()
			last = err
			continue
		}
		if resp.TimeOut <= 0 {
			nc.Close()
			c.mu.Lock()
			c.expired = true
			c.mu.Unlock()
			return errors.New("session expired")
		}
		nc.SetDeadline(time.Time{})
		c.mu.Lock()
		c.nc, c.addr, c.session = nc, addr, resp
		auths := append([]zkproto.AuthPacket(nil), c.auths...)
		c.mu.Unlock()
		c.wg.Add(1)
		go c.reader(nc, fr)
		for _, a := range auths { // the server forgets them with the connection
			c.send(zkproto.XidAuth, zkproto.OpAuth, &a)
		}
		return nil
	}
	return fmt.Errorf("could not connect to %v: %w", c.servers, last)
}

func writeFrame(nc net.Conn, body []byte) error {
	b := be.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	_, err := nc.Write(append(b, body...))
	return err
}

func (c *shellClient) send(xid zkproto.Xid, op zkproto.OpCode, req zkproto.Record) error {
	e := zkproto.Encoder{}
	hdr := zkproto.RequestHeader{Xid: xid, Type: op}
	hdr.Encode(&e)
	if req != nil {
		req.Encode(&e)
	}
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if nc == nil {
		return errNotConnected
	}
	nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return writeFrame(nc, e.Buf)
}

// reader delivers replies to the waiting call and watch events to events; when the
// connection drops it resumes the session elsewhere.
func (c *shellClient) reader(nc net.Conn, fr *zkproto.FrameReader) {
	defer c.wg.Done()
	for {
		b, err := fr.Next()
		if err != nil {
			c.mu.Lock()
			closing := c.closed
			if c.nc == nc {
				c.nc = nil
			}
			ch := c.waitCh
			c.waitCh = nil
			c.mu.Unlock()
			nc.Close()
			if ch != nil {
				ch <- reply{err: zkproto.ErrConnectionLoss}
			}
			if !closing {
				c.event(zkproto.WatcherEvent{Type: zkproto.EventNone, State: zkproto.StateDisconnected})
				if err := c.connect(); err != nil {
					c.event(zkproto.WatcherEvent{Type: zkproto.EventNone, State: zkproto.StateExpired})
				} else {
					c.event(zkproto.WatcherEvent{Type: zkproto.EventNone, State: zkproto.StateSyncConnected})
				}
			}
			return
		}
		d := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			continue
		}
		if h.Zxid > 0 {
			c.lastZxid.Store(int64(h.Zxid))
		}
		switch h.Xid {
		case zkproto.XidWatchEvent:
			var ev zkproto.WatcherEvent
			ev.Decode(d)
			c.event(ev)
			continue
		case zkproto.XidPing:
			continue
		}
		c.mu.Lock()
		ch := c.waitCh
		if ch != nil && h.Xid == c.waitXid {
			c.waitCh = nil
		} else {
			ch = nil
		}
		c.mu.Unlock()
		if ch != nil {
			ch <- reply{hdr: h, body: append([]byte(nil), b[16:]...)}
		}
	}
}

func (c *shellClient) event(ev zkproto.WatcherEvent) {
	select {
	case c.events <- ev:
	default: // nobody prints them fast enough: drop
	}
}

func (c *shellClient) pinger() {
	defer c.wg.Done()
	t := time.NewTicker(time.Duration(max(c.timeout/3, 100)) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.send(zkproto.XidPing, zkproto.OpPing, nil)
		}
	}
}

var xidSeq atomic.Int32

// call sends a request and decodes its reply into resp (nil for none); a server
// error comes back as a zkproto.ErrCode.
func (c *shellClient) call(op zkproto.OpCode, req, resp zkproto.Record) error {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	xid := zkproto.Xid(xidSeq.Add(1))
	if op == zkproto.OpAuth {
		xid = zkproto.XidAuth
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.nc == nil {
		c.mu.Unlock()
		return zkproto.ErrConnectionLoss
	}
	c.waitXid, c.waitCh = xid, ch
	c.mu.Unlock()
	if err := c.send(xid, op, req); err != nil {
		return zkproto.ErrConnectionLoss
	}
	var r reply
	select {
	case r = <-ch:
	case <-time.After(30 * time.Second):
		return zkproto.ErrOperationTimeout
	}
	if r.err != nil {
		return r.err
	}
	if r.hdr.Err != zkproto.ErrOK {
		return r.hdr.Err
	}
	if resp != nil {
		return zkproto.Unmarshal(r.body, resp)
	}
	return nil
}

// callMulti sends a multi; its reply is a multi response even when an op failed.
func (c *shellClient) callMulti(req *zkproto.MultiRequest) (*zkproto.MultiResponse, error) {
	var resp zkproto.MultiResponse
	if err := c.call(zkproto.OpMulti, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func (c *shellClient) addAuth(scheme string, auth []byte) error {
	p := zkproto.AuthPacket{Scheme: scheme, Auth: auth}
	if err := c.call(zkproto.OpAuth, &p, nil); err != nil {
		return err
	}
	c.mu.Lock()
	c.auths = append(c.auths, p)
	c.mu.Unlock()
	return nil
}

func (c *shellClient) state() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return "CLOSED"
	case c.expired:
		return "EXPIRED"
	case c.nc == nil:
		return "CONNECTING"
	}
	return "CONNECTED"
}

func (c *shellClient) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	c.call(zkproto.OpCloseSession, nil, nil)
	c.mu.Lock()
	if c.nc != nil {
		c.nc.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}
