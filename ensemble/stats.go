package ensemble

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// latencyStats keeps min/avg/max request latency in milliseconds, as ServerStats does.
type latencyStats struct {
	mu         sync.Mutex
	count      int64
	totalMicro int64
	minMicro   int64
	maxMicro   int64
}

func (l *latencyStats) add(d time.Duration) {
	us := d.Microseconds()
	l.mu.Lock()
	if l.count == 0 || us < l.minMicro {
		l.minMicro = us
	}
	if us > l.maxMicro {
		l.maxMicro = us
	}
	l.count++
	l.totalMicro += us
	l.mu.Unlock()
}

// millis returns min, avg, max in milliseconds.
func (l *latencyStats) millis() (lo int64, avg float64, hi int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == 0 {
		return 0, 0, 0
	}
	avg = math.Round(float64(l.totalMicro)/float64(l.count)/10) / 100
	return l.minMicro / 1000, avg, l.maxMicro / 1000
}

func (l *latencyStats) reset() {
	l.mu.Lock()
	l.count, l.totalMicro, l.minMicro, l.maxMicro = 0, 0, 0, 0
	l.mu.Unlock()
}

type serverStats struct {
	received   atomic.Int64
	sent       atomic.Int64
	authFailed atomic.Int64 // failed or refused authentications (mntr auth_failed_count)
	lat        latencyStats
}

func (s *serverStats) latency(d time.Duration) { s.lat.add(d) }

type connStats struct {
	received atomic.Int64
	sent     atomic.Int64
	mu       sync.Mutex
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
