package ensemble

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// latencyStats keeps min/avg/max request latency in milliseconds, as ServerStats
// does. It is lock-free: the request path of every connection records into the
// server's copy, and issue 9 forbids a global mutex there.
type latencyStats struct {
	count      atomic.Int64
	totalMicro atomic.Int64
	minMicro   atomic.Int64 // MaxInt64 when empty
	maxMicro   atomic.Int64
}

func (l *latencyStats) add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	l.count.Add(1)
	l.totalMicro.Add(us)
	l.minMicro.CompareAndSwap(0, math.MaxInt64) // the zero value is empty too
	for cur := l.minMicro.Load(); us < cur && !l.minMicro.CompareAndSwap(cur, us); cur = l.minMicro.Load() {
	}
	for cur := l.maxMicro.Load(); us > cur && !l.maxMicro.CompareAndSwap(cur, us); cur = l.maxMicro.Load() {
	}
}

// millis returns min, avg, max in milliseconds.
func (l *latencyStats) millis() (lo int64, avg float64, hi int64) {
	n := l.count.Load()
	if n == 0 {
		return 0, 0, 0
	}
	avg = math.Round(float64(l.totalMicro.Load())/float64(n)/10) / 100
	lo = l.minMicro.Load()
	if lo == math.MaxInt64 {
		lo = 0
	}
	return lo / 1000, avg, l.maxMicro.Load() / 1000
}

func (l *latencyStats) reset() {
	l.count.Store(0)
	l.totalMicro.Store(0)
	l.minMicro.Store(math.MaxInt64)
	l.maxMicro.Store(0)
}

// responseSizes are the last, min and max client response sizes (ServerStats'
// clientResponseStats), -1 before any.
type responseSizes struct{ last, lo, hi atomic.Int64 }

func (r *responseSizes) add(n int64) {
	r.last.Store(n)
	for cur := r.lo.Load(); (cur < 0 || n < cur) && !r.lo.CompareAndSwap(cur, n); cur = r.lo.Load() {
	}
	for cur := r.hi.Load(); n > cur && !r.hi.CompareAndSwap(cur, n); cur = r.hi.Load() {
	}
}

func (r *responseSizes) reset() { r.last.Store(-1); r.lo.Store(-1); r.hi.Store(-1) }

type serverStats struct {
	received   atomic.Int64
	sent       atomic.Int64
	authFailed atomic.Int64 // failed or refused authentications, SASL or TLS (mntr auth_failed_count)
	// Plaintext connections accepted by a server that serves TLS too, from other
	// hosts and from loopback (mntr non_mtls_*_conn_count), and TLS handshakes
	// under way (outstanding_tls_handshake): tls.go.
	nonMTLSRemote, nonMTLSLocal, tlsHandshakes atomic.Int64
	lat                                        latencyStats
	resp                                       responseSizes
}

func (s *serverStats) latency(d time.Duration) { s.lat.add(d) }

type connStats struct {
	received atomic.Int64
	sent     atomic.Int64
	mu       sync.Mutex // per connection: guards the last* fields
	lastOp   zkproto.OpCode
	lastCxid zkproto.Xid
	lastZxid zkproto.Zxid
	lastResp time.Time
	lastLat  time.Duration
	lat      latencyStats
}

func (s *connStats) record(hdr zkproto.RequestHeader, d time.Duration, zxid func() zkproto.Zxid) {
	z := zxid()
	s.mu.Lock()
	s.lastOp, s.lastCxid, s.lastZxid, s.lastResp, s.lastLat = hdr.Type, hdr.Xid, z, time.Now(), d
	s.mu.Unlock()
	s.lat.add(d)
}
