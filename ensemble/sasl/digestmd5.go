package sasl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ZooKeeper's DIGEST-MD5 names: the Java client and kazoo use digest-uri
// "zookeeper/zk-sasl-md5", and Java's server offers its server name as the realm.
const (
	DigestProtocol   = "zookeeper"
	DigestServerName = "zk-sasl-md5"
	DigestRealm      = DigestServerName
)

// maxDigestResponse is Java's DigestMD5Server.MAX_RESPONSE_LENGTH.
const maxDigestResponse = 4096

// ErrUnknownUser is wrapped by the error of an exchange whose user has no password.
var ErrUnknownUser = errors.New("sasl: unknown user")

// ErrBadResponse is wrapped by the error of an exchange whose client proved no
// knowledge of the password (a wrong password, or a response made for another
// nonce).
var ErrBadResponse = errors.New("sasl: wrong password")

// digestMD5 is one DIGEST-MD5 exchange, server side: the first client token (empty)
// gets the challenge, as Java's DigestMD5Server writes it for ZooKeeper (the
// default qop auth not named); the second carries the digest response and gets
// rspauth, which completes the exchange.
type digestMD5 struct {
	password func(user string) (string, bool)
	canon    func(string) string
	step     int // 0: expecting the empty token; 1: expecting the response; 2: done
	nonce    string
	authzID  string
}

func newDigestMD5(password func(user string) (string, bool), canon func(string) string) *digestMD5 {
	return &digestMD5{password: password, canon: canon}
}

func (d *digestMD5) Mechanism() string { return "DIGEST-MD5" }

func (d *digestMD5) Complete() bool { return d.step == 2 }

func (d *digestMD5) AuthorizationID() string { return d.authzID }

func (d *digestMD5) Step(token []byte) ([]byte, error) {
	if len(token) > maxDigestResponse {
		return nil, fmt.Errorf("DIGEST-MD5: invalid digest response length %d (at most %d)", len(token), maxDigestResponse)
	}
	switch d.step {
	case 0:
		// Java's DigestMD5Server ignores a token sent here (observed on
		// ZooKeeper 3.8.0: it answers the challenge all the same).
		var raw [30]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("DIGEST-MD5: nonce: %w", err)
		}
		d.nonce = base64.StdEncoding.EncodeToString(raw[:])
		d.step = 1
		return []byte(`realm="` + DigestRealm + `",nonce="` + d.nonce + `",charset=utf-8,algorithm=md5-sess`), nil
	case 1:
		d.step = 3 // a failed exchange cannot be continued
		rsp, err := d.verify(token)
		if err != nil {
			return nil, err
		}
		d.step = 2
		return rsp, nil
	}
	return nil, errors.New("DIGEST-MD5: authentication sequence is over")
}

// verify checks a digest response (RFC 2831 2.1.2) and returns rspauth (2.1.3).
func (d *digestMD5) verify(token []byte) ([]byte, error) {
	dir, err := parseDirectives(token)
	if err != nil {
		return nil, err
	}
	utf8Charset := false
	if cs, ok := dir["charset"]; ok {
		if !strings.EqualFold(cs, "utf-8") {
			return nil, fmt.Errorf("DIGEST-MD5: digest response format violation: unrecognised charset %q", cs)
		}
		utf8Charset = true
	}
	// Values are ISO 8859-1 unless the client said charset=utf-8.
	get := func(k string) (string, bool) {
		v, ok := dir[k]
		if !ok || utf8Charset {
			if ok && !utf8.ValidString(v) {
				return "", false
			}
			return v, ok
		}
		return latin1ToString(v), true
	}
	user, ok := get("username")
	if !ok {
		return nil, errors.New("DIGEST-MD5: digest response format violation: missing username")
	}
	realm, _ := get("realm")
	if realm != DigestRealm {
		return nil, fmt.Errorf("DIGEST-MD5: digest response format violation: nonexistent realm %q", realm)
	}
	if dir["nonce"] != d.nonce {
		return nil, errors.New("DIGEST-MD5: digest response format violation: mismatched nonce")
	}
	cnonce, ok := dir["cnonce"]
	if !ok {
		return nil, errors.New("DIGEST-MD5: digest response format violation: missing cnonce")
	}
	nc := dir["nc"]
	if nc != "00000001" {
		return nil, fmt.Errorf("DIGEST-MD5: nonce count %q does not match", nc)
	}
	qop, ok := dir["qop"]
	if !ok {
		qop = "auth"
	}
	if qop != "auth" {
		return nil, fmt.Errorf("DIGEST-MD5: client selected qop %q, which was not offered (auth)", qop)
	}
	uri, ok := get("digest-uri")
	if !ok {
		return nil, errors.New("DIGEST-MD5: digest response format violation: missing digest-uri")
	}
	if !strings.EqualFold(uri, DigestProtocol+"/"+DigestServerName) {
		return nil, fmt.Errorf("DIGEST-MD5: digest response format violation: mismatched URI %q; expected %s/%s", uri, DigestProtocol, DigestServerName)
	}
	response, ok := dir["response"]
	if !ok {
		return nil, errors.New("DIGEST-MD5: digest response format violation: missing response")
	}
	authzid, hasAuthzid := get("authzid")
	password, known := d.password(user)
	if !known {
		return nil, fmt.Errorf("DIGEST-MD5: cannot acquire password for %s in realm %s: %w", user, realm, ErrUnknownUser)
	}
	a1 := digestA1(user, realm, password, d.nonce, cnonce, authzid, hasAuthzid, utf8Charset)
	want := digestResponse(a1, d.nonce, nc, cnonce, qop, "AUTHENTICATE:"+uri)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(response)), []byte(want)) != 1 {
		return nil, fmt.Errorf("DIGEST-MD5: digest response of user %s does not match: %w", user, ErrBadResponse)
	}
	// ZooKeeper's callback handler authorizes every authenticated user, under its
	// authentication id made canonical (SaslServerCallbackHandler.handleAuthorizeCallback);
	// an authzid the client asks for is not used.
	d.authzID = d.canon(user)
	return []byte("rspauth=" + digestResponse(a1, d.nonce, nc, cnonce, qop, ":"+uri)), nil
}

