package metrics

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Counter is a monotonic count, reset only by srst.
type Counter struct{ v atomic.Int64 }

// Add adds n.
func (c *Counter) Add(n int64) { c.v.Add(n) }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Get returns the count.
func (c *Counter) Get() int64 { return c.v.Load() }

func (c *Counter) reset() { c.v.Store(0) }

// window is how many recent samples a Summary keeps for its percentiles.
const window = 1024

// Summary is ZooKeeper's AvgMinMaxCounter (BASIC) or AvgMinMaxPercentileCounter
// (ADVANCED): count, sum, min and max since the last reset, and percentiles over the
// last 1024 samples. Samples are int64 in the summary's raw unit; Scale divides them
// into the unit ZooKeeper reports (1000 for microseconds shown as milliseconds).
type Summary struct {
	Name     string
	Advanced bool  // mntr prints p50/p95/p99/p999; Prometheus 0.5/0.9/0.99 quantiles
	Scale    int64 // raw units per reported unit; 0 means 1

	count, sum atomic.Int64
	min, max   atomic.Int64 // min holds MaxInt64 when empty
	next       atomic.Uint64
	ring       [window]atomic.Int64
}

func newSummary(name string, advanced bool, scale int64) *Summary {
	s := &Summary{Name: name, Advanced: advanced, Scale: scale}
	s.min.Store(math.MaxInt64)
	return s
}

// Observe records one sample. It takes no lock.
func (s *Summary) Observe(v int64) {
	if v < 0 {
		v = 0
	}
	s.count.Add(1)
	s.sum.Add(v)
	for cur := s.min.Load(); v < cur && !s.min.CompareAndSwap(cur, v); cur = s.min.Load() {
	}
	for cur := s.max.Load(); v > cur && !s.max.CompareAndSwap(cur, v); cur = s.max.Load() {
	}
	i := s.next.Add(1) - 1
	s.ring[i%window].Store(v)
}

func (s *Summary) reset() {
	s.count.Store(0)
	s.sum.Store(0)
	s.min.Store(math.MaxInt64)
	s.max.Store(0)
	s.next.Store(0)
}

func (s *Summary) scale() float64 {
	if s.Scale <= 0 {
		return 1
	}
	return float64(s.Scale)
}

// Snapshot is a Summary's values in its reported unit.
type Snapshot struct {
	Count         int64
	Sum           float64
	Min, Max      float64
	Avg           float64
	P50, P95, P99 float64
	P90, P999     float64
}

// Snapshot reads the summary. Concurrent Observe calls may be half-included.
func (s *Summary) Snapshot() Snapshot {
	sc := s.scale()
	out := Snapshot{Count: s.count.Load()}
	if out.Count == 0 {
		return out
	}
	out.Sum = float64(s.sum.Load()) / sc
	out.Min = float64(s.min.Load()) / sc
	if out.Min > math.MaxInt64/2 {
		out.Min = 0
	}
	out.Max = float64(s.max.Load()) / sc
	out.Avg = out.Sum / float64(out.Count)
	n := min(s.next.Load(), window)
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = s.ring[i].Load()
	}
	slices.Sort(vals)
	q := func(p float64) float64 {
		if len(vals) == 0 {
			return 0
		}
		i := int(math.Ceil(p*float64(len(vals)))) - 1
		return float64(vals[max(0, min(i, len(vals)-1))]) / sc
	}
	out.P50, out.P90, out.P95, out.P99, out.P999 = q(0.5), q(0.9), q(0.95), q(0.99), q(0.999)
	return out
}

// Summaries (and Counters) that ZooKeeper prints and zkraft has no counterpart for
// still print, as zeros, so that exporters and dashboards that read them find them.

