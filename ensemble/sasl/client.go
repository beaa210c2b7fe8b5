package sasl

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// DigestMD5Client is the client side of ZooKeeper's DIGEST-MD5 exchange, as the
// Java client (a JAAS Client section with username and password) and kazoo
// (sasl_options) run it: send an empty token, answer the challenge, check rspauth.
// For tests and Go programs that speak the protocol themselves (go-zookeeper/zk has
// no SASL).
type DigestMD5Client struct {
	User, Password string
	step           int
	a1             [16]byte
	nonce, cnonce  string
	uri            string
}

// Step takes the server's last token (nil at the start) and returns the next token
// to send; done is true once the server has proved it knows the password too, and
// then there is nothing more to send.
func (c *DigestMD5Client) Step(server []byte) (token []byte, done bool, err error) {
	switch c.step {
	case 0:
		c.step = 1
		return []byte{}, false, nil
	case 1:
		dir, err := parseDirectives(server)
		if err != nil {
			return nil, false, err
		}
		c.nonce = dir["nonce"]
		realm, ok := dir["realm"]
		if !ok || c.nonce == "" {
			return nil, false, fmt.Errorf("DIGEST-MD5 challenge without realm or nonce: %q", server)
		}
		if q, ok := dir["qop"]; ok && !containsToken(q, "auth") {
			return nil, false, fmt.Errorf("DIGEST-MD5 challenge offers qop %q, not auth", q)
		}
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, false, err
		}
		c.cnonce = hex.EncodeToString(raw[:])
		c.uri = DigestProtocol + "/" + DigestServerName
		c.a1 = digestA1(c.User, realm, c.Password, c.nonce, c.cnonce, "", false, true)
		resp := digestResponse(c.a1, c.nonce, "00000001", c.cnonce, "auth", "AUTHENTICATE:"+c.uri)
		c.step = 2
		return fmt.Appendf(nil, `charset=utf-8,username="%s",realm="%s",nonce="%s",nc=00000001,cnonce="%s",digest-uri="%s",maxbuf=65536,response=%s,qop=auth`,
			quote(c.User), quote(realm), c.nonce, c.cnonce, c.uri, resp), false, nil
	case 2:
		want := "rspauth=" + digestResponse(c.a1, c.nonce, "00000001", c.cnonce, "auth", ":"+c.uri)
		if string(server) != want {
			return nil, false, errors.New("DIGEST-MD5: the server's rspauth is wrong: it does not know the password")
		}
		c.step = 3
		return nil, true, nil
	}
	return nil, true, errors.New("DIGEST-MD5: exchange is over")
}

func quote(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }

func containsToken(list, tok string) bool {
	for t := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(t) == tok {
			return true
		}
	}
	return false
}
