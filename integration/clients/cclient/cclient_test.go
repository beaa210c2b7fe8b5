//go:build clients

// Package cclient runs Apache ZooKeeper's multi-threaded C client (Debian's
// libzookeeper-mt-dev / libzookeeper-mt2, 3.8.0) against zkraft: testdata/zkcheck.c (C sources may not sit beside Go files without cgo), compiled with
// gcc at test time, exercises create (persistent, ephemeral, sequential, container, TTL,
// create2), get/set with versions, children, watches and their removal, delete, multi,
// sync, digest auth and ACLs, getconfig, and reconnection; against one server through a
// recording proxy and against a 3-member ensemble with the host list of all members.
package cclient

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/clients/internal/checkprog"
	"github.com/zkraft/zkraft/integration/internal/recorder"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// The checks zkcheck.c must report OK.
var wantChecks = []string{
	"connect",
	"create (persistent; exists, no parent)",
	"create2 (stat)",
	"create modes (sequential, ephemeral, container, TTL)",
	"get/set with versions",
	"get_children, get_children2",
	"watches (exists, data, children, delete; remove)",
	"delete with versions",
	"multi",
	"sync",
	"auth and ACLs",
	"getconfig (/zookeeper/config)",
	"reconnect keeps session and watches",
	"cleanup",
	"close",
}

// build compiles zkcheck.c against libzookeeper_mt.
func build(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc missing: apt-get install gcc libc6-dev (see .ci/run)")
	}
	for _, f := range []string{"/usr/include/zookeeper/zookeeper.h", "/usr/lib/x86_64-linux-gnu/libzookeeper_mt.so"} {
		if _, err := os.Stat(f); err != nil {
			// Other architectures keep the library elsewhere; the header is the test.
			if strings.HasSuffix(f, ".h") {
				t.Fatalf("%s missing: apt-get install libzookeeper-mt-dev (see .ci/run)", f)
			}
		}
	}
	bin := filepath.Join(t.TempDir(), "zkcheck")
	cmd := exec.Command("gcc", "-Wall", "-O1", "-DTHREADED", "-o", bin, "testdata/zkcheck.c", "-lzookeeper_mt", "-lpthread")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := testkit.CombinedOutput(ctx, cmd); err != nil {
		t.Fatalf("gcc testdata/zkcheck.c (apt-get install libzookeeper-mt-dev): %v\n%s", err, out)
	}
	return bin
}

// runCheck runs zkcheck and checks its report; onDrop is called with the server
// address when the program asks to be cut off.
func runCheck(t *testing.T, bin string, onDrop func(addr string), args ...string) {
	t.Helper()
	checkprog.Run(t, "zkcheck "+args[0], exec.Command(bin, args...), 60*time.Second, wantChecks, onDrop)
}

// extendedTypes enables TTL nodes, off by default as in ZooKeeper.
var extendedTypes = ensembletest.WithConfig(func(c *ensemble.Config) { c.ExtendedTypesEnabled = true })

func TestCClient(t *testing.T) {
	bin := build(t)

	t.Run("single", func(t *testing.T) {
		t.Parallel()
		srv := ensembletest.RunServer(t, extendedTypes)
		p := recorder.StartProxy(t, rec, column, srv.Addr)
		runCheck(t, bin, func(string) { p.DropConns() }, "single", p.Addr())
		t.Logf("op codes seen (matrix column):\n%s", rec.Summary(column))
		for _, op := range []zkproto.OpCode{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 17, 18, 19, 21, 100, -11} {
			if !rec.OK(column, op) {
				t.Errorf("the C client never had op %d (%s) answered OK", op, op)
			}
		}
	})

	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := ensembletest.RunCluster(t, 3, extendedTypes)
		addrs := cl.Addrs()
		runCheck(t, bin, checkprog.StopMember(t, cl), "cluster", strings.Join(addrs, ","), strings.Join(addrs, ","))
	})
}
