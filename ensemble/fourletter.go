package ensemble

import (
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/zkraft/zkraft/ensemble/fourletter"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/storage/raftstore"
)

// fourLetterWord answers a four-letter word on the client port, honouring the
// whitelist, and closes the connection as ZooKeeper does.
func (c *conn) fourLetterWord(word string) {
	defer c.close()
	out := fourletter.NotWhitelisted(word)
	if c.srv.fourLetterAllowed(word) {
		out, _ = fourletter.Reply(word, flwSource{c.srv, c})
	}
	// Written directly: a four-letter word is not a client packet and is not counted.
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.nc.Write(out)
}

func (s *Server) fourLetterAllowed(word string) bool {
	return slices.Contains(s.cfg.FourLetterWhitelist, "*") || slices.Contains(s.cfg.FourLetterWhitelist, word)
}

// flwSource gathers what a four-letter word prints; self is the asking connection,
// which ZooKeeper leaves out of connection lists.
type flwSource struct {
	s    *Server
	self *conn
}

func (f flwSource) Serving() bool {
	select {
	case <-f.s.ready:
		return true
	default:
		return false
	}
}

func (f flwSource) Server() fourletter.Server {
	s := f.s
	lo, avg, hi := s.stats.lat.millis()
	out := fourletter.Server{
		Mode:        s.mode(),
		ReadOnly:    s.readOnly.Load(),
		MinLatency:  lo,
		AvgLatency:  avg,
		MaxLatency:  hi,
		Received:    s.stats.received.Load(),
		Sent:        s.stats.sent.Load(),
		Connections: int64(len(f.clients())),
		Outstanding: int64(len(s.outstanding)),
	}
	if out.Mode == "leader" {
		p := &s.obs.proposalSizes
		out.ProposalSizes = &[3]int64{p.last.Load(), p.lo.Load(), p.hi.Load()}
	}
	s.fsm.read(func(t *datatree.Tree) {
		out.Zxid = int64(t.LastZxid())
		out.NodeCount = int64(t.NodeCount())
	})
	return out
}

// clients are the connections with a session, without the asking one.
func (f flwSource) clients() []*conn {
	f.s.connMu.Lock()
	defer f.s.connMu.Unlock()
	out := make([]*conn, 0, len(f.s.conns))
	for c := range f.s.conns {
		if c != f.self && c.session() != 0 {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *conn) int { return a.est.Compare(b.est) })
	return out
}

func (f flwSource) Connections() []fourletter.Conn {
	var out []fourletter.Conn
	for _, c := range f.clients() {
		ap, _ := netip.ParseAddrPort(c.nc.RemoteAddr().String())
		st := &c.stats
		lo, avg, hi := st.lat.millis()
		st.mu.Lock()
		fc := fourletter.Conn{
			Remote:       ap,
			InterestOps:  1,
			Queued:       int64(len(c.pending)),
			Received:     st.received.Load(),
			Sent:         st.sent.Load(),
			SessionID:    int64(c.session()),
			LastOp:       "NA",
			Established:  c.est,
			Timeout:      int32(c.timeout.Milliseconds()),
			LastCxid:     int64(st.lastCxid),
			LastZxid:     int64(st.lastZxid),
			LastResponse: st.lastResp,
			LastLatency:  st.lastLat.Milliseconds(),
			MinLatency:   lo,
			AvgLatency:   int64(avg),
			MaxLatency:   hi,
		}
		if !st.lastResp.IsZero() {
			fc.LastOp = fourletter.OpName(int32(st.lastOp))
		}
		st.mu.Unlock()
		out = append(out, fc)
	}
	return out
}

func (f flwSource) Monitor() fourletter.Monitor { return f.monitor(true) }

