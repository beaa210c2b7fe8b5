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
