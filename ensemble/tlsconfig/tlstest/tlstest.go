// Package tlstest makes certificates and key stores for tests: a CA, and server
// and client certificates it signs, written as PEM, PKCS12 or JKS files. Keys are
// ECDSA P-256 (quick to make, and every client here reads them).
package tlstest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

var serial atomic.Int64

// Cert is a certificate and its key; Chain is the certificate then its issuer's.
type Cert struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// CA is a certificate authority.
type CA struct{ Cert }

// NewCA makes a self-signed CA named cn.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"zkraft tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert{Cert: c, Key: key, Chain: []*x509.Certificate{c}}}
}

// Opts describe a certificate to issue.
type Opts struct {
	Subject pkix.Name
	// Hosts become SANs: IP addresses as IP SANs, anything else as DNS names.
	Hosts []string
	// NotBefore and NotAfter default to an hour ago and a day ahead.
	NotBefore, NotAfter time.Time
}

// Issue signs a certificate for both server and client use.
func (ca *CA) Issue(t testing.TB, o Opts) *Cert {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      o.Subject,
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &Cert{Cert: c, Key: key, Chain: []*x509.Certificate{c, ca.Cert.Cert}}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TLS is the certificate for a tls.Config.
func (c *Cert) TLS() tls.Certificate {
	tc := tls.Certificate{PrivateKey: c.Key, Leaf: c.Cert}
	for _, x := range c.Chain {
		tc.Certificate = append(tc.Certificate, x.Raw)
	}
	return tc
}

// Pool is a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert.Cert)
	return p
}

// KeyPEM is the key (PKCS#8) then the chain, as ZooKeeper's PEM key store.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, x := range c.Chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	return b.Bytes()
}

// CertPEM is the certificate alone.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// WriteKeyStore writes the key and chain as a key store of typ (PEM, PKCS12, JKS).
func (c *Cert) WriteKeyStore(t testing.TB, path, typ, password string) {
	t.Helper()
	var data []byte
	switch typ {
	case "PEM":
		data = c.KeyPEM(t)
	case "PKCS12":
		var err error
		if data, err = pkcs12.Modern.Encode(c.Key, c.Chain[0], c.Chain[1:], password); err != nil {
			t.Fatal(err)
		}
	case "JKS":
		der, err := x509.MarshalPKCS8PrivateKey(c.Key)
		if err != nil {
			t.Fatal(err)
		}
		ks := keystore.New()
		e := keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der}
		for _, x := range c.Chain {
			e.CertificateChain = append(e.CertificateChain, keystore.Certificate{Type: "X509", Content: x.Raw})
		}
		if err := ks.SetPrivateKeyEntry("key", e, []byte(password)); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := ks.Store(&b, []byte(password)); err != nil {
			t.Fatal(err)
		}
		data = b.Bytes()
	default:
		t.Fatalf("unknown store type %q", typ)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteTrustStore writes the CA's certificate as a trust store of typ.
func (ca *CA) WriteTrustStore(t testing.TB, path, typ, password string) {
	t.Helper()
	var data []byte
	switch typ {
	case "PEM":
		data = ca.CertPEM()
	case "PKCS12":
		var err error
		if data, err = pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert.Cert}, password); err != nil {
			t.Fatal(err)
		}
	case "JKS":
		ks := keystore.New()
		if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(),
			Certificate: keystore.Certificate{Type: "X509", Content: ca.Cert.Cert.Raw}}); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := ks.Store(&b, []byte(password)); err != nil {
			t.Fatal(err)
		}
		data = b.Bytes()
	default:
		t.Fatalf("unknown store type %q", typ)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
