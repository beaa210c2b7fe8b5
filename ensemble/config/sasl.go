package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SASL holds the keys of client authentication by SASL and its enforcement.
// ZooKeeper reads them as JVM system properties (-D flags in SERVER_JVMFLAGS or
// JVMFLAGS), and as zoo.cfg keys K that it turns into "zookeeper.K" properties;
// zkraft takes them from zoo.cfg under either spelling and from the -D flags of
// those two variables (LoadWithJVMFlags), zoo.cfg winning as it does in ZooKeeper.
type SASL struct {
	// JAASFile is java.security.auth.login.config: the JAAS file whose server
	// section holds the SASL credentials. "" when unset: no SASL.
	JAASFile string
	// JAASFileFrom says where JAASFile was set ("zoo.cfg:12" or "JVMFLAGS").
	JAASFileFrom string
	// Section is zookeeper.sasl.serverconfig, the JAAS section to read; "" for
	// ZooKeeper's default "Server".
	Section string
	// EnforceAuthSchemes is non-nil when unauthenticated connections are refused
	// (enforce.auth.enabled with enforce.auth.schemes, or
	// sessionRequireClientSASLAuth, which means the scheme "sasl").
	EnforceAuthSchemes []string
	// SessionRequireClientSASLAuth is sessionRequireClientSASLAuth as written.
	SessionRequireClientSASLAuth bool
	// AllowFailedClients is allowSaslFailedClients: a failed SASL exchange keeps
	// the connection (unless SASL is required).
	AllowFailedClients bool
	// SuperUsers are the superUser and superUser.* values: SASL ids that are super.
	SuperUsers []string
	// SuperPassword is SASLAuthenticationProvider.superPassword: the DIGEST-MD5
	// password of user "super".
	SuperPassword string
	// RemoveHostFromPrincipal and RemoveRealmFromPrincipal are
	// kerberos.removeHostFromPrincipal and kerberos.removeRealmFromPrincipal.
	RemoveHostFromPrincipal  bool
	RemoveRealmFromPrincipal bool
	// Krb5Conf is java.security.krb5.conf: the Kerberos configuration ("" for
	// $KRB5_CONFIG or /etc/krb5.conf).
	Krb5Conf string

	enforceEnabled bool
	enforceSchemes []string
	enforceLine    int
}

// saslKey maps each spelling of a SASL key to its canonical name; superUser.*,
// authProvider.* and their zookeeper.-prefixed forms are matched separately.
var saslKey = map[string]string{}

func init() {
	for _, k := range []string{"sasl.serverconfig", "sessionRequireClientSASLAuth", "enforce.auth.enabled",
		"enforce.auth.schemes", "allowSaslFailedClients", "superUser", "SASLAuthenticationProvider.superPassword",
		"kerberos.removeHostFromPrincipal", "kerberos.removeRealmFromPrincipal"} {
		saslKey[k] = k
		saslKey["zookeeper."+k] = k
	}
	saslKey["java.security.auth.login.config"] = "java.security.auth.login.config"
	saslKey["java.security.krb5.conf"] = "java.security.krb5.conf"
}

// knownAuthProviders are the AuthenticationProvider classes of ZooKeeper whose
// schemes zkraft has built in.
var knownAuthProviders = []string{
	"org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
	"org.apache.zookeeper.server.auth.X509AuthenticationProvider",
	"org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
	"org.apache.zookeeper.server.auth.IPAuthenticationProvider",
}

// setSASL takes a SASL key; ok is false for other keys.
func (p *parser) setSASL(key, val string, line int) (ok bool, err error) {
	s := &p.c.SASL
	k := strings.TrimPrefix(key, "zookeeper.")
	switch {
	case strings.HasPrefix(k, "superUser."):
		s.SuperUsers = append(s.SuperUsers, val)
		return true, nil
	case strings.HasPrefix(k, "authProvider."):
		if !slices.Contains(knownAuthProviders, val) {
			p.warn(line, key, fmt.Sprintf("authentication provider %s is not supported; zkraft has the ip, digest, sasl and x509 schemes built in", val))
		}
		return true, nil
	}
	canon, known := saslKey[key]
	if !known {
		return false, nil
	}
	switch canon {
	case "java.security.auth.login.config":
		s.JAASFile = val
		s.JAASFileFrom = p.name
		if line > 0 {
			s.JAASFileFrom = fmt.Sprintf("%s:%d", p.name, line)
		}
	case "java.security.krb5.conf":
		s.Krb5Conf = val
	case "sasl.serverconfig":
		s.Section = val
	case "sessionRequireClientSASLAuth":
		s.SessionRequireClientSASLAuth, err = p.boolean(line, key, val)
	case "enforce.auth.enabled":
		s.enforceEnabled, err = p.boolean(line, key, val)
		s.enforceLine = line
	case "enforce.auth.schemes":
		s.enforceSchemes = nil
		for v := range strings.SplitSeq(val, ",") {
			s.enforceSchemes = append(s.enforceSchemes, strings.TrimSpace(v))
		}
	case "allowSaslFailedClients":
		s.AllowFailedClients, err = p.boolean(line, key, val)
	case "superUser":
		s.SuperUsers = append(s.SuperUsers, val)
	case "SASLAuthenticationProvider.superPassword":
		s.SuperPassword = val
	case "kerberos.removeHostFromPrincipal":
		s.RemoveHostFromPrincipal, err = p.boolean(line, key, val)
	case "kerberos.removeRealmFromPrincipal":
		s.RemoveRealmFromPrincipal, err = p.boolean(line, key, val)
	}
	return true, err
}

