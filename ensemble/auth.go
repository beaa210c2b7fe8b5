package ensemble

import (
	"errors"
	"fmt"
	"slices"

	"github.com/zkraft/zkraft/ensemble/config"
	"github.com/zkraft/zkraft/ensemble/jaas"
	"github.com/zkraft/zkraft/ensemble/sasl"
	"github.com/zkraft/zkraft/zkproto"
)

// AuthConfig is how clients authenticate beyond addauth: SASL, and whether a
// connection must have authenticated before it may do anything else.
type AuthConfig struct {
	// SASL answers op 102 (GetSASLRequest). Nil: no SASL, and op 102 is answered OK
	// with a null token, as a ZooKeeper without a JAAS server section does.
	SASL *sasl.Server
	// EnforceSchemes, when not empty, refuses every request but addauth and sasl
	// from a connection that holds no identity of one of these schemes:
	// SESSIONCLOSEDREQUIRESASLAUTH, and the connection closes
	// (zookeeper.enforce.auth.*, zookeeper.sessionRequireClientSASLAuth).
	EnforceSchemes []string
	// SuperUsers are SASL ids that are super users (zookeeper.superUser).
	SuperUsers []string
	// AllowFailedSASL keeps the connection of a client whose SASL exchange failed,
	// unless sasl is an enforced scheme (zookeeper.allowSaslFailedClients).
	AllowFailedSASL bool
}

func (a AuthConfig) check() error {
	for _, s := range a.EnforceSchemes {
		if !slices.Contains(config.AuthSchemes, s) {
			return fmt.Errorf("enforced authentication scheme %q is not available (known: %v)", s, config.AuthSchemes)
		}
	}
	if slices.Contains(a.EnforceSchemes, "sasl") && a.SASL == nil {
		return errors.New("SASL authentication is required, but no SASL server is configured (java.security.auth.login.config)")
	}
	return nil
}

func (a AuthConfig) saslRequired() bool { return slices.Contains(a.EnforceSchemes, "sasl") }

