//go:build clients

// Package curator runs Apache Curator 5.x (Debian's libcurator-*-java) against zkraft:
// CuratorCheck.java, compiled with javac at test time, exercises the framework's
// operations and the recipes (InterProcessMutex, LeaderLatch, CuratorCache,
// DistributedAtomicLong, ServiceDiscovery) against one server through a recording
// proxy, and against a 3-member ensemble with the connect string of all members.
package curator

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

// The jars of the Debian packages libcurator-client-java, libcurator-framework-java,
// libcurator-recipes-java, libcurator-discovery-java (with their dependencies
// libguava-java, libjackson2-*-java), libzookeeper-java and libslf4j-java.
var jars = map[string]string{
	"curator-client.jar":      "libcurator-client-java",
	"curator-framework.jar":   "libcurator-framework-java",
	"curator-recipes.jar":     "libcurator-recipes-java",
	"curator-x-discovery.jar": "libcurator-discovery-java",
	"guava.jar":               "libguava-java",
	"zookeeper.jar":           "libzookeeper-java",
	"zookeeper-jute.jar":      "libzookeeper-java",
	"slf4j-api.jar":           "libslf4j-java",
	"slf4j-nop.jar":           "libslf4j-java",
	"jackson-core.jar":        "libjackson2-core-java",
	"jackson-databind.jar":    "libjackson2-databind-java",
	"jackson-annotations.jar": "libjackson2-annotations-java",
}

// The checks CuratorCheck.java must report OK, in order.
var wantChecks = []string{
	"connect",
	"create creatingParentsIfNeeded",
	"create2 storingStatIn",
	"create modes (ephemeral sequential, protection, container, TTL)",
	"getData/setData with versions",
	"getChildren",
	"delete",
	"transaction",
	"watches (data, exists, children; remove)",
	"sync",
	"auth and ACLs",
	"InterProcessMutex (two clients contend)",
	"DistributedAtomicLong (two clients)",
	"LeaderLatch (one leader, failover)",
	"CuratorCache (persistent recursive watch)",
	"ServiceDiscovery (register, query, provider, unregister)",
	"ensemble config (/zookeeper/config, EnsembleTracker)",
	"reconnect keeps session, watches and cache",
	"cleanup",
}

// compile builds CuratorCheck.java into a temp dir and returns the classpath to run it.
func compile(t *testing.T) string {
	t.Helper()
	cp := []string{t.TempDir()}
	for jar, pkg := range jars {
		p := filepath.Join("/usr/share/java", jar)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s missing: apt-get install %s (see .ci/run)", p, pkg)
		}
		cp = append(cp, p)
	}
	for _, tool := range []string{"javac", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing: apt-get install default-jdk-headless (see .ci/run)", tool)
		}
	}
	classpath := strings.Join(cp, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := testkit.CombinedOutput(ctx, exec.Command("javac", "-nowarn", "-d", cp[0], "-cp", classpath, "CuratorCheck.java", "CuratorSASL.java"))
	if err != nil {
		t.Fatalf("javac CuratorCheck.java CuratorSASL.java: %v\n%s", err, out)
	}
	return classpath
}

// runCheck runs CuratorCheck and returns its output lines; onDrop is called with the
// server address when the program asks to be cut off.
func runCheck(t *testing.T, classpath string, onDrop func(addr string), args ...string) []string {
	t.Helper()
	cmd := exec.Command("java", append([]string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", classpath, "CuratorCheck"}, args...)...)
	return checkprog.Run(t, "CuratorCheck "+args[0], cmd, 75*time.Second, wantChecks, onDrop)
}

// extendedTypes enables TTL nodes (zookeeper.extendedTypesEnabled), off by default as in
// ZooKeeper; without it createTTL answers UNIMPLEMENTED.
var extendedTypes = ensembletest.WithConfig(func(c *ensemble.Config) { c.ExtendedTypesEnabled = true })

func TestCurator(t *testing.T) {
	classpath := compile(t)

	t.Run("single", func(t *testing.T) {
		t.Parallel()
		srv := ensembletest.RunServer(t, extendedTypes)
		p := recorder.StartProxy(t, rec, column, srv.Addr)
		runCheck(t, classpath, func(string) { p.DropConns() }, "single", p.Addr())
		t.Logf("op codes seen (matrix column):\n%s", rec.Summary(column))
		// Ops the checks above must have made Curator send, answered OK.
		for _, op := range []zkproto.OpCode{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 17, 18, 19, 21, 100, 105, 106, -11} {
			if !rec.OK(column, op) {
				t.Errorf("Curator never had op %d (%s) answered OK", op, op)
			}
		}
	})

	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := ensembletest.RunCluster(t, 3, extendedTypes)
		addrs := cl.Addrs()
		runCheck(t, classpath, checkprog.StopMember(t, cl), "cluster", strings.Join(addrs, ","), strings.Join(addrs, ","))
	})
}
