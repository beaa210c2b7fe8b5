package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSASLKeys(t *testing.T) {
	src := `dataDir=/tmp/zk
java.security.auth.login.config=/etc/zk/jaas.conf
zookeeper.sasl.serverconfig=ZkServer
sessionRequireClientSASLAuth=true
zookeeper.allowSaslFailedClients=true
superUser=admin
zookeeper.superUser.2=ops
SASLAuthenticationProvider.superPassword=s3cret
kerberos.removeHostFromPrincipal=true
zookeeper.kerberos.removeRealmFromPrincipal=true
java.security.krb5.conf=/etc/krb5.conf
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
authProvider.2=com.example.Custom
`
	c, warns, err := Parse(strings.NewReader(src), "zoo.cfg")
	if err != nil {
		t.Fatal(err)
	}
	want := SASL{JAASFile: "/etc/zk/jaas.conf", JAASFileFrom: "zoo.cfg:2", Section: "ZkServer", EnforceAuthSchemes: []string{"sasl"},
		SessionRequireClientSASLAuth: true, AllowFailedClients: true, SuperUsers: []string{"admin", "ops"}, SuperPassword: "s3cret",
		RemoveHostFromPrincipal: true, RemoveRealmFromPrincipal: true, Krb5Conf: "/etc/krb5.conf"}
	if !reflect.DeepEqual(c.SASL, want) {
		t.Fatalf("SASL = %+v\nwant   %+v", c.SASL, want)
	}
	if len(warns) != 1 || warns[0].Key != "authProvider.2" || !strings.Contains(warns[0].Msg, "com.example.Custom is not supported") {
		t.Fatalf("warnings %v", warns)
	}
}

func TestEnforceAuth(t *testing.T) {
	for _, tc := range []struct {
		src     string
		schemes []string
		err     string
	}{
		{"", nil, ""},
		{"enforce.auth.enabled=false\nenforce.auth.schemes=sasl", nil, ""},
		{"zookeeper.enforce.auth.enabled=true\nzookeeper.enforce.auth.schemes=digest, ip", []string{"digest", "ip"}, ""},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=sasl\njava.security.auth.login.config=j.conf", []string{"sasl"}, ""},
		// sessionRequireClientSASLAuth wins over enforce.auth.*, as in AuthenticationHelper.
		{"enforce.auth.enabled=true\nenforce.auth.schemes=digest\nsessionRequireClientSASLAuth=true\njava.security.auth.login.config=j.conf", []string{"sasl"}, ""},
		{"enforce.auth.enabled=true", nil, "zoo.cfg:2: enforce.auth.enabled: is true, so enforce.auth.schemes must be configured"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=", nil, "zoo.cfg:2: enforce.auth.enabled: is true, so enforce.auth.schemes must be configured"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=digest,kerberos", nil, `zoo.cfg:3: enforce.auth.schemes: authentication scheme "kerberos" is not available`},
		{"enforce.auth.enabled=yes", nil, `zoo.cfg:2: enforce.auth.enabled: "yes" is not a boolean`},
		{"sessionRequireClientSASLAuth=true", nil, "zoo.cfg:2: java.security.auth.login.config: sessionRequireClientSASLAuth requires SASL authentication, but no JAAS file is configured"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=sasl", nil, "zoo.cfg:3: java.security.auth.login.config: enforce.auth.schemes requires SASL"},
	} {
		c, _, err := Parse(strings.NewReader("dataDir=/d\n"+tc.src), "zoo.cfg")
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %s", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(c.SASL.EnforceAuthSchemes, tc.schemes) {
			t.Errorf("%q: schemes %q, want %q", tc.src, c.SASL.EnforceAuthSchemes, tc.schemes)
		}
	}
}

// TestJVMFlags: -D flags of SERVER_JVMFLAGS/JVMFLAGS apply as system properties,
// under the file's keys; unknown flags are ignored quietly; a bad value names them.
func TestJVMFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte("dataDir="+dir+"\n"+s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("superUser=fromfile\n")
	flags := "-Xmx512m -Dfile.encoding=UTF-8 -Djava.security.auth.login.config=/etc/jaas.conf -Dzookeeper.sessionRequireClientSASLAuth=true " +
		"-Dzookeeper.superUser=fromflag -Dzookeeper.jute.maxbuffer=4096 -Dreadonlymode.enabled=true -Dzookeeper.log.dir=/var/log"
	c, warns, err := LoadWithJVMFlags(cfg, flags)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings %v", warns)
	}
	if c.SASL.JAASFile != "/etc/jaas.conf" || c.SASL.JAASFileFrom != "JVMFLAGS" || !c.SASL.SessionRequireClientSASLAuth ||
		!reflect.DeepEqual(c.SASL.SuperUsers, []string{"fromflag", "fromfile"}) || c.JuteMaxBuffer != 4096 || !c.ReadOnlyModeEnabled {
		t.Fatalf("config %+v", c)
	}
	// The file wins over a flag.
	write("java.security.auth.login.config=/etc/other.conf\n")
	if c, _, err = LoadWithJVMFlags(cfg, flags); err != nil || c.SASL.JAASFile != "/etc/other.conf" {
		t.Fatalf("file over flag: %v %q", err, c.SASL.JAASFile)
	}
	if _, _, err := LoadWithJVMFlags(cfg, "-Dzookeeper.allowSaslFailedClients=maybe"); err == nil || !strings.HasPrefix(err.Error(), "JVMFLAGS: zookeeper.allowSaslFailedClients:") {
		t.Fatalf("bad flag: %v", err)
	}
	t.Setenv("SERVER_JVMFLAGS", "-Da=1")
	t.Setenv("JVMFLAGS", "-Db=2")
	if got := JVMFlagsFromEnv(); got != "-Da=1 -Db=2" {
		t.Fatalf("JVMFlagsFromEnv = %q", got)
	}
}