// AuthSchemes are the schemes whose identities a connection can hold.
var AuthSchemes = []string{"ip", "digest", "sasl", "x509"}

// finishSASL applies AuthenticationHelper's rules: sessionRequireClientSASLAuth
// enforces the scheme sasl, whatever enforce.auth.* say; enforce.auth.enabled needs
// schemes, each one zkraft knows; and a server that requires SASL needs a JAAS file.
func (p *parser) finishSASL() error {
	s := &p.c.SASL
	switch {
	case s.SessionRequireClientSASLAuth:
		s.EnforceAuthSchemes = []string{"sasl"}
	case s.enforceEnabled:
		if len(s.enforceSchemes) == 0 || slices.Equal(s.enforceSchemes, []string{""}) {
			return p.errAt(s.enforceLine, "enforce.auth.enabled", "is true, so enforce.auth.schemes must be configured")
		}
		for _, sc := range s.enforceSchemes {
			if !slices.Contains(AuthSchemes, sc) {
				return p.errAt(p.lines["enforce.auth.schemes"], "enforce.auth.schemes", "authentication scheme %q is not available (known: %s)", sc, strings.Join(AuthSchemes, ", "))
			}
		}
		s.EnforceAuthSchemes = s.enforceSchemes
	}
	if slices.Contains(s.EnforceAuthSchemes, "sasl") && s.JAASFile == "" {
		key := "enforce.auth.schemes"
		if s.SessionRequireClientSASLAuth {
			key = "sessionRequireClientSASLAuth"
		}
		return &Error{File: p.name, Line: p.lines[key], Key: "java.security.auth.login.config",
			Msg: key + " requires SASL authentication, but no JAAS file is configured: set java.security.auth.login.config in zoo.cfg, or -Djava.security.auth.login.config=FILE in SERVER_JVMFLAGS"}
	}
	return nil
}

// JVMFlags are the variables of ZooKeeper's scripts whose -D flags reach the
// server's JVM (zkServer.sh runs java with $SERVER_JVMFLAGS $JVMFLAGS).
var JVMFlags = []string{"SERVER_JVMFLAGS", "JVMFLAGS"}

// JVMFlagsFromEnv joins the JVMFlags variables of the environment.
func JVMFlagsFromEnv() string {
	var parts []string
	for _, v := range JVMFlags {
		if s := os.Getenv(v); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// jvmProperties picks the -Dkey=value flags of a JVM command line, split on white
// space as the scripts' unquoted $JVMFLAGS is; a later flag wins, as in Java.
func jvmProperties(flags string) []property {
	var out []property
	for _, f := range strings.Fields(flags) {
		kv, ok := strings.CutPrefix(f, "-D")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			out = append(out, property{key: k, value: v})
		}
	}
	return out
}

// LoadWithJVMFlags is Load with the -D flags of a JVM command line (the value of
// JVMFlagsFromEnv) applied before the file, as the system properties a ZooKeeper
// started by zkServer.sh would have: the file's keys win. Flags of keys zkraft does
// not know are ignored without a warning (a JVM takes many).
func LoadWithJVMFlags(path, flags string) (*Config, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return load(f, filepath.Base(path), jvmProperties(flags))
}

// applyJVMProperties sets the system properties before the file is read; p.name is
// "JVMFLAGS" meanwhile, so that an error names where the bad value came from.
func (p *parser) applyJVMProperties(props []property) error {
	name := p.name
	p.name, p.quiet = "JVMFLAGS", true
	defer func() { p.name, p.quiet = name, false }()
	for _, pr := range props {
		if err := p.set(pr); err != nil {
			return err
		}
	}
	return nil
}
