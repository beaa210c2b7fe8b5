package ensemble

import (
	"context"
	"encoding/binary"
	"io"

	"errors"
	"fmt"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
	"log/slog"
	"net"
	"sync"
	"syscall"
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
	peerProtoMembers byte = 'M' // answered with the members' peer addresses (peergate.go)
)

// peerMux accepts on the peer port and routes each connection by its first byte.
type peerMux struct {
	ln      net.Listener
	raft    *raftStream
	forward func(net.Conn) // serves one forwarding connection until it closes
	// probe answers a starting member: whether this member has Raft state, and the
	// address the Raft configuration records for the asker's id.
	probe func(id int64) (hasState bool, recorded string)
	wg    *sync.WaitGroup
	done  <-chan struct{}
	// fail stops the member when the peer port stops accepting for good.
	fail  func(error)
	quiet *quietLog
	log   *slog.Logger
	// tls, when set, is the peer port's TLS (sslQuorum / portUnification).
	tls *peerTLS
	ctx context.Context // the server's; ends handshakes at shutdown
	// gate admits only members (peergate.go); nil when zkraft.peerAddressCheck=false.
	gate *peerGate
	// memberAddrs are the members' peer addresses this member knows, for 'M'.
	memberAddrs func() []string
}

// peerAddr is a member's address as the server lines name it.
type peerAddr string

func (a peerAddr) Network() string { return "tcp" }
func (a peerAddr) String() string  { return string(a) }

func listenPeers(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on peer address %s: %w", addr, err)
	}
	return ln, nil
}

func (m *peerMux) serve() {
	err := serveAccept(m.ln, m.done, m.quiet, m.log, "peer port", m.route)
	if err != nil {
		m.fail(fmt.Errorf("the peer port %s stopped accepting connections: %w; start the member again", m.ln.Addr(), err))
	}
}

// route serves one peer connection by its first byte.
func (m *peerMux) route(c net.Conn) {
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
		if b[0] == tlsRecordHandshake {
			if m.tls == nil {
				c.Close() // a TLS member, and this one has no sslQuorum material
				return
			}
			tc, err := m.tls.server(m.ctx, c, b[0])
			if err != nil {
				m.tls.refused(c, err)
				c.Close()
				return
			}
			c = tc
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, b[:]); err != nil {
				c.Close()
				return
			}
			c.SetReadDeadline(time.Time{})
		} else if m.tls != nil && !m.tls.acceptPlain {
			m.tls.refused(c, errors.New("plaintext connection, and sslQuorum=true without portUnification takes TLS only"))
			c.Close()
			return
		}
		// Checked before anything but the protocol byte is read from a non-member.
		if b[0] != peerProtoProbe && m.gate != nil && !m.gate.admit(m.ctx, c, b[0]) {
			c.Close()
			return
		}
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
			m.answerProbe(c)
			c.Close()
		case peerProtoMembers:
			answerMembers(c, m.memberAddrs())
			c.Close()
		default:
			c.Close()
		}
	}()
}

// raftStream is the raft.StreamLayer over the shared peer port. It owns the inbound
// connections it hands to Raft and closes them on Close: Raft's transport leaves
// them to the remote end, which would keep their goroutines alive after shutdown.
type raftStream struct {
	addr   net.Addr
	accept chan net.Conn
	done   chan struct{}
	quit   <-chan struct{} // the server is shutting down: stop redialling
	tls    *peerTLS        // dial over TLS when set and sslQuorum
	src    *peerSource     // the address to dial from
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

// peerRedial is how often Dial retries a member that refuses connections.
const peerRedial = 50 * time.Millisecond

// Dial connects to a member's Raft stream. A refused connection (the member is down)
// is retried until timeout instead of failing at once: hashicorp/raft backs off a
// follower's replication exponentially per failed RPC (to ~10s), so failing fast
// would leave a member that was down for a while waiting up to ~10s for its first
// entries after a restart. Blocking here keeps the failure count, and so the
// backoff, low, and replication resumes within peerRedial of the member's return.
func (s *raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := dialPeer(s.tls, s.src, string(address), peerProtoRaft, time.Until(deadline))
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Until(deadline) < peerRedial {
			return c, err
		}
		select {
		case <-s.done:
			return nil, err
		case <-s.quit:
			return nil, err
		case <-time.After(peerRedial):
		}
	}
}

// dialPeer connects to a member's peer port for proto, from src, over TLS when pt
// says so.
func dialPeer(pt *peerTLS, src *peerSource, addr string, proto byte, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	c, err := src.dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	if pt.dialTLS() {
		tc, err := pt.client(c, addr, deadline)
		if err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	if _, err := c.Write([]byte{proto}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// answerProbe reads the asker's id and answers with one state byte and the
// incarnation the ensemble records for that id ("" when none).
func (m *peerMux) answerProbe(c net.Conn) {
	c.SetDeadline(time.Now().Add(time.Second))
	var idb [8]byte
	if _, err := io.ReadFull(c, idb[:]); err != nil {
		return
	}
	has, recorded := m.probe(int64(binary.BigEndian.Uint64(idb[:])))
	e := zkproto.Encoder{}
	e.Bool(has)
	e.String(recorded)
	c.Write(e.Buf)
}

// probeAnswer is this member's answer to a starting member's probe. A member that
// joined since it started answers "no state" until it restarts; the others answer
// for the ensemble. Incarnations are replicated state: a member whose data
// directory was wiped comes back with a new one and is refused rather than silently
// taking its old place (it has lost writes it acknowledged).
func (s *Server) probeAnswer(id int64) (bool, string) {
	var inc string
	s.fsm.read(func(t *datatree.Tree) { inc = t.Incarnation(id) })
	return s.hadState.Load(), inc
}

// probePeers asks the other members whether the ensemble already exists (one of
// them holds Raft state) and which incarnations they record for this member.
func (s *Server) probePeers() (exists bool, recorded []string) {
	for _, p := range s.cfg.Peers {
		if p.ID == s.cfg.ServerID {
			continue
		}
		timeout := 500 * time.Millisecond
		if s.peerTLS.dialTLS() {
			timeout = 2 * time.Second // a TLS handshake too
		}
		c, err := dialPeer(s.peerTLS, s.peerSrc, p.PeerAddr, peerProtoProbe, timeout)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		var idb [8]byte
		binary.BigEndian.PutUint64(idb[:], uint64(s.cfg.ServerID))
		c.Write(idb[:])
		reply, _ := io.ReadAll(io.LimitReader(c, 4096))
		c.Close()
		d := zkproto.NewDecoder(reply)
		has, inc := d.Bool(), d.String()
		if d.Err() != nil {
			continue
		}
		exists = exists || has
		if inc != "" {
			recorded = append(recorded, inc)
		}
	}
	return exists, recorded
}
