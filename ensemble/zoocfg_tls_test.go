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
