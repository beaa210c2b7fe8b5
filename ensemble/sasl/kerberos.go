package sasl

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zkraft/zkraft/ensemble/jaas"
)

// Kerberos is the GSSAPI side of a Server (RFC 4752 over RFC 4121): the keytab and
// service principal of a JAAS Krb5LoginModule entry, as Java's GssKrb5Server
// accepts a ZooKeeper client's context with them.
type Kerberos struct {
	principal types.PrincipalName
	realm     string
	keytab    *keytab.Keytab
	file      string // the keytab's path, for messages
	replays   replayCache
}

// maxClockSkew is the clock difference tolerated between a client and the server
// (Kerberos' default, as Java's).
const maxClockSkew = 5 * time.Minute

// replayCache remembers the authenticators accepted within the clock skew, so that
// an AP-REQ captured on the wire cannot be sent again (RFC 4120 3.2.3).
type replayCache struct {
	mu        sync.Mutex
	seen      map[string]time.Time // client, time and microseconds → when accepted
	nextPrune time.Time
}

// replayed records a's authenticator and tells whether it was there already.
// Entries older than twice the skew go, at most once a minute.
func (c *replayCache) replayed(a types.Authenticator, now time.Time) bool {
	key := fmt.Sprintf("%s@%s %d.%06d", a.CName.PrincipalNameString(), a.CRealm, a.CTime.Unix(), a.Cusec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if _, dup := c.seen[key]; dup {
		return true
	}
	if now.After(c.nextPrune) {
		for k, at := range c.seen {
			if now.Sub(at) > 2*maxClockSkew {
				delete(c.seen, k)
			}
		}
		c.nextPrune = now.Add(time.Minute)
	}
	c.seen[key] = now
	return false
}

// newKerberos reads a Krb5LoginModule entry: keyTab (with useKeyTab=true) and
// principal ("zookeeper/host@REALM") are required.
func newKerberos(e jaas.Entry, _ Options, file string) (*Kerberos, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s: %s", file, e.Line, Krb5LoginModule, fmt.Sprintf(format, args...))
	}
	if !strings.EqualFold(e.Options["useKeyTab"], "true") {
		return nil, bad("useKeyTab=true is required: the server authenticates clients with its keytab")
	}
	path := e.Options["keyTab"]
	if path == "" {
		return nil, bad("keyTab is not set")
	}
	p := e.Options["principal"]
	name, realm, ok := strings.Cut(p, "@")
	if p == "" || !ok || name == "" || realm == "" {
		return nil, bad("principal %q is not of the form service/host@REALM", p)
	}
	kt, err := keytab.Load(path)
	if err != nil {
		return nil, bad("keyTab %s: %v", path, err)
	}
	k := &Kerberos{principal: types.NewPrincipalName(1, name), realm: realm, keytab: kt, file: path}
	if len(strings.Split(name, "/")) > 1 {
		k.principal = types.NewPrincipalName(3, name) // KRB_NT_SRV_HST
	}
	found := false
	for _, ent := range kt.Entries {
		if ent.Principal.Realm == realm && strings.Join(ent.Principal.Components, "/") == name {
			found = true
		}
	}
	if !found {
		return nil, bad("keyTab %s has no key of principal %s", path, p)
	}
	return k, nil
}

// Principal is the service principal, name@REALM.
func (k *Kerberos) Principal() string { return k.principal.PrincipalNameString() + "@" + k.realm }

// defaultRealm is the default_realm of the Kerberos configuration: the file named,
// else $KRB5_CONFIG, else /etc/krb5.conf; "" when none can be read.
func defaultRealm(file string) string {
	if file == "" {
		file = os.Getenv("KRB5_CONFIG")
	}
	if file == "" {
		file = "/etc/krb5.conf"
	}
	c, err := krbconfig.Load(file)
	if err != nil {
		return ""
	}
	return c.LibDefaults.DefaultRealm
}