// Server is one server's metrics: the ones zkraft measures by name, and ZooKeeper's
// whole catalogue for Dump.
type Server struct {
	counters  map[string]*Counter
	summaries map[string]*Summary

	// Counters zkraft feeds.
	ProposalCount, CommitCount                              *Counter
	LearnerProposalReceived, LearnerCommitReceived          *Counter
	ConnectionRequestCount, ConnectionRejected              *Counter
	BytesReceived, ResponseBytes                            *Counter
	StaleSessionsExpired, LookingCount                      *Counter
	UnrecoverableErrors, SessionlessConnectionsExpired      *Counter
	LargeRequestsRejected, SnapCount, UnsuccessfulHandshake *Counter
	QuotaExceeded, DigestMismatches                         *Counter
	// EnsembleAuthFail counts peer-port connections refused: not from a member's
	// address, or a failed quorum TLS handshake (ZooKeeper counts its quorum SASL
	// failures under this name).
	EnsembleAuthFail *Counter
	// RequestThrottleWait counts the times a connection stopped reading because the
	// server (globalOutstandingLimit) or the connection had too many requests in
	// flight (ZooKeeper counts its RequestThrottler's waits under this name).
	RequestThrottleWait *Counter
	// WatchesRefused is zkraft's own: watch registrations refused because the
	// session held zkraft.maxWatchesPerSession watches (mntr zk_watches_refused).
	WatchesRefused *Counter

	// Summaries zkraft feeds (milliseconds, or counts).
	FsyncTime, SnapshotTime, DBInitTime, ElectionTime        *Summary
	ReadLatency, UpdateLatency, QuorumAckLatency             *Summary
	SyncProcessorBatchSize, StartupSnapLoadTime              *Summary
	NodeCreatedWatchCount, NodeDeletedWatchCount             *Summary
	NodeChangedWatchCount, NodeChildrenWatchCount            *Summary
	FollowerSyncTime, LeaderUnavailableTime, UnavailableTime *Summary

	setsMu sync.RWMutex // guards sets' maps; values are lock-free
	sets   map[string]*SummarySet
}

// SummarySet is a family of summaries told apart by a key (ZooKeeper's SummarySet:
// ack_latency per follower, ...). mntr prints avg_<key>_<name>.
type SummarySet struct {
	Name     string
	Advanced bool
	Scale    int64
	m        sync.Map // key → *Summary
}

// Observe records v under key.
func (s *SummarySet) Observe(key string, v int64) {
	if sm, ok := s.m.Load(key); ok {
		sm.(*Summary).Observe(v)
		return
	}
	sm, _ := s.m.LoadOrStore(key, newSummary(key+"_"+s.Name, s.Advanced, s.Scale))
	sm.(*Summary).Observe(v)
}

func (s *SummarySet) each(fn func(key string, sm *Summary)) {
	var keys []string
	s.m.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	slices.Sort(keys)
	for _, k := range keys {
		sm, _ := s.m.Load(k)
		fn(k, sm.(*Summary))
	}
}

// New returns a server's metrics, all zero.
func New() *Server {
	m := &Server{counters: map[string]*Counter{}, summaries: map[string]*Summary{}, sets: map[string]*SummarySet{}}
	for _, n := range zkCounters {
		m.counters[n] = &Counter{}
	}
	for _, s := range zkSummaries {
		m.summaries[s.name] = newSummary(s.name, s.advanced, 1)
	}
	c := func(n string) *Counter { return m.counters[n] }
	m.ProposalCount, m.CommitCount = c("proposal_count"), c("commit_count")
	m.LearnerProposalReceived, m.LearnerCommitReceived = c("learner_proposal_received_count"), c("learner_commit_received_count")
	m.ConnectionRequestCount, m.ConnectionRejected = c("connection_request_count"), c("connection_rejected")
	m.BytesReceived, m.ResponseBytes = c("bytes_received_count"), c("response_bytes")
	m.StaleSessionsExpired, m.LookingCount = c("stale_sessions_expired"), c("looking_count")
	m.UnrecoverableErrors, m.SessionlessConnectionsExpired = c("unrecoverable_error_count"), c("sessionless_connections_expired")
	m.LargeRequestsRejected, m.SnapCount, m.UnsuccessfulHandshake = c("large_requests_rejected"), c("snap_count"), c("unsuccessful_handshake")
	m.DigestMismatches = c("digest_mismatches_count")
	m.EnsembleAuthFail = c("ensemble_auth_fail")
	m.RequestThrottleWait = c("request_throttle_wait_count")
	for _, o := range zkraftCounters {
		m.counters[o.name] = &Counter{}
	}
	m.WatchesRefused = c("watches_refused")
	m.QuotaExceeded = &Counter{} // zkraft's own (Prometheus zkraft_quota_exceeded_total)

	s := func(n string, scale int64) *Summary { m.summaries[n].Scale = scale; return m.summaries[n] }
	const us = 1000 // microseconds, reported in ms
	m.FsyncTime, m.SnapshotTime, m.DBInitTime, m.ElectionTime = s("fsynctime", us), s("snapshottime", us), s("dbinittime", us), s("election_time", us)
	m.ReadLatency, m.UpdateLatency, m.QuorumAckLatency = s("readlatency", us), s("updatelatency", us), s("quorum_ack_latency", us)
	m.SyncProcessorBatchSize, m.StartupSnapLoadTime = s("sync_processor_batch_size", 1), s("startup_snap_load_time", us)
	m.NodeCreatedWatchCount, m.NodeDeletedWatchCount = s("node_created_watch_count", 1), s("node_deleted_watch_count", 1)
	m.NodeChangedWatchCount, m.NodeChildrenWatchCount = s("node_changed_watch_count", 1), s("node_children_watch_count", 1)
	m.FollowerSyncTime, m.LeaderUnavailableTime, m.UnavailableTime = s("follower_sync_time", us), s("leader_unavailable_time", us), s("unavailable_time", us)
	return m
}

