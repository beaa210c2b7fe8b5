package ensemble

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zkraft/zkraft/ensemble/admin"
	"github.com/zkraft/zkraft/ensemble/fourletter"
	"github.com/zkraft/zkraft/ensemble/metrics"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// observability is the part of a Server that measures it and serves the
// measurements: ZooKeeper's metrics, the Prometheus registry, the HTTP endpoints.
// Everything recorded on the request path is an atomic.
type observability struct {
	metrics  *metrics.Server
	registry *prometheus.Registry
	// reqRead and reqUpdate are zkraft_request_duration_seconds' two series, resolved
	// once so that observing takes no lock.
	reqRead, reqUpdate prometheus.Observer
	leaderlessSince    atomic.Int64 // unix ns since no leader is known; 0 while one is
	proposalSizes      responseSizes
	lastSnapZxid       atomic.Int64
	lastSnapTime       atomic.Int64 // unix seconds
	traceMask          atomic.Int64
	metricsLn, adminLn net.Listener
	// readNS and writeNS are read_per_namespace and write_per_namespace.
	readNS, writeNS *metrics.SummarySet
}

// initObservability creates the metrics and hooks them into the FSM. Start calls it
// before Raft starts.
func (s *Server) initObservability() {
	o := &s.obs
	o.metrics = metrics.New()
	s.stats.resp.reset()
	o.proposalSizes.reset()
	o.traceMask.Store(306) // ZooKeeper's default trace mask
	o.leaderlessSince.Store(s.started.UnixNano())
	if !s.standalone() {
		o.metrics.LookingCount.Inc()
	}
	m := o.metrics
	o.readNS, o.writeNS = m.Set("read_per_namespace", false, 1), m.Set("write_per_namespace", false, 1)
	s.fsm.fired = func(typ zkproto.EventType, n int) {
		switch typ {
		case zkproto.EventNodeCreated:
			m.NodeCreatedWatchCount.Observe(int64(n))
		case zkproto.EventNodeDeleted:
			m.NodeDeletedWatchCount.Observe(int64(n))
		case zkproto.EventNodeDataChanged:
			m.NodeChangedWatchCount.Observe(int64(n))
		case zkproto.EventNodeChildrenChanged:
			m.NodeChildrenWatchCount.Observe(int64(n))
		}
	}
	s.fsm.snapshotTook = func(d time.Duration, zxid zkproto.Zxid) {
		m.SnapshotTime.Observe(d.Microseconds())
		o.lastSnapZxid.Store(int64(zxid))
		o.lastSnapTime.Store(time.Now().Unix())
	}
	s.fsm.restoreTook = func(d time.Duration) { m.StartupSnapLoadTime.Observe(d.Microseconds()) }

	o.registry = prometheus.NewRegistry()
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "zkraft_request_duration_seconds",
		Help:    "Client requests from arrival to reply, by type: read (reads, pings, sync) or update (writes through Raft).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"type"})
	o.reqRead, o.reqUpdate = hist.WithLabelValues("read"), hist.WithLabelValues("update")
	o.registry.MustRegister(hist, metrics.Collector{M: m, Samples: s.metricSamples})
	if s.cfg.MetricsRuntime {
		o.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
}

// recordRequest counts a request answered after d: ServerStats' latency, readlatency
// or updatelatency, the response size (without its length prefix).
func (s *Server) recordRequest(update bool, d time.Duration, replyLen int) {
	s.stats.latency(d)
	us := d.Microseconds()
	if update {
		s.obs.metrics.UpdateLatency.Observe(us)
		s.obs.reqUpdate.Observe(d.Seconds())
	} else {
		s.obs.metrics.ReadLatency.Observe(us)
		s.obs.reqRead.Observe(d.Seconds())
	}
	if replyLen >= 4 {
		s.stats.resp.add(int64(replyLen - 4))
	}
}

// recordProposal counts an entry the leader hands to Raft (proposal_count, and the
// proposal sizes srvr shows).
func (s *Server) recordProposal(entry []byte) {
	s.obs.metrics.ProposalCount.Inc()
	s.obs.proposalSizes.add(int64(len(entry)))
}

// recordApplied counts a transaction applied here: commit_count on the leader,
// learner_commit_received_count elsewhere.
func (s *Server) recordApplied() {
	if s.leader.Load() {
		s.obs.metrics.CommitCount.Inc()
	} else {
		s.obs.metrics.LearnerCommitReceived.Inc()
	}
}

// observeLeader follows Raft's leader changes (a raft.Observer filter, called on
// Raft's goroutine: it only stores): a spell without a leader counts as looking and
// its length as election_time.
func (s *Server) observeLeader(ob *raft.Observation) bool {
	lo, ok := ob.Data.(raft.LeaderObservation)
	if !ok {
		return false
	}
	now := time.Now().UnixNano()
	if lo.LeaderAddr == "" {
		if s.obs.leaderlessSince.CompareAndSwap(0, now) {
			s.obs.metrics.LookingCount.Inc()
		}
	} else if since := s.obs.leaderlessSince.Swap(0); since != 0 {
		s.obs.metrics.ElectionTime.Observe((now - since) / 1000)
	}
	return false
}

// timedLogStore measures the Raft log's appends: each is one append and fdatasync of
// a raft-wal segment (fsynctime, sync_processor_batch_size), and on a follower the
// entries it received (learner_proposal_received_count). It forwards the optional
// interfaces Raft looks for on a log store that raftstore implements
// (MonotonicLogStore; not CommitTrackingLogStore).
type timedLogStore struct {
	raft.LogStore
	s *Server
}

func (t timedLogStore) StoreLog(l *raft.Log) error { return t.StoreLogs([]*raft.Log{l}) }

// IsMonotonic passes on whether the store keeps no holes (raft-wal does not): raft
// then removes the whole log when it installs a snapshot.
func (t timedLogStore) IsMonotonic() bool {
	m, ok := t.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (t timedLogStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := t.LogStore.StoreLogs(logs)
	if err == nil {
		m := t.s.obs.metrics
		m.FsyncTime.Observe(time.Since(start).Microseconds())
		m.SyncProcessorBatchSize.Observe(int64(len(logs)))
		if !t.s.leader.Load() && !t.s.raftLeader() {
			m.LearnerProposalReceived.Add(int64(len(logs)))
		}
	}
	return err
}

// raftLeader reports whether Raft is this member's leader; false before Raft is up
// (Raft's goroutines run before NewRaft returns and s.raft is set).
func (s *Server) raftLeader() bool {
	select {
	case <-s.raftUp:
		return s.raft.State() == raft.Leader
	default:
		return false
	}
}

// MetricsHandler serves the Prometheus metrics (what MetricsAddr serves at /metrics),
// for an embedder that mounts it on its own HTTP server.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.obs.registry, promhttp.HandlerOpts{ErrorLog: nil})
}

// AdminHandler serves the AdminServer (what AdminAddr serves): /commands/<name>,
// /ready and /health.
func (s *Server) AdminHandler() http.Handler {
	return admin.Handler(s.cfg.AdminCommandURL, s.adminCommands(), admin.Probes{Ready: s.readyProbe, Health: s.healthProbe})
}

// MetricsAddr is where the Prometheus endpoint listens, or nil.
func (s *Server) MetricsAddr() net.Addr {
	if s.obs.metricsLn == nil {
		return nil
	}
	return s.obs.metricsLn.Addr()
}

// AdminAddr is where the AdminServer listens, or nil.
func (s *Server) AdminAddr() net.Addr {
	if s.obs.adminLn == nil {
		return nil
	}
	return s.obs.adminLn.Addr()
}

func (s *Server) readyProbe() (bool, string) {
	switch {
	case s.Err() != nil:
		return false, "stopped: " + s.Err().Error()
	case !s.isReady():
		return false, "not serving yet"
	case s.readOnly.Load():
		return false, "read-only: no quorum"
	case !s.standalone() && s.obs.leaderlessSince.Load() != 0:
		return false, "no leader"
	}
	return true, "ok: " + s.mode()
}

func (s *Server) healthProbe() (bool, string) {
	select {
	case <-s.done:
		if err := s.Err(); err != nil {
			return false, "stopped: " + err.Error()
		}
		return false, "stopped"
	default:
	}
	return true, "ok"
}

// startHTTP binds and serves the metrics and admin endpoints that the config asks
// for. Their goroutines end with the server.
func (s *Server) startHTTP() error {
	serve := func(what, addr string, ln net.Listener, h http.Handler) (net.Listener, error) {
		if ln == nil {
			if addr == "" {
				return nil, nil
			}
			var err error
			if ln, err = net.Listen("tcp", addr); err != nil {
				return nil, fmt.Errorf("listen on %s address %s: %w", what, addr, err)
			}
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		s.goAttach(func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && s.ctx.Err() == nil {
				s.log.Error(what+" stopped serving", "addr", ln.Addr().String(), "err", err)
			}
		})
		s.goAttach(func() {
			<-s.ctx.Done()
			hs.Close()
		})
		s.log.Info("serving "+what, "addr", ln.Addr().String())
		return ln, nil
	}
	var err error
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.MetricsHandler())
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if s.obs.metricsLn, err = serve("Prometheus metrics", s.cfg.MetricsAddr, s.cfg.MetricsListener, mux); err != nil {
		return err
	}
	if s.obs.adminLn, err = serve("AdminServer", s.cfg.AdminAddr, s.cfg.AdminListener, s.AdminHandler()); err != nil {
		return err
	}
	return nil
}

