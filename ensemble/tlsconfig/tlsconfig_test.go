package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/ensemble/tlsconfig/tlstest"
)

const pw = "s3cret-pw"

type stores struct {
	dir              string
	ca               *tlstest.CA
	server, client   *tlstest.Cert
	serverKS, trust  tlsconfig.Store
	clientKS         tlsconfig.Store
	serverSubjectDNS string
}

func makeStores(t *testing.T, typ string) stores {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	srv := ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "server"}, Hosts: []string{"127.0.0.1", "localhost"}})
	cli := ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "client", Organization: []string{"Acme"}}})
	ext := map[string]string{"PEM": ".pem", "PKCS12": ".p12", "JKS": ".jks"}[typ]
	s := stores{dir: dir, ca: ca, server: srv, client: cli,
		serverKS: tlsconfig.Store{Location: filepath.Join(dir, "server"+ext), Password: pw},
		clientKS: tlsconfig.Store{Location: filepath.Join(dir, "client"+ext), Password: pw},
		trust:    tlsconfig.Store{Location: filepath.Join(dir, "trust"+ext), Password: pw},
	}
	srv.WriteKeyStore(t, s.serverKS.Location, typ, pw)
	cli.WriteKeyStore(t, s.clientKS.Location, typ, pw)
	ca.WriteTrustStore(t, s.trust.Location, typ, pw)
	return s
}

// handshake runs a TLS handshake over loopback TCP and returns the server's view
// and both ends' errors. (Over TLS 1.3 the client finishes first: a server that
// then refuses its certificate fails only its own side.)
func handshake(t *testing.T, server, client *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		sc := tls.Server(nc, server)
		err = sc.Handshake()
		done <- result{sc.ConnectionState(), err}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	cc := tls.Client(nc, client)
	cerr := cc.Handshake()
	r := <-done
	return r.cs, r.err, cerr
}

func TestStoresMutualTLS(t *testing.T) {
	for _, typ := range []string{"PEM", "PKCS12", "JKS"} {
		t.Run(typ, func(t *testing.T) {
			st := makeStores(t, typ)
			srv, err := tlsconfig.New(tlsconfig.Settings{KeyStore: st.serverKS, TrustStore: st.trust, HostnameVerification: true}, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			cli, err := tlsconfig.New(tlsconfig.Settings{KeyStore: st.clientKS, TrustStore: st.trust, HostnameVerification: true}, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			cs, serr, cerr := handshake(t, srv.ServerConfig(), cli.ClientConfig("127.0.0.1"))
			if serr != nil || cerr != nil {
				t.Fatalf("handshake: server %v, client %v", serr, cerr)
			}
			if got := tlsconfig.SubjectID(cs.PeerCertificates[0]); got != "CN=client,O=Acme" {
				t.Errorf("client subject %q", got)
			}
			// Hostname verification: the server certificate does not name 10.9.9.9.
			if _, _, cerr := handshake(t, srv.ServerConfig(), cli.ClientConfig("10.9.9.9")); cerr == nil {
				t.Error("client accepted a server certificate for another host")
			}
			noVerify, _ := tlsconfig.New(tlsconfig.Settings{KeyStore: st.clientKS, TrustStore: st.trust}, false, nil)
			if _, serr, cerr := handshake(t, srv.ServerConfig(), noVerify.ClientConfig("10.9.9.9")); serr != nil || cerr != nil {
				t.Errorf("hostnameVerification=false: server %v, client %v", serr, cerr)
			}
		})
	}
}

// Stores made by the JDK's keytool, as operators have them.
func TestKeytoolStores(t *testing.T) {
	st := makeStores(t, "PKCS12")
	for _, typ := range []string{"JKS", "PKCS12"} {
		ext := map[string]string{"JKS": ".jks", "PKCS12": ".p12"}[typ]
		ks := filepath.Join(st.dir, "kt-server"+ext)
		ts := filepath.Join(st.dir, "kt-trust"+ext)
		capem := filepath.Join(st.dir, "ca.crt")
		os.WriteFile(capem, st.ca.CertPEM(), 0o600)
		for _, args := range [][]string{
			{"-importkeystore", "-noprompt", "-srckeystore", st.serverKS.Location, "-srcstoretype", "PKCS12", "-srcstorepass", pw,
				"-destkeystore", ks, "-deststoretype", typ, "-deststorepass", pw},
			{"-importcert", "-noprompt", "-alias", "ca", "-file", capem, "-keystore", ts, "-storetype", typ, "-storepass", pw},
		} {
			if out, err := exec.Command("keytool", args...).CombinedOutput(); err != nil {
				t.Fatalf("keytool %v: %v\n%s", args, err, out)
			}
		}
		src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: ks, Password: pw, Type: strings.ToLower(typ)},
			TrustStore: tlsconfig.Store{Location: ts, Password: pw}}, true, nil)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		cli, _ := tlsconfig.New(tlsconfig.Settings{KeyStore: st.clientKS, TrustStore: st.trust, HostnameVerification: true}, false, nil)
		if _, serr, cerr := handshake(t, src.ServerConfig(), cli.ClientConfig("localhost")); serr != nil || cerr != nil {
			t.Errorf("%s: server %v, client %v", typ, serr, cerr)
		}
	}
}

