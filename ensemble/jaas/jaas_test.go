package jaas

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const text = `/* the server's users */
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bob\"s \\secret"; // a comment
};
// Kerberos
Client {
  com.sun.security.auth.module.Krb5LoginModule REQUIRED
  useKeyTab=true
  keyTab="/etc/zk.keytab"
  principal="zookeeper/host.example.com@EXAMPLE.COM";
  other.Module optional;
};
Empty { };
`
	c, err := Parse("jaas.conf", text)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Server", "Client", "Empty"}; !reflect.DeepEqual(c.Names, want) {
		t.Fatalf("sections %v, want %v", c.Names, want)
	}
	srv, _ := c.Section("Server")
	want := []Entry{{Module: "org.apache.zookeeper.server.auth.DigestLoginModule", Flag: Required, Line: 3,
		Options: map[string]string{"user_super": "adminsecret", "user_bob": `bob"s \secret`}}}
	if !reflect.DeepEqual(srv, want) {
		t.Fatalf("Server = %+v, want %+v", srv, want)
	}
	cl, _ := c.Section("Client")
	if len(cl) != 2 || cl[0].Flag != Required || cl[0].Options["useKeyTab"] != "true" ||
		cl[0].Options["principal"] != "zookeeper/host.example.com@EXAMPLE.COM" || cl[0].Line != 9 ||
		cl[1].Module != "other.Module" || cl[1].Flag != Optional || len(cl[1].Options) != 0 {
		t.Fatalf("Client = %+v", cl)
	}
	if e, ok := c.Section("Empty"); !ok || len(e) != 0 {
		t.Fatalf("Empty = %v %v", e, ok)
	}
	if _, ok := c.Section("server"); ok {
		t.Fatal("section names are case-sensitive")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`Server { M required }`, `jaas.conf:1: login module M: expected an option name or ';', found '}'`},
		{"Server {\n M required; }", `jaas.conf:2: expected ';', found the end of the file`},
		{"Server {\n M mandatory; };", `jaas.conf:2: login module M: expected a control flag`},
		{`Server { M required a; };`, `jaas.conf:1: expected '='`},
		{`Server { M required a=; };`, `jaas.conf:1: option a: expected a value, found ';'`},
		{"Server {\n M required a=\"x\n\"; };", `jaas.conf:2: unterminated string`},
		{"/* open\n\n", `jaas.conf:1: unterminated /* comment`},
		{"A { };\nA { };", `jaas.conf:2: section "A" is defined twice`},
		{`{ };`, `jaas.conf:1: expected a section name, found '{'`},
		{`Server M required; };`, `jaas.conf:1: expected '{', found "M"`},
	} {
		_, err := Parse("jaas.conf", tc.text)
		var je *Error
		if err == nil || !errors.As(err, &je) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %s...", tc.text, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(p, []byte(`Server { M required user_a="b"; };`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil || c.File != p {
		t.Fatalf("Load: %v %+v", err, c)
	}
	if _, err := Load(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.conf") {
		t.Fatalf("Load(missing) = %v", err)
	}
}
