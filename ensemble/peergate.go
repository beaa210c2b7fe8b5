package ensemble

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/zkraft/zkraft/ensemble/metrics"
	"github.com/zkraft/zkraft/zkproto"
)

// peerGate admits Raft, forwarding and member-list connections on the peer port only
// from the address of a member of the ensemble. Without it, anyone who can reach the
// port speaks Raft (asks for votes, appends to the log) or forwards writes past
// every ACL. It checks addresses only: a process on a member's host passes, and so
// does anyone who can spoof a member's address; sslQuorum is the real protection
// (docs/security.md). Probes are answered for anyone: a member that is not yet in
// the ensemble asks them before reconfig adds it, and they tell only whether Raft
// state exists.
//
// The members are this member's latest Raft configuration (so a reconfig updates
// the set at once), or the server lines before it has one. A member added while this
// one was away is in no configuration this one holds: on a connection from an
// unknown address it asks the members it knows for theirs (peerProtoMembers), at
// most once per gateAskInterval.
type peerGate struct {
	members func() []string // peer addresses (host:port) of the members this one knows
	ask     func(addrs []string) []string
	log     *slog.Logger
	quiet   *quietLog
	refused *metrics.Counter

	mu       sync.Mutex
	resolved map[string]resolvedHost // host name → its addresses
	learned  []string                // peer addresses the members told of at the last ask
	askedAt  time.Time               // of the last ask; learned is trusted for gateLearnedTTL
}

type resolvedHost struct {
	ips []net.IP
	at  time.Time
}

const (
	// gateResolveTTL is how long a host name's addresses are trusted; a connection
	// from an unknown address looks them up again after gateRecheck.
	gateResolveTTL = 30 * time.Second
	gateRecheck    = 3 * time.Second
	// gateAskInterval bounds how often an unknown address makes this member ask the
	// others for their member lists: a flood of rogue connections costs one ask.
	gateAskInterval = 5 * time.Second
	// gateLearnedTTL is how long what the members told is trusted: a member removed
	// since is asked about again, and refused.
	gateLearnedTTL = time.Minute
	gateLookup     = 2 * time.Second
)

// admit tells whether c comes from a member's address; a refusal is counted and
// logged (once per address per quietInterval).
func (g *peerGate) admit(ctx context.Context, c net.Conn, proto byte) bool {
	ip := net.ParseIP(remoteIP(c.RemoteAddr()))
	if ip != nil && g.isMember(ctx, ip) {
		return true
	}
	g.refused.Inc()
	if ok, n := g.quiet.allow("peer not a member "+remoteIP(c.RemoteAddr()), time.Now()); ok {
		g.log.Warn("peer port: connection refused: it does not come from the address of a member of the ensemble (the server lines, or the latest reconfig)",
			"remote", c.RemoteAddr().String(), "protocol", string(proto), "repeats", n)
	}
	return false
}

func (g *peerGate) isMember(ctx context.Context, ip net.IP) bool {
	if g.known(ctx, ip) {
		return true
	}
	// Unknown: names may point elsewhere now, or a member joined while this one
	// was away.
	if g.matches(ctx, g.members(), ip, true) {
		return true
	}
	if learned, ok := g.askOthers(); ok {
		return g.matches(ctx, learned, ip, true)
	}
	return false
}

func (g *peerGate) learnedAddrs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.askedAt) > gateLearnedTTL {
		return nil
	}
	return g.learned
}

// forget drops what the members told: this member's own configuration changed, and
// is newer. The next ask waits gateAskInterval, so that an ask answered from the
// configurations before the change does not bring a removed member back at once.
func (g *peerGate) forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.learned, g.askedAt = nil, time.Now()
}

// known tells whether ip is a member's address as this member knows them now,
// without asking anyone.
func (g *peerGate) known(ctx context.Context, ip net.IP) bool {
	return g.matches(ctx, g.members(), ip, false) || g.matches(ctx, g.learnedAddrs(), ip, false)
}

// askOthers asks the known members for their member lists, unless that was done
// less than gateAskInterval ago.
func (g *peerGate) askOthers() ([]string, bool) {
	g.mu.Lock()
	if time.Since(g.askedAt) < gateAskInterval {
		g.mu.Unlock()
		return nil, false
	}
	g.askedAt = time.Now()
	g.mu.Unlock()
	learned := g.ask(g.members())
	g.mu.Lock()
	g.learned = learned
	g.mu.Unlock()
	return learned, true
}

