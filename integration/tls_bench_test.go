package integration

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// BenchmarkTLS measures what TLS costs a client, side by side with the reference
// ZooKeeper 3.8.0 configured the same way (secure client port beside the plaintext
// one, NettyServerCnxnFactory, the same PKCS12 key store and JKS trust store,
// ssl.clientAuth=need, TLS 1.2 and 1.3 (tls = 1.3, tls1.2 = a client that stops at
// 1.2), an ECDSA P-256 certificate; data on disk):
//
//   - connect: TCP (+ TLS handshake with a client certificate) + session handshake
//   - closeSession, median of b.N after a warm-up (ms-median);
//   - get16/set16: 16 go-zookeeper sessions each doing get (or set) of 100 bytes
//     back to back for 2 s (ops/s; run with -benchtime 1x).
//
// The reference needs Netty's codec and resolver jars on its classpath
// (testkit.NettyJars) and the TLS 1.3 suites listed in ssl.ciphersuites.
//
//	go test -run '^$' -bench 'TLS/' -benchtime 300x ./integration/ (connect)
//	go test -run '^$' -bench 'TLS/.*16' -benchtime 1x ./integration/
func BenchmarkTLS(b *testing.B) {
	w := newTLSWorld(b)
	securePort := testkit.FreePorts(b, 1)[0]
	ssl := map[string]string{
		"zookeeper.ssl.keyStore.location":   w.serverKS.Location,
		"zookeeper.ssl.keyStore.password":   w.serverKS.Password,
		"zookeeper.ssl.trustStore.location": w.trust.Location,
		"zookeeper.ssl.trustStore.password": w.trust.Password,
		"zookeeper.ssl.protocol":            "TLSv1.3",
		"zookeeper.ssl.enabledProtocols":    "TLSv1.3,TLSv1.2",
		// ZooKeeper 3.8's default suites are TLS 1.2's only: TLSv1.3 then fails
		// every handshake ("No appropriate protocol") unless they are listed.
		"zookeeper.ssl.ciphersuites":  benchSuites,
		"zookeeper.serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
	}
	ref, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{
		Config:         map[string]string{"secureClientPort": fmt.Sprint(securePort), "secureClientPortAddress": "127.0.0.1"},
		Props:          ssl,
		ExtraClasspath: testkit.NettyJars,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Stop()
	src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: w.serverKS, TrustStore: w.trust, Protocol: "TLSv1.3", EnabledProtocols: []string{"TLSv1.3", "TLSv1.2"},
		CipherSuites: strings.Split(benchSuites, ",")}, true, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := ensembletest.RunServer(b, ensembletest.WithDataDir(b.TempDir()), ensembletest.WithConfig(func(c *ensemble.Config) {
		c.TLS.SecureClientAddr = "127.0.0.1:0"
		c.TLS.Client = src.ServerConfig()
	}))
	// The client picks the protocol; both servers enable 1.2 and 1.3.
	cfg12, cfg := w.clientConfig(w.alice), w.clientConfig(w.alice)
	cfg12.MaxVersion = tls.VersionTLS12
	cfg.MinVersion = tls.VersionTLS13
	type target struct {
		name string
		addr string
		tls  *tls.Config
	}
	targets := []target{
		{"zookeeper/plain", ref.Addr, nil},
		{"zookeeper/tls1.2", fmt.Sprintf("127.0.0.1:%d", securePort), cfg12},
		{"zookeeper/tls", fmt.Sprintf("127.0.0.1:%d", securePort), cfg},
		{"zkraft/plain", srv.Addr, nil},
		{"zkraft/tls1.2", srv.SecureAddr().String(), cfg12},
		{"zkraft/tls", srv.SecureAddr().String(), cfg},
	}
	connect := func(tg target) error {
		var nc net.Conn
		var err error
		if tg.tls != nil {
			nc, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.addr, tg.tls)
		} else {
			nc, err = net.DialTimeout("tcp", tg.addr, 5*time.Second)
		}
		if err != nil {
			return err
		}
		c := rawzk.New(nc)
		defer c.Close()
		if err := c.Handshake(zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}); err != nil {
			return err
		}
		return c.Call(zkproto.OpCloseSession, nil, nil)
	}
	for _, tg := range targets { // warm up (the JVM's JIT above all)
		for range 200 {
			if err := connect(tg); err != nil {
				b.Fatalf("%s: %v\n%s", tg.name, err, ref.LogTail(400))
			}
		}
	}
	for _, tg := range targets {
		b.Run("connect/"+tg.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if err := connect(tg); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
		})
	}
	for _, op := range []string{"get16", "set16"} {
		for _, tg := range targets {
			b.Run(op+"/"+tg.name, func(b *testing.B) {
				for b.Loop() {
					b.ReportMetric(throughput16(b, tg.addr, tg.tls, op == "set16", 2*time.Second), "ops/s")
				}
			})
		}
	}
}

// benchSuites: TLS 1.3's, and TLS 1.2's ECDSA GCM suites.
const benchSuites = "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256," +
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"

// throughput16 runs 16 sessions, each doing get (or set) of its own 100-byte node
// back to back for d, and returns the operations per second.
func throughput16(b *testing.B, addr string, cfg *tls.Config, write bool, d time.Duration) float64 {
	conns := make([]*zk.Conn, 16)
	for i := range conns {
		var c *zk.Conn
		var err error
		if cfg != nil {
			c, _, err = zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithDialer(tlsDialer(cfg)))
		} else {
			c, _, err = zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
		}
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		p := fmt.Sprintf("/tp%d", i)
		if _, err := c.Create(p, make([]byte, 100), 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	var ops atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, data := fmt.Sprintf("/tp%d", i), make([]byte, 100)
			for time.Now().Before(stop) {
				var err error
				if write {
					_, err = c.Set(p, data, -1)
				} else {
					_, _, err = c.Get(p)
				}
				if err != nil {
					b.Error(err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(ops.Load()) / d.Seconds()
}