// metricSamples are the values read at scrape time: ZooKeeper's gauges (mntr's
// numeric head: znode_count, num_alive_connections, ...), then zkraft's Raft and
// storage series.
func (s *Server) metricSamples() []metrics.Sample {
	src := flwSource{s: s}
	var out []metrics.Sample
	if src.Serving() {
		for _, f := range fourletter.MonitorFields(src.Server(), src.monitor(false)) {
			var v float64
			switch x := f.Value.(type) {
			case int64:
				v = float64(x)
			case float64:
				v = x
			default:
				continue
			}
			out = append(out, metrics.Sample{Name: f.Key, Value: v})
		}
	}
	out = append(out, metrics.Sample{Name: "zkraft_info", Help: "zkraft's version and this member's id and role (value 1).", Value: 1,
		Labels: []string{"version", fourletter.ZkraftVersion, "zookeeper_version", fourletter.Version, "server_id", strconv.FormatInt(s.cfg.ServerID, 10), "mode", s.mode()}})
	out = append(out, metrics.Sample{Name: "zkraft_last_zxid", Help: "The last zxid applied on this member.", Value: float64(s.lastZxid())})
	if s.raft != nil {
		st := s.raft.Stats()
		num := func(k string) float64 { v, _ := strconv.ParseFloat(st[k], 64); return v }
		for _, g := range []struct{ name, key, help string }{
			{"zkraft_raft_term", "term", "The current Raft term (ZooKeeper's epoch)."},
			{"zkraft_raft_last_log_index", "last_log_index", "Index of the last entry in this member's Raft log."},
			{"zkraft_raft_commit_index", "commit_index", "Raft commit index known to this member."},
			{"zkraft_raft_applied_index", "applied_index", "Raft index applied to this member's tree."},
			{"zkraft_raft_last_snapshot_index", "last_snapshot_index", "Raft index of this member's last snapshot."},
			{"zkraft_raft_fsm_pending", "fsm_pending", "Committed entries waiting to be applied."},
			{"zkraft_raft_peers", "num_peers", "Other voting members in the Raft configuration."},
		} {
			out = append(out, metrics.Sample{Name: g.name, Help: g.help, Value: num(g.key)})
		}
		for _, state := range []string{"Leader", "Follower", "Candidate", "Shutdown"} {
			v := 0.0
			if st["state"] == state {
				v = 1
			}
			out = append(out, metrics.Sample{Name: "zkraft_raft_state", Help: "This member's Raft state (1 for the current one).", Value: v, Labels: []string{"state", state}})
		}
		if lc, err := time.ParseDuration(st["last_contact"]); err == nil {
			out = append(out, metrics.Sample{Name: "zkraft_raft_last_contact_seconds", Help: "Time since a follower last heard from the leader.", Value: lc.Seconds()})
		}
	}
	d, l := src.Dirs()
	out = append(out,
		metrics.Sample{Name: "zkraft_storage_snapshot_bytes", Help: "Size of the snapshot files in the data directory.", Value: float64(d)},
		metrics.Sample{Name: "zkraft_storage_log_bytes", Help: "Size of the Raft log (the files of wal/).", Value: float64(l)})
	return out
}