// gssapiExchange is one GSSAPI exchange, server side (Java's GssKrb5Server):
// the client's AP-REQ gets an AP-REP when it asks for mutual authentication; then
// the client's empty token gets the wrapped security-layer offer (no security
// layer, RFC 4752 3.3), and the client's wrapped choice completes the exchange.
type gssapiExchange struct {
	k     *Kerberos
	canon func(string) string
	stage int // 0: AP-REQ; 1: empty token; 2: the client's choice; 3: done; 4: failed
	peer  string
	// key protects the wrap tokens: the initiator's subkey, or the ticket's session
	// key (which encrypts the AP-REP).
	key, sessionKey types.EncryptionKey
	seq             uint64 // the acceptor's sequence number
	ctime           time.Time
	cusec           int
	id              string
}

func (k *Kerberos) newExchange(canon func(string) string) *gssapiExchange {
	return &gssapiExchange{k: k, canon: canon}
}

func (g *gssapiExchange) Mechanism() string { return "GSSAPI" }

func (g *gssapiExchange) Complete() bool { return g.stage == 3 }

func (g *gssapiExchange) AuthorizationID() string { return g.id }

// The GSS flags of RFC 4121 4.1.1.1 the initiator sends in its authenticator.
const gssMutualFlag = 2

func (g *gssapiExchange) Step(token []byte) ([]byte, error) {
	stage := g.stage
	g.stage = 4 // a failed step ends the exchange
	switch stage {
	case 0:
		mutual, err := g.accept(token)
		if err != nil {
			return nil, fmt.Errorf("GSSAPI: %w", err)
		}
		if mutual {
			rep, err := g.apRep()
			if err != nil {
				return nil, fmt.Errorf("GSSAPI: AP-REP: %w", err)
			}
			g.stage = 1
			return rep, nil
		}
		// Nothing to send back: the security layer offer goes at once.
		return g.offer()
	case 1:
		if len(token) > 0 {
			return nil, errors.New("GSSAPI: handshake expecting no response data from the client")
		}
		return g.offer()
	case 2:
		msg, err := g.unwrap(token)
		if err != nil {
			return nil, fmt.Errorf("GSSAPI: %w", err)
		}
		if len(msg) < 4 {
			return nil, fmt.Errorf("GSSAPI: the client's security layer message is %d bytes", len(msg))
		}
		if msg[0]&1 == 0 {
			return nil, fmt.Errorf("GSSAPI: client selected unsupported protection %d (only none is offered)", msg[0])
		}
		// The authorization id the client may ask for (msg[4:]) is not used:
		// ZooKeeper authorizes the authenticated principal, made canonical.
		g.id = g.canon(g.peer)
		g.stage = 3
		return nil, nil
	}
	return nil, errors.New("GSSAPI: authentication sequence is over")
}

// offer is the wrapped security layer offer of RFC 4752 3.3: no security layer,
// and Java's default receive buffer of 65536 bytes (as ZooKeeper 3.8.0 sends it).
func (g *gssapiExchange) offer() ([]byte, error) {
	out, err := g.wrap([]byte{1, 0x01, 0x00, 0x00})
	if err != nil {
		return nil, fmt.Errorf("GSSAPI: wrap: %w", err)
	}
	g.stage = 2
	return out, nil
}

// wrap makes an RFC 4121 wrap token of the acceptor, integrity only.
func (g *gssapiExchange) wrap(payload []byte) ([]byte, error) {
	et, err := crypto.GetEtype(g.key.KeyType)
	if err != nil {
		return nil, err
	}
	wt := gssapi.WrapToken{Flags: 0x01, EC: uint16(et.GetHMACBitLength() / 8), SndSeqNum: g.seq, Payload: payload}
	if err := wt.SetCheckSum(g.key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		return nil, err
	}
	g.seq++
	return wt.Marshal()
}