// Set returns the summary set name, creating it (ADVANCED when advanced).
func (m *Server) Set(name string, advanced bool, scale int64) *SummarySet {
	m.setsMu.RLock()
	s, ok := m.sets[name]
	m.setsMu.RUnlock()
	if ok {
		return s
	}
	m.setsMu.Lock()
	defer m.setsMu.Unlock()
	if s, ok = m.sets[name]; !ok {
		s = &SummarySet{Name: name, Advanced: advanced, Scale: scale}
		m.sets[name] = s
	}
	return s
}

// Reset zeroes every counter and summary (srst, as ZooKeeper's resetAll).
func (m *Server) Reset() {
	for _, c := range m.counters {
		c.reset()
	}
	for _, s := range m.summaries {
		s.reset()
	}
	m.setsMu.RLock()
	defer m.setsMu.RUnlock()
	for _, set := range m.sets {
		set.m.Range(func(_, v any) bool { v.(*Summary).reset(); return true })
	}
}

// Value is one mntr key and its value: int64 or float64.
type Value struct {
	Key   string
	Value any
}

// Dump lists ZooKeeper's counters and summaries in the order the reference 3.8.0
// printed them (then zkraft's own, then summary sets), as mntr and the monitor
// command show them: a summary as avg_/min_/max_/cnt_/sum_ (and p50_/p95_/p99_/p999_
// when ADVANCED), min/max/percentiles as integers, avg rounded to 4 decimals.
func (m *Server) Dump() []Value {
	out := make([]Value, 0, 600)
	for _, n := range zkCounters {
		out = append(out, Value{n, m.counters[n].Get()})
	}
	for _, o := range zkraftCounters {
		out = append(out, Value{o.name, m.counters[o.name].Get()})
	}
	for _, s := range zkSummaries {
		out = dumpSummary(out, s.name, m.summaries[s.name])
	}
	m.setsMu.RLock()
	names := make([]string, 0, len(m.sets))
	for n := range m.sets {
		names = append(names, n)
	}
	m.setsMu.RUnlock()
	slices.Sort(names)
	for _, n := range names {
		m.Set(n, false, 0).each(func(key string, sm *Summary) { out = dumpSummary(out, key+"_"+n, sm) })
	}
	return out
}

func dumpSummary(out []Value, name string, s *Summary) []Value {
	sn := s.Snapshot()
	out = append(out,
		Value{"avg_" + name, math.Round(sn.Avg*10000) / 10000},
		Value{"min_" + name, int64(sn.Min)},
		Value{"max_" + name, int64(sn.Max)},
		Value{"cnt_" + name, sn.Count},
		Value{"sum_" + name, int64(sn.Sum)})
	if s.Advanced {
		out = append(out,
			Value{"p50_" + name, int64(sn.P50)},
			Value{"p95_" + name, int64(sn.P95)},
			Value{"p99_" + name, int64(sn.P99)},
			Value{"p999_" + name, int64(sn.P999)})
	}
	return out
}
