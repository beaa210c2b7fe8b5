package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/ensemble/jaas"
	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// kerberosRealm is a test KDC with a ZooKeeper service principal
// zookeeper/127.0.0.1 (server.keytab) and, in client.keytab, the clients "client"
// and "app/host1" and a service zookeeper/otherhost this server is not.
type kerberosRealm struct {
	kdc                      *testkit.KDC
	serverKeytab, clientKeys string
}

func startRealm(t testing.TB) *kerberosRealm {
	t.Helper()
	kdc := testkit.StartKDC(t, "ZKRAFT.TEST")
	r := &kerberosRealm{kdc: kdc, serverKeytab: filepath.Join(kdc.Dir, "server.keytab"), clientKeys: filepath.Join(kdc.Dir, "client.keytab")}
	kdc.AddPrincipal(t, "zookeeper/127.0.0.1", r.serverKeytab)
	kdc.AddPrincipal(t, "zookeeper/otherhost", r.clientKeys)
	kdc.AddPrincipal(t, "client", r.clientKeys)
	kdc.AddPrincipal(t, "app/host1", r.clientKeys)
	return r
}

// serverJAAS writes the JAAS file of a Kerberized ZooKeeper server.
func (r *kerberosRealm) serverJAAS(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jaas.conf")
	text := fmt.Sprintf(`Server {
  com.sun.security.auth.module.Krb5LoginModule required
  isInitiator=false
  useKeyTab=true
  keyTab="%s"
  storeKey=true
  useTicketCache=false
  principal="zookeeper/127.0.0.1@%s";
};
`, r.serverKeytab, r.kdc.Realm)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// server starts zkraft with the Kerberos JAAS section and o.
func (r *kerberosRealm) server(t testing.TB, o sasl.Options) *ensembletest.Server {
	t.Helper()
	jc, err := jaas.Load(r.serverJAAS(t))
	if err != nil {
		t.Fatal(err)
	}
	o.Krb5Conf = r.kdc.Krb5Conf
	s, err := sasl.New(jc, o)
	if err != nil {
		t.Fatal(err)
	}
	return ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.Auth.SASL = s }))
}

// gssToken is a client's initial context token and the keys behind it.
type gssToken struct {
	bytes              []byte
	sessionKey, subkey types.EncryptionKey
	ctime              time.Time
	cusec              int
	seq                int64 // the initiator's sequence number
}

// krbClient is a client logged in with its keytab, holding a service ticket.
type krbClient struct {
	cl  *client.Client
	tkt messages.Ticket
	key types.EncryptionKey
}

// ticket logs user in with its keytab and gets a ticket for service; the client
// is destroyed at the end of the test.
func (r *kerberosRealm) ticket(t testing.TB, user, service string) krbClient {
	t.Helper()
	cfg, err := krbconfig.Load(r.kdc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := keytab.Load(r.clientKeys)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithKeytab(user, r.kdc.Realm, kt, cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	t.Cleanup(cl.Destroy)
	tkt, key, err := cl.GetServiceTicket(service)
	if err != nil {
		t.Fatalf("ticket for %s: %v", service, err)
	}
	return krbClient{cl: cl, tkt: tkt, key: key}
}

// apReq logs user in and makes an initial context token for service.
func (r *kerberosRealm) apReq(t testing.TB, user, service string, mutual bool) gssToken {
	t.Helper()
	return r.ticket(t, user, service).token(t, mutual)
}

// token makes a fresh initial context token (RFC 2743 framing of an AP-REQ whose
// authenticator carries a subkey and the GSS flags, as MIT's and Java's clients
// send it).
func (k krbClient) token(t testing.TB, mutual bool) gssToken {
	t.Helper()
	key, tkt := k.key, k.tkt
	auth, err := types.NewAuthenticator(k.cl.Credentials.Domain(), k.cl.Credentials.CName())
	if err != nil {
		t.Fatal(err)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.GenerateSeqNumberAndSubKey(key.KeyType, et.GetKeyByteSize()); err != nil {
		t.Fatal(err)
	}
	gssFlags := uint32(gssapi.ContextFlagInteg)
	if mutual {
		gssFlags |= gssapi.ContextFlagMutual
	}
	ck := make([]byte, 24)
	ck[0] = 16
	ck[20], ck[21], ck[22], ck[23] = byte(gssFlags), byte(gssFlags>>8), byte(gssFlags>>16), byte(gssFlags>>24)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	if mutual {
		types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	}
	rb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	b := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), rb...), 0)
	return gssToken{bytes: b, sessionKey: key, subkey: auth.SubKey, ctime: auth.CTime.Truncate(time.Second), cusec: auth.Cusec, seq: auth.SeqNumber}
}

