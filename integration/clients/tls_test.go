//go:build clients

package clients

import (
	"context"
	"crypto/x509/pkix"
	"os"
	"os/exec"
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

const (
	tlsPass  = "changeit"
	clientDN = "CN=app,OU=clients,O=Acme"
)

// tlsFiles are a CA and the files each client needs: PEM for kazoo, JKS and
// PKCS12 stores (keytool-made JKS) for the Java client.
type tlsFiles struct {
	dir                   string
	caPEM                 string
	clientCert, clientKey string
	clientP12, clientJKS  string
	trustP12, trustJKS    string
}

// tlsServer starts a server with a secure client port (clientAuth=need) whose
// stores are files, and returns the client files.
func tlsServer(t *testing.T) (*ensembletest.Server, tlsFiles) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "clients CA")
	f := tlsFiles{dir: dir, caPEM: filepath.Join(dir, "ca.pem"),
		clientCert: filepath.Join(dir, "client.crt"), clientKey: filepath.Join(dir, "client.key"),
		clientP12: filepath.Join(dir, "client.p12"), clientJKS: filepath.Join(dir, "client.jks"),
		trustP12: filepath.Join(dir, "trust.p12"), trustJKS: filepath.Join(dir, "trust.jks")}
	ca.WriteTrustStore(t, f.caPEM, "PEM", "")
	ca.WriteTrustStore(t, f.trustP12, "PKCS12", tlsPass)
	cli := ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "app", OrganizationalUnit: []string{"clients"}, Organization: []string{"Acme"}}})
	os.WriteFile(f.clientCert, cli.CertPEM(), 0o600)
	key := cli.KeyPEM(t)
	os.WriteFile(f.clientKey, key[:strings.Index(string(key), "-----BEGIN CERTIFICATE")], 0o600)
	cli.WriteKeyStore(t, f.clientP12, "PKCS12", tlsPass)
	keytool(t, "-importkeystore", "-noprompt", "-srckeystore", f.clientP12, "-srcstoretype", "PKCS12", "-srcstorepass", tlsPass,
		"-destkeystore", f.clientJKS, "-deststoretype", "JKS", "-deststorepass", tlsPass)
	keytool(t, "-importcert", "-noprompt", "-alias", "ca", "-file", f.caPEM, "-keystore", f.trustJKS, "-storetype", "JKS", "-storepass", tlsPass)

	ks := filepath.Join(dir, "server.p12")
	ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "zk"}, Hosts: []string{"127.0.0.1", "localhost"}}).WriteKeyStore(t, ks, "PKCS12", tlsPass)
	src, err := tlsconfig.New(tlsconfig.Settings{KeyStore: tlsconfig.Store{Location: ks, Password: tlsPass},
		TrustStore: tlsconfig.Store{Location: f.trustJKS, Password: tlsPass}}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.TLS.SecureClientAddr = "127.0.0.1:0"
		c.TLS.Client = src.ServerConfig()
	}))
	return srv, f
}

func keytool(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("keytool", args...).CombinedOutput(); err != nil {
		t.Fatalf("keytool %v: %v\n%s", args, err, out)
	}
}

// nettyClientClasspath is zkCli.sh's classpath with the Netty jars that Debian's
// zookeeper.jar manifest leaves out (netty-codec, netty-resolver): without them
// ClientCnxnSocketNetty, and so every TLS client of the Debian package, fails with
// NoClassDefFoundError io/netty/resolver/AddressResolverGroup. It is passed as a
// second -cp in CLIENT_JVMFLAGS, which overrides the script's.
const nettyClientClasspath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:" +
	"/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar"

// The Java client (zkCli.sh over Netty with zookeeper.client.secure=true) connects
// to the secure port with JKS and with PKCS12 stores, is identified by its
// certificate (whoami; an "auth" ACL becomes x509:<DN>), and verifies the server's
// host name (zookeeper.ssl.hostnameVerification defaults to true).
func TestZkCliTLS(t *testing.T) {
	srv, f := tlsServer(t)
	addr := srv.SecureAddr().String()
	for _, st := range []struct{ typ, ks, ts string }{
		{"JKS", f.clientJKS, f.trustJKS},
		{"PKCS12", f.clientP12, f.trustP12},
	} {
		t.Run(st.typ, func(t *testing.T) {
			flags := strings.Join([]string{
				"-Dzookeeper.client.secure=true",
				"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
				"-Dzookeeper.ssl.keyStore.location=" + st.ks,
				"-Dzookeeper.ssl.keyStore.password=" + tlsPass,
				"-Dzookeeper.ssl.keyStore.type=" + st.typ,
				"-Dzookeeper.ssl.trustStore.location=" + st.ts,
				"-Dzookeeper.ssl.trustStore.password=" + tlsPass,
				"-Dzookeeper.ssl.trustStore.type=" + st.typ,
				"-cp " + nettyClientClasspath,
			}, " ")
			node := "/java-" + strings.ToLower(st.typ)
			sections, text := runZkCliFlags(t, addr, flags, []cliStep{
				mark("who"), {line: "whoami"},
				mark("create"), {line: "create " + node + " data auth::cdrwa"},
				mark("get"), {line: "get " + node}, {line: "getAcl " + node},
				mark("end"),
			})
			expect(t, sections, "who", "x509: "+clientDN, "ip: 127.0.0.1")
			expect(t, sections, "create", "Created "+node)
			// zkCli's getAcl prints the id URL-encoded.
			expect(t, sections, "get", "data", "'x509,'"+strings.ReplaceAll(clientDN, ",", "%2C"))
			if strings.Contains(text, "SSLHandshakeException") {
				t.Errorf("TLS handshake failed:\n%s", text)
			}
		})
	}
}

// kazoo with use_ssl: a client certificate identifies the session (an x509 ACL
// admits it); without one the server refuses the handshake.
func TestKazooTLS(t *testing.T) {
	srv, f := tlsServer(t)
	script := `
import sys
from kazoo.client import KazooClient
from kazoo.security import ACL, Permissions, Id
from kazoo.exceptions import NoAuthError
hosts, ca, cert, key, dn = sys.argv[1:6]
zk = KazooClient(hosts=hosts, use_ssl=True, ca=ca, certfile=cert, keyfile=key, verify_certs=True, timeout=10)
zk.start(timeout=15)
zk.create("/kazoo-tls", b"v", acl=[ACL(Permissions.ALL, Id("x509", dn))])
data, _ = zk.get("/kazoo-tls")
acl, _ = zk.get_acls("/kazoo-tls")
print("GOT", data.decode(), acl[0].id.scheme, acl[0].id.id)
zk.stop(); zk.close()
anon = KazooClient(hosts=hosts, use_ssl=True, ca=ca, verify_certs=True, timeout=2, connection_retry={"max_tries": 1})
try:
    anon.start(timeout=4)
    print("ANON CONNECTED")
except Exception as e:
    print("ANON REFUSED", type(e).__name__)
finally:
    anon.stop(); anon.close()
`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.Command(testkit.Python, "-c", script, srv.SecureAddr().String(), f.caPEM, f.clientCert, f.clientKey, clientDN)
	cmd.Env = testkit.PythonEnv()
	out, err := testkit.CombinedOutput(ctx, cmd)
	if err != nil {
		t.Fatalf("kazoo over TLS: %v\n%s", err, out)
	}
	if !strings.Contains(out, "GOT v x509 "+clientDN) {
		t.Errorf("kazoo over TLS with a certificate:\n%s", out)
	}
	if !strings.Contains(out, "ANON REFUSED") {
		t.Errorf("kazoo over TLS without a certificate was not refused:\n%s", out)
	}
}