func TestBadStores(t *testing.T) {
	st := makeStores(t, "PKCS12")
	jks := makeStores(t, "JKS")
	expired := st.ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "old"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	expiredPath := filepath.Join(st.dir, "expired.pem")
	expired.WriteKeyStore(t, expiredPath, "PEM", "")
	other := makeStores(t, "PEM")
	mismatched := filepath.Join(st.dir, "mismatch.pem")
	os.WriteFile(mismatched, append(st.server.KeyPEM(t)[:0:0], append(keyOnly(t, other.server), st.server.CertPEM()...)...), 0o600)
	missing := filepath.Join(st.dir, "nope.p12")
	for _, tc := range []struct {
		name string
		set  tlsconfig.Settings
		want []string // in the error
	}{
		{"wrong PKCS12 password", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: st.serverKS.Location, Password: "wrong"}},
			[]string{"ssl.keyStore.location", st.serverKS.Location, "ssl.keyStore.password"}},
		{"wrong JKS password", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: jks.serverKS.Location, Password: "wrong"}},
			[]string{"ssl.keyStore.location", jks.serverKS.Location, "ssl.keyStore.password"}},
		{"wrong trust store password", tlsconfig.Settings{Prefix: "ssl.quorum.", KeyStore: st.serverKS, TrustStore: tlsconfig.Store{Location: jks.trust.Location, Password: "wrong"}},
			[]string{"ssl.quorum.trustStore.location", jks.trust.Location, "ssl.quorum.trustStore.password"}},
		{"missing file", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: missing}},
			[]string{"ssl.keyStore.location", missing, "no such file"}},
		{"expired", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: expiredPath}},
			[]string{"ssl.keyStore.location", expiredPath, "expired"}},
		{"key of another certificate", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: mismatched}},
			[]string{"ssl.keyStore.location", mismatched, "does not belong"}},
		{"unknown extension", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: filepath.Join(st.dir, "server.key")}},
			[]string{"ssl.keyStore.location", "set the type key"}},
		{"unknown type", tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: st.serverKS.Location, Type: "PKCS11"}},
			[]string{"ssl.keyStore.location", "unknown store type"}},
		{"no key store", tlsconfig.Settings{}, []string{"ssl.keyStore.location", "is not set"}},
		{"old protocol", tlsconfig.Settings{KeyStore: st.serverKS, EnabledProtocols: []string{"TLSv1.1"}}, []string{"ssl.enabledProtocols"}},
		{"unknown protocol", tlsconfig.Settings{KeyStore: st.serverKS, Protocol: "SSLv3"}, []string{"ssl.protocol", "SSLv3"}},
		{"no usable cipher", tlsconfig.Settings{KeyStore: st.serverKS, CipherSuites: []string{"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}}, []string{"ssl.ciphersuites"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsconfig.New(tc.set, true, nil)
			if err == nil {
				t.Fatal("no error")
			}
			var te *tlsconfig.Error
			if !errors.As(err, &te) {
				t.Errorf("error %T is not a *tlsconfig.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func keyOnly(t *testing.T, c *tlstest.Cert) []byte {
	p := c.KeyPEM(t)
	i := strings.Index(string(p), "-----BEGIN CERTIFICATE")
	return p[:i]
}

func TestProtocolsAndSuites(t *testing.T) {
	st := makeStores(t, "PEM")
	for _, tc := range []struct {
		set      tlsconfig.Settings
		min, max uint16
	}{
		{tlsconfig.Settings{}, tls.VersionTLS12, tls.VersionTLS13},
		{tlsconfig.Settings{Protocol: "TLSv1.2"}, tls.VersionTLS12, tls.VersionTLS12},
		{tlsconfig.Settings{Protocol: "TLSv1.3"}, tls.VersionTLS12, tls.VersionTLS13},
		{tlsconfig.Settings{Protocol: "TLSv1.2", EnabledProtocols: []string{"TLSv1.3"}}, tls.VersionTLS13, tls.VersionTLS13},
	} {
		tc.set.KeyStore = st.serverKS
		src, err := tlsconfig.New(tc.set, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := src.ServerConfig()
		if cfg.MinVersion != tc.min || cfg.MaxVersion != tc.max {
			t.Errorf("%+v: versions %x-%x, want %x-%x", tc.set, cfg.MinVersion, cfg.MaxVersion, tc.min, tc.max)
		}
	}
	// A TLS 1.2-only server with one suite: a client offering only another fails.
	src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: st.serverKS, ClientAuth: tlsconfig.None, Protocol: "TLSv1.2",
		CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, serr, cerr := handshake(t, src.ServerConfig(), &tls.Config{RootCAs: st.ca.Pool(), ServerName: "localhost"})
	if serr != nil || cerr != nil || cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 || cs.Version != tls.VersionTLS12 {
		t.Errorf("handshake %v %v: suite %x version %x", serr, cerr, cs.CipherSuite, cs.Version)
	}
	if _, _, cerr := handshake(t, src.ServerConfig(), &tls.Config{RootCAs: st.ca.Pool(), ServerName: "localhost",
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}); cerr == nil {
		t.Error("a suite outside ssl.ciphersuites was negotiated")
	}
}

func TestClientAuth(t *testing.T) {
	st := makeStores(t, "PEM")
	stranger := tlstest.NewCA(t, "other CA").Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "stranger"}})
	for _, tc := range []struct {
		auth                    tlsconfig.ClientAuth
		noCert, badCert, goodOK bool
	}{
		{tlsconfig.Need, false, false, true},
		{tlsconfig.Want, true, false, true},
		{tlsconfig.None, true, true, true},
	} {
		src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: st.serverKS, TrustStore: st.trust, ClientAuth: tc.auth}, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The client sends its certificate whatever CAs the server names.
		try := func(certs ...tls.Certificate) bool {
			_, serr, cerr := handshake(t, src.ServerConfig(), &tls.Config{RootCAs: st.ca.Pool(), ServerName: "localhost",
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if len(certs) == 0 {
						return &tls.Certificate{}, nil
					}
					return &certs[0], nil
				}})
			return serr == nil && cerr == nil
		}
		if got := try(); got != tc.noCert {
			t.Errorf("clientAuth %d, no certificate: ok=%v", tc.auth, got)
		}
		if got := try(stranger.TLS()); got != tc.badCert {
			t.Errorf("clientAuth %d, untrusted certificate: ok=%v", tc.auth, got)
		}
		if got := try(st.client.TLS()); got != tc.goodOK {
			t.Errorf("clientAuth %d, trusted certificate: ok=%v", tc.auth, got)
		}
	}
}