// saslFromZooConfig builds the SASL server that zoo.cfg (or the JVM flags) ask for,
// reading the JAAS file. An unreadable or malformed file, or a missing section, is
// an error naming the key and the file; so is a server that requires SASL without
// one. A file without the default "Server" section, but with another section
// ZooKeeper reads (the client's, or the quorum's), gives a server without SASL as in
// ZooKeeper, unless SASL is required or the section was named.
func saslFromZooConfig(zc *config.Config, warn func(string)) (*sasl.Server, error) {
	sc := zc.SASL
	if sc.JAASFile == "" {
		return nil, nil
	}
	where := fmt.Sprintf("java.security.auth.login.config=%s (%s)", sc.JAASFile, sc.JAASFileFrom)
	jc, err := jaas.Load(sc.JAASFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	opts := sasl.Options{
		Section:                  sc.Section,
		SuperPassword:            sc.SuperPassword,
		RemoveHostFromPrincipal:  sc.RemoveHostFromPrincipal,
		RemoveRealmFromPrincipal: sc.RemoveRealmFromPrincipal,
		Krb5Conf:                 sc.Krb5Conf,
	}
	srv, err := sasl.New(jc, opts)
	if errors.Is(err, sasl.ErrNoSection) && sc.Section == "" && len(sc.EnforceAuthSchemes) == 0 && hasOtherZooKeeperSection(jc) {
		warn(fmt.Sprintf("%s: the JAAS file has no 'Server' section: clients cannot authenticate with SASL (as in ZooKeeper)", where))
		return nil, nil
	}
	if err != nil {
		key := ""
		if errors.Is(err, sasl.ErrNoSection) && sc.Section != "" {
			key = fmt.Sprintf(" (zookeeper.sasl.serverconfig=%s)", sc.Section)
		}
		return nil, fmt.Errorf("%s%s: %w", where, key, err)
	}
	return srv, nil
}

func hasOtherZooKeeperSection(c *jaas.Config) bool {
	for _, n := range []string{"Client", "QuorumServer", "QuorumLearner"} {
		if _, ok := c.Section(n); ok {
			return true
		}
	}
	return false
}

// authorized tells whether the connection may send requests other than addauth
// and sasl: it holds an identity of an enforced scheme, or none is enforced.
func (c *conn) authorized() bool {
	schemes := c.srv.cfg.Auth.EnforceSchemes
	if len(schemes) == 0 {
		return true
	}
	c.authMu.Lock()
	defer c.authMu.Unlock()
	for _, id := range c.auth {
		if slices.Contains(schemes, id.Scheme) {
			return true
		}
	}
	return false
}

// refuseUnauthenticated answers a request of a connection that has not
// authenticated as required with SESSIONCLOSEDREQUIRESASLAUTH (zxid 0, no body) and
// closes the connection, as AuthenticationHelper.enforceAuthentication does; the
// session stays until it expires or a client resumes it authenticated.
func (c *conn) refuseUnauthenticated(r *request) *request {
	c.log.Warn("closing connection: it has not authenticated with a required scheme", "session_id", sessionHex(c.session()),
		"op", r.hdr.Type, "schemes", c.schemes(), "required", c.srv.cfg.Auth.EnforceSchemes)
	c.srv.stats.authFailed.Add(1)
	r.exec = func() []byte {
		return frameOf(&zkproto.ReplyHeader{Xid: r.hdr.Xid, Err: zkproto.ErrSessionClosedRequireSASLAuth}, nil)
	}
	r.after = c.flushAndClose
	c.closing.Store(true) // nothing after it is served
	return r
}

func (c *conn) schemes() []string {
	var out []string
	for _, id := range c.identities() {
		out = append(out, id.Scheme)
	}
	return out
}

// saslStep runs one step of the connection's SASL exchange in the reader, so that
// the requests after it carry the identity it adds (ZooKeeperServer.processSasl).
// Every reply has zxid 0. Without SASL configured the answer is OK with a null
// token. A failed exchange answers AUTHFAILED (SESSIONCLOSEDREQUIRESASLAUTH when
// SASL is required) with a null token and closes the connection, unless failed
// clients are allowed; the failure is logged once.
func (c *conn) saslStep(r *request, body []byte) *request {
	reply := func(code zkproto.ErrCode, token []byte) {
		r.exec = func() []byte {
			return frameOf(&zkproto.ReplyHeader{Xid: r.hdr.Xid, Err: code}, &zkproto.SetSASLResponse{Token: token})
		}
	}
	var req zkproto.GetSASLRequest
	if err := zkproto.Unmarshal(body, &req); err != nil {
		c.log.Info("malformed sasl request", "err", err)
		r.exec = func() []byte {
			return frameOf(&zkproto.ReplyHeader{Xid: r.hdr.Xid, Err: zkproto.ErrMarshallingError}, nil)
		}
		return r
	}
	auth := c.srv.cfg.Auth
	if auth.SASL == nil {
		reply(zkproto.ErrOK, nil)
		return r
	}
	if c.saslx == nil {
		c.saslx = auth.SASL.NewExchange()
	}
	token, err := c.saslx.Step(req.Token)
	if err != nil {
		c.srv.stats.authFailed.Add(1)
		if auth.AllowFailedSASL && !auth.saslRequired() {
			c.log.Warn("SASL authentication failed; keeping the connection (allowSaslFailedClients)", "session_id", sessionHex(c.session()),
				"mechanism", c.saslx.Mechanism(), "err", err)
			reply(zkproto.ErrOK, nil)
			return r
		}
		code := zkproto.ErrAuthFailed
		if auth.saslRequired() {
			code = zkproto.ErrSessionClosedRequireSASLAuth
		}
		c.log.Warn("SASL authentication failed; closing connection", "session_id", sessionHex(c.session()),
			"mechanism", c.saslx.Mechanism(), "err", err)
		reply(code, nil)
		r.after = c.flushAndClose
		c.closing.Store(true) // nothing after it is served
		return r
	}
	if c.saslx.Complete() && !c.saslDone {
		c.saslDone = true
		id := c.saslx.AuthorizationID()
		c.addIdentity(zkproto.Id{Scheme: "sasl", ID: id})
		super := slices.Contains(auth.SuperUsers, id)
		if super {
			c.addIdentity(zkproto.Id{Scheme: "super"})
		}
		c.log.Info("SASL authentication succeeded", "session_id", sessionHex(c.session()), "mechanism", c.saslx.Mechanism(), "id", id, "super", super)
	}
	reply(zkproto.ErrOK, token)
	return r
}