// monitor gathers mntr's values; withMetrics adds ZooKeeper's counters and summaries
// and zkraft's Raft lines (Extra).
func (f flwSource) monitor(withMetrics bool) fourletter.Monitor {
	s := f.s
	m := fourletter.Monitor{
		WatchCount:              int64(s.watches.Stats().WatchCount),
		Uptime:                  time.Since(s.started),
		LastClientResponseSize:  s.stats.resp.last.Load(),
		MinClientResponseSize:   s.stats.resp.lo.Load(),
		MaxClientResponseSize:   s.stats.resp.hi.Load(),
		MaxFileDescriptorCount:  maxFDs(),
		OpenFileDescriptorCount: openFDs(),
		AuthFailedCount:         s.stats.authFailed.Load(),
		NonMTLSRemoteConnCount:  s.stats.nonMTLSRemote.Load(),
		NonMTLSLocalConnCount:   s.stats.nonMTLSLocal.Load(),
		OutstandingTLSHandshake: s.stats.tlsHandshakes.Load(),
	}
	var synced int64
	m.PeerState, m.QuorumSize, m.Learners, synced, m.SyncedObservers = s.quorumStats()
	if withMetrics {
		for _, v := range s.obs.metrics.Dump() {
			m.Extra = append(m.Extra, fourletter.Field{Key: v.Key, Value: v.Value})
		}
		if !s.standalone() {
			// The Raft term is what ZooKeeper operators know as the epoch.
			m.Extra = append(m.Extra,
				fourletter.Field{Key: "raft_term", Value: int64(s.raft.CurrentTerm())},
				fourletter.Field{Key: "raft_applied_index", Value: int64(s.raft.AppliedIndex())})
		}
	}
	if s.mode() == "leader" {
		m.SyncedFollowers = synced
		m.LeaderUptime = time.Since(s.leaderSince())
	}
	s.fsm.read(func(t *datatree.Tree) {
		m.EphemeralsCount = int64(t.EphemeralCount())
		m.ApproximateDataSize = t.ApproximateDataSize()
		m.GlobalSessions = int64(len(t.Sessions()))
	})
	return m
}

func (f flwSource) Conf() fourletter.Conf {
	s := f.s
	port := 0
	if ap, err := netip.ParseAddrPort(s.ln.Addr().String()); err == nil {
		port = int(ap.Port())
	}
	d, l := f.Dirs()
	logDir := s.cfg.DataLogDir
	if logDir == "" {
		logDir = s.cfg.DataDir
	}
	return fourletter.Conf{
		ClientPort:              port,
		SecureClientPort:        -1,
		DataDir:                 s.cfg.DataDir,
		DataDirSize:             d,
		DataLogDir:              logDir,
		DataLogSize:             l,
		TickTime:                int(s.cfg.TickTime.Milliseconds()),
		MaxClientCnxns:          s.cfg.MaxClientCnxns,
		MinSessionTimeout:       int(s.cfg.MinSessionTimeout.Milliseconds()),
		MaxSessionTimeout:       int(s.cfg.MaxSessionTimeout.Milliseconds()),
		ClientPortListenBacklog: -1,
		ServerID:                s.cfg.ServerID,
	}
}

func (f flwSource) Env() fourletter.Env { return fourletter.CurrentEnv() }

func (f flwSource) Watches() []fourletter.Watch {
	var out []fourletter.Watch
	for w, paths := range f.s.watches.ByWatcher() {
		c, ok := w.(*conn)
		if !ok {
			continue
		}
		for _, p := range paths {
			out = append(out, fourletter.Watch{SessionID: int64(c.session()), Path: p})
		}
	}
	return out
}

func (f flwSource) Dump() fourletter.Dump {
	var d fourletter.Dump
	f.s.fsm.read(func(t *datatree.Tree) {
		for _, si := range t.Sessions() {
			if eph := t.Ephemerals(si.ID, "/"); len(eph) > 0 {
				d.Ephemerals = append(d.Ephemerals, fourletter.SessionEphemerals{SessionID: int64(si.ID), Paths: eph})
			}
		}
	})
	d.SessionBuckets = f.s.sessions.buckets(f.s.cfg.TickTime)
	return d
}

// Dirs sums the sizes of the snapshot and log directories, as ZooKeeper's dirs does.
func (f flwSource) Dirs() (dataDirSize, logDirSize int64) {
	s := f.s
	if s.cfg.DataDir == "" {
		return 0, 0
	}
	dataDirSize = dirSize(filepath.Join(s.cfg.DataDir, "snapshots"))
	logDir := s.cfg.DataLogDir
	if logDir == "" {
		logDir = s.cfg.DataDir
	}
	logDirSize = dirSize(raftstore.LogPath(logDir)) // segments are preallocated: their size is what they take
	return dataDirSize, logDirSize
}

func (f flwSource) ResetServerStats() {
	f.s.stats.received.Store(0)
	f.s.stats.sent.Store(0)
	f.s.stats.lat.reset()
	f.s.stats.resp.reset()
	f.s.obs.proposalSizes.reset()
	f.s.obs.metrics.Reset()
}

func (f flwSource) ResetConnStats() {
	for _, c := range f.clients() {
		c.stats.received.Store(0)
		c.stats.sent.Store(0)
		c.stats.lat.reset()
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