// saslRaw sends a SASL token and returns the reply's code, whether its zxid was 0
// and its token; closed when the server closed the connection.
func saslRaw(t testing.TB, c *rawzk.Conn, token []byte) (code zkproto.ErrCode, zxid0 bool, reply []byte, closed bool) {
	t.Helper()
	xid, err := c.Send(zkproto.OpSASL, &zkproto.GetSASLRequest{Token: token})
	if err != nil {
		return 0, false, nil, true
	}
	var resp zkproto.SetSASLResponse
	h, err := c.Recv(xid, &resp)
	if err != nil {
		return 0, false, nil, true
	}
	return h.Err, h.Zxid == 0, resp.Token, false
}

// gssapiLogin runs a whole GSSAPI exchange on c with tok, checking each server
// token (the AP-REP, the wrapped security layer offer); it returns "" on success
// or the step that was refused.
func gssapiLogin(t testing.TB, c *rawzk.Conn, tok gssToken, mutual bool, spoilChoice bool) string {
	t.Helper()
	_, failed := gssapiTranscript(t, c, tok, mutual, spoilChoice)
	return failed
}

// gssapiTranscript is gssapiLogin that also describes each reply.
func gssapiTranscript(t testing.TB, c *rawzk.Conn, tok gssToken, mutual bool, spoilChoice bool) (lines []string, failed string) {
	t.Helper()
	code, zxid0, reply, closed := saslRaw(t, c, tok.bytes)
	lines = append(lines, fmt.Sprintf("AP-REQ → %v zxid0=%v closed=%v", code, zxid0, closed))
	if closed || code != zkproto.ErrOK {
		return lines, fmt.Sprintf("AP-REQ → %v closed=%v", code, closed)
	}
	if !zxid0 {
		t.Error("a SASL reply with a zxid")
	}
	// Without an AP-REP the acceptor's sequence numbers start at the initiator's.
	acceptorSeq := uint64(uint32(tok.seq))
	if mutual {
		var rt spnego.KRB5Token
		if err := rt.Unmarshal(reply); err != nil || !rt.IsAPRep() {
			t.Fatalf("AP-REP expected: %v %x", err, reply)
		}
		plain, err := crypto.DecryptEncPart(rt.APRep.EncPart, tok.sessionKey, keyusage.AP_REP_ENCPART)
		if err != nil {
			t.Fatalf("AP-REP does not decrypt with the session key: %v", err)
		}
		var part messages.EncAPRepPart
		if err := part.Unmarshal(plain); err != nil || !part.CTime.Equal(tok.ctime) || part.Cusec != tok.cusec {
			t.Fatalf("AP-REP part %+v %v: ctime differs from the authenticator's %v", part, err, tok.ctime)
		}
		acceptorSeq = uint64(part.SequenceNumber)
		lines = append(lines, "AP-REP: ctime echoed, sequence number given")
		code, zxid0, reply, closed = saslRaw(t, c, []byte{})
		lines = append(lines, fmt.Sprintf("empty token → %v zxid0=%v closed=%v", code, zxid0, closed))
		if closed || code != zkproto.ErrOK {
			return lines, fmt.Sprintf("empty token → %v closed=%v", code, closed)
		}
	}
	var offer gssapi.WrapToken
	if err := offer.Unmarshal(reply, true); err != nil {
		t.Fatalf("security layer offer: %v (%x)", err, reply)
	}
	if ok, err := offer.Verify(tok.subkey, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok || len(offer.Payload) != 4 || offer.Payload[0] != 1 {
		t.Fatalf("offer %x does not verify with the subkey (%v), or offers more than no security layer", offer.Payload, err)
	}
	if offer.SndSeqNum != acceptorSeq {
		t.Fatalf("offer's sequence number %d, want %d (mutual %v)", offer.SndSeqNum, acceptorSeq, mutual)
	}
	lines = append(lines, fmt.Sprintf("offer: wrap token flags %#x, no security layer, max buffer %x", offer.Flags, offer.Payload[1:]))
	choice, err := gssapi.NewInitiatorWrapToken(append([]byte{1, 0, 0, 0}, "someone-else"...), tok.subkey)
	if err != nil {
		t.Fatal(err)
	}
	if spoilChoice {
		choice.CheckSum[0] ^= 0xff
	}
	b, err := choice.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	code, zxid0, reply, closed = saslRaw(t, c, b)
	lines = append(lines, fmt.Sprintf("choice → %v zxid0=%v closed=%v null=%v", code, zxid0, closed, reply == nil))
	if closed || code != zkproto.ErrOK {
		return lines, fmt.Sprintf("choice → %v closed=%v", code, closed)
	}
	if reply != nil {
		t.Fatalf("last server token %x, want a null token", reply)
	}
	return lines, ""
}

// TestSASLKerberos: clients of a real MIT KDC authenticate by GSSAPI (with and
// without mutual authentication) and get sasl:<principal>; a replayed AP-REQ, a
// ticket for another service, a token that is no AP-REQ and a forged security
// layer message are refused with AUTHFAILED and a closed connection.
func TestSASLKerberos(t *testing.T) {
	t.Parallel()
	r := startRealm(t)
	srv := r.server(t, sasl.Options{})
	for _, tc := range []struct {
		name, user string
		mutual     bool
		who        string
	}{
		{"mutual", "client", true, "sasl:client@ZKRAFT.TEST"},
		{"no mutual", "app/host1", false, "sasl:app/host1@ZKRAFT.TEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConnect(t, srv.Addr, 10000)
			if msg := gssapiLogin(t, c, r.apReq(t, tc.user, "zookeeper/127.0.0.1", tc.mutual), tc.mutual, false); msg != "" {
				t.Fatal(msg)
			}
			if got := afterSASL(c); !strings.Contains(got, tc.who) {
				t.Fatalf("whoAmI: %s, want %s", got, tc.who)
			}
		})
	}
	t.Run("acl", func(t *testing.T) {
		c := rawConnect(t, srv.Addr, 10000)
		if msg := gssapiLogin(t, c, r.apReq(t, "client", "zookeeper/127.0.0.1", true), true, false); msg != "" {
			t.Fatal(msg)
		}
		acl := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "sasl", ID: "client@ZKRAFT.TEST"}}}
		if code := rawCall(t, c, zkproto.OpCreate, &zkproto.CreateRequest{Path: "/krb", ACL: acl}, &zkproto.CreateResponse{}); code != zkproto.ErrOK {
			t.Fatalf("create: %v", code)
		}
		if code := rawCall(t, rawConnect(t, srv.Addr, 10000), zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/krb"}, &zkproto.GetDataResponse{}); code != zkproto.ErrNoAuth {
			t.Fatalf("unauthenticated get: %v", code)
		}
	})
	t.Run("refused", func(t *testing.T) {
		tok := r.apReq(t, "client", "zookeeper/127.0.0.1", true)
		if msg := gssapiLogin(t, rawConnect(t, srv.Addr, 10000), tok, true, false); msg != "" {
			t.Fatal(msg)
		}
		other := r.apReq(t, "client", "zookeeper/otherhost", true)
		for _, bad := range []struct {
			name  string
			token gssToken
			spoil bool
			want  string
		}{
			{"replayed AP-REQ", tok, false, "AP-REQ → " + zkproto.ErrAuthFailed.Error() + " closed=false"},
			{"ticket for another service", other, false, "AP-REQ → " + zkproto.ErrAuthFailed.Error() + " closed=false"},
			{"not a token", gssToken{bytes: []byte("hello")}, false, "AP-REQ → " + zkproto.ErrAuthFailed.Error() + " closed=false"},
			{"forged security layer message", r.apReq(t, "client", "zookeeper/127.0.0.1", true), true, "choice → " + zkproto.ErrAuthFailed.Error() + " closed=false"},
		} {
			c := rawConnect(t, srv.Addr, 10000)
			if got := gssapiLogin(t, c, bad.token, true, bad.spoil); got != bad.want {
				t.Errorf("%s: %q, want %q", bad.name, got, bad.want)
			}
			if got := afterSASL(c); got != "closed" {
				t.Errorf("%s: then %s, want closed", bad.name, got)
			}
		}
	})
	t.Run("removeHostFromPrincipal and removeRealmFromPrincipal", func(t *testing.T) {
		for _, o := range []struct {
			opts sasl.Options
			who  string
		}{
			{sasl.Options{RemoveHostFromPrincipal: true}, "sasl:app@ZKRAFT.TEST"},
			{sasl.Options{RemoveRealmFromPrincipal: true}, "sasl:app/host1 "},
			{sasl.Options{RemoveHostFromPrincipal: true, RemoveRealmFromPrincipal: true}, "sasl:app "},
		} {
			s := r.server(t, o.opts)
			c := rawConnect(t, s.Addr, 10000)
			if msg := gssapiLogin(t, c, r.apReq(t, "app/host1", "zookeeper/127.0.0.1", true), true, false); msg != "" {
				t.Fatal(msg)
			}
			if got := afterSASL(c) + " "; !strings.Contains(got, o.who) {
				t.Errorf("%+v: whoAmI %q, want %q", o.opts, got, o.who)
			}
		}
	})
}

