package ensemble

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadZooConfigSASL: the JAAS file zoo.cfg or the JVM flags name is read when
// the configuration is loaded; one that cannot serve stops the start with an error
// naming the key and the file.
func TestLoadZooConfigSASL(t *testing.T) {
	t.Setenv("SERVER_JVMFLAGS", "")
	t.Setenv("JVMFLAGS", "")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	server := write("server.conf", `Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="x"; };`)
	clientOnly := write("client.conf", `Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="bob" password="x"; };`)
	other := write("other.conf", `KafkaServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="x"; };`)
	broken := write("broken.conf", "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"x\"\n};")
	missing := filepath.Join(dir, "missing.conf")
	for _, tc := range []struct {
		name, cfg, flags string
		users            string // the SASL users, "" for no SASL
		err, warn        string
	}{
		{"server section", "java.security.auth.login.config=" + server, "", "bob", "", ""},
		{"from SERVER_JVMFLAGS", "", "-Xmx1g -Djava.security.auth.login.config=" + server, "bob", "", ""},
		{"missing file", "java.security.auth.login.config=" + missing, "", "",
			"java.security.auth.login.config=" + missing + " (zoo.cfg:2): JAAS configuration: open " + missing + ": no such file or directory", ""},
		{"missing file from flags", "", "-Djava.security.auth.login.config=" + missing, "",
			"java.security.auth.login.config=" + missing + " (JVMFLAGS): JAAS configuration: open", ""},
		{"syntax error", "java.security.auth.login.config=" + broken, "", "", broken + ":3: login module org.apache.zookeeper.server.auth.DigestLoginModule: expected an option name or ';', found '}'", ""},
		{"unknown section named", "java.security.auth.login.config=" + server + "\nsasl.serverconfig=ZkServer", "", "",
			"java.security.auth.login.config=" + server + " (zoo.cfg:2) (zookeeper.sasl.serverconfig=ZkServer): no JAAS configuration section named 'ZkServer' was found in '" + server + "' (sections: Server)", ""},
		{"no Server section, not one ZooKeeper reads", "java.security.auth.login.config=" + other, "", "",
			"no JAAS configuration section named 'Server' was found in '" + other + "' (sections: KafkaServer)", ""},
		// As in ZooKeeper: a JAAS file for the client (or the quorum) only gives a
		// server without SASL.
		{"client section only", "java.security.auth.login.config=" + clientOnly, "", "", "", "the JAAS file has no 'Server' section"},
		{"client section only, SASL required", "java.security.auth.login.config=" + clientOnly + "\nsessionRequireClientSASLAuth=true", "", "",
			"no JAAS configuration section named 'Server'", ""},
		{"SASL required without a JAAS file", "sessionRequireClientSASLAuth=true", "", "",
			"zoo.cfg:2: java.security.auth.login.config: sessionRequireClientSASLAuth requires SASL authentication, but no JAAS file is configured", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SERVER_JVMFLAGS", tc.flags)
			cfgPath := filepath.Join(t.TempDir(), "zoo.cfg")
			if err := os.WriteFile(cfgPath, []byte("dataDir="+dir+"\n"+tc.cfg+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			cfg, err := LoadZooConfig(cfgPath, slog.New(slog.NewTextHandler(&logs, nil)))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			users := ""
			if cfg.Auth.SASL != nil {
				users = strings.Join(cfg.Auth.SASL.Users(), ",")
			}
			if users != tc.users {
				t.Fatalf("SASL users %q, want %q", users, tc.users)
			}
			if tc.warn != "" && !strings.Contains(logs.String(), tc.warn) {
				t.Fatalf("log %q lacks %q", logs.String(), tc.warn)
			}
		})
	}
}

// TestAuthConfigCheck: Start refuses enforcement it cannot honour.
func TestAuthConfigCheck(t *testing.T) {
	for _, a := range []AuthConfig{{EnforceSchemes: []string{"sasl"}}, {EnforceSchemes: []string{"kerberos"}}} {
		cfg := NewConfig()
		cfg.ClientAddr = "127.0.0.1:0"
		cfg.Auth = a
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("Start with %+v succeeded", a)
		}
	}
}
