package sasl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zkraft/zkraft/ensemble/jaas"
)

func writeKeytab(t testing.TB, principal, realm string) string {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry(principal, realm, "secret", time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "zk.keytab")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKerberosConfig: a Krb5LoginModule section makes a GSSAPI server; what it
// lacks is an error naming the file, the line and the option.
func TestKerberosConfig(t *testing.T) {
	kt := writeKeytab(t, "zookeeper/host1", "EX.COM")
	section := func(opts string) string {
		return "Server {\n  com.sun.security.auth.module.Krb5LoginModule required\n  " + opts + ";\n};"
	}
	good := `useKeyTab=true keyTab="` + kt + `" storeKey=true principal="zookeeper/host1@EX.COM"`
	c, err := jaas.Parse("jaas.conf", section(good))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, Options{Krb5Conf: "/nonexistent/krb5.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Mechanisms(), ","); got != "GSSAPI" {
		t.Fatalf("mechanisms %s", got)
	}
	if s.opts.DefaultRealm != "EX.COM" {
		t.Fatalf("default realm %q: without a krb5.conf, the service's realm", s.opts.DefaultRealm)
	}
	if !strings.Contains(s.Describe(), "Kerberos principal zookeeper/host1@EX.COM, keytab "+kt) {
		t.Fatal(s.Describe())
	}
	// With DIGEST-MD5 users beside it, an empty first token is DIGEST-MD5 and a
	// non-empty one GSSAPI.
	both := "Server {\n  com.sun.security.auth.module.Krb5LoginModule required " + good + ";\n" +
		"  org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"x\";\n};"
	if c, err = jaas.Parse("jaas.conf", both); err != nil {
		t.Fatal(err)
	}
	if s, err = New(c, Options{}); err != nil {
		t.Fatal(err)
	}
	x := s.NewExchange()
	if ch, err := x.Step(nil); err != nil || x.Mechanism() != "DIGEST-MD5" || !strings.HasPrefix(string(ch), "realm=") {
		t.Fatalf("empty first token: %s %q %v", x.Mechanism(), ch, err)
	}
	x = s.NewExchange()
	if _, err := x.Step([]byte("not a token")); err == nil || x.Mechanism() != "GSSAPI" {
		t.Fatalf("garbage first token: %s %v", x.Mechanism(), err)
	}
	if _, err := x.Step(nil); err == nil {
		t.Fatal("a failed GSSAPI exchange went on")
	}

	for _, tc := range []struct{ opts, want string }{
		{`keyTab="` + kt + `" principal="zookeeper/host1@EX.COM"`, "jaas.conf:2: com.sun.security.auth.module.Krb5LoginModule: useKeyTab=true is required"},
		{`useKeyTab=true principal="zookeeper/host1@EX.COM"`, "keyTab is not set"},
		{`useKeyTab=true keyTab="` + kt + `" principal="zookeeper/host1"`, `principal "zookeeper/host1" is not of the form service/host@REALM`},
		{`useKeyTab=true keyTab="/nonexistent.keytab" principal="zookeeper/host1@EX.COM"`, "keyTab /nonexistent.keytab: "},
		{`useKeyTab=true keyTab="` + kt + `" principal="zookeeper/host2@EX.COM"`, "has no key of principal zookeeper/host2@EX.COM"},
	} {
		c, err := jaas.Parse("jaas.conf", section(tc.opts))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// TestReplayCache: an authenticator is accepted once; old entries are pruned.
func TestReplayCache(t *testing.T) {
	var c replayCache
	now := time.Now()
	a := types.Authenticator{CRealm: "EX.COM", CName: types.NewPrincipalName(1, "bob"), CTime: now, Cusec: 5}
	if c.replayed(a, now) {
		t.Fatal("first use is a replay")
	}
	if !c.replayed(a, now.Add(time.Second)) {
		t.Fatal("second use is not a replay")
	}
	b := a
	b.Cusec = 6
	if c.replayed(b, now.Add(11*time.Minute+2*time.Minute)) || len(c.seen) != 1 {
		t.Fatalf("pruning: %d entries", len(c.seen))
	}
}
