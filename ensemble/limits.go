package ensemble

import (
	"errors"
	"net"
	"time"

	"github.com/zkraft/zkraft/ensemble/metrics"
	"github.com/zkraft/zkraft/zkproto"
)

// The client port's resource limits, on by default (docs/security.md):
//
//	maxClientCnxns              connections from one address (ZooKeeper's, 60)
//	maxCnxns                    connections in total (ZooKeeper: none by default)
//	nio.sessionlessCnxnTimeout  time to send the ConnectRequest (ZooKeeper's, 10 s)
//	jute.maxbuffer              the largest frame (ZooKeeper's, 1 MiB - 1)
//	globalOutstandingLimit      requests in flight on the server (ZooKeeper's, 1000)
//	maxPendingPerConn           requests in flight on one connection (zkraft's)
//	zkraft.maxWatchesPerSession watches one session holds (ZooKeeper: none)
//
// Each refusal is counted under ZooKeeper's metric name where it has one and logged
// at most once per address per quietInterval: a flood of refusals must not become a
// flood of log lines.

// maxPendingPerConn is how many of one connection's requests may be in flight; its
// reader stops until the oldest is answered, so one pipelining client cannot take all
// of globalOutstandingLimit from the others.
const maxPendingPerConn = 256

// connRefusal tells why a new connection from ip is refused, "" if it is not
// (connMu held).
func (s *Server) connRefusal(ip string) string {
	switch {
	case s.cfg.MaxCnxns > 0 && len(s.conns) >= s.cfg.MaxCnxns:
		return "too many client connections in total (maxCnxns)"
	case s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns:
		return "too many connections from one address (maxClientCnxns)"
	}
	return ""
}

// refuseConn counts and logs a connection refused at accept.
func (s *Server) refuseConn(ip, why string) {
	s.obs.metrics.ConnectionRejected.Inc()
	if ok, n := s.quiet.allow("refused "+why+" "+ip, time.Now()); ok {
		s.log.Warn("client connection refused: "+why, "addr", ip, "maxClientCnxns", s.cfg.MaxClientCnxns, "maxCnxns", s.cfg.MaxCnxns, "repeats", n)
	}
}

// firstReadFailed handles a failed read of a connection's first frame: one that
// sent nothing within nio.sessionlessCnxnTimeout is counted
// (sessionless_connections_expired) and logged quietly.
func (c *conn) firstReadFailed(err error) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.logReadErr(err)
		return
	}
	c.srv.obs.metrics.SessionlessConnectionsExpired.Inc()
	if ok, n := c.srv.quiet.allow("sessionless "+c.remoteIP, time.Now()); ok {
		c.log.Info("closing a connection that sent no ConnectRequest in time (nio.sessionlessCnxnTimeout)",
			"timeout", c.srv.cfg.SessionlessCnxnTimeout, "repeats", n)
	}
}

// frameTooLarge counts and logs a frame over jute.maxbuffer; the connection closes.
func (c *conn) frameTooLarge(err error) {
	c.srv.obs.metrics.LargeRequestsRejected.Inc()
	if ok, n := c.srv.quiet.allow("frame too large "+c.remoteIP, time.Now()); ok {
		c.log.Warn("closing connection: frame length out of bounds (raise jute.maxbuffer if this client is legitimate)",
			"err", err, "max", c.srv.cfg.MaxBuffer, "repeats", n)
	}
}

// acquire puts a token in slots, waiting (counted) while it is full, unless the
// connection closes first.
func acquire[T any](slots chan T, v T, closed <-chan struct{}, waits *metrics.Counter) bool {
	select {
	case slots <- v:
		return true
	default:
	}
	waits.Inc()
	select {
	case slots <- v:
		return true
	case <-closed:
		return false
	}
}

// mayWatch tells whether this session may set a watch on path: it is under
// zkraft.maxWatchesPerSession, or already watches path. A refusal is counted and
// logged quietly; the request gets QUOTAEXCEEDED.
func (c *conn) mayWatch(path string) bool {
	limit := c.srv.cfg.MaxWatchesPerSession
	w := c.srv.watches
	if limit <= 0 || w.Count(c) < limit || w.Watching(c, path) {
		return true
	}
	c.srv.obs.metrics.WatchesRefused.Inc()
	if ok, n := c.srv.quiet.allow("watch limit "+sessionHex(c.session()), time.Now()); ok {
		c.log.Warn("watch refused: the session holds zkraft.maxWatchesPerSession watches", "session_id", sessionHex(c.session()),
			"path", path, "max", limit, "repeats", n)
	}
	return false
}

// watchPath is the path a read sets a watch on, if it sets one.
func watchPath(req zkproto.Record) (string, bool) {
	switch q := req.(type) {
	case *zkproto.ExistsRequest:
		return q.Path, q.Watch
	case *zkproto.GetDataRequest:
		return q.Path, q.Watch
	case *zkproto.GetChildrenRequest:
		return q.Path, q.Watch
	case *zkproto.GetChildren2Request:
		return q.Path, q.Watch
	case *zkproto.AddWatchRequest:
		return q.Path, true
	}
	return "", false
}
