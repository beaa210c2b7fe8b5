package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// ClientAuth is ssl.clientAuth: whether a server asks for client certificates.
type ClientAuth int

const (
	Need ClientAuth = iota // the default: a client without a trusted certificate is refused
	Want                   // asked for; a client without one connects unauthenticated
	None                   // not asked for
)

// ParseClientAuth reads ssl.clientAuth as X509Util.ClientAuth.fromPropertyValue:
// empty is need; none, want and need in any case.
func ParseClientAuth(s string) (ClientAuth, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "need":
		return Need, nil
	case "want":
		return Want, nil
	case "none":
		return None, nil
	}
	return Need, fmt.Errorf("%q is not none, want or need", s)
}

// Settings are one prefix's ssl.* keys. Prefix ("ssl." or "ssl.quorum.") is used in
// errors and logs so they name the key an operator set.
type Settings struct {
	Prefix     string
	KeyStore   Store
	TrustStore Store // Location "" trusts the system's roots, as the JDK's default
	ClientAuth ClientAuth
	// Protocol is ssl.protocol (TLSv1.2, TLSv1.3, TLS); EnabledProtocols is
	// ssl.enabledProtocols. With neither, TLS 1.2 and 1.3 are enabled (ZooKeeper 3.9's
	// default; 3.8.0 enables only its protocol, TLSv1.2).
	Protocol         string
	EnabledProtocols []string
	// CipherSuites is ssl.ciphersuites in IANA/Java names; empty is Go's defaults.
	// They apply to TLS 1.2: TLS 1.3's suites are not configurable in Go.
	CipherSuites []string
	// HostnameVerification is ssl.hostnameVerification (default true): a dialer
	// checks the server certificate's names against the host it dialled.
	HostnameVerification bool
	// ReloadInterval is how often the store files are checked for changes, at most
	// (on a handshake); 0 is one second, negative turns reloading off.
	ReloadInterval time.Duration
}

// material is what one load of the stores produced.
type material struct {
	cert   *tls.Certificate // nil when no key store is set
	roots  *x509.CertPool   // nil: the system's roots
	stamps []stamp
}

type stamp struct {
	path string
	mod  time.Time
	size int64
}

func stampsOf(paths ...string) []stamp {
	var st []stamp
	for _, p := range paths {
		if p == "" {
			continue
		}
		s := stamp{path: p}
		if fi, err := os.Stat(p); err == nil {
			s.mod, s.size = fi.ModTime(), fi.Size()
		}
		st = append(st, s)
	}
	return st
}

// Source hands out TLS configurations built from the stores, reloading them when
// their files change. It starts no goroutine: a handshake checks the files (at most
// once per ReloadInterval) and a store that fails to load keeps the previous one.
type Source struct {
	set      Settings
	log      *slog.Logger
	versions []uint16 // enabled protocol versions, ascending
	suites   []uint16

	mu      sync.Mutex
	cur     *material
	checked time.Time
	server  *tls.Config // built from cur
}

// Error is a setting that cannot be used: it names the key and the file.
type Error struct {
	Key  string
	File string
	Err  error
}

func (e *Error) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s: %s: %v", e.Key, e.File, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// New loads the stores and checks the settings. A server that needs its own
// certificate (every TLS server) passes needKey.
func New(set Settings, needKey bool, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if set.Prefix == "" {
		set.Prefix = "ssl."
	}
	if set.ReloadInterval == 0 {
		set.ReloadInterval = time.Second
	}
	s := &Source{set: set, log: log}
	var err error
	if s.versions, err = versions(set); err != nil {
		return nil, err
	}
	if s.suites, err = suites(set, log); err != nil {
		return nil, err
	}
	if needKey && set.KeyStore.Location == "" {
		return nil, &Error{Key: set.Prefix + "keyStore.location", Err: errors.New("is not set: a TLS server needs a key store")}
	}
	m, err := s.load(time.Now())
	if err != nil {
		return nil, err
	}
	s.install(m, time.Now())
	return s, nil
}

func (s *Source) load(now time.Time) (*material, error) {
	m := &material{stamps: stampsOf(s.set.KeyStore.Location, s.set.TrustStore.Location)}
	if ks := s.set.KeyStore; ks.Location != "" {
		cert, err := loadKeyPair(ks)
		if err != nil {
			return nil, &Error{Key: s.set.Prefix + "keyStore.location", File: ks.Location, Err: passwordHint(err, s.set.Prefix+"keyStore.password")}
		}
		if leaf := cert.Leaf; now.After(leaf.NotAfter) {
			return nil, &Error{Key: s.set.Prefix + "keyStore.location", File: ks.Location,
				Err: fmt.Errorf("certificate %q expired at %s", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))}
		} else if now.Before(leaf.NotBefore) {
			return nil, &Error{Key: s.set.Prefix + "keyStore.location", File: ks.Location,
				Err: fmt.Errorf("certificate %q is not valid before %s", leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339))}
		}
		m.cert = &cert
	}
	if ts := s.set.TrustStore; ts.Location != "" {
		pool, err := loadTrust(ts)
		if err != nil {
			return nil, &Error{Key: s.set.Prefix + "trustStore.location", File: ts.Location, Err: passwordHint(err, s.set.Prefix+"trustStore.password")}
		}
		m.roots = pool
	}
	return m, nil
}

// passwordHint says which key to check when a store's integrity check failed,
// which is what a wrong password looks like.
func passwordHint(err error, key string) error {
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "password") || strings.Contains(msg, "digest") || strings.Contains(msg, "mac") {
		return fmt.Errorf("%w (is %s right?)", err, key)
	}
	return err
}

