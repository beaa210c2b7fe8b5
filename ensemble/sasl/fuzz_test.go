package sasl

import (
	"testing"

	"github.com/zkraft/zkraft/ensemble/jaas"
)

// FuzzExchange feeds arbitrary client tokens to both mechanisms: no panic, and an
// exchange never completes without the password or the service key.
func FuzzExchange(f *testing.F) {
	kt := writeKeytab(f, "zookeeper/host1", "EX.COM")
	c, err := jaas.Parse("jaas.conf", `Server {
  com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="`+kt+`" principal="zookeeper/host1@EX.COM";
  org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="bobsecret";
};`)
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(c, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, []byte(`charset=utf-8,username="bob",realm="zk-sasl-md5",nonce="x",nc=00000001,cnonce="y",digest-uri="zookeeper/zk-sasl-md5",response=0123,qop=auth`))
	f.Add([]byte{0x60, 0x82, 0x02, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6e}, []byte{})
	f.Add([]byte("\x60\x0b\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"), []byte("\x05\x04\x00\xff\x00\x0c\x00\x00"))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		x := s.NewExchange()
		if _, err := x.Step(first); err != nil {
			return
		}
		x.Step(second)
		if x.Complete() {
			t.Fatalf("complete after %q, %q", first, second)
		}
	})
}

// FuzzParseDirectives: the digest-response parser never panics.
func FuzzParseDirectives(f *testing.F) {
	f.Add([]byte(`a="x\"y",b=1,,c=`))
	f.Add([]byte(`username="bob`))
	f.Fuzz(func(t *testing.T, b []byte) { parseDirectives(b) })
}
