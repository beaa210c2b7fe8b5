package integration

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/ensemble/tlsconfig/tlstest"
	"github.com/zkraft/zkraft/zkproto"
)

// tlsWorld is a CA, the server's stores and two client certificates.
type tlsWorld struct {
	ca           *tlstest.CA
	serverKS     tlsconfig.Store
	trust        tlsconfig.Store
	alice, admin *tlstest.Cert
}

const (
	aliceDN = "CN=alice,OU=apps,O=Acme"
	adminDN = "CN=admin,O=Acme"
)

func newTLSWorld(t testing.TB) *tlsWorld {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "zkraft test CA")
	w := &tlsWorld{ca: ca,
		serverKS: tlsconfig.Store{Location: filepath.Join(dir, "server.p12"), Password: "pw"},
		trust:    tlsconfig.Store{Location: filepath.Join(dir, "trust.jks"), Password: "pw"},
		alice:    ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"apps"}, Organization: []string{"Acme"}}}),
		admin:    ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "admin", Organization: []string{"Acme"}}}),
	}
	ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "zk"}, Hosts: []string{"127.0.0.1", "localhost"}}).
		WriteKeyStore(t, w.serverKS.Location, "PKCS12", "pw")
	ca.WriteTrustStore(t, w.trust.Location, "JKS", "pw")
	return w
}

// server starts a server with a plaintext and a secure client port.
func (w *tlsWorld) server(t testing.TB, auth tlsconfig.ClientAuth, log *slog.Logger, opts ...func(*ensemble.Config)) *ensembletest.Server {
	src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: w.serverKS, TrustStore: w.trust, ClientAuth: auth}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.TLS.SecureClientAddr = "127.0.0.1:0"
		c.TLS.Client = src.ServerConfig()
		c.TLS.X509SuperUser = adminDN
		if log != nil {
			c.Logger = log
		}
		for _, o := range opts {
			o(c)
		}
	}))
}

func (w *tlsWorld) clientConfig(certs ...*tlstest.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: w.ca.Pool(), ServerName: "127.0.0.1"}
	for _, c := range certs {
		cfg.Certificates = append(cfg.Certificates, c.TLS())
	}
	return cfg
}

// tlsDialer is go-zookeeper's way to TLS: a custom dialer.
func tlsDialer(cfg *tls.Config) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
}

func zkConnectTLS(t *testing.T, addr string, cfg *tls.Config) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithDialer(tlsDialer(cfg)), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatal("no session over TLS within 10s")
		}
	}
}