func (s *Source) install(m *material, now time.Time) {
	s.cur, s.checked = m, now
	cfg := s.base()
	if m.cert != nil {
		cfg.Certificates = []tls.Certificate{*m.cert}
	}
	cfg.ClientCAs = m.roots
	switch s.set.ClientAuth {
	case Need:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case Want:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	s.server = cfg
}

func (s *Source) base() *tls.Config {
	return &tls.Config{
		MinVersion:   s.versions[0],
		MaxVersion:   s.versions[len(s.versions)-1],
		CipherSuites: s.suites,
	}
}

// current returns the stores' latest good load, reloading them first when a file
// changed since the last check.
func (s *Source) current() (*material, *tls.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.set.ReloadInterval < 0 || now.Sub(s.checked) < s.set.ReloadInterval {
		return s.cur, s.server
	}
	s.checked = now
	if slices.Equal(stampsOf(s.set.KeyStore.Location, s.set.TrustStore.Location), s.cur.stamps) {
		return s.cur, s.server
	}
	m, err := s.load(now)
	if err != nil {
		// Keep serving with what worked; try again when the files change again.
		s.cur.stamps = stampsOf(s.set.KeyStore.Location, s.set.TrustStore.Location)
		s.log.Error("TLS stores changed but cannot be loaded; keeping the previous ones", "err", err)
		return s.cur, s.server
	}
	s.install(m, now)
	s.log.Info("TLS stores reloaded", "key_store", s.set.KeyStore.Location, "trust_store", s.set.TrustStore.Location)
	return s.cur, s.server
}

// ServerConfig is a server's configuration; every handshake gets the stores'
// current contents.
func (s *Source) ServerConfig() *tls.Config {
	cfg := s.base()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		_, c := s.current()
		return c, nil
	}
	return cfg
}

// ClientConfig is a dialer's configuration for one connection to host: it
// presents the key store's certificate and checks the server's against the trust
// store and, with hostname verification on, against host.
func (s *Source) ClientConfig(host string) *tls.Config {
	m, _ := s.current()
	cfg := s.base()
	cfg.RootCAs = m.roots
	if m.cert != nil {
		cfg.Certificates = []tls.Certificate{*m.cert}
	}
	cfg.ServerName = host
	if !s.set.HostnameVerification {
		// Verify the chain, not the name (Go verifies both or neither).
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return VerifyChain(cs.PeerCertificates, m.roots, x509.ExtKeyUsageServerAuth)
		}
	}
	return cfg
}

// Roots is the trust store's current contents (nil: the system's roots).
func (s *Source) Roots() *x509.CertPool {
	m, _ := s.current()
	return m.roots
}

// VerifyChain checks a peer's chain (leaf first) against roots for usage.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return errors.New("the peer sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{usage}}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err
}

var protocolVersions = map[string][]uint16{
	"TLSV1.3": {tls.VersionTLS13},
	"TLSV1.2": {tls.VersionTLS12},
	"TLSV1.1": {tls.VersionTLS11},
	"TLSV1":   {tls.VersionTLS10},
	"TLS":     {tls.VersionTLS12, tls.VersionTLS13},
}

// versions is the enabled protocol range: ssl.enabledProtocols, else
// ssl.protocol (TLSv1.3 also enabling TLSv1.2 as ZooKeeper 3.9 does), else 1.2-1.3.
func versions(set Settings) ([]uint16, error) {
	names := set.EnabledProtocols
	key := set.Prefix + "enabledProtocols"
	if len(names) == 0 {
		key = set.Prefix + "protocol"
		switch p := strings.ToUpper(strings.TrimSpace(set.Protocol)); p {
		case "", "TLSV1.3":
			names = []string{"TLSv1.2", "TLSv1.3"}
		default:
			names = []string{set.Protocol}
		}
	}
	var vs []uint16
	for _, n := range names {
		v, ok := protocolVersions[strings.ToUpper(strings.TrimSpace(n))]
		if !ok {
			return nil, &Error{Key: key, Err: fmt.Errorf("unknown protocol %q: use TLSv1.2 or TLSv1.3", n)}
		}
		vs = append(vs, v...)
	}
	slices.Sort(vs)
	vs = slices.Compact(vs)
	if vs[0] < tls.VersionTLS12 {
		return nil, &Error{Key: key, Err: fmt.Errorf("protocols older than TLSv1.2 are not supported")}
	}
	// Go enables a range: a gap (1.2 and 1.3 are adjacent) cannot happen from 1.2 up.
	return vs, nil
}

// suites maps ssl.ciphersuites onto Go's suites. Names Go does not implement are
// skipped with a warning (Java lists often carry DHE and CBC suites Go lacks); TLS
// 1.3 names are accepted and ignored (always on). None usable is an error.
func suites(set Settings, log *slog.Logger) ([]uint16, error) {
	if len(set.CipherSuites) == 0 {
		return nil, nil
	}
	byName := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		byName[cs.Name] = cs.ID
	}
	tls13 := map[string]bool{"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true}
	var ids []uint16
	var skipped []string
	only13 := true
	for _, n := range set.CipherSuites {
		n = strings.TrimSpace(n)
		if id, ok := byName[n]; ok {
			ids = append(ids, id)
			only13 = false
		} else if !tls13[n] {
			skipped = append(skipped, n)
		}
	}
	if len(skipped) > 0 {
		log.Warn("cipher suites not available here are ignored", "key", set.Prefix+"ciphersuites", "suites", strings.Join(skipped, ","))
	}
	if len(ids) == 0 && !only13 || len(ids) == 0 && len(skipped) > 0 {
		return nil, &Error{Key: set.Prefix + "ciphersuites", Err: fmt.Errorf("none of %q is a cipher suite this server implements", strings.Join(set.CipherSuites, ","))}
	}
	return ids, nil
}