// digestA1 is H(A1) of RFC 2831 2.1.2.1 for algorithm md5-sess.
func digestA1(user, realm, password, nonce, cnonce, authzid string, hasAuthzid, utf8Charset bool) [16]byte {
	h := md5.New()
	h.Write(charsetBytes(user, utf8Charset))
	h.Write([]byte{':'})
	h.Write(charsetBytes(realm, utf8Charset))
	h.Write([]byte{':'})
	h.Write(charsetBytes(password, utf8Charset))
	secret := h.Sum(nil)
	a1 := append(secret, ":"+nonce+":"+cnonce...)
	if hasAuthzid {
		a1 = append(a1, ':')
		a1 = append(a1, authzid...)
	}
	return md5.Sum(a1)
}

// digestResponse is response-value (or rspauth, with A2 ":digest-uri") of RFC 2831:
// HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))).
func digestResponse(ha1 [16]byte, nonce, nc, cnonce, qop, a2 string) string {
	ha2 := md5.Sum([]byte(a2))
	kd := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + hex.EncodeToString(ha2[:])))
	return hex.EncodeToString(kd[:])
}

// charsetBytes encodes a user name, realm or password for hashing as RFC 2831 (and
// Java's DigestMD5Base) does: ISO 8859-1 when every character fits, else UTF-8
// (only when the client chose charset=utf-8).
func charsetBytes(s string, utf8Charset bool) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			if utf8Charset {
				return []byte(s)
			}
			return append(out, '?')
		}
		out = append(out, byte(r))
	}
	return out
}

// latin1ToString reads bytes sent as ISO 8859-1.
func latin1ToString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// parseDirectives splits a digest-response: key=value pairs separated by commas
// (with optional white space and empty elements), values bare or quoted with
// backslash escapes. A directive given twice is an error.
func parseDirectives(b []byte) (map[string]string, error) {
	s := string(b)
	out := map[string]string{}
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
	}
	for {
		skip()
		for i < len(s) && s[i] == ',' {
			i++
			skip()
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := strings.ToLower(s[start:i])
		skip()
		if key == "" || i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("DIGEST-MD5: digest response format violation: directive %q has no value", key)
		}
		i++
		skip()
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					val.WriteByte(s[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("DIGEST-MD5: digest response format violation: unterminated quoted value of %q", key)
			}
		} else {
			start := i
			for i < len(s) && s[i] != ',' {
				i++
			}
			val.WriteString(strings.TrimRight(s[start:i], " \t\r\n"))
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("DIGEST-MD5: peer sent more than one %s directive", key)
		}
		out[key] = val.String()
		skip()
		if i < len(s) && s[i] != ',' {
			return nil, fmt.Errorf("DIGEST-MD5: digest response format violation: expected ',' after %q", key)
		}
	}
}
