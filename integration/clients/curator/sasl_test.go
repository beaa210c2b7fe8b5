//go:build clients

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
	"github.com/zkraft/zkraft/ensemble/jaas"
	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/integration/testkit"
)

// TestCuratorSASL: Curator over a ZooKeeper client with a JAAS Client section
// authenticates by DIGEST-MD5 (SaslAuthenticated, whoAmI sasl:bob, a sasl ACL it
// can use), and with a wrong password gets AuthFailed (CuratorSASL.java).
func TestCuratorSASL(t *testing.T) {
	classpath := compile(t)
	jc, err := jaas.Parse("jaas.conf", `Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="bobsecret"; };`)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sasl.New(jc, sasl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.Auth.SASL = ss }))
	for _, tc := range []struct{ mode, password string }{{"ok", "bobsecret"}, {"bad", "wrong"}} {
		t.Run(tc.mode, func(t *testing.T) {
			clientJAAS := filepath.Join(t.TempDir(), "client.conf")
			text := `Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="bob" password="` + tc.password + `"; };`
			if err := os.WriteFile(clientJAAS, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.Command("java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-Djava.security.auth.login.config="+clientJAAS,
				"-cp", classpath, "CuratorSASL", srv.Addr, tc.mode)
			out, err := testkit.CombinedOutput(ctx, cmd)
			t.Logf("CuratorSASL %s:\n%s", tc.mode, out)
			if err != nil || strings.HasPrefix(out, "FAIL ") || strings.Contains(out, "\nFAIL ") {
				t.Fatalf("CuratorSASL %s: %v", tc.mode, err)
			}
			want := []string{"OK SaslAuthenticated", "OK whoAmI", "OK sasl ACL"}
			if tc.mode == "bad" {
				want = []string{"OK AuthFailed", "OK request after AuthFailed"}
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q", w)
				}
			}
		})
	}
}

// TestCuratorKerberos: Curator over a ZooKeeper client whose JAAS Client section
// logs in with a keytab authenticates by GSSAPI against zkraft (a real MIT KDC):
// SaslAuthenticated, whoAmI sasl:client@CURATOR.TEST, a sasl ACL it can use.
func TestCuratorKerberos(t *testing.T) {
	classpath := compile(t)
	kdc := testkit.StartKDC(t, "CURATOR.TEST")
	serverKT, clientKT := filepath.Join(kdc.Dir, "server.keytab"), filepath.Join(kdc.Dir, "client.keytab")
	kdc.AddPrincipal(t, "zookeeper/127.0.0.1", serverKT)
	kdc.AddPrincipal(t, "client", clientKT)
	jc, err := jaas.Parse("jaas.conf", `Server { com.sun.security.auth.module.Krb5LoginModule required
		useKeyTab=true keyTab="`+serverKT+`" principal="zookeeper/127.0.0.1@CURATOR.TEST"; };`)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sasl.New(jc, sasl.Options{Krb5Conf: kdc.Krb5Conf})
	if err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.Auth.SASL = ss }))
	clientJAAS := filepath.Join(t.TempDir(), "client.conf")
	if err := os.WriteFile(clientJAAS, []byte(`Client { com.sun.security.auth.module.Krb5LoginModule required
		useKeyTab=true keyTab="`+clientKT+`" storeKey=true useTicketCache=false principal="client@CURATOR.TEST"; };`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command("java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-Djava.security.auth.login.config="+clientJAAS,
		"-Djava.security.krb5.conf="+kdc.Krb5Conf, "-Dzookeeper.server.principal=zookeeper/127.0.0.1@CURATOR.TEST",
		"-cp", classpath, "CuratorSASL", srv.Addr, "ok", "client@CURATOR.TEST")
	out, err := testkit.CombinedOutput(ctx, cmd)
	t.Logf("CuratorSASL (Kerberos):\n%s", out)
	if err != nil || strings.HasPrefix(out, "FAIL ") || strings.Contains(out, "\nFAIL ") {
		t.Fatalf("CuratorSASL: %v", err)
	}
	for _, w := range []string{"OK SaslAuthenticated", "OK whoAmI", "OK sasl ACL"} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q", w)
		}
	}
}
