package ensemble

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/zkraft/zkraft/ensemble/metrics"
)

// peerTLS is how the peer port uses TLS (sslQuorum): mutual TLS both ways, and on
// accept a check that the certificate belongs to a member. nil is plaintext only.
//
// A member that dials over TLS sends the ClientHello first; its protocol byte
// ('R', 'F', 'P') follows inside TLS. A plaintext dialer's first byte is its
// protocol byte, never 0x16, so the port tells the two apart by the first byte:
// portUnification accepts both, for a rolling change of sslQuorum.
type peerTLS struct {
	cfg         TLSConfig
	acceptPlain bool
	members     func() []string // the hosts of the configured members
	log         *slog.Logger
	quiet       *quietLog
	failed      *metrics.Counter // ensemble_auth_fail; nil counts nothing
}

func newPeerTLS(cfg TLSConfig, members func() []string, log *slog.Logger, quiet *quietLog) *peerTLS {
	if cfg.Quorum == nil || !cfg.SSLQuorum && !cfg.PortUnification {
		return nil
	}
	return &peerTLS{cfg: cfg, acceptPlain: !cfg.SSLQuorum || cfg.PortUnification, members: members, log: log, quiet: quiet}
}

// dialTLS reports whether this member dials the others over TLS.
func (p *peerTLS) dialTLS() bool { return p != nil && p.cfg.SSLQuorum }

// client runs the TLS handshake of a dialled peer connection: the member at addr
// must show a certificate the quorum trust store vouches for and, with hostname
// verification, one that names addr's host.
func (p *peerTLS) client(c net.Conn, addr string, deadline time.Time) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := p.cfg.Quorum.ClientConfig(host)
	if !p.cfg.QuorumHostnameVerification {
		cfg.InsecureSkipVerify = true
		roots := p.cfg.Quorum.Roots()
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, roots)
		}
	}
	tc := tls.Client(c, cfg)
	tc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake with member %s: %w", addr, err)
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// server runs the TLS handshake of an accepted peer connection (first is the byte
// already read) and checks that the peer is a member.
func (p *peerTLS) server(ctx context.Context, c net.Conn, first byte) (net.Conn, error) {
	tc := tls.Server(&prefixConn{Conn: c, pre: []byte{first}}, p.cfg.Quorum.ServerConfig())
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	cs := tc.ConnectionState()
	if len(cs.VerifiedChains) == 0 {
		return nil, errors.New("the peer presented no certificate")
	}
	if p.cfg.QuorumHostnameVerification {
		if err := p.isMember(hctx, cs.PeerCertificates[0], remoteIP(c.RemoteAddr())); err != nil {
			return nil, err
		}
	}
	return tc, nil
}

// isMember checks that cert names the host of a configured member (a DNS or IP
// SAN, as ZooKeeper's quorum hostname verification) and that the connection comes
// from that host's address: a certificate from the members' CA is not enough to
// join, and one member's certificate does not work from elsewhere.
func (p *peerTLS) isMember(ctx context.Context, cert *x509.Certificate, ip string) error {
	var named []string
	for _, h := range p.members() {
		if cert.VerifyHostname(h) != nil {
			continue
		}
		named = append(named, h)
		if hostHasAddr(ctx, h, ip) {
			return nil
		}
	}
	if len(named) == 0 {
		return fmt.Errorf("the certificate (%s; DNS %v, IP %v) names no member of the ensemble", cert.Subject, cert.DNSNames, cert.IPAddresses)
	}
	return fmt.Errorf("the certificate names member host(s) %v, but the connection comes from %s", named, ip)
}

func hostHasAddr(ctx context.Context, host, ip string) bool {
	want := net.ParseIP(ip)
	if want == nil {
		return false
	}
	if h := net.ParseIP(host); h != nil {
		return h.Equal(want)
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(a net.IPAddr) bool { return a.IP.Equal(want) })
}

func verifyChain(chain []*x509.Certificate, roots *x509.CertPool) error {
	if len(chain) == 0 {
		return errors.New("the member sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err
}

// refused logs a refused peer connection, once per address per quietInterval.
func (p *peerTLS) refused(c net.Conn, err error) {
	if p.failed != nil {
		p.failed.Inc()
	}
	if ok, n := p.quiet.allow("peer refused "+remoteIP(c.RemoteAddr()), time.Now()); ok {
		p.log.Warn("peer port: connection refused", "remote", c.RemoteAddr().String(), "err", err, "repeats", n)
	}
}

// prefixConn reads pre before the connection's own bytes.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

var _ io.Reader = (*prefixConn)(nil)

// memberHosts are the hosts of the members this one knows: the server lines, the
// members added since start, and Raft's configuration.
func (s *Server) memberHosts() []string {
	var hosts []string
	add := func(addr string) {
		if h, _, err := net.SplitHostPort(addr); err == nil && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, p := range s.cfg.Peers {
		add(p.PeerAddr)
	}
	s.peersMu.Lock()
	for _, p := range s.dynPeers {
		add(p.PeerAddr)
	}
	s.peersMu.Unlock()
	select {
	case <-s.raftUp:
		if f := s.raft.GetConfiguration(); f.Error() == nil {
			for _, sv := range f.Configuration().Servers {
				add(string(sv.Address))
			}
		}
	default:
	}
	return hosts
}