// leaderFlags adds to a client's write what the leader decides for it, as it stamps
// the time: with enforceQuota, that quotas are enforced (entry version 3). Every
// member then applies the same decision, whatever its own configuration.
func (s *Server) leaderFlags(entry []byte) []byte {
	if !s.cfg.EnforceQuota {
		return entry
	}
	o, txn, err := decodeTxn(entry)
	if err != nil || txn.Kind != datatree.TxnRequest || txn.EnforceQuota {
		return entry
	}
	txn.EnforceQuota = true
	out := encodeTxn(o, txn)
	stampTime(out, txn.Time)
	return out
}

// noteQuota logs the quota limits a write passed, as ZooKeeper's checkQuota does
// (rate-limited), on the leader only: every member applies the write.
func (s *Server) noteQuota(res *datatree.Result) {
	if len(res.QuotaExceeded) == 0 || !s.leader.Load() {
		return
	}
	for _, q := range res.QuotaExceeded {
		s.obs.metrics.QuotaExceeded.Inc()
		if ok, n := s.quiet.allow("quota "+q.Path, time.Now()); ok {
			s.log.Warn(q.String(), "path", q.Path, "refused", q.Hard && res.Err == zkproto.ErrQuotaExceeded, "repeats", n)
		}
	}
}

// statOverheadBytes is DataTree.STAT_OVERHEAD_BYTES, counted with every read.
const statOverheadBytes = 6*8 + 5*4

