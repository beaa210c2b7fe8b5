package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KDC is an MIT Kerberos KDC (Debian's krb5-kdc) of its own realm, with its
// database, configuration and logs in a temporary directory and its port on
// loopback, stopped at the end of the test.
type KDC struct {
	Realm string
	Dir   string
	Port  int
	// Krb5Conf is a krb5.conf naming the KDC (default_realm Realm, TCP, no DNS and
	// no host name canonicalization); KRB5_CONFIG for MIT's tools, java.security.krb5.conf for Java.
	Krb5Conf string
	kdcConf  string
	proc     *Process
}

// StartKDC creates a realm's database and starts krb5kdc on a free loopback port. A
// missing program fails the test naming the Debian packages.
func StartKDC(t testing.TB, realm string) *KDC {
	t.Helper()
	for _, p := range []string{"/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local", "/usr/bin/kinit"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s missing: apt-get install krb5-kdc krb5-admin-server krb5-user (see .ci/packages)", p)
		}
	}
	dir := t.TempDir()
	k := &KDC{Realm: realm, Dir: dir, Krb5Conf: filepath.Join(dir, "krb5.conf"), kdcConf: filepath.Join(dir, "kdc.conf")}
	// The port is free when picked, but krb5kdc binds it a moment later, and a test
	// running in parallel may take it in between: then another port.
	for attempt := 1; ; attempt++ {
		k.Port = FreePorts(t, 1)[0]
		k.writeConfs(t)
		if attempt == 1 {
			k.run(t, "/usr/sbin/kdb5_util", "create", "-s", "-r", realm, "-P", "master-"+realm)
		}
		err := k.start(t)
		if err == nil {
			return k
		}
		log, _ := os.ReadFile(filepath.Join(dir, "kdc.log"))
		if attempt < 5 && strings.Contains(string(log), "Address already in use") {
			continue
		}
		t.Fatalf("krb5kdc on port %d did not start: %v\n%s\n%s", k.Port, err, k.proc.Output(), log)
	}
}

// writeConfs writes the KDC's and the clients' configuration for k.Port: the KDC
// listens on loopback only.
func (k *KDC) writeConfs(t testing.TB) {
	t.Helper()
	kdcConf := fmt.Sprintf(`[kdcdefaults]
 kdc_listen = 127.0.0.1:%[1]d
 kdc_tcp_listen = 127.0.0.1:%[1]d
[realms]
 %[2]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  kdc_listen = 127.0.0.1:%[1]d
  kdc_tcp_listen = 127.0.0.1:%[1]d
  max_life = 10h
  max_renewable_life = 1d
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
 admin_server = FILE:%[3]s/kadmin.log
 default = FILE:%[3]s/krb5lib.log
`, k.Port, k.Realm, k.Dir)
	krb5Conf := fmt.Sprintf(`[libdefaults]
 default_realm = %[2]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
 default_ccache_name = FILE:%[3]s/ccache
[realms]
 %[2]s = {
  kdc = 127.0.0.1:%[1]d
 }
`, k.Port, k.Realm, k.Dir)
	for p, text := range map[string]string{k.kdcConf: kdcConf, k.Krb5Conf: krb5Conf, filepath.Join(k.Dir, "kadm5.acl"): ""} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// start starts krb5kdc and waits until it takes connections; an error if it exits
// first or takes none within 30 s.
func (k *KDC) start(t testing.TB) error {
	t.Helper()
	cmd := exec.Command("/usr/sbin/krb5kdc", "-n", "-r", k.Realm)
	cmd.Env = k.Env()
	k.proc = Start(t, cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", k.Port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if k.proc.Exited() || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Env is the environment of MIT's tools and libraries for this realm.
func (k *KDC) Env() []string {
	return append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5_KDC_PROFILE="+k.kdcConf,
		"KRB5CCNAME=FILE:"+filepath.Join(k.Dir, "ccache"))
}

// AddPrincipal creates a principal with a random key and writes its keys to a
// keytab at path (appended when the file exists).
func (k *KDC) AddPrincipal(t testing.TB, name, path string) {
	t.Helper()
	k.run(t, "/usr/sbin/kadmin.local", "-r", k.Realm, "-q", "addprinc -randkey "+name)
	k.run(t, "/usr/sbin/kadmin.local", "-r", k.Realm, "-q", "ktadd -k "+path+" "+name)
}

// AddPassword creates a principal with a password.
func (k *KDC) AddPassword(t testing.TB, name, password string) {
	t.Helper()
	k.run(t, "/usr/sbin/kadmin.local", "-r", k.Realm, "-q", "addprinc -pw "+password+" "+name)
}

func (k *KDC) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.Command(prog, args...)
	cmd.Env = k.Env()
	out, err := CombinedOutput(ctx, cmd)
	if err != nil || strings.Contains(out, "rror") {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}
