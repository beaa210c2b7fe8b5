package main

import (
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/ensemble/tlsconfig/tlstest"
)

func TestBenchMeasures(t *testing.T) {
	srv := ensembletest.RunServer(t)
	for _, op := range []string{"create", "set", "get"} {
		r, err := runBench([]string{srv.Addr}, 4, 2, 300*time.Millisecond, op, 10, "/bench-"+op, nil)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if r.ops == 0 || r.errors != 0 || r.p50 <= 0 || r.p99 < r.p50 || r.max < r.p99 {
			t.Fatalf("%s: implausible result %+v", op, r)
		}
	}
}

// bench --tls-ca/--tls-cert/--tls-key measures a secure client port.
func TestBenchTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "bench CA")
	ks := filepath.Join(dir, "server.pem")
	ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "zk"}, Hosts: []string{"127.0.0.1"}}).WriteKeyStore(t, ks, "PEM", "")
	trust := filepath.Join(dir, "ca.pem")
	ca.WriteTrustStore(t, trust, "PEM", "")
	cli := ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "bench"}})
	certPath, keyPath := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	os.WriteFile(certPath, cli.CertPEM(), 0o600)
	os.WriteFile(keyPath, cli.KeyPEM(t), 0o600) // key then chain: LoadX509KeyPair takes the key block
	src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: ks}, TrustStore: tlsconfig.Store{Location: trust}}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.ClientAddr = ""
		c.TLS.SecureClientAddr = "127.0.0.1:0"
		c.TLS.Client = src.ServerConfig()
	}))
	dial, err := (&benchTLS{ca: trust, cert: certPath, key: keyPath}).dialer()
	if err != nil {
		t.Fatal(err)
	}
	r, err := runBench([]string{srv.Addr}, 4, 2, 300*time.Millisecond, "get", 10, "/bench-tls", dial)
	if err != nil || r.ops == 0 || r.errors != 0 {
		t.Fatalf("bench over TLS: %+v %v", r, err)
	}
	if _, err := (&benchTLS{cert: certPath}).dialer(); err == nil {
		t.Error("--tls-cert without --tls-ca accepted")
	}
}
