package sasl

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/ensemble/jaas"
)

// TestDigestRFC2831Example: the example exchange of RFC 2831 section 4.
func TestDigestRFC2831Example(t *testing.T) {
	a1 := digestA1("chris", "elwood.innosoft.com", "secret", "OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk", "", false, false)
	if got := digestResponse(a1, "OA6MG9tEQGm2hh", "00000001", "OA6MHXh6VqTrRk", "auth", "AUTHENTICATE:imap/elwood.innosoft.com"); got != "d388dad90d4bbd760a152321f2143af7" {
		t.Errorf("response = %s", got)
	}
	if got := digestResponse(a1, "OA6MG9tEQGm2hh", "00000001", "OA6MHXh6VqTrRk", "auth", ":imap/elwood.innosoft.com"); got != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("rspauth = %s", got)
	}
}

func testServer(t *testing.T, text string, o Options) *Server {
	t.Helper()
	c, err := jaas.Parse("jaas.conf", text)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const digestJAAS = `Server { org.apache.zookeeper.server.auth.DigestLoginModule required
	user_super="adminsecret" user_bob="bobsecret" user_jörg="pässwort" user_ŵ="x"; };`

// digestClient is a DIGEST-MD5 client as the Java client and kazoo's pure-sasl are.
type digestClient struct {
	user, pass, realm, uri, cnonce, nc, qop, authzid string
	charset                                          bool
	extra                                            string
	a1                                               [16]byte
	nonce                                            string
}

func newClient(user, pass string) *digestClient {
	return &digestClient{user: user, pass: pass, realm: DigestRealm, uri: "zookeeper/zk-sasl-md5", cnonce: "c7r4nd0m", nc: "00000001", qop: "auth", charset: true}
}

func (c *digestClient) respond(t *testing.T, challenge []byte) []byte {
	t.Helper()
	dir, err := parseDirectives(challenge)
	if err != nil {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	if dir["realm"] != DigestRealm || dir["qop"] != "" || dir["algorithm"] != "md5-sess" || dir["charset"] != "utf-8" || len(dir["nonce"]) < 16 {
		t.Fatalf("challenge %q", challenge)
	}
	c.nonce = dir["nonce"]
	c.a1 = digestA1(c.user, c.realm, c.pass, c.nonce, c.cnonce, c.authzid, c.authzid != "", c.charset)
	resp := digestResponse(c.a1, c.nonce, c.nc, c.cnonce, c.qop, "AUTHENTICATE:"+c.uri)
	var b strings.Builder
	if c.charset {
		b.WriteString("charset=utf-8,")
	}
	user := c.user
	if !c.charset {
		user = string(charsetBytes(user, false)) // sent as ISO 8859-1
	}
	fmt.Fprintf(&b, `username="%s",realm="%s",nonce="%s",nc=%s,cnonce="%s",digest-uri="%s",maxbuf=65536,response=%s,qop=%s`,
		user, c.realm, c.nonce, c.nc, c.cnonce, c.uri, resp, c.qop)
	if c.authzid != "" {
		fmt.Fprintf(&b, `,authzid="%s"`, c.authzid)
	}
	b.WriteString(c.extra)
	return []byte(b.String())
}

func (c *digestClient) rspauth() string {
	return "rspauth=" + digestResponse(c.a1, c.nonce, c.nc, c.cnonce, c.qop, ":"+c.uri)
}

func run(t *testing.T, s *Server, c *digestClient) (*Exchange, error) {
	t.Helper()
	x := s.NewExchange()
	ch, err := x.Step([]byte{})
	if err != nil {
		t.Fatalf("first step: %v", err)
	}
	if x.Complete() {
		t.Fatal("complete after the challenge")
	}
	final, err := x.Step(c.respond(t, ch))
	if err != nil {
		if x.Complete() || x.AuthorizationID() != "" {
			t.Fatal("complete after a failed step")
		}
		return x, err
	}
	if string(final) != c.rspauth() {
		t.Fatalf("rspauth %q, want %q", final, c.rspauth())
	}
	if !x.Complete() {
		t.Fatal("not complete after rspauth")
	}
	if _, err := x.Step(nil); err == nil {
		t.Fatal("a step after the end succeeded")
	}
	return x, nil
}

func TestDigestExchange(t *testing.T) {
	s := testServer(t, digestJAAS, Options{})
	if got := s.Mechanisms(); len(got) != 1 || got[0] != "DIGEST-MD5" {
		t.Fatalf("mechanisms %v", got)
	}
	if got := strings.Join(s.Users(), ","); got != "bob,jörg,super,ŵ" {
		t.Fatalf("users %s", got)
	}
	for _, tc := range []struct {
		name   string
		client func() *digestClient
		id     string
		err    error // nil, or the sentinel the error wraps, or errAny
	}{
		{"ok", func() *digestClient { return newClient("bob", "bobsecret") }, "bob", nil},
		{"super", func() *digestClient { return newClient("super", "adminsecret") }, "super", nil},
		{"authzid is not used", func() *digestClient { c := newClient("bob", "bobsecret"); c.authzid = "super"; return c }, "bob", nil},
		{"latin-1 without charset", func() *digestClient { c := newClient("jörg", "pässwort"); c.charset = false; return c }, "jörg", nil},
		{"latin-1 as utf-8", func() *digestClient { return newClient("jörg", "pässwort") }, "jörg", nil},
		{"utf-8 beyond latin-1", func() *digestClient { return newClient("ŵ", "x") }, "ŵ", nil},
		{"upper-case uri", func() *digestClient { c := newClient("bob", "bobsecret"); c.uri = "ZOOKEEPER/ZK-SASL-MD5"; return c }, "bob", nil},
		{"wrong password", func() *digestClient { return newClient("bob", "wrong") }, "", ErrBadResponse},
		{"unknown user", func() *digestClient { return newClient("eve", "bobsecret") }, "", ErrUnknownUser},
		{"other realm", func() *digestClient { c := newClient("bob", "bobsecret"); c.realm = "example.com"; return c }, "", errAny},
		{"other uri", func() *digestClient { c := newClient("bob", "bobsecret"); c.uri = "zookeeper/localhost"; return c }, "", errAny},
		{"nonce count 2", func() *digestClient { c := newClient("bob", "bobsecret"); c.nc = "00000002"; return c }, "", errAny},
		{"qop auth-int", func() *digestClient { c := newClient("bob", "bobsecret"); c.qop = "auth-int"; return c }, "", errAny},
		{"directive twice", func() *digestClient { c := newClient("bob", "bobsecret"); c.extra = `,username="bob"`; return c }, "", errAny},
		{"garbage after", func() *digestClient { c := newClient("bob", "bobsecret"); c.extra = `,x="y"z`; return c }, "", errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := run(t, s, tc.client())
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("failed: %v", err)
			case tc.err != nil && err == nil:
				t.Fatal("succeeded")
			case tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got := x.AuthorizationID(); got != tc.id {
				t.Fatalf("authorization id %q, want %q", got, tc.id)
			}
			if err == nil && x.Mechanism() != "DIGEST-MD5" {
				t.Fatalf("mechanism %q", x.Mechanism())
			}
		})
	}
}

var errAny = errors.New("any error")

func TestDigestBadSteps(t *testing.T) {
	s := testServer(t, digestJAAS, Options{})
	x := s.NewExchange()
	if ch, err := x.Step([]byte("username=bob")); err != nil || !strings.HasPrefix(string(ch), `realm="zk-sasl-md5",nonce="`) {
		t.Fatalf("initial response: %q %v", ch, err)
	}
	x = s.NewExchange()
	x.Step(nil)
	if _, err := x.Step(make([]byte, 4097)); err == nil {
		t.Fatal("4097-byte response accepted")
	}
	// A response made for another exchange's nonce is refused.
	x1, x2 := s.NewExchange(), s.NewExchange()
	ch1, _ := x1.Step(nil)
	x2.Step(nil)
	if _, err := x2.Step(newClient("bob", "bobsecret").respond(t, ch1)); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("replayed nonce: %v", err)
	}
	// A failed exchange cannot continue.
	if _, err := x2.Step(newClient("bob", "bobsecret").respond(t, ch1)); err == nil {
		t.Fatal("second try on a failed exchange")
	}
	for _, bad := range []string{`username`, `username="bob`, `=x`} {
		if _, err := parseDirectives([]byte(bad)); err == nil {
			t.Errorf("parseDirectives(%q) succeeded", bad)
		}
	}
	if d, err := parseDirectives([]byte(` ,a = "x\"y" , b=1,,`)); err != nil || d["a"] != `x"y` || d["b"] != "1" {
		t.Errorf("parseDirectives: %v %v", d, err)
	}
}

