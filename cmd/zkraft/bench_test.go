package main

import (
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/ensemble/tlsconfig/tlstest"
	"github.com/zkraft/zkraft/integration/testkit"
)

// Every workload completes operations without errors and reports ordered
// quantiles; the progress lines come while it runs.
func TestBenchMeasures(t *testing.T) {
	srv := ensembletest.RunServer(t)
	for _, op := range []string{"create", "set", "get", "mixed", "multi", "delete", "watch", "churn"} {
		var progress testkit.Buffer
		o := benchOpts{servers: []string{srv.Addr}, clients: 3, inflight: 2, duration: 300 * time.Millisecond,
			op: op, size: 10, root: "/bench-" + op, progress: 50 * time.Millisecond, log: &progress}
		r, err := runBench(o)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if r.Ops == 0 || r.Errors != 0 || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 || r.Throughput <= 0 || r.Elapsed <= 0 {
			t.Fatalf("%s: implausible result %+v", op, r)
		}
		if !strings.Contains(progress.String(), "bench "+op+": ") {
			t.Errorf("%s: no progress line in %q", op, progress.String())
		}
	}
}

// A second delete run against the same server deletes znodes of its own, not the
// ones the first left undeleted (it once failed: node already exists).
func TestBenchDeleteTwice(t *testing.T) {
	srv := ensembletest.RunServer(t)
	for run := range 2 {
		o := benchOpts{servers: []string{srv.Addr}, clients: 2, inflight: 1, duration: 200 * time.Millisecond,
			op: "delete", size: 10, root: "/bench-delete"}
		if r, err := runBench(o); err != nil || r.Ops == 0 || r.Errors != 0 {
			t.Fatalf("run %d: %+v %v", run, r, err)
		}
	}
}

// fill creates exactly --count znodes, 1,000 under each parent.
func TestBenchFill(t *testing.T) {
	srv := ensembletest.RunServer(t)
	o := benchOpts{servers: []string{srv.Addr}, clients: 2, inflight: 4, op: "fill", count: 1500, size: 10, root: "/fill"}
	r, err := runBench(o)
	if err != nil || r.Ops != 1500 || r.Errors != 0 {
		t.Fatalf("fill: %+v %v", r, err)
	}
	c, err := benchConnect([]string{srv.Addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for p, want := range map[string]int{"/fill": 2, "/fill/p0": 1000, "/fill/p1": 500} {
		if kids, _, err := c.Children(p); err != nil || len(kids) != want {
			t.Errorf("%s: %d children (%v), want %d", p, len(kids), err, want)
		}
	}
}

func TestBenchFloor(t *testing.T) {
	f, err := measureFloor(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if f.FsyncP50 <= 0 || f.FsyncP99 < f.FsyncP50 || f.RTTP50 <= 0 || f.RTTP99 < f.RTTP50 {
		t.Fatalf("implausible floor %+v", f)
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
	r, err := runBench(benchOpts{servers: []string{srv.Addr}, clients: 4, inflight: 2, duration: 300 * time.Millisecond, op: "get", size: 10, root: "/bench-tls", dial: dial})
	if err != nil || r.Ops == 0 || r.Errors != 0 {
		t.Fatalf("bench over TLS: %+v %v", r, err)
	}
	if _, err := (&benchTLS{cert: certPath}).dialer(); err == nil {
		t.Error("--tls-cert without --tls-ca accepted")
	}
}

// --cpu-of reports the CPU time of the named processes over the run: here the
// server runs in this process, so its CPU read from /proc must match the bench's
// own from getrusage (to the 10 ms ticks /proc counts in).
func TestBenchCPUOf(t *testing.T) {
	srv := ensembletest.RunServer(t)
	o := benchOpts{servers: []string{srv.Addr}, clients: 4, inflight: 4, duration: 700 * time.Millisecond, op: "set", size: 10, root: "/bench-cpu",
		cpu: cpuMeter{pids: []int{os.Getpid()}}}
	r, err := runBench(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.CPU < 50*time.Millisecond || r.ServerCPU < 50*time.Millisecond {
		t.Fatalf("a busy run used CPU %v, servers %v: too little to be measured", r.CPU, r.ServerCPU)
	}
	if diff := (r.CPU - r.ServerCPU).Abs(); diff > 4*clockTick {
		t.Fatalf("the same process measured two ways: getrusage %v, /proc %v", r.CPU, r.ServerCPU)
	}
	// Durable writes over loopback: syscalls, the network stack and fsync are
	// system time, and the rest (the bench's and the server's Go code) is not.
	if r.ServerSysCPU < clockTick || r.ServerSysCPU >= r.ServerCPU {
		t.Fatalf("of the servers' CPU %v, %v in the kernel", r.ServerCPU, r.ServerSysCPU)
	}
	for _, bad := range []string{"x", "1,-2", "0"} {
		if _, err := parsePids(bad); err == nil {
			t.Errorf("--cpu-of %q accepted", bad)
		}
	}
	if _, _, err := procCPU(1 << 30); err == nil {
		t.Error("procCPU of a process that does not exist: no error")
	}
}
