//go:build clients

package clients

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/integration/testkit"
)

// kazooTests is where Debian's python3-kazoo installs kazoo's own test suite.
const kazooTests = "/usr/lib/python3/dist-packages/kazoo/tests"

// fakeJava is a "java" for kazoo's test harness (kazoo.testing), which starts
// ZooKeeper as "java -cp CP -Dk=v ... org.apache.zookeeper.server.quorum.QuorumPeerMain
// zoo.cfg": it runs zkraft on that zoo.cfg instead, with the -D flags in
// SERVER_JVMFLAGS as ZooKeeper's scripts pass them, so that kazoo's own tests run
// against zkraft exactly as they run against ZooKeeper.
const fakeJava = `#!/bin/sh
flags=""
cfg=""
for a in "$@"; do
	case "$a" in -D*) flags="$flags $a" ;; esac
	cfg="$a"
done
echo "$cfg" >> "$TMPDIR/zkraft-configs"
SERVER_JVMFLAGS="$flags" exec %s serve --config "$cfg" --log-level warn
`

// kazooHarnessEnv is the environment in which kazoo's own tests start zkraft
// through fakeJava: one member, its four ports (client, election, leader, admin)
// free now, its files under dir.
func kazooHarnessEnv(t *testing.T, dir string, extra ...string) []string {
	t.Helper()
	bin := testkit.BuildZkraft(t)
	binDir := filepath.Join(dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(binDir, "java"), []byte(fmt.Sprintf(fakeJava, bin)), 0o755); err != nil {
		t.Fatal(err)
	}
	return append([]string{
		"PATH=" + binDir + ":" + os.Getenv("PATH"),
		"TMPDIR=" + dir,
		"ZOOKEEPER_VERSION=3.8.0",
		"ZOOKEEPER_CLASSPATH=zkraft",
		"ZOOKEEPER_CLUSTER_SIZE=1",
		fmt.Sprintf("ZOOKEEPER_PORT_OFFSET=%d", freePortRun(t, 4)),
	}, extra...)
}

// freePortRun finds n consecutive loopback ports that are free now.
func freePortRun(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(30000)
		var lns []net.Listener
		for i := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == n {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// TestKazooOwnSASLTests runs kazoo's own SASL tests (kazoo/tests/test_sasl.py:
// DIGEST-MD5 with sasl_options and with the deprecated "sasl" auth_data, and
// GSSAPI with a ticket and with a postdated, invalid one) on zkraft through kazoo's
// test harness: it writes the zoo.cfg (with authProvider.1=...SASLAuthenticationProvider)
// and the JAAS file of a ZooKeeper test server (a DigestLoginModule, or a
// Krb5LoginModule with the keytab of zookeeper/127.0.0.1@KAZOOTEST.ORG) and passes
// -Djava.security.auth.login.config and -Djava.security.krb5.conf, which zkraft
// reads. The Kerberos environment kazoo's CI builds (KRB5_TEST_ENV with
// server.keytab and client.keytab, KRB5_CONFIG) comes from a real MIT KDC here.
func TestKazooOwnSASLTests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kdc := testkit.StartKDC(t, "KAZOOTEST.ORG")
	kdc.AddPrincipal(t, "zookeeper/127.0.0.1", filepath.Join(kdc.Dir, "server.keytab"))
	kdc.AddPrincipal(t, "client", filepath.Join(kdc.Dir, "client.keytab"))
	env := kazooHarnessEnv(t, dir, "KRB5_TEST_ENV="+kdc.Dir, "KRB5_CONFIG="+kdc.Krb5Conf,
		"KRB5CCNAME=FILE:"+filepath.Join(kdc.Dir, "ccache"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// kazoo's two DIGEST-MD5 test_invalid_sasl_auth race with kazoo's own start()
	// (test_kazoo_sasl_invalid.py says how); that file checks the same rejection
	// without the race.
	cmd := testkit.PytestCmd(env, "-k", "not test_invalid_sasl_auth",
		filepath.Join(kazooTests, "test_sasl.py"), filepath.Join(here, "test_kazoo_sasl_invalid.py"))
	cmd.Dir = dir
	out, err := testkit.CombinedOutput(ctx, cmd)
	t.Logf("kazoo/tests/test_sasl.py:\n%s", out)
	if err != nil {
		t.Fatalf("kazoo's SASL tests failed: %v", err)
	}
	if !strings.Contains(out, "6 passed, 2 deselected") || strings.Contains(out, "skipped") {
		t.Fatal("want kazoo's 4 other SASL tests and the 2 race-free invalid-credential tests passed, none skipped")
	}
	if ran, _ := os.ReadFile(filepath.Join(dir, "zkraft-configs")); len(ran) == 0 {
		t.Fatal("the harness did not start zkraft")
	}
}
