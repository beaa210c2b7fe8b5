//go:build clients

package clients

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/jaas"
	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/integration/testkit"
)

// saslServerJAAS is the server's JAAS file of the client tests.
const saslServerJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret";
};
`

// clientJAAS is a Java client's JAAS file: the Client section ZooKeeper's client
// reads for DIGEST-MD5.
func clientJAAS(t *testing.T, user, password string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client-jaas.conf")
	text := "Client {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    username=\"" + user + "\" password=\"" + password + "\";\n};\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runSASLServer starts a zkraft server with the SASL users of saslServerJAAS.
func runSASLServer(t *testing.T, mutate func(*ensemble.Config)) *ensembletest.Server {
	t.Helper()
	c, err := jaas.Parse("server-jaas.conf", saslServerJAAS)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sasl.New(c, sasl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ensembletest.RunServer(t, ensembletest.WithConfig(func(cfg *ensemble.Config) {
		cfg.Auth.SASL = s
		if mutate != nil {
			mutate(cfg)
		}
	}))
}

// zkCliSASL runs zkCli.sh with a JAAS Client section (CLIENT_JVMFLAGS), typing lines.
func zkCliSASL(t *testing.T, addr, jaasFile string, lines ...string) string {
	t.Helper()
	if _, err := os.Stat(zkCli); err != nil {
		t.Fatalf("%s missing: install the Debian package zookeeper (see .ci/run)", zkCli)
	}
	cmd := exec.Command(zkCli, "-timeout", "10000", "-server", addr)
	cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=WARN,CONSOLE",
		"CLIENT_JVMFLAGS=-Xshare:auto -XX:TieredStopAtLevel=1 -Djava.security.auth.login.config="+jaasFile)
	cmd.Stdin = strings.NewReader(strings.Join(append(lines, "quit"), "\n") + "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, _ := testkit.CombinedOutput(ctx, cmd) // exits 1 when a command failed
	return out
}

// TestZkCliSASL: the Java client with a JAAS Client section authenticates by
// DIGEST-MD5 (SaslAuthenticated, whoami shows sasl:bob) and its sasl ACL holds;
// with a wrong password it gets AuthFailed, and a session already open on the
// server is untouched.
func TestZkCliSASL(t *testing.T) {
	t.Parallel()
	srv := runSASLServer(t, nil)
	bystander, events, err := zk.Connect([]string{srv.Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer bystander.Close()
	waitState(t, events, zk.StateHasSession)

	out := zkCliSASL(t, srv.Addr, clientJAAS(t, "bob", "bobsecret"),
		"whoami", "create /zkcli-sasl data sasl:bob:cdrwa", "getAcl /zkcli-sasl", "get /zkcli-sasl")
	for _, want := range []string{"state:SaslAuthenticated", "sasl: bob", "Created /zkcli-sasl", "'sasl,'bob\n: cdrwa", "\ndata\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("zkCli.sh as bob: missing %q in:\n%s", want, out)
		}
	}
	if _, _, err := bystander.Get("/zkcli-sasl"); err != zk.ErrNoAuth {
		t.Errorf("unauthenticated get of a sasl:bob node: %v, want NOAUTH", err)
	}

	out = zkCliSASL(t, srv.Addr, clientJAAS(t, "bob", "wrong"), "whoami")
	if !strings.Contains(out, "state:AuthFailed") || strings.Contains(out, "sasl: bob") {
		t.Errorf("zkCli.sh with a wrong password: want AuthFailed, in:\n%s", out)
	}
	out = zkCliSASL(t, srv.Addr, clientJAAS(t, "super", "adminsecret"), "get /zkcli-sasl")
	if !strings.Contains(out, "\ndata\n") {
		t.Errorf("the SASL user super may read every sasl ACL:\n%s", out)
	}
	if _, err := bystander.Create("/bystander", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("the session open beside the failed one: %v", err)
	}
}

// TestZkCliKerberos: the Java client with a JAAS Client section for
// Krb5LoginModule (a keytab, principal client@REALM; it asks for no mutual
// authentication, so the server's sequence numbers start at its own) authenticates by GSSAPI
// against a zkraft whose Server section names zookeeper/127.0.0.1's keytab, both
// using a real MIT KDC; whoami shows sasl:client@REALM and its sasl ACL holds. A
// client whose ticket is for another service is refused (AuthFailed).
func TestZkCliKerberos(t *testing.T) {
	t.Parallel()
	kdc := testkit.StartKDC(t, "ZKCLI.TEST")
	serverKT, clientKT := filepath.Join(kdc.Dir, "server.keytab"), filepath.Join(kdc.Dir, "client.keytab")
	kdc.AddPrincipal(t, "zookeeper/127.0.0.1", serverKT)
	kdc.AddPrincipal(t, "client", clientKT)
	kdc.AddPrincipal(t, "zookeeper/elsewhere", filepath.Join(kdc.Dir, "other.keytab"))
	jc, err := jaas.Parse("server-jaas.conf", `Server {
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true keyTab="`+serverKT+`" storeKey=true useTicketCache=false
  principal="zookeeper/127.0.0.1@ZKCLI.TEST";
};`)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sasl.New(jc, sasl.Options{Krb5Conf: kdc.Krb5Conf})
	if err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(cfg *ensemble.Config) { cfg.Auth.SASL = s }))
	clientJAAS := filepath.Join(t.TempDir(), "client-jaas.conf")
	if err := os.WriteFile(clientJAAS, []byte(`Client {
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true keyTab="`+clientKT+`" storeKey=true useTicketCache=false
  principal="client@ZKCLI.TEST";
};
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(extra string, lines ...string) string {
		if _, err := os.Stat(zkCli); err != nil {
			t.Fatalf("%s missing: install the Debian package zookeeper (see .ci/run)", zkCli)
		}
		cmd := exec.Command(zkCli, "-timeout", "10000", "-server", srv.Addr)
		cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=WARN,CONSOLE",
			"CLIENT_JVMFLAGS=-Xshare:auto -XX:TieredStopAtLevel=1 -Djava.security.auth.login.config="+clientJAAS+
				" -Djava.security.krb5.conf="+kdc.Krb5Conf+" "+extra)
		cmd.Stdin = strings.NewReader(strings.Join(append(lines, "quit"), "\n") + "\n")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, _ := testkit.CombinedOutput(ctx, cmd)
		return out
	}
	out := run("-Dzookeeper.server.principal=zookeeper/127.0.0.1@ZKCLI.TEST", "whoami", "create /krb-cli data sasl:client@ZKCLI.TEST:cdrwa", "get /krb-cli")
	for _, want := range []string{"state:SaslAuthenticated", "sasl: client@ZKCLI.TEST", "Created /krb-cli", "\ndata\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("zkCli.sh with Kerberos: missing %q in:\n%s", want, out)
		}
	}
	out = run("-Dzookeeper.server.principal=zookeeper/elsewhere@ZKCLI.TEST", "whoami")
	if !strings.Contains(out, "state:AuthFailed") || strings.Contains(out, "sasl: client") {
		t.Errorf("zkCli.sh with a ticket for another service: want AuthFailed, in:\n%s", out)
	}
}