// topNamespace is PathUtils.getTopNamespace: "app" for /app/x, "" for /.
func topNamespace(path string) string {
	if len(path) < 2 || path[0] != '/' {
		return ""
	}
	ns, _, _ := strings.Cut(path[1:], "/")
	return ns
}

func namesLen(names []string) int {
	n := 0
	for _, s := range names {
		n += len(s)
	}
	return n
}

// readStat is DataTree.updateReadStat: bytes read per top-level namespace
// (read_per_namespace), on the member that served the read.
func (s *Server) readStat(path string, n int) {
	if ns := topNamespace(path); ns != "" {
		s.obs.readNS.Observe(ns, int64(len(path)+n+statOverheadBytes))
	}
}

// writeStats is DataTree.updateWriteStat for an applied write: bytes written per
// top-level namespace (write_per_namespace), on every member.
func (s *Server) writeStats(txn *datatree.Txn, res *datatree.Result) {
	if txn.Kind != datatree.TxnRequest || res.Err != zkproto.ErrOK {
		return
	}
	one := func(op zkproto.OpCode, req, resp zkproto.Record) {
		path, n := "", 0
		switch q := req.(type) {
		case *zkproto.CreateRequest:
			path, n = q.Path, len(q.Data)
		case *zkproto.CreateTTLRequest:
			path, n = q.Path, len(q.Data)
		case *zkproto.SetDataRequest:
			path, n = q.Path, len(q.Data)
		case *zkproto.DeleteRequest:
			path = q.Path
		default:
			return
		}
		switch r := resp.(type) { // a sequential create's name
		case *zkproto.CreateResponse:
			path = r.Path
		case *zkproto.Create2Response:
			path = r.Path
		}
		if ns := topNamespace(path); ns != "" {
			s.obs.writeNS.Observe(ns, int64(len(path)+n))
		}
	}
	if mr, ok := txn.Request.(*zkproto.MultiRequest); ok {
		resp, _ := res.Response.(*zkproto.MultiResponse)
		for i, op := range mr.Ops {
			var r zkproto.Record
			if resp != nil && i < len(resp.Results) {
				r = resp.Results[i].Response
			}
			one(op.Header.Type, op.Request, r)
		}
		return
	}
	one(txn.Op, txn.Request, res.Response)
}
