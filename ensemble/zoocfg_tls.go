package ensemble

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/zkraft/zkraft/ensemble/config"
	"github.com/zkraft/zkraft/ensemble/tlsconfig"
)

// applyTLS loads the stores a zoo.cfg names into cfg.TLS. A store that cannot be
// used (missing file, wrong password, expired certificate) is an error naming the
// key and the file: the server does not start.
func applyTLS(cfg *Config, zc *config.Config, log *slog.Logger) error {
	t := zc.TLS
	cfg.TLS.SecureClientAddr = zc.SecureClientAddr()
	cfg.TLS.ClientPortUnification = t.ClientPortUnification
	cfg.TLS.X509SuperUser = t.X509SuperUser
	if cfg.TLS.SecureClientAddr != "" || t.ClientPortUnification {
		set, err := tlsSettings("ssl.", t.Client)
		if err != nil {
			return err
		}
		src, err := tlsconfig.New(set, true, log.With("component", "tls", "port", "client"))
		if err != nil {
			return err
		}
		cfg.TLS.Client = src.ServerConfig()
	}
	cfg.TLS.SSLQuorum = t.SSLQuorum
	cfg.TLS.PortUnification = t.PortUnification
	cfg.TLS.QuorumHostnameVerification = t.Quorum.HostnameVerification
	if (t.SSLQuorum || t.PortUnification) && zc.Distributed() {
		set, err := tlsSettings("ssl.quorum.", t.Quorum)
		if err != nil {
			return err
		}
		if set.ClientAuth != tlsconfig.Need {
			log.Warn("zoo.cfg: ssl.quorum.clientAuth is ignored: members always present and check certificates")
			set.ClientAuth = tlsconfig.Need
		}
		if set.TrustStore.Location == "" {
			return fmt.Errorf("ssl.quorum.trustStore.location: is not set: sslQuorum needs the CA that signs the members' certificates")
		}
		if !set.HostnameVerification {
			log.Warn("zoo.cfg: ssl.quorum.hostnameVerification=false: any certificate the quorum trust store vouches for is taken for a member")
		}
		src, err := tlsconfig.New(set, true, log.With("component", "tls", "port", "peer"))
		if err != nil {
			return err
		}
		cfg.TLS.Quorum = src
	}
	return nil
}

// tlsSettings turns one prefix's zoo.cfg keys into tlsconfig settings, reading the
// password files (*.passwordPath) as ZooKeeper's SecretUtils does: the whole file,
// without its trailing line break.
func tlsSettings(prefix string, k config.TLSKeys) (tlsconfig.Settings, error) {
	ca, err := tlsconfig.ParseClientAuth(k.ClientAuth)
	if err != nil {
		return tlsconfig.Settings{}, fmt.Errorf("%sclientAuth: %w", prefix, err)
	}
	ksPass, err := password(prefix+"keyStore.passwordPath", k.KeyStorePassword, k.KeyStorePasswordPath)
	if err != nil {
		return tlsconfig.Settings{}, err
	}
	tsPass, err := password(prefix+"trustStore.passwordPath", k.TrustStorePassword, k.TrustStorePasswordPath)
	if err != nil {
		return tlsconfig.Settings{}, err
	}
	return tlsconfig.Settings{
		Prefix:               prefix,
		KeyStore:             tlsconfig.Store{Location: k.KeyStoreLocation, Password: ksPass, Type: k.KeyStoreType},
		TrustStore:           tlsconfig.Store{Location: k.TrustStoreLocation, Password: tsPass, Type: k.TrustStoreType},
		ClientAuth:           ca,
		Protocol:             k.Protocol,
		EnabledProtocols:     k.EnabledProtocols,
		CipherSuites:         k.CipherSuites,
		HostnameVerification: k.HostnameVerification,
	}, nil
}

func password(key, value, path string) (string, error) {
	if path == "" {
		return value, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