func TestSuperPassword(t *testing.T) {
	s := testServer(t, digestJAAS, Options{SuperPassword: "fromproperty"})
	if _, err := run(t, s, newClient("super", "adminsecret")); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("JAAS password of super: %v", err)
	}
	if _, err := run(t, s, newClient("super", "fromproperty")); err != nil {
		t.Fatalf("superPassword: %v", err)
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		o              Options
		in, want       string
		validSASLACLID bool
	}{
		{Options{}, "bob", "bob", true},
		{Options{}, "a/b", "a/b", true},
		{Options{}, "", "", true},
		{Options{DefaultRealm: "EX.COM"}, "zookeeper/host@EX.COM", "zookeeper/host@EX.COM", true},
		{Options{DefaultRealm: "EX.COM", RemoveHostFromPrincipal: true}, "zookeeper/host@EX.COM", "zookeeper@EX.COM", true},
		{Options{DefaultRealm: "EX.COM", RemoveRealmFromPrincipal: true}, "zookeeper/host@EX.COM", "zookeeper/host", true},
		{Options{DefaultRealm: "EX.COM", RemoveHostFromPrincipal: true, RemoveRealmFromPrincipal: true}, "client@EX.COM", "client", true},
		{Options{DefaultRealm: "EX.COM", RemoveRealmFromPrincipal: true}, "client@OTHER.COM", "client@OTHER.COM", true},
		{Options{RemoveRealmFromPrincipal: true}, "a@b@c", "a@b@c", false},
		{Options{}, "a/b/c@R", "a/b/c@R", false},
	} {
		s := &Server{opts: tc.o}
		if got := s.Canonical(tc.in); got != tc.want {
			t.Errorf("Canonical(%q) with %+v = %q, want %q", tc.in, tc.o, got, tc.want)
		}
		if got := ValidName(tc.in); got != tc.validSASLACLID {
			t.Errorf("ValidName(%q) = %v", tc.in, got)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		text, section, want string
	}{
		{`Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="a" password="b"; };`, "",
			"no JAAS configuration section named 'Server' was found in 'jaas.conf' (sections: Client)"},
		{digestJAAS, "ZkServer", "no JAAS configuration section named 'ZkServer'"},
		{`Server { com.example.Other required; };`, "", "jaas.conf:1: JAAS section 'Server': login module com.example.Other is not supported"},
		{`Server { };`, "", "jaas.conf: JAAS section 'Server' has no"},
	} {
		c, err := jaas.Parse("jaas.conf", tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(c, Options{Section: tc.section}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v, want %q", tc.text, err, tc.want)
		}
	}
	// A DigestLoginModule without users is accepted: every client fails.
	s := testServer(t, `Server { org.apache.zookeeper.server.auth.DigestLoginModule required; };`, Options{})
	if _, err := run(t, s, newClient("bob", "x")); !errors.Is(err, ErrUnknownUser) {
		t.Fatal(err)
	}
}

// The A1 secret is hashed from the ISO 8859-1 bytes of a name that fits.
func TestCharsetBytes(t *testing.T) {
	if got := hex.EncodeToString(charsetBytes("jörg", true)); got != "6af67267" {
		t.Errorf("latin-1: %s", got)
	}
	if got := string(charsetBytes("ŵ", true)); got != "ŵ" {
		t.Errorf("utf-8: %q", got)
	}
}

// TestDigestMD5Client: the exported client against the server, both ways.
func TestDigestMD5Client(t *testing.T) {
	s := testServer(t, digestJAAS, Options{})
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{{"bob", "bobsecret", true}, {"jörg", "pässwort", true}, {"bob", "nope", false}} {
		c := &DigestMD5Client{User: tc.user, Password: tc.pass}
		x := s.NewExchange()
		var server []byte
		var err error
		for i := 0; ; i++ {
			if i > 3 {
				t.Fatal("exchange does not end")
			}
			tok, done, cerr := c.Step(server)
			if cerr != nil {
				t.Fatalf("%s: client: %v", tc.user, cerr)
			}
			if done {
				break
			}
			if server, err = x.Step(tok); err != nil {
				break
			}
		}
		if (err == nil) != tc.ok || x.Complete() != tc.ok {
			t.Fatalf("%s/%s: err %v, complete %v", tc.user, tc.pass, err, x.Complete())
		}
		if tc.ok && x.AuthorizationID() != tc.user {
			t.Fatalf("id %q", x.AuthorizationID())
		}
	}
	// A server that does not know the password cannot fake rspauth.
	c := &DigestMD5Client{User: "bob", Password: "bobsecret"}
	c.Step(nil)
	c.Step([]byte(`realm="zk-sasl-md5",nonce="abc",qop="auth"`))
	if _, _, err := c.Step([]byte("rspauth=00000000000000000000000000000000")); err == nil {
		t.Fatal("forged rspauth accepted")
	}
}