// rawTLS opens a raw session over TLS.
func rawTLS(t *testing.T, addr string, cfg *tls.Config) (*rawzk.Conn, error) {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	c := rawzk.New(nc)
	t.Cleanup(func() { c.Close() })
	return c, c.Handshake(zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
}

func whoAmI(t *testing.T, c *rawzk.Conn) []string {
	t.Helper()
	var resp zkproto.WhoAmIResponse
	if err := c.Call(zkproto.OpWhoAmI, nil, &resp); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ci := range resp.ClientInfo {
		out = append(out, ci.AuthScheme+":"+ci.User)
	}
	return out
}

// TLS on the secure client port with go-zookeeper: a client certificate makes the
// session x509:<subject DN> (RFC 2253, as ZooKeeper's X509AuthenticationProvider),
// which ACLs and whoAmI see; the configured super user's certificate is super; the
// plaintext port still serves, without the identity. whoAmI lists the ids in
// ZooKeeper's order (datatree.AuthOrder).
func TestTLSClientPortX509(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.server(t, tlsconfig.Need, nil)
	secure := srv.SecureAddr().String()

	alice := zkConnectTLS(t, secure, w.clientConfig(w.alice))
	acl := []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: aliceDN}}
	if _, err := alice.Create("/alice", []byte("hers"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if data, _, err := alice.Get("/alice"); err != nil || string(data) != "hers" {
		t.Fatalf("alice reads her node: %q %v", data, err)
	}
	// The "auth" scheme expands to the session's x509 identity.
	if _, err := alice.Create("/alice-auth", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := alice.GetACL("/alice-auth"); err != nil || len(got) != 1 || got[0].Scheme != "x509" || got[0].ID != aliceDN {
		t.Fatalf("auth ACL expanded to %+v (%v), want x509:%s", got, err, aliceDN)
	}

	plain, _, err := zk.Connect([]string{srv.Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, _, err := plain.Get("/alice"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("plaintext client reads alice's node: %v, want NoAuth", err)
	}
	adminConn := zkConnectTLS(t, secure, w.clientConfig(w.admin))
	if _, _, err := adminConn.Get("/alice"); err != nil {
		t.Fatalf("the x509 super user reads alice's node: %v", err)
	}

	r, err := rawTLS(t, secure, w.clientConfig(w.alice))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(whoAmI(t, r), " "), "ip:127.0.0.1 x509:"+aliceDN; got != want {
		t.Errorf("whoAmI (alice) = %q, want %q", got, want)
	}
	ra, err := rawTLS(t, secure, w.clientConfig(w.admin))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(whoAmI(t, ra), " "), "ip:127.0.0.1 x509:"+adminDN+" super:"+adminDN; got != want {
		t.Errorf("whoAmI (admin) = %q, want %q", got, want)
	}
}

// syncBuffer is a log sink tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A client with no certificate, an untrusted one, or one speaking plaintext to the
// secure port is refused at the handshake, logged, and counted
// (zk_auth_failed_count); a session already open carries on untouched.
func TestTLSBadClientsRefused(t *testing.T) {
	w := newTLSWorld(t)
	var logs syncBuffer
	srv := w.server(t, tlsconfig.Need, slog.New(slog.NewTextHandler(&logs, nil)))
	secure := srv.SecureAddr().String()
	good := zkConnectTLS(t, secure, w.clientConfig(w.alice))
	if _, err := good.Create("/n", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	stranger := tlstest.NewCA(t, "rogue CA").Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "alice"}})
	for name, cfg := range map[string]*tls.Config{
		"no certificate":        w.clientConfig(),
		"untrusted certificate": w.clientConfig(stranger),
	} {
		if c, err := rawTLS(t, secure, cfg); err == nil {
			// TLS 1.3: the client's handshake ends before the server checks its
			// certificate; the server then closes without a session.
			t.Errorf("%s: session opened: %+v", name, c.Session)
		}
	}
	// Plaintext to the secure port: not a TLS handshake.
	if c, err := rawzk.Connect(secure, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}); err == nil {
		c.Close()
		t.Error("a plaintext session opened on the secure port")
	}
	// The good session is untouched.
	for i := 1; i <= 3; i++ {
		if _, err := good.Set("/n", []byte(fmt.Sprint(i)), -1); err != nil {
			t.Fatalf("the established session failed after the refusals: %v", err)
		}
	}
	if good.State() != zk.StateHasSession {
		t.Errorf("good session state %v", good.State())
	}
	eventually(t, 5*time.Second, func() error {
		if n := strings.Count(logs.String(), "TLS handshake with a client failed"); n == 0 {
			return errors.New("no log line for the refused handshakes")
		}
		return nil
	})
	// One line per address per interval, however many handshakes fail.
	if n := strings.Count(logs.String(), "TLS handshake with a client failed"); n != 1 {
		t.Errorf("%d log lines for 3 refusals from one address, want 1:\n%s", n, logs.String())
	}
	mntr := fourLetterTLS(t, secure, w.clientConfig(w.alice), "mntr")
	if !strings.Contains(mntr, "zk_auth_failed_count\t3\n") {
		t.Errorf("mntr after 3 refused handshakes:\n%s", mntr)
	}
}

// fourLetterTLS sends a four-letter word over TLS (ZooKeeper answers them on the
// secure port too).
func fourLetterTLS(t *testing.T, addr string, cfg *tls.Config, word string) string {
	t.Helper()
	nc, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte(word))
	b, _ := io.ReadAll(nc)
	return string(b)
}

