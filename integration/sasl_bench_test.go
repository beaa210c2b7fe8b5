package integration

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// BenchmarkSASLHandshake measures what a client waits for before its first request:
// a session handshake, plain or followed by a DIGEST-MD5 exchange (two round trips),
// on the reference ZooKeeper and on zkraft, both with the same JAAS file and a data
// directory on disk (a new session is a transaction each fsyncs). p50-µs is the
// median of the iterations; the session is closed after each, outside the timing.
//
//	go test -run '^$' -bench SASLHandshake -benchtime 300x ./integration/
func BenchmarkSASLHandshake(b *testing.B) {
	dir := b.TempDir()
	jaasPath := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(jaasPath, []byte(saslJAAS), 0o600); err != nil {
		b.Fatal(err)
	}
	ref, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{
		Config: map[string]string{"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"},
		Props:  map[string]string{"java.security.auth.login.config": jaasPath}})
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Stop()
	srv := ensembletest.RunServer(b, ensembletest.WithDataDir(filepath.Join(dir, "zkraft")),
		ensembletest.WithConfig(func(c *ensemble.Config) { c.Auth.SASL = mustSASL(b, jaasPath) }))
	targets := []struct{ name, addr string }{{"zookeeper", ref.Addr}, {"zkraft", srv.Addr}}
	// Warm both up (the JVM's JIT above all) before anything is timed.
	for _, target := range targets {
		for range 300 {
			c, err := rawzk.Connect(target.addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
			if err != nil {
				b.Fatal(err)
			}
			digestExchange(b, c)
			c.Call(zkproto.OpCloseSession, nil, nil)
			c.Close()
		}
	}
	for _, target := range targets {
		for _, digest := range []bool{false, true} {
			name := target.name + "/plain"
			if digest {
				name = target.name + "/digest-md5"
			}
			b.Run(name, func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					t0 := time.Now()
					c, err := rawzk.Connect(target.addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
					if err != nil {
						b.Fatal(err)
					}
					if digest {
						digestExchange(b, c)
					}
					took = append(took, time.Since(t0))
					c.Call(zkproto.OpCloseSession, nil, nil)
					c.Close()
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			})
		}
	}
}

func digestExchange(b *testing.B, c *rawzk.Conn) {
	cl := &sasl.DigestMD5Client{User: "bob", Password: "bobsecret"}
	var server []byte
	for range 4 {
		tok, done, err := cl.Step(server)
		if err != nil {
			b.Fatal(err)
		}
		if done {
			return
		}
		var resp zkproto.SetSASLResponse
		if err := c.Call(zkproto.OpSASL, &zkproto.GetSASLRequest{Token: tok}, &resp); err != nil {
			b.Fatal(err)
		}
		server = resp.Token
	}
	b.Fatal("DIGEST-MD5 exchange did not end")
}

// BenchmarkGSSAPIHandshake is BenchmarkSASLHandshake for Kerberos: a session
// handshake and a GSSAPI exchange with mutual authentication (three round trips:
// AP-REQ/AP-REP, the security layer offer, the client's choice), on the reference
// ZooKeeper and on zkraft with the same JAAS section, keytab and MIT KDC. The
// client's service ticket is fetched once; each iteration makes a new
// authenticator, as a client's new connection does.
//
//	go test -run '^$' -bench GSSAPIHandshake -benchtime 300x ./integration/
func BenchmarkGSSAPIHandshake(b *testing.B) {
	r := startRealm(b)
	jaasPath := r.serverJAAS(b)
	ref, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{
		Config: map[string]string{"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"},
		Props:  map[string]string{"java.security.auth.login.config": jaasPath, "java.security.krb5.conf": r.kdc.Krb5Conf}})
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Stop()
	srv := r.server(b, sasl.Options{})
	kc := r.ticket(b, "client", "zookeeper/127.0.0.1")
	login := func(addr string) time.Duration {
		t0 := time.Now()
		c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
		if err != nil {
			b.Fatal(err)
		}
		if msg := gssapiLogin(b, c, kc.token(b, true), true, false); msg != "" {
			b.Fatal(msg)
		}
		d := time.Since(t0)
		c.Call(zkproto.OpCloseSession, nil, nil)
		c.Close()
		return d
	}
	targets := []struct{ name, addr string }{{"zookeeper", ref.Addr}, {"zkraft", srv.Addr}}
	for _, target := range targets {
		for range 300 { // warm-up, the JVM's JIT above all
			login(target.addr)
		}
	}
	for _, target := range targets {
		b.Run(target.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				took = append(took, login(target.addr))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
		})
	}
}
