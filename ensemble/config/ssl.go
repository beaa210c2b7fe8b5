package config

import (
	"fmt"
	"strings"
)

// TLSKeys are one X509Util prefix's keys as written: "ssl." (ClientX509Util, the
// client port) or "ssl.quorum." (QuorumX509Util, between members). ZooKeeper reads
// them from zoo.cfg or as zookeeper.-prefixed system properties; both spellings
// are accepted here.
type TLSKeys struct {
	KeyStoreLocation, KeyStorePassword, KeyStorePasswordPath, KeyStoreType         string
	TrustStoreLocation, TrustStorePassword, TrustStorePasswordPath, TrustStoreType string

	ClientAuth       string   // clientAuth: none, want or need ("" = need)
	Protocol         string   // protocol
	EnabledProtocols []string // enabledProtocols, comma-separated
	CipherSuites     []string // ciphersuites, comma-separated
	// HostnameVerification is hostnameVerification (default true).
	HostnameVerification bool
}

// TLS holds the TLS settings of a zoo.cfg.
type TLS struct {
	Client TLSKeys // ssl.*
	Quorum TLSKeys // ssl.quorum.*
	// SSLQuorum is sslQuorum: members talk to each other over mutual TLS only.
	SSLQuorum bool
	// PortUnification is portUnification: the peer port also accepts the other kind
	// of connection (TLS and plaintext), for a rolling change of sslQuorum.
	PortUnification bool
	// ClientPortUnification is client.portUnification: the plaintext client port
	// also accepts TLS clients.
	ClientPortUnification bool
	// X509SuperUser is X509AuthenticationProvider.superUser: a client whose
	// certificate subject is this DN is a super user.
	X509SuperUser string
}

func defaultTLS() TLS {
	return TLS{Client: TLSKeys{HostnameVerification: true}, Quorum: TLSKeys{HostnameVerification: true}}
}

// tlsKey sets one TLS key; handled reports whether key is one.
func (p *parser) tlsKey(line int, key, val string) (handled bool, err error) {
	t := &p.c.TLS
	switch key {
	case "sslQuorum":
		t.SSLQuorum, err = p.boolean(line, key, val)
		return true, err
	case "portUnification":
		t.PortUnification, err = p.boolean(line, key, val)
		return true, err
	case "client.portUnification":
		t.ClientPortUnification, err = p.boolean(line, key, val)
		return true, err
	case "X509AuthenticationProvider.superUser":
		t.X509SuperUser = val
		return true, nil
	case "sslQuorumReloadCertFiles", "client.certReload":
		// zkraft always follows the store files; the key is accepted as it is.
		_, err = p.boolean(line, key, val)
		return true, err
	}
	var keys *TLSKeys
	var sub string
	switch {
	case strings.HasPrefix(key, "ssl.quorum."):
		keys, sub = &t.Quorum, strings.TrimPrefix(key, "ssl.quorum.")
	case strings.HasPrefix(key, "ssl."):
		keys, sub = &t.Client, strings.TrimPrefix(key, "ssl.")
	default:
		return false, nil
	}
	list := func() []string {
		var out []string
		for v := range strings.SplitSeq(val, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	switch sub {
	case "keyStore.location":
		keys.KeyStoreLocation = val
	case "keyStore.password":
		keys.KeyStorePassword = val
	case "keyStore.passwordPath":
		keys.KeyStorePasswordPath = val
	case "keyStore.type":
		keys.KeyStoreType = val
	case "trustStore.location":
		keys.TrustStoreLocation = val
	case "trustStore.password":
		keys.TrustStorePassword = val
	case "trustStore.passwordPath":
		keys.TrustStorePasswordPath = val
	case "trustStore.type":
		keys.TrustStoreType = val
	case "clientAuth":
		switch strings.ToLower(val) {
		case "", "none", "want", "need":
			keys.ClientAuth = strings.ToLower(val)
		default:
			err = p.errAt(line, key, "%q is not none, want or need", val)
		}
	case "protocol":
		keys.Protocol = val
	case "enabledProtocols":
		keys.EnabledProtocols = list()
	case "ciphersuites":
		keys.CipherSuites = list()
	case "hostnameVerification":
		keys.HostnameVerification, err = p.boolean(line, key, val)
	case "authProvider":
		if val != "x509" {
			p.warn(line, key, fmt.Sprintf("ignored: only the x509 provider is built in (got %q)", val))
		}
	case "crl", "ocsp":
		p.warn(line, key, "ignored: revocation checking (CRL/OCSP) is not supported")
	case "handshakeDetectionTimeoutMillis", "sslProvider", "context.supplier.class", "clientHostnameVerification":
		p.warn(line, key, "ignored: not applicable to zkraft")
	default:
		p.warn(line, key, "unknown key, ignored")
	}
	return true, err
}
