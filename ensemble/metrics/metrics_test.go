package metrics

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSummary(t *testing.T) {
	m := New()
	for v := int64(1); v <= 100; v++ {
		m.ReadLatency.Observe(v * 1000) // 1..100 ms in microseconds
	}
	sn := m.ReadLatency.Snapshot()
	if sn.Count != 100 || sn.Min != 1 || sn.Max != 100 || sn.Sum != 5050 || sn.Avg != 50.5 || sn.P50 != 50 || sn.P99 != 99 || sn.P999 != 100 {
		t.Errorf("snapshot %+v", sn)
	}
	got := map[string]any{}
	for _, v := range m.Dump() {
		got[v.Key] = v.Value
	}
	for k, want := range map[string]any{
		"avg_readlatency": 50.5, "min_readlatency": int64(1), "max_readlatency": int64(100), "cnt_readlatency": int64(100),
		"sum_readlatency": int64(5050), "p50_readlatency": int64(50), "p95_readlatency": int64(95), "p99_readlatency": int64(99), "p999_readlatency": int64(100),
		"min_fsynctime": int64(0), "cnt_fsynctime": int64(0), "avg_fsynctime": 0.0, "commit_count": int64(0),
	} {
		if got[k] != want {
			t.Errorf("%s = %v (%T), want %v (%T)", k, got[k], got[k], want, want)
		}
	}
	if _, ok := got["p50_fsynctime"]; ok {
		t.Error("a BASIC summary prints percentiles")
	}
	m.Reset()
	if sn := m.ReadLatency.Snapshot(); sn.Count != 0 || sn.P50 != 0 {
		t.Errorf("after Reset: %+v", sn)
	}
}

// TestWindow: percentiles follow the last 1024 samples.
func TestWindow(t *testing.T) {
	m := New()
	for range 5000 {
		m.FsyncTime.Observe(900_000)
	}
	for range window {
		m.FsyncTime.Observe(1000)
	}
	if sn := m.FsyncTime.Snapshot(); sn.P99 != 1 || sn.Max != 900 || sn.Count != 5000+window {
		t.Errorf("snapshot %+v", sn)
	}
}

func TestCollector(t *testing.T) {
	m := New()
	m.CommitCount.Add(3)
	m.UpdateLatency.Observe(2000)
	m.Set("ack_latency", true, 1).Observe("2", 5)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Collector{M: m, Samples: func() []Sample {
		return []Sample{{Name: "znode_count", Value: 7}, {Name: "zkraft_raft_state", Value: 1, Labels: []string{"state", "Leader"}}}
	}})
	want := `# HELP commit_count commit_count
# TYPE commit_count counter
commit_count 3
# HELP updatelatency updatelatency
# TYPE updatelatency summary
updatelatency{quantile="0.5"} 2
updatelatency{quantile="0.9"} 2
updatelatency{quantile="0.99"} 2
updatelatency_sum 2
updatelatency_count 1
# HELP fsynctime fsynctime
# TYPE fsynctime summary
fsynctime{quantile="0.5"} 0
fsynctime_sum 0
fsynctime_count 0
# HELP ack_latency ack_latency
# TYPE ack_latency summary
ack_latency{key="2",quantile="0.5"} 5
ack_latency{key="2",quantile="0.9"} 5
ack_latency{key="2",quantile="0.99"} 5
ack_latency_sum{key="2"} 5
ack_latency_count{key="2"} 1
# HELP znode_count znode_count
# TYPE znode_count gauge
znode_count 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "commit_count", "updatelatency", "fsynctime", "ack_latency", "znode_count"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n < len(zkCounters)+len(zkSummaries) {
		t.Errorf("%d series (%v), want every counter and summary", n, err)
	}
}

// TestConcurrentObserve runs under -race: recording takes no lock and loses nothing.
func TestConcurrentObserve(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				m.UpdateLatency.Observe(int64(i))
				m.CommitCount.Inc()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			m.Dump()
		}
	})
	wg.Wait()
	if sn := m.UpdateLatency.Snapshot(); sn.Count != 8000 || sn.Max != 0.999 || m.CommitCount.Get() != 8000 {
		t.Errorf("count %d max %v commits %d", sn.Count, sn.Max, m.CommitCount.Get())
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i int64
		for pb.Next() {
			i++
			m.ReadLatency.Observe(i & 1023)
		}
	})
}
