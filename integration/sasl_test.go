package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/ensemble/jaas"
	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// saslJAAS is the JAAS file of kazoo's test harness (ZOOKEEPER_JAAS_AUTH=digest)
// with one more user.
const saslJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password"
    user_bob="bobsecret";
};
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob" password="bobsecret";
};
`

// saslServers starts a reference ZooKeeper and a zkraft server from the same
// zoo.cfg keys and JAAS file (zkraft through ensemble.LoadZooConfig, as zkraft
// serve --config reads them); cfg may be nil.
func saslServers(t *testing.T, cfg map[string]string) (ref, zr string) {
	t.Helper()
	dir := t.TempDir()
	jaasPath := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(jaasPath, []byte(saslJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"}
	for k, v := range cfg {
		keys[k] = v
	}
	var (
		wg     sync.WaitGroup
		z      *testkit.ZooKeeper
		refErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		z, refErr = testkit.StartZooKeeper(testkit.ZooKeeperOptions{Config: keys,
			Props: map[string]string{"java.security.auth.login.config": jaasPath}})
	}()
	var zoo strings.Builder
	fmt.Fprintf(&zoo, "dataDir=%s\nclientPort=2181\njava.security.auth.login.config=%s\n", filepath.Join(dir, "data"), jaasPath)
	for k, v := range keys {
		fmt.Fprintf(&zoo, "%s=%s\n", k, v)
	}
	zooPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(zooPath, []byte(zoo.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := ensemble.LoadZooConfig(zooPath, nil)
	if err != nil {
		wg.Wait()
		if z != nil {
			z.Stop()
		}
		t.Fatalf("LoadZooConfig: %v", err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.Auth = loaded.Auth }))
	wg.Wait()
	if refErr != nil {
		t.Fatal(refErr)
	}
	t.Cleanup(z.Stop)
	return z.Addr, srv.Addr
}

// saslReply sends one GetSASLRequest and describes the reply: its code, whether its
// zxid is 0, and its body (none, a null token, the DIGEST-MD5 challenge, rspauth).
func saslReply(c *rawzk.Conn, token []byte) (line string, body []byte, err error) {
	xid, err := c.Send(zkproto.OpSASL, &zkproto.GetSASLRequest{Token: token})
	if err != nil {
		return "", nil, err
	}
	for {
		b, err := c.ReadFrame()
		if err != nil {
			return "closed", nil, nil
		}
		d := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(d)
		if h.Xid != xid {
			continue
		}
		rest := b[16:]
		var desc string
		switch {
		case len(rest) == 0:
			desc = "no body"
		case len(rest) == 4 && int32(binary.BigEndian.Uint32(rest)) == -1:
			desc = "null token"
		default:
			var r zkproto.SetSASLResponse
			if err := zkproto.Unmarshal(rest, &r); err != nil {
				return "", nil, err
			}
			body = r.Token
			switch tok := string(r.Token); {
			case strings.HasPrefix(tok, `realm="zk-sasl-md5",nonce="`) && strings.HasSuffix(tok, `",charset=utf-8,algorithm=md5-sess`) && len(tok) == 101:
				desc = "challenge"
			case strings.HasPrefix(tok, "rspauth="):
				desc = "rspauth"
			default:
				desc = fmt.Sprintf("token %q", tok)
			}
		}
		return fmt.Sprintf("sasl → %v zxid0=%v %s", h.Err, h.Zxid == 0, desc), body, nil
	}
}

// saslTranscript runs a DIGEST-MD5 exchange as user/password, then whoAmI, a
// getData of /, and reports whether the connection is still open.
func saslTranscript(t *testing.T, addr, user, password string, extra func(c *rawzk.Conn) string) []string {
	t.Helper()
	c := rawConnect(t, addr, 10000)
	var out []string
	cl := &sasl.DigestMD5Client{User: user, Password: password}
	var server []byte
	for i := 0; i < 4; i++ {
		tok, done, err := cl.Step(server)
		if err != nil {
			out = append(out, "client: "+err.Error())
			break
		}
		if done {
			out = append(out, "client: server proved the password")
			break
		}
		line, body, err := saslReply(c, tok)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
		if !strings.HasPrefix(line, "sasl → "+zkproto.ErrOK.Error()+" ") {
			break
		}
		server = body
	}
	if extra != nil {
		out = append(out, extra(c))
	}
	out = append(out, afterSASL(c))
	return out
}

// afterSASL describes what a connection answers next: whoAmI's identities, or its
// refusal, or that it is closed.
func afterSASL(c *rawzk.Conn) string {
	c.Raw().SetDeadline(time.Now().Add(5 * time.Second))
	var who zkproto.WhoAmIResponse
	xid, err := c.Send(zkproto.OpWhoAmI, nil)
	if err != nil {
		return "closed"
	}
	h, err := c.Recv(xid, &who)
	if errors.Is(err, rawzk.ErrClosed) {
		return "closed"
	}
	if err != nil {
		return "error " + err.Error()
	}
	if h.Err != zkproto.ErrOK {
		if _, err := c.ReadFrame(); err != nil {
			return fmt.Sprintf("whoAmI → %v, then closed", h.Err)
		}
		return fmt.Sprintf("whoAmI → %v, still open", h.Err)
	}
	var ids []string
	for _, ci := range who.ClientInfo {
		ids = append(ids, ci.AuthScheme+":"+ci.User)
	}
	return "whoAmI → " + strings.Join(ids, " ")
}

// TestSASLDigestReference: a DIGEST-MD5 exchange, a wrong password, an unknown
// user, a token out of turn, and ACLs on the sasl scheme, on the reference
// ZooKeeper 3.8.0 and on zkraft configured alike: the same transcripts.
func TestSASLDigestReference(t *testing.T) {
	t.Parallel()
	ref, zr := saslServers(t, nil)
	cases := []struct {
		name, user, pass string
		extra            func(c *rawzk.Conn) string
	}{
		{name: "ok", user: "bob", pass: "bobsecret"},
		{name: "super", user: "super", pass: "super_secret"},
		{name: "wrong password", user: "bob", pass: "nope"},
		// An unknown user with a password nobody has. (With another user's
		// password ZooKeeper 3.8.0 may let it in: see TestSASLUnknownUser.)
		{name: "unknown user", user: "eve", pass: "evesecret"},
		{name: "sasl after success", user: "jaasuser", pass: "jaas_password", extra: func(c *rawzk.Conn) string {
			line, _, err := saslReply(c, []byte{})
			if err != nil {
				return err.Error()
			}
			return line
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := saslTranscript(t, ref, tc.user, tc.pass, tc.extra)
			got := saslTranscript(t, zr, tc.user, tc.pass, tc.extra)
			t.Logf("ZooKeeper: %q", want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("zkraft:\n%s\nZooKeeper:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	t.Run("initial response", func(t *testing.T) {
		// DIGEST-MD5 must start with an empty token.
		var lines [2]string
		for i, addr := range []string{ref, zr} {
			c := rawConnect(t, addr, 10000)
			l, _, err := saslReply(c, []byte("username=bob"))
			if err != nil {
				t.Fatal(err)
			}
			lines[i] = l + "; " + afterSASL(c)
		}
		if lines[0] != lines[1] {
			t.Fatalf("zkraft %q, ZooKeeper %q", lines[1], lines[0])
		}
	})
	t.Run("acl", func(t *testing.T) {
		// sasl:bob may read /sasl-acl; an unauthenticated session may not; the SASL
		// user super may, as SASLAuthenticationProvider.matches says.
		var results [2]string
		for i, addr := range []string{ref, zr} {
			owner := saslSession(t, addr, "bob", "bobsecret")
			acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "sasl", ID: "bob"}}}
			var cr zkproto.CreateResponse
			code := rawCall(t, owner, zkproto.OpCreate, &zkproto.CreateRequest{Path: "/sasl-acl", Data: []byte("x"), ACL: acl}, &cr)
			var r []string
			r = append(r, "create "+code.Error())
			for _, who := range []struct{ user, pass string }{{"", ""}, {"jaasuser", "jaas_password"}, {"super", "super_secret"}, {"bob", "bobsecret"}} {
				var c *rawzk.Conn
				if who.user == "" {
					c = rawConnect(t, addr, 10000)
				} else {
					c = saslSession(t, addr, who.user, who.pass)
				}
				var gd zkproto.GetDataResponse
				r = append(r, fmt.Sprintf("%s get %v", who.user, rawCall(t, c, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/sasl-acl"}, &gd)))
			}
			bad := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "sasl", ID: "a@b@c"}}}
			r = append(r, "invalid id "+rawCall(t, owner, zkproto.OpCreate, &zkproto.CreateRequest{Path: "/sasl-bad", ACL: bad}, &cr).Error())
			rawCall(t, owner, zkproto.OpDelete, &zkproto.DeleteRequest{Path: "/sasl-acl", Version: -1}, nil)
			results[i] = strings.Join(r, "; ")
		}
		t.Logf("ZooKeeper: %s", results[0])
		if results[0] != results[1] {
			t.Fatalf("zkraft:    %s\nZooKeeper: %s", results[1], results[0])
		}
	})
}

// saslSession opens a raw session authenticated by DIGEST-MD5.
func saslSession(t *testing.T, addr, user, pass string) *rawzk.Conn {
	t.Helper()
	c := rawConnect(t, addr, 10000)
	cl := &sasl.DigestMD5Client{User: user, Password: pass}
	var server []byte
	for range 4 {
		tok, done, err := cl.Step(server)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return c
		}
		var resp zkproto.SetSASLResponse
		if code := rawCall(t, c, zkproto.OpSASL, &zkproto.GetSASLRequest{Token: tok}, &resp); code != zkproto.ErrOK {
			t.Fatalf("sasl as %s: %v", user, code)
		}
		server = resp.Token
	}
	t.Fatal("DIGEST-MD5 exchange did not end")
	return nil
}

// TestSASLRequiredReference: with sessionRequireClientSASLAuth, a session that has
// not authenticated is refused its first request (SESSIONCLOSEDREQUIRESASLAUTH, the
// connection closed), a failed exchange answers the same code, and an
// authenticated session works; as on the reference ZooKeeper.
func TestSASLRequiredReference(t *testing.T) {
	t.Parallel()
	ref, zr := saslServers(t, map[string]string{"sessionRequireClientSASLAuth": "true"})
	for _, tc := range []struct{ name, user, pass string }{
		{"ok", "bob", "bobsecret"},
		{"wrong password", "bob", "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := saslTranscript(t, ref, tc.user, tc.pass, nil)
			got := saslTranscript(t, zr, tc.user, tc.pass, nil)
			t.Logf("ZooKeeper: %q", want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("zkraft:\n%s\nZooKeeper:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	for _, op := range []struct {
		name string
		run  func(c *rawzk.Conn) string
	}{
		{"whoAmI", afterSASL},
		{"ping", func(c *rawzk.Conn) string {
			c.SendXid(zkproto.XidPing, zkproto.OpPing, nil)
			h, err := c.Recv(zkproto.XidPing, nil)
			return fmt.Sprintf("ping → %v %v zxid0=%v; %s", h.Err, err, h.Zxid == 0, afterSASL(c))
		}},
		{"addauth digest", func(c *rawzk.Conn) string {
			xid := zkproto.Xid(-4)
			c.SendXid(xid, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte("a:b")})
			h, err := c.Recv(xid, nil)
			return fmt.Sprintf("addauth → %v %v; %s", h.Err, err, afterSASL(c))
		}},
	} {
		t.Run("unauthenticated "+op.name, func(t *testing.T) {
			want := op.run(rawConnect(t, ref, 10000))
			got := op.run(rawConnect(t, zr, 10000))
			t.Logf("ZooKeeper: %s", want)
			if got != want {
				t.Fatalf("zkraft %q, ZooKeeper %q", got, want)
			}
		})
	}
}

// TestSASLUnknownUser: a user the JAAS file does not name is refused, whatever
// password it sends. ZooKeeper 3.8.0 is not followed here: its
// SaslServerCallbackHandler, shared by every connection, keeps the user name of
// the last exchange when the new one is unknown and checks the password against
// that user's (observed: "eve" with bob's password, after bob, authenticates as
// sasl:eve).
func TestSASLUnknownUser(t *testing.T) {
	dir := t.TempDir()
	jaasPath := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(jaasPath, []byte(saslJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.Auth.SASL = mustSASL(t, jaasPath)
		c.FourLetterWhitelist = []string{"mntr"}
	}))
	saslSession(t, srv.Addr, "bob", "bobsecret")
	got := saslTranscript(t, srv.Addr, "eve", "bobsecret", nil)
	if want := "sasl → " + zkproto.ErrAuthFailed.Error() + " zxid0=true null token"; len(got) != 3 || got[1] != want || got[2] != "closed" {
		t.Fatalf("eve with bob's password: %q", got)
	}
	// The refusal is counted in mntr.
	if out, err := rawzk.FourLetter(srv.Addr, "mntr", 5*time.Second); err != nil || !strings.Contains(out, "zk_auth_failed_count\t1\n") {
		t.Fatalf("mntr after one failed SASL exchange: %v\n%s", err, out)
	}
}

func mustSASL(t testing.TB, jaasPath string) *sasl.Server {
	t.Helper()
	jc, err := jaas.Load(jaasPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sasl.New(jc, sasl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSASLOptions: zookeeper.superUser makes a SASL user super;
// allowSaslFailedClients keeps a failed client's connection (answered OK with a
// null token, unauthenticated); enforce.auth.schemes=digest lets a session that
// did addauth digest through and refuses one that did not.
func TestSASLOptions(t *testing.T) {
	dir := t.TempDir()
	jaasPath := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(jaasPath, []byte(saslJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.Auth = ensemble.AuthConfig{SASL: mustSASL(t, jaasPath), SuperUsers: []string{"jaasuser"}, AllowFailedSASL: true}
	}))
	admin := saslSession(t, srv.Addr, "jaasuser", "jaas_password")
	if got := afterSASL(admin); got != "whoAmI → sasl:jaasuser super: ip:127.0.0.1" && !strings.Contains(got, "super:") {
		t.Fatalf("super user: %s", got)
	}
	got := saslTranscript(t, srv.Addr, "bob", "wrong", nil)
	if want := []string{"sasl → " + zkproto.ErrOK.Error() + " zxid0=true challenge", "sasl → " + zkproto.ErrOK.Error() + " zxid0=true null token",
		"client: DIGEST-MD5: the server's rspauth is wrong: it does not know the password", "whoAmI → ip:127.0.0.1"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("allowSaslFailedClients: %q", got)
	}

	enf := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.Auth = ensemble.AuthConfig{EnforceSchemes: []string{"digest"}}
	}))
	c := rawConnect(t, enf.Addr, 10000)
	if code := rawCall(t, c, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte("u:p")}, nil); code != zkproto.ErrOK {
		t.Fatalf("addauth: %v", code)
	}
	if got := afterSASL(c); !strings.Contains(got, "digest:u") {
		t.Fatalf("after addauth digest: %s", got)
	}
	if got := afterSASL(rawConnect(t, enf.Addr, 10000)); got != "whoAmI → "+zkproto.ErrSessionClosedRequireSASLAuth.Error()+", then closed" {
		t.Fatalf("without addauth: %s", got)
	}
}

// TestSASLEnsemble: in a 3-member ensemble a SASL identity travels with the
// session's writes (a follower forwards them to the leader with it) and is checked
// by every member: bob creates a sasl:bob node through one member, reads it through
// another, and an unauthenticated session or another SASL user is refused on a
// third, reads and writes alike.
func TestSASLEnsemble(t *testing.T) {
	dir := t.TempDir()
	jaasPath := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(jaasPath, []byte(saslJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustSASL(t, jaasPath)
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) { c.Auth.SASL = s }))
	addrs := cl.Addrs()
	leader := cl.Leader()
	a, b, c := addrs[(leader+1)%3], addrs[(leader+2)%3], addrs[leader]
	owner := saslSession(t, a, "bob", "bobsecret")
	acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "sasl", ID: "bob"}}}
	if code := rawCall(t, owner, zkproto.OpCreate, &zkproto.CreateRequest{Path: "/ens", Data: []byte("x"), ACL: acl}, &zkproto.CreateResponse{}); code != zkproto.ErrOK {
		t.Fatalf("create through a follower: %v", code)
	}
	reader := saslSession(t, b, "bob", "bobsecret")
	if code := rawCall(t, reader, zkproto.OpSync, &zkproto.SyncRequest{Path: "/ens"}, &zkproto.SyncResponse{}); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	var gd zkproto.GetDataResponse
	if code := rawCall(t, reader, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/ens"}, &gd); code != zkproto.ErrOK || string(gd.Data) != "x" {
		t.Fatalf("bob on another member: %v %q", code, gd.Data)
	}
	if code := rawCall(t, reader, zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/ens", Data: []byte("y"), Version: -1}, &zkproto.SetDataResponse{}); code != zkproto.ErrOK {
		t.Fatalf("bob's write through another follower: %v", code)
	}
	for _, who := range []*rawzk.Conn{rawConnect(t, c, 10000), saslSession(t, c, "jaasuser", "jaas_password")} {
		if code := rawCall(t, who, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/ens"}, &gd); code != zkproto.ErrNoAuth {
			t.Errorf("read by another identity: %v, want NOAUTH", code)
		}
		if code := rawCall(t, who, zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/ens", Data: []byte("z"), Version: -1}, &zkproto.SetDataResponse{}); code != zkproto.ErrNoAuth {
			t.Errorf("write by another identity: %v, want NOAUTH", code)
		}
	}
}
