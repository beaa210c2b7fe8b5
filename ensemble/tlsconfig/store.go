package tlsconfig

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Store is one key or trust store as zoo.cfg names it.
type Store struct {
	Location string // *.location: the file
	Password string // *.password, or the contents of *.passwordPath
	Type     string // *.type: JKS, PEM or PKCS12; "" = from the file name
}

// storeType is KeyStoreFileType.fromPropertyValueOrFileName: the type key when set
// (any case), otherwise the file's extension.
func storeType(s Store) (string, error) {
	if s.Type != "" {
		switch t := strings.ToUpper(s.Type); t {
		case "JKS", "PEM", "PKCS12":
			return t, nil
		case "BCFKS":
			return "", errors.New("BCFKS stores are not supported: convert the store to PKCS12 (keytool -importkeystore -deststoretype PKCS12)")
		}
		return "", fmt.Errorf("unknown store type %q: use JKS, PEM or PKCS12", s.Type)
	}
	switch strings.ToLower(filepath.Ext(s.Location)) {
	case ".jks":
		return "JKS", nil
	case ".pem":
		return "PEM", nil
	case ".p12", ".pfx":
		return "PKCS12", nil
	}
	return "", fmt.Errorf("cannot tell the store type of %s from its name: set the type key (JKS, PEM or PKCS12)", s.Location)
}

// loadKeyPair reads a key store: one private key and its certificate chain.
func loadKeyPair(s Store) (tls.Certificate, error) {
	typ, err := storeType(s)
	if err != nil {
		return tls.Certificate{}, err
	}
	data, err := os.ReadFile(s.Location)
	if err != nil {
		return tls.Certificate{}, err
	}
	var (
		key   crypto.PrivateKey
		chain []*x509.Certificate
	)
	switch typ {
	case "PEM":
		key, chain, err = pemKeyPair(data, s.Password)
	case "PKCS12":
		var leaf *x509.Certificate
		var cas []*x509.Certificate
		key, leaf, cas, err = pkcs12.DecodeChain(data, s.Password)
		if err == nil {
			chain = append([]*x509.Certificate{leaf}, cas...)
		}
	case "JKS":
		key, chain, err = jksKeyPair(data, s.Password)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read %s key store: %w", typ, err)
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s key store holds no certificate", typ)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	if !publicKeyMatches(chain[0], key) {
		return tls.Certificate{}, errors.New("the private key does not belong to the first certificate")
	}
	return cert, nil
}

func publicKeyMatches(cert *x509.Certificate, key crypto.PrivateKey) bool {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(signer.Public())
}

// pemKeyPair reads ZooKeeper's PEM key store: a private key (PKCS#8, PKCS#1 or SEC 1)
// and the certificates, leaf first.
func pemKeyPair(data []byte, password string) (crypto.PrivateKey, []*x509.Certificate, error) {
	var (
		key   crypto.PrivateKey
		chain []*x509.Certificate
	)
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var err error
		switch b.Type {
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				chain = append(chain, c)
			}
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			err = errors.New("encrypted PEM private keys are not supported: use an unencrypted key in a file only the server can read, or a PKCS12 store")
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if key == nil {
		return nil, nil, errors.New("no private key in the PEM file")
	}
	_ = password // an unencrypted PEM key needs none; ZooKeeper ignores it too
	return key, chain, nil
}

func jksKeyPair(data []byte, password string) (crypto.PrivateKey, []*x509.Certificate, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		return nil, nil, err
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(password))
		if err != nil {
			return nil, nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		var chain []*x509.Certificate
		for _, c := range e.CertificateChain {
			cert, err := x509.ParseCertificate(c.Content)
			if err != nil {
				return nil, nil, fmt.Errorf("entry %q: %w", alias, err)
			}
			chain = append(chain, cert)
		}
		return key, chain, nil
	}
	return nil, nil, errors.New("no private key entry in the JKS store")
}

// loadTrust reads a trust store: the certificates it trusts.
func loadTrust(s Store) (*x509.CertPool, error) {
	typ, err := storeType(s)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.Location)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	switch typ {
	case "PEM":
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("read PEM trust store: %w", err)
			}
			certs = append(certs, c)
		}
	case "PKCS12":
		if certs, err = pkcs12.DecodeTrustStore(data, s.Password); err != nil {
			// A key store used as a trust store: trust its certificates.
			_, leaf, cas, err2 := pkcs12.DecodeChain(data, s.Password)
			if err2 != nil {
				return nil, fmt.Errorf("read PKCS12 trust store: %w", err)
			}
			certs = append([]*x509.Certificate{leaf}, cas...)
		}
	case "JKS":
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(s.Password)); err != nil {
			return nil, fmt.Errorf("read JKS trust store: %w", err)
		}
		for _, alias := range ks.Aliases() {
			var raw [][]byte
			if ks.IsTrustedCertificateEntry(alias) {
				e, _ := ks.GetTrustedCertificateEntry(alias)
				raw = append(raw, e.Certificate.Content)
			} else if chain, err := ks.GetPrivateKeyEntryCertificateChain(alias); err == nil {
				for _, c := range chain {
					raw = append(raw, c.Content)
				}
			}
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return nil, fmt.Errorf("read JKS trust store: entry %q: %w", alias, err)
				}
				certs = append(certs, c)
			}
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s trust store holds no certificate", typ)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
