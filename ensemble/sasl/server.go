package sasl

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/zkraft/zkraft/ensemble/jaas"
)

// The JAAS login modules ZooKeeper's server knows.
const (
	DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	Krb5LoginModule   = "com.sun.security.auth.module.Krb5LoginModule"
)

// DefaultSection is the JAAS section a ZooKeeper server reads
// (ZooKeeperSaslServer.DEFAULT_LOGIN_CONTEXT_NAME; zookeeper.sasl.serverconfig
// names another).
const DefaultSection = "Server"

// Options are the system properties of ZooKeeper that shape its SASL server.
type Options struct {
	// Section is the JAAS section to read (zookeeper.sasl.serverconfig); "" is "Server".
	Section string
	// SuperPassword (zookeeper.SASLAuthenticationProvider.superPassword), when set,
	// is the DIGEST-MD5 password of user "super" instead of its user_super option.
	SuperPassword string
	// RemoveHostFromPrincipal and RemoveRealmFromPrincipal
	// (zookeeper.kerberos.removeHostFromPrincipal / removeRealmFromPrincipal) drop
	// "/host" and "@REALM" from the names clients authenticate as.
	RemoveHostFromPrincipal  bool
	RemoveRealmFromPrincipal bool
	// DefaultRealm is the Kerberos default realm: the options above apply to
	// principals of this realm only, as ZooKeeper's KerberosName DEFAULT rule does.
	// "" takes default_realm from Krb5Conf, else the service principal's realm.
	DefaultRealm string
	// Krb5Conf is the Kerberos configuration file (java.security.krb5.conf); ""
	// for $KRB5_CONFIG, else /etc/krb5.conf.
	Krb5Conf string
}

// Server answers the SASL exchanges of every connection of a ZooKeeper server. It
// is safe for concurrent use; each connection has its own Exchange.
type Server struct {
	file     string
	section  string
	users    map[string]string // DIGEST-MD5 user → password; nil without DigestLoginModule
	opts     Options
	mechs    []string
	kerberos *Kerberos // nil without Krb5LoginModule
}

// ErrNoSection is what New's error is (errors.Is) when the JAAS file has no
// section of the name the server reads.
var ErrNoSection = errors.New("no such JAAS section")

type noSectionError struct {
	section, file string
	names         []string
}

func (e *noSectionError) Error() string {
	return fmt.Sprintf("no JAAS configuration section named '%s' was found in '%s' (sections: %s)", e.section, e.file, strings.Join(e.names, ", "))
}

func (e *noSectionError) Is(target error) bool { return target == ErrNoSection }

// New builds the server from the section opts.Section (default "Server") of a JAAS
// configuration. A DigestLoginModule entry's user_NAME="password" options are the
// DIGEST-MD5 users; a Krb5LoginModule entry makes the server accept Kerberos
// (GSSAPI) with its keytab and principal. A missing section, or one with neither,
// is an error that names the section and the file.
func New(cfg *jaas.Config, opts Options) (*Server, error) {
	if opts.Section == "" {
		opts.Section = DefaultSection
	}
	s := &Server{file: cfg.File, section: opts.Section, opts: opts}
	entries, ok := cfg.Section(opts.Section)
	if !ok {
		return nil, &noSectionError{section: opts.Section, file: cfg.File, names: cfg.Names}
	}
	for _, e := range entries {
		switch e.Module {
		case DigestLoginModule:
			if s.users == nil {
				s.users = map[string]string{}
			}
			for k, v := range e.Options {
				if name, ok := strings.CutPrefix(k, "user_"); ok {
					s.users[name] = v
				}
			}
		case Krb5LoginModule:
			k, err := newKerberos(e, opts, cfg.File)
			if err != nil {
				return nil, err
			}
			s.kerberos = k
		default:
			return nil, fmt.Errorf("%s:%d: JAAS section '%s': login module %s is not supported (use %s or %s)",
				cfg.File, e.Line, opts.Section, e.Module, DigestLoginModule, Krb5LoginModule)
		}
	}
	if s.users == nil && s.kerberos == nil {
		return nil, fmt.Errorf("%s: JAAS section '%s' has no %s or %s entry: no client could authenticate",
			cfg.File, opts.Section, DigestLoginModule, Krb5LoginModule)
	}
	if s.opts.DefaultRealm == "" {
		s.opts.DefaultRealm = defaultRealm(opts.Krb5Conf)
	}
	if s.kerberos != nil {
		s.mechs = append(s.mechs, "GSSAPI")
		if s.opts.DefaultRealm == "" {
			s.opts.DefaultRealm = s.kerberos.realm // no krb5.conf: the service's realm
		}
	}
	if s.users != nil {
		s.mechs = append(s.mechs, "DIGEST-MD5")
	}
	return s, nil
}