// unwrap checks an RFC 4121 wrap token of the initiator without confidentiality
// (the only kind a client sends when no security layer is offered).
func (g *gssapiExchange) unwrap(b []byte) ([]byte, error) {
	if len(b) < 16 {
		return nil, errors.New("wrap token too short")
	}
	if b[2]&0x02 != 0 {
		return nil, errors.New("the client sealed its security layer message; only integrity is expected")
	}
	// Undo a right rotation (RFC 4121 4.2.5) of what follows the header.
	if rrc := int(binary.BigEndian.Uint16(b[6:8])); rrc != 0 && len(b) > 16 {
		data := b[16:]
		rrc %= len(data)
		b = append(append(append([]byte(nil), b[:16]...), data[rrc:]...), data[:rrc]...)
	}
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(b, false); err != nil {
		return nil, err
	}
	if ok, err := wt.Verify(g.key, keyusage.GSSAPI_INITIATOR_SEAL); !ok {
		return nil, fmt.Errorf("the client's wrap token does not verify: %v", err)
	}
	return wt.Payload, nil
}

// accept verifies the client's initial context token (RFC 2743 3.1 framing of a
// KRB_AP_REQ) with the keytab.
func (g *gssapiExchange) accept(token []byte) (mutual bool, err error) {
	var t spnego.KRB5Token
	if err := t.Unmarshal(token); err != nil {
		return false, err
	}
	if !t.IsAPReq() {
		return false, errors.New("the client's first token is not a Kerberos AP-REQ")
	}
	req := t.APReq
	sname := req.Ticket.SName.PrincipalNameString() + "@" + req.Ticket.Realm
	if sname != g.k.Principal() {
		return false, fmt.Errorf("the client's ticket is for %s, but this server is %s", sname, g.k.Principal())
	}
	// APReq.Verify decrypts the ticket with the keytab and the authenticator with
	// the ticket's session key, and checks times (within maxClockSkew) and
	// addresses; the replay cache is the server's own (gokrb5's service package
	// keeps a global one with a goroutine that never ends).
	ok, err := req.Verify(g.k.keytab, maxClockSkew, types.HostAddress{}, nil)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, errors.New("the client's AP-REQ does not verify")
	}
	a := req.Authenticator
	if g.k.replays.replayed(a, time.Now()) {
		return false, errors.New("replayed AP-REQ (an authenticator already seen)")
	}
	g.peer = a.CName.PrincipalNameString() + "@" + a.CRealm
	g.sessionKey = req.Ticket.DecryptedEncPart.Key
	g.key = g.sessionKey
	if a.SubKey.KeyType != 0 && len(a.SubKey.KeyValue) > 0 {
		g.key = a.SubKey
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<31))
	if err != nil {
		return false, err
	}
	g.seq = n.Uint64()
	// The checksum of type 0x8003 carries the GSS flags (RFC 4121 4.1.1).
	if a.Cksum.CksumType == 0x8003 && len(a.Cksum.Checksum) >= 24 {
		mutual = binary.LittleEndian.Uint32(a.Cksum.Checksum[20:24])&gssMutualFlag != 0
	}
	if !mutual {
		// No AP-REP tells the client where the acceptor's sequence numbers start:
		// they start where its own do (RFC 4121 4.2.6.2; Java and MIT check it).
		g.seq = uint64(uint32(a.SeqNumber))
	}
	g.ctime, g.cusec = a.CTime, a.Cusec
	return mutual, nil
}

// encAPRepPart is EncAPRepPart without a subkey: the client's subkey stays the key.
type encAPRepPart struct {
	CTime          time.Time `asn1:"generalized,explicit,tag:0"`
	Cusec          int       `asn1:"explicit,tag:1"`
	SequenceNumber int64     `asn1:"explicit,tag:3"`
}

// apRep is the acceptor's context token: a KRB_AP_REP (RFC 4120 5.5.2) echoing the
// authenticator's time, in the RFC 2743 framing with TOK_ID 02 00.
func (g *gssapiExchange) apRep() ([]byte, error) {
	part, err := asn1.Marshal(encAPRepPart{CTime: g.ctime, Cusec: g.cusec, SequenceNumber: int64(g.seq)})
	if err != nil {
		return nil, err
	}
	part = asn1tools.AddASNAppTag(part, 27)
	enc, err := crypto.GetEncryptedData(part, g.sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: enc})
	if err != nil {
		return nil, err
	}
	rep = asn1tools.AddASNAppTag(rep, 15)
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, err
	}
	body := append(append(oid, 0x02, 0x00), rep...)
	return asn1tools.AddASNAppTag(body, 0), nil
}
