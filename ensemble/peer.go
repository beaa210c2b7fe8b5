package ensemble

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The peer port carries two protocols, told apart by the first byte a dialer sends:
// Raft's own RPCs and zkraft's forwarding of client writes to the leader. One port
// keeps zoo.cfg's server.N lines meaning what they say; the election port is unused.
const (
	peerProtoRaft    byte = 'R'
	peerProtoForward byte = 'F'
	peerProtoProbe   byte = 'P' // answered with one byte: 1 if this member has Raft state
)

// peerMux accepts on the peer port and routes each connection by its first byte.
type peerMux struct {
	ln      net.Listener
	raft    *raftStream
	forward func(net.Conn) // serves one forwarding connection until it closes
	probe   func() bool    // whether this member has Raft state
	wg      *sync.WaitGroup
	done    <-chan struct{}
}

func listenPeers(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on peer address %s: %w", addr, err)
	}
	return ln, nil
}

func (m *peerMux) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil {
				c.Close()
				return
			}
			c.SetReadDeadline(time.Time{})
			switch b[0] {
			case peerProtoRaft:
				select {
				case m.raft.accept <- c:
				case <-m.done:
					c.Close()
				}
			case peerProtoForward:
				m.forward(c)
			case peerProtoProbe:
				b[0] = 0
				if m.probe() {
					b[0] = 1
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write(b[:])
				c.Close()
			default:
				c.Close()
			}
		}()
	}
}

// raftStream is the raft.StreamLayer over the shared peer port. It owns the inbound
// connections it hands to Raft and closes them on Close: Raft's transport leaves
// them to the remote end, which would keep their goroutines alive after shutdown.
type raftStream struct {
	addr   net.Addr
	accept chan net.Conn
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	inbound map[net.Conn]struct{}
}

var _ raft.StreamLayer = (*raftStream)(nil)

func (s *raftStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.accept:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inbound == nil {
			s.inbound = map[net.Conn]struct{}{}
		}
		select {
		case <-s.done:
			c.Close()
			return nil, net.ErrClosed
		default:
		}
		s.inbound[c] = struct{}{}
		return &trackedConn{Conn: c, s: s}, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *raftStream) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		for c := range s.inbound {
			c.Close()
		}
		s.mu.Unlock()
	})
	return nil
}

type trackedConn struct {
	net.Conn
	s *raftStream
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.inbound, c.Conn)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

func (s *raftStream) Addr() net.Addr { return s.addr }

func (s *raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialPeer(string(address), peerProtoRaft, timeout)
}

func dialPeer(addr string, proto byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{proto}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// hasRaftState answers a peer's probe: whether this member bootstrapped or had state
// when it started. (A member that joined since answers no until it restarts; the
// others answer for it.)
func (s *Server) hasRaftState() bool {
	return s.hadState.Load()
}

// ensembleExists asks the other members whether any of them already holds Raft
// state, i.e. whether the ensemble was formed before this member's first start.
func (s *Server) ensembleExists() bool {
	for _, p := range s.cfg.Peers {
		if p.ID == s.cfg.ServerID {
			continue
		}
		c, err := dialPeer(p.PeerAddr, peerProtoProbe, 500*time.Millisecond)
		if err != nil {
			continue
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		var b [1]byte
		_, err = c.Read(b[:])
		c.Close()
		if err == nil && b[0] == 1 {
			return true
		}
	}
	return false
}