// Mechanisms lists what the server accepts ("GSSAPI", "DIGEST-MD5").
func (s *Server) Mechanisms() []string { return s.mechs }

// Users lists the DIGEST-MD5 user names, sorted.
func (s *Server) Users() []string {
	out := make([]string, 0, len(s.users))
	for u := range s.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Describe says where the server's configuration comes from, for logs.
func (s *Server) Describe() string {
	d := fmt.Sprintf("JAAS section '%s' of %s (%s)", s.section, s.file, strings.Join(s.mechs, ", "))
	if s.kerberos != nil {
		d += fmt.Sprintf("; Kerberos principal %s, keytab %s", s.kerberos.Principal(), s.kerberos.file)
	}
	return d
}

func (s *Server) password(user string) (string, bool) {
	if user == "super" && s.opts.SuperPassword != "" {
		return s.opts.SuperPassword, true
	}
	p, ok := s.users[user]
	return p, ok
}

// Canonical is the name a client authenticated as user (an authentication id or
// Kerberos principal) gets: ZooKeeper's SaslServerCallbackHandler makes it with
// KerberosName, which splits "service/host@REALM", and drops the host and realm
// when asked to. A name of another realm than the default one is kept whole
// (KerberosName's DEFAULT rule does not apply to it); a name without "@" too.
func (s *Server) Canonical(user string) string {
	m := kerberosName.FindStringSubmatch(user)
	if m == nil || m[4] != s.opts.DefaultRealm {
		return user
	}
	name := m[1]
	if m[2] != "" && !s.opts.RemoveHostFromPrincipal {
		name += "/" + m[3]
	}
	if !s.opts.RemoveRealmFromPrincipal {
		name += "@" + m[4]
	}
	return name
}

// kerberosName is KerberosName's nameParser.
var kerberosName = regexp.MustCompile(`^([^/@]*)(/([^/@]*))?@([^/@]*)$`)

// ValidName is SASLAuthenticationProvider.isValid: an ACL id of the sasl scheme must
// parse as a KerberosName (a name with '@' must be name[/host]@realm).
func ValidName(id string) bool {
	return !strings.Contains(id, "@") || kerberosName.MatchString(id)
}

// Exchange is one connection's SASL exchange. Not safe for concurrent use.
type Exchange struct {
	srv    *Server
	failed bool // a step panicked
	mech   interface {
		Step([]byte) ([]byte, error)
		Complete() bool
		AuthorizationID() string
		Mechanism() string
	}
}

// NewExchange starts an exchange for a new connection.
func (s *Server) NewExchange() *Exchange { return &Exchange{srv: s} }

// Step evaluates the client's token and returns the token to send back (nil for
// none). A server with both mechanisms tells them apart by the first token: a
// DIGEST-MD5 client starts with an empty one, a GSSAPI client with its Kerberos
// AP-REQ. An error ends the exchange: the client failed to authenticate. A token
// that makes a parser panic (the Kerberos messages are decoded by gokrb5) is an
// error too: a client's bytes must never stop the server.
func (x *Exchange) Step(token []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("sasl: malformed %s token: %v", x.Mechanism(), p)
			x.failed = true
		}
	}()
	if x.failed {
		return nil, errors.New("sasl: the exchange failed")
	}
	if x.mech == nil {
		switch {
		case x.srv.kerberos != nil && (len(token) > 0 || x.srv.users == nil):
			x.mech = x.srv.kerberos.newExchange(x.srv.Canonical)
		default:
			x.mech = newDigestMD5(x.srv.password, x.srv.Canonical)
		}
	}
	return x.mech.Step(token)
}

// Complete reports whether the client has authenticated.
func (x *Exchange) Complete() bool { return x.mech != nil && x.mech.Complete() }

// AuthorizationID is the name the client authenticated as (its "sasl" ACL id),
// once Complete.
func (x *Exchange) AuthorizationID() string {
	if !x.Complete() {
		return ""
	}
	return x.mech.AuthorizationID()
}

// Mechanism names the exchange's mechanism, "" before the first token.
func (x *Exchange) Mechanism() string {
	if x.mech == nil {
		return ""
	}
	return x.mech.Mechanism()
}
