package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestTLSKeys(t *testing.T) {
	src := strings.Join([]string{
		"clientPort=2181",
		"secureClientPort=2281",
		"secureClientPortAddress=127.0.0.1",
		"ssl.keyStore.location=/etc/zk/server.p12",
		"ssl.keyStore.password=secret",
		"ssl.keyStore.type=PKCS12",
		"ssl.trustStore.location=/etc/zk/trust.jks",
		"ssl.trustStore.passwordPath=/etc/zk/trust.pw",
		"ssl.clientAuth=WANT",
		"ssl.protocol=TLSv1.3",
		"ssl.enabledProtocols=TLSv1.3, TLSv1.2",
		"ssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"ssl.hostnameVerification=false",
		"zookeeper.ssl.quorum.keyStore.location=/etc/zk/quorum.pem",
		"ssl.quorum.trustStore.location=/etc/zk/ca.pem",
		"sslQuorum=true",
		"portUnification=true",
		"client.portUnification=true",
		"sslQuorumReloadCertFiles=true",
		"X509AuthenticationProvider.superUser=CN=admin,O=Acme",
	}, "\n")
	c, w := parse(t, src)
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	want := TLS{
		Client: TLSKeys{
			KeyStoreLocation: "/etc/zk/server.p12", KeyStorePassword: "secret", KeyStoreType: "PKCS12",
			TrustStoreLocation: "/etc/zk/trust.jks", TrustStorePasswordPath: "/etc/zk/trust.pw",
			ClientAuth: "want", Protocol: "TLSv1.3", EnabledProtocols: []string{"TLSv1.3", "TLSv1.2"},
			CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		},
		Quorum:                TLSKeys{KeyStoreLocation: "/etc/zk/quorum.pem", TrustStoreLocation: "/etc/zk/ca.pem", HostnameVerification: true},
		SSLQuorum:             true,
		PortUnification:       true,
		ClientPortUnification: true,
		X509SuperUser:         "CN=admin,O=Acme",
	}
	if !reflect.DeepEqual(c.TLS, want) {
		t.Errorf("TLS\n got %+v\nwant %+v", c.TLS, want)
	}
	if got := c.SecureClientAddr(); got != "127.0.0.1:2281" {
		t.Errorf("SecureClientAddr = %q", got)
	}
	if got := c.ClientAddr(); got != ":2181" {
		t.Errorf("ClientAddr = %q", got)
	}
}

// A secure client port without clientPort replaces the plaintext port, as in
// ZooKeeper (zkraft's default 2181 is not opened).
func TestSecureClientPortInstead(t *testing.T) {
	c, _ := parse(t, "secureClientPort=2281\n")
	if c.ClientAddr() != "" || c.SecureClientAddr() != ":2281" {
		t.Errorf("ClientAddr %q, SecureClientAddr %q", c.ClientAddr(), c.SecureClientAddr())
	}
	c, _ = parse(t, "")
	if c.SecureClientAddr() != "" || c.ClientAddr() != ":2181" {
		t.Errorf("defaults: ClientAddr %q, SecureClientAddr %q", c.ClientAddr(), c.SecureClientAddr())
	}
}

func TestTLSKeyErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"ssl.clientAuth=maybe", `zoo.cfg:1: ssl.clientAuth: "maybe" is not none, want or need`},
		{"sslQuorum=yes", `zoo.cfg:1: sslQuorum: "yes" is not a boolean (true or false)`},
		{"ssl.quorum.hostnameVerification=1", `zoo.cfg:1: ssl.quorum.hostnameVerification: "1" is not a boolean (true or false)`},
	} {
		_, _, err := Parse(strings.NewReader(tc.src), "zoo.cfg")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: err %v, want %s", tc.src, err, tc.want)
		}
	}
}
