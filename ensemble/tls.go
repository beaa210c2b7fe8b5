package ensemble

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/zkproto"
)

// TLSConfig is where TLS applies: the secure client port (zoo.cfg secureClientPort,
// ssl.*) and the peer port (sslQuorum, ssl.quorum.*).
type TLSConfig struct {
	// SecureClientAddr, when set, serves TLS clients there (secureClientPort).
	SecureClientAddr string
	// SecureClientListener, when set, is used instead of binding SecureClientAddr;
	// the server closes it.
	SecureClientListener net.Listener
	// Client is the TLS clients' configuration; required with a secure client port
	// or ClientPortUnification. tlsconfig.Source.ServerConfig follows the store files.
	Client *tls.Config
	// ClientPortUnification lets the plaintext client port accept TLS clients too
	// (client.portUnification): a TLS ClientHello starts with 0x16, which no
	// ZooKeeper frame or four-letter word does.
	ClientPortUnification bool
	// X509SuperUser is X509AuthenticationProvider.superUser: a client whose
	// certificate's subject (in x509 ACL form) is this DN is a super user.
	X509SuperUser string

	// Quorum holds the members' TLS material (ssl.quorum.*); nil is plaintext.
	Quorum *tlsconfig.Source
	// SSLQuorum dials the other members over mutual TLS and accepts only TLS on
	// the peer port (sslQuorum=true); requires Quorum.
	SSLQuorum bool
	// PortUnification makes the peer port accept both TLS and plaintext members
	// (portUnification=true), whichever way this member dials: the middle steps of
	// a rolling change of sslQuorum. Requires Quorum.
	PortUnification bool
	// QuorumHostnameVerification (ssl.quorum.hostnameVerification, default true)
	// admits a TLS member only when its certificate names the host of a configured
	// member (server.N lines, and members added since) and the connection comes
	// from that host's address. Off, any certificate the trust store vouches for is
	// admitted.
	QuorumHostnameVerification bool
}

func (t TLSConfig) check() error {
	if (t.SecureClientAddr != "" || t.SecureClientListener != nil || t.ClientPortUnification) && t.Client == nil {
		return errors.New("a secure client port (or client port unification) needs TLS.Client: set ssl.keyStore.location")
	}
	if (t.SSLQuorum || t.PortUnification) && t.Quorum == nil {
		return errors.New("sslQuorum and portUnification need the members' TLS material: set ssl.quorum.keyStore.location and ssl.quorum.trustStore.location")
	}
	return nil
}

// tlsRecordHandshake is the first byte of a TLS connection (a handshake record).
const tlsRecordHandshake = 0x16

// handshakeTimeout bounds a TLS handshake on the client and peer ports.
const handshakeTimeout = 10 * time.Second

// sniffedConn is a connection whose first bytes were read to tell TLS from
// plaintext; it reads them again first.
type sniffedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *sniffedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// sniff peeks at a connection's first byte, bounded by the handshake timeout and
// the server's shutdown.
func sniff(ctx context.Context, nc net.Conn) (byte, net.Conn, error) {
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReaderSize(nc, 512)
	b, err := br.Peek(1)
	nc.SetReadDeadline(time.Time{})
	if err != nil {
		return 0, nil, err
	}
	return b[0], &sniffedConn{Conn: nc, r: br}, nil
}

// serveClientTLS serves one connection of a client port that takes TLS: the secure
// port (mustTLS) or a unified plaintext port. The handshake runs here, on the
// connection's own goroutine, never in the accept loop. A failed handshake is
// logged (a line per address per quietInterval) and closes only this connection.
func (s *Server) serveClientTLS(nc net.Conn, mustTLS bool) {
	if !mustTLS {
		first, sc, err := sniff(s.ctx, nc)
		if err != nil {
			nc.Close()
			return
		}
		if first != tlsRecordHandshake {
			if c := s.newConn(sc); c != nil {
				c.serve()
			}
			return
		}
		nc = sc
	}
	tc := tls.Server(nc, s.cfg.TLS.Client)
	ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
	s.stats.tlsHandshakes.Add(1)
	err := tc.HandshakeContext(ctx)
	s.stats.tlsHandshakes.Add(-1)
	cancel()
	if err != nil {
		s.stats.authFailed.Add(1)
		ip := remoteIP(nc.RemoteAddr())
		if ok, n := s.quiet.allow("tls handshake "+ip, time.Now()); ok && s.ctx.Err() == nil {
			s.log.Warn("TLS handshake with a client failed; connection closed", "remote", nc.RemoteAddr().String(), "err", err, "repeats", n)
		}
		tc.Close()
		return
	}
	c := s.newConn(tc)
	if c == nil {
		return
	}
	for _, id := range s.x509Identities(tc.ConnectionState()) {
		c.addIdentity(id)
	}
	c.serve()
}

// countPlaintext counts a plaintext client connection of a server that serves TLS
// too, as ZooKeeper's Netty layer does (by loopback or not); a server without TLS
// counts none, as ZooKeeper's default NIO layer.
func (s *Server) countPlaintext(nc net.Conn) {
	if s.cfg.TLS.Client == nil {
		return
	}
	if _, isTLS := nc.(*tls.Conn); isTLS {
		return
	}
	if ip := net.ParseIP(remoteIP(nc.RemoteAddr())); ip != nil && ip.IsLoopback() {
		s.stats.nonMTLSLocal.Add(1)
	} else {
		s.stats.nonMTLSRemote.Add(1)
	}
}

// x509Identities are the ids a verified client certificate gives a session, as
// X509AuthenticationProvider.handleAuthentication: ("super", dn) when dn is the
// configured super user, then ("x509", dn). None without a client certificate
// (ssl.clientAuth=want or none).
func (s *Server) x509Identities(cs tls.ConnectionState) []zkproto.Id {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return nil
	}
	dn := tlsconfig.SubjectID(cs.PeerCertificates[0])
	var ids []zkproto.Id
	if su := s.cfg.TLS.X509SuperUser; su != "" && su == dn {
		ids = append(ids, zkproto.Id{Scheme: "super", ID: dn})
	}
	return append(ids, zkproto.Id{Scheme: "x509", ID: dn})
}

// SecureAddr is the secure client port's address, nil when there is none.
func (s *Server) SecureAddr() net.Addr {
	if s.secureLn == nil {
		return nil
	}
	return s.secureLn.Addr()
}

// listenClients binds the plaintext and secure client ports.
func (s *Server) listenClients() error {
	cfg := s.cfg
	ln := cfg.ClientListener
	if ln == nil && cfg.ClientAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", cfg.ClientAddr); err != nil {
			return fmt.Errorf("listen on client address %s: %w", cfg.ClientAddr, err)
		}
	}
	s.plainLn = ln
	sl := cfg.TLS.SecureClientListener
	if sl == nil && cfg.TLS.SecureClientAddr != "" {
		var err error
		if sl, err = net.Listen("tcp", cfg.TLS.SecureClientAddr); err != nil {
			return fmt.Errorf("listen on secure client address %s: %w", cfg.TLS.SecureClientAddr, err)
		}
	}
	s.secureLn = sl
	s.ln = ln
	if s.ln == nil {
		s.ln = sl // TLS clients only: Addr is the secure port
	}
	return nil
}