// The server follows its key store: a new certificate written over the file is
// served from the next handshake on; a broken file keeps the previous one.
func TestReload(t *testing.T) {
	st := makeStores(t, "PKCS12")
	src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: st.serverKS, ClientAuth: tlsconfig.None, ReloadInterval: time.Nanosecond}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		var got string
		_, serr, cerr := handshake(t, src.ServerConfig(), &tls.Config{RootCAs: st.ca.Pool(), ServerName: "localhost",
			VerifyConnection: func(cs tls.ConnectionState) error {
				got = cs.PeerCertificates[0].SerialNumber.String()
				return nil
			}})
		if serr != nil || cerr != nil {
			t.Fatal(serr, cerr)
		}
		return got
	}
	first := serial()
	next := st.ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "server 2"}, Hosts: []string{"localhost"}})
	later := time.Now().Add(time.Minute)
	next.WriteKeyStore(t, st.serverKS.Location, "PKCS12", pw)
	os.Chtimes(st.serverKS.Location, later, later)
	if got := serial(); got != next.Cert.SerialNumber.String() || got == first {
		t.Fatalf("after rewriting the key store: serial %s, want %s", got, next.Cert.SerialNumber)
	}
	os.WriteFile(st.serverKS.Location, []byte("half-written"), 0o600)
	os.Chtimes(st.serverKS.Location, later.Add(time.Minute), later.Add(time.Minute))
	if got := serial(); got != next.Cert.SerialNumber.String() {
		t.Fatalf("after breaking the key store: serial %s, want the previous %s", got, next.Cert.SerialNumber)
	}
}

// The expected strings are what Java 17's X500Principal.getName() printed for the
// same certificates (X509AuthenticationProvider.getClientId).
func TestSubjectID(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	for _, tc := range []struct {
		subject pkix.Name
		want    string
	}{
		{pkix.Name{CommonName: "client one", Organization: []string{"Acme, Inc."}, OrganizationalUnit: []string{"ops+dev"},
			Country: []string{"DE"}, Locality: []string{"Berlin"}, Province: []string{"BE"}},
			`CN=client one,OU=ops\+dev,O=Acme\, Inc.,L=Berlin,ST=BE,C=DE`},
		{pkix.Name{CommonName: ` #lead=x;y<z>"q\ `, SerialNumber: "1234", PostalCode: []string{"10115"}, StreetAddress: []string{"Main St 1"},
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@b.c"},
				{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"},
				{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "jdoe"}}},
			`UID=jdoe,DC=example,1.2.840.113549.1.9.1=#0c056140622e63,2.5.4.5=#130431323334,CN=\ \#lead\=x\;y\<z\>\"q\\\ ,2.5.4.17=#13053130313135,STREET=Main St 1`},
	} {
		c := ca.Issue(t, tlstest.Opts{Subject: tc.subject})
		if got := tlsconfig.SubjectID(c.Cert); got != tc.want {
			t.Errorf("SubjectID\n got %s\nwant %s", got, tc.want)
		}
	}
}