// matches tells whether ip is an address of one of the hosts of addrs; fresh looks
// names up again when their addresses are older than gateRecheck.
func (g *peerGate) matches(ctx context.Context, addrs []string, ip net.IP, fresh bool) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if h := net.ParseIP(host); h != nil {
			if h.Equal(ip) {
				return true
			}
			continue
		}
		if slices.ContainsFunc(g.lookup(ctx, host, fresh), ip.Equal) {
			return true
		}
	}
	return false
}

func (g *peerGate) lookup(ctx context.Context, host string, fresh bool) []net.IP {
	g.mu.Lock()
	r, ok := g.resolved[host]
	g.mu.Unlock()
	age := time.Since(r.at)
	if ok && age < gateResolveTTL && (!fresh || age < gateRecheck) {
		return r.ips
	}
	lctx, cancel := context.WithTimeout(ctx, gateLookup)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(lctx, host)
	if err != nil {
		if ok && age < gateResolveTTL {
			return r.ips
		}
		return nil
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	g.mu.Lock()
	if g.resolved == nil {
		g.resolved = map[string]resolvedHost{}
	}
	if len(g.resolved) > 1000 { // bounded, as the server lines are
		clear(g.resolved)
	}
	g.resolved[host] = resolvedHost{ips: ips, at: time.Now()}
	g.mu.Unlock()
	return ips
}

// dropRemovedPeers closes the Raft connections that no longer come from a member's
// address: a reconfig that removes a member ends the Raft connections it has open,
// not only those it opens next. Run after each configuration is applied. Forwarding
// connections stay: a reconfig that removes the member it came through is answered
// over them, and a removed member serves no client to forward for.
func (s *Server) dropRemovedPeers() {
	g := s.peerGate
	var conns []net.Conn
	s.raftStream.mu.Lock()
	for c := range s.raftStream.inbound {
		conns = append(conns, c)
	}
	s.raftStream.mu.Unlock()
	for _, c := range conns {
		if ip := net.ParseIP(remoteIP(c.RemoteAddr())); ip != nil && g.known(s.ctx, ip) {
			continue
		}
		g.refused.Inc()
		if ok, n := g.quiet.allow("peer removed "+remoteIP(c.RemoteAddr()), time.Now()); ok {
			g.log.Warn("peer port: closing a connection from an address that is no longer a member's (reconfig)", "remote", c.RemoteAddr().String(), "repeats", n)
		}
		c.Close()
	}
}

// peerMemberAddrs are the peer addresses of the members as this member knows them:
// its latest Raft configuration (a reconfig's, committed or not), or before it has
// one the server lines and the members added since start.
func (s *Server) peerMemberAddrs() []string {
	var out []string
	select {
	case <-s.raftUp:
		if f := s.raft.GetConfiguration(); f.Error() == nil {
			for _, sv := range f.Configuration().Servers {
				out = append(out, string(sv.Address))
			}
		}
	default:
	}
	if len(out) > 0 {
		return out
	}
	for _, p := range s.cfg.Peers {
		out = append(out, p.PeerAddr)
	}
	s.peersMu.Lock()
	for _, p := range s.dynPeers {
		out = append(out, p.PeerAddr)
	}
	s.peersMu.Unlock()
	return out
}

// answerMembers sends a member this member's list of members' peer addresses.
func answerMembers(c net.Conn, addrs []string) {
	c.SetDeadline(time.Now().Add(time.Second))
	e := zkproto.Encoder{}
	e.Strings(addrs)
	c.Write(e.Buf)
}

// askMembers asks each member at addrs (but this one) for its list of members and
// returns them all.
func (s *Server) askMembers(addrs []string) []string {
	self, _ := s.cfg.peer(s.cfg.ServerID)
	var out []string
	for _, a := range addrs {
		if a == self.PeerAddr {
			continue
		}
		c, err := dialPeer(s.peerTLS, s.peerSrc, a, peerProtoMembers, time.Second)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		reply, _ := io.ReadAll(io.LimitReader(c, 64<<10))
		c.Close()
		d := zkproto.NewDecoder(reply)
		members := d.Strings()
		if d.Err() != nil {
			continue
		}
		for _, m := range members {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