// clientAuth=want: a client without a certificate gets a session with no x509
// identity; one with a certificate is identified.
func TestTLSClientAuthWant(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.server(t, tlsconfig.Want, nil)
	secure := srv.SecureAddr().String()
	anon, err := rawTLS(t, secure, w.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(whoAmI(t, anon), " "); got != "ip:127.0.0.1" {
		t.Errorf("whoAmI without a certificate = %q", got)
	}
	named, err := rawTLS(t, secure, w.clientConfig(w.alice))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(whoAmI(t, named), " "); got != "ip:127.0.0.1 x509:"+aliceDN {
		t.Errorf("whoAmI with a certificate = %q", got)
	}
}

// client.portUnification: the plaintext port takes TLS clients too; with
// secureClientPort alone there is no plaintext port at all.
func TestTLSPortUnificationAndSecureOnly(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.server(t, tlsconfig.Need, nil, func(c *ensemble.Config) { c.TLS.ClientPortUnification = true })
	tc, err := rawTLS(t, srv.Addr, w.clientConfig(w.alice))
	if err != nil {
		t.Fatalf("TLS on the unified plaintext port: %v", err)
	}
	if got := strings.Join(whoAmI(t, tc), " "); got != "ip:127.0.0.1 x509:"+aliceDN {
		t.Errorf("whoAmI over TLS on the unified port = %q", got)
	}
	pc := rawConnect(t, srv.Addr, 10000)
	if got := strings.Join(whoAmI(t, pc), " "); got != "ip:127.0.0.1" {
		t.Errorf("whoAmI over plaintext on the unified port = %q", got)
	}
	if got := fourLetterWord(t, srv.Addr, "ruok"); got != "imok" {
		t.Errorf("ruok on the unified port = %q", got)
	}
	// As ZooKeeper's Netty layer: plaintext connections of a TLS-serving server are
	// counted, from loopback here (the session, ruok, and this mntr), TLS ones not.
	mntr := fourLetterWord(t, srv.Addr, "mntr")
	for _, want := range []string{"zk_non_mtls_local_conn_count\t3\n", "zk_non_mtls_remote_conn_count\t0\n", "zk_outstanding_tls_handshake\t0\n"} {
		if !strings.Contains(mntr, want) {
			t.Errorf("mntr lacks %q:\n%s", want, mntr)
		}
	}

	only := w.server(t, tlsconfig.Need, nil, func(c *ensemble.Config) { c.ClientAddr = "" })
	if only.SecureAddr() == nil || only.Addr != only.SecureAddr().String() {
		t.Fatalf("secure-only server: Addr %s, SecureAddr %v", only.Addr, only.SecureAddr())
	}
	zkConnectTLS(t, only.Addr, w.clientConfig(w.alice))
}

func fourLetterWord(t *testing.T, addr, word string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte(word))
	b, _ := io.ReadAll(nc)
	return string(b)
}

// Rotating the server's certificate: a new key store written over the file is
// served to new connections (the stores are checked at most once a second); the
// session opened before keeps going.
func TestTLSCertificateRotation(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.server(t, tlsconfig.Need, nil)
	secure := srv.SecureAddr().String()
	before := zkConnectTLS(t, secure, w.clientConfig(w.alice))
	serial := func() (string, error) {
		nc, err := tls.Dial("tcp", secure, w.clientConfig(w.alice))
		if err != nil {
			return "", err
		}
		defer nc.Close()
		return nc.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
	}
	first, err := serial()
	if err != nil {
		t.Fatal(err)
	}
	next := w.ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "zk rotated"}, Hosts: []string{"127.0.0.1"}})
	next.WriteKeyStore(t, w.serverKS.Location, "PKCS12", w.serverKS.Password)
	later := time.Now().Add(time.Minute) // a new mtime, whatever the file system's granularity
	os.Chtimes(w.serverKS.Location, later, later)
	want := next.Cert.SerialNumber.String()
	eventually(t, 10*time.Second, func() error {
		got, err := serial()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("served certificate %s (first %s), want the rotated %s", got, first, want)
		}
		return nil
	})
	if _, err := before.Create("/after-rotation", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("the session opened before the rotation: %v", err)
	}
}

// zk_outstanding_tls_handshake counts the TLS handshakes under way: a client that
// opens the secure port and sends nothing holds one until it goes.
func TestTLSOutstandingHandshakeGauge(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.server(t, tlsconfig.Need, nil)
	gauge := func(want string) {
		t.Helper()
		line := "zk_outstanding_tls_handshake\t" + want + "\n"
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mntr := fourLetterWord(t, srv.Addr, "mntr")
			if strings.Contains(mntr, line) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("mntr lacks %q:\n%s", line, mntr)
			}
		}
	}
	gauge("0")
	silent, err := net.Dial("tcp", srv.SecureAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	gauge("1")
	silent.Close()
	gauge("0")
}