// TestSASLKerberosReference: the same GSSAPI exchanges on the reference ZooKeeper
// 3.8.0 and on zkraft, both with the JAAS Server section of a Krb5LoginModule and
// the same KDC: with and without mutual authentication, then whoAmI; a ticket for
// another service; a token that is no AP-REQ. The replies must be the same.
func TestSASLKerberosReference(t *testing.T) {
	t.Parallel()
	r := startRealm(t)
	jaasPath := r.serverJAAS(t)
	ref, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{
		Config: map[string]string{"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"},
		Props:  map[string]string{"java.security.auth.login.config": jaasPath, "java.security.krb5.conf": r.kdc.Krb5Conf}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ref.Stop)
	zr := r.server(t, sasl.Options{})
	for _, tc := range []struct {
		name, user, service string
		mutual              bool
		garbage             bool
	}{
		{name: "mutual", user: "client", service: "zookeeper/127.0.0.1", mutual: true},
		{name: "no mutual", user: "app/host1", service: "zookeeper/127.0.0.1"},
		{name: "another service", user: "client", service: "zookeeper/otherhost", mutual: true},
		{name: "not a token", garbage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]string
			for i, addr := range []string{ref.Addr, zr.Addr} {
				tok := gssToken{bytes: []byte("hello")}
				if !tc.garbage {
					tok = r.apReq(t, tc.user, tc.service, tc.mutual)
				}
				c := rawConnect(t, addr, 10000)
				lines, _ := gssapiTranscript(t, c, tok, tc.mutual, false)
				got[i] = strings.Join(append(lines, afterSASL(c)), "\n")
			}
			t.Logf("ZooKeeper:\n%s", got[0])
			if got[0] != got[1] {
				t.Fatalf("zkraft:\n%s\nZooKeeper:\n%s", got[1], got[0])
			}
		})
	}
}
