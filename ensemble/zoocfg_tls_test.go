package ensemble_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/tlsconfig/tlstest"
)

// zoo.cfg's TLS keys start a secure client port; a store that cannot be used stops
// the start with an error naming the key and the file.
func TestZooConfigTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	srvCert := ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "zk"}, Hosts: []string{"127.0.0.1"}})
	ks, trust := filepath.Join(dir, "server.jks"), filepath.Join(dir, "trust.pem")
	srvCert.WriteKeyStore(t, ks, "JKS", "storepw")
	ca.WriteTrustStore(t, trust, "PEM", "")
	pwFile := filepath.Join(dir, "ks.pw")
	os.WriteFile(pwFile, []byte("storepw\n"), 0o600)
	expired := filepath.Join(dir, "expired.pem")
	ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "old"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).
		WriteKeyStore(t, expired, "PEM", "")

	load := func(extra ...string) (ensemble.Config, error) {
		cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
		lines := append([]string{"tickTime=200", "dataDir=" + t.TempDir(), "secureClientPort=2281", "secureClientPortAddress=127.0.0.1"}, extra...)
		os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		return ensemble.LoadZooConfig(cfgPath, nil)
	}

	cfg, err := load("ssl.keyStore.location="+ks, "ssl.keyStore.passwordPath="+pwFile, "ssl.trustStore.location="+trust, "ssl.clientAuth=none")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAddr != "" || cfg.TLS.SecureClientAddr != "127.0.0.1:2281" {
		t.Fatalf("ClientAddr %q SecureClientAddr %q: secureClientPort alone replaces the plaintext port", cfg.ClientAddr, cfg.TLS.SecureClientAddr)
	}
	cfg.TLS.SecureClientAddr = "127.0.0.1:0"
	srv, err := ensemble.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	<-srv.Ready()
	nc, err := tls.Dial("tcp", srv.SecureAddr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	nc.Write([]byte("srvr"))
	buf := make([]byte, 64)
	n, _ := nc.Read(buf)
	nc.Close()
	if !strings.HasPrefix(string(buf[:n]), "Zookeeper version") {
		t.Errorf("srvr over TLS: %q", buf[:n])
	}

	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"wrong password", []string{"ssl.keyStore.location=" + ks, "ssl.keyStore.password=nope"},
			[]string{"zoo.cfg", "ssl.keyStore.location", ks, "ssl.keyStore.password"}},
		{"missing trust store", []string{"ssl.keyStore.location=" + ks, "ssl.keyStore.password=storepw", "ssl.trustStore.location=" + dir + "/missing.pem"},
			[]string{"ssl.trustStore.location", dir + "/missing.pem", "no such file"}},
		{"missing password file", []string{"ssl.keyStore.location=" + ks, "ssl.keyStore.passwordPath=" + dir + "/nope.pw"},
			[]string{"ssl.keyStore.passwordPath", dir + "/nope.pw"}},
		{"expired certificate", []string{"ssl.keyStore.location=" + expired},
			[]string{"ssl.keyStore.location", expired, "expired"}},
		{"no key store", nil, []string{"ssl.keyStore.location", "is not set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.lines...)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// sslQuorum in zoo.cfg gives the members' TLS material; without a quorum trust
// store (or key store) the member does not start, naming the key.
func TestZooConfigQuorumTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "members")
	ks, trust := filepath.Join(dir, "member.p12"), filepath.Join(dir, "ca.pem")
	ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "zk1"}, Hosts: []string{"127.0.0.1"}}).WriteKeyStore(t, ks, "PKCS12", "pw")
	ca.WriteTrustStore(t, trust, "PEM", "")
	load := func(extra ...string) (ensemble.Config, error) {
		data := t.TempDir()
		os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o600)
		lines := append([]string{"tickTime=200", "initLimit=10", "syncLimit=5", "dataDir=" + data,
			"server.1=127.0.0.1:2888:3888", "server.2=127.0.0.1:2889:3889", "server.3=127.0.0.1:2890:3890"}, extra...)
		cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
		os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		return ensemble.LoadZooConfig(cfgPath, nil)
	}
	cfg, err := load("sslQuorum=true", "ssl.quorum.keyStore.location="+ks, "ssl.quorum.keyStore.password=pw",
		"ssl.quorum.trustStore.location="+trust, "ssl.quorum.clientAuth=none")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.Quorum == nil || !cfg.TLS.SSLQuorum || cfg.TLS.PortUnification || !cfg.TLS.QuorumHostnameVerification {
		t.Errorf("TLS config %+v", cfg.TLS)
	}
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"sslQuorum=true", "ssl.quorum.keyStore.location=" + ks, "ssl.quorum.keyStore.password=pw"}, "ssl.quorum.trustStore.location"},
		{[]string{"sslQuorum=true", "ssl.quorum.trustStore.location=" + trust}, "ssl.quorum.keyStore.location"},
		{[]string{"portUnification=true", "ssl.quorum.keyStore.location=" + ks, "ssl.quorum.keyStore.password=bad", "ssl.quorum.trustStore.location=" + trust},
			"ssl.quorum.keyStore.password"},
	} {
		if _, err := load(tc.lines...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want one naming %s", tc.lines, err, tc.want)
		}
	}
}
