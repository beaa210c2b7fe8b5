package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Sample is one value a server reads at scrape time (a gauge, or a counter it keeps
// elsewhere). Labels are name, value pairs.
type Sample struct {
	Name, Help string
	Counter    bool
	Value      float64
	Labels     []string
}

// Collector is a prometheus.Collector for a server's metrics under ZooKeeper's names,
// as PrometheusMetricsProvider exports them: a counter as <name>, a summary as
// <name>{quantile="0.5"} (and 0.9, 0.99 when ADVANCED), <name>_sum and <name>_count,
// a summary set with a "key" label; Samples (gauges such as znode_count, and
// zkraft's own Raft and storage series) are read from the server at each scrape.
type Collector struct {
	M       *Server
	Samples func() []Sample
}

// Describe sends nothing: the collector is unchecked, its series vary (summary-set
// keys, leader-only gauges).
func (c Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range zkCounters {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(n, n, nil, nil), prometheus.CounterValue, float64(c.M.counters[n].Get()))
	}
	for _, o := range zkraftCounters {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("zkraft_"+o.name+"_total", o.help, nil, nil), prometheus.CounterValue, float64(c.M.counters[o.name].Get()))
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("zkraft_quota_exceeded_total",
		"Writes refused with QUOTAEXCEEDED (enforceQuota=true), and soft-limit warnings otherwise.", nil, nil),
		prometheus.CounterValue, float64(c.M.QuotaExceeded.Get()))
	for _, s := range zkSummaries {
		ch <- summary(prometheus.NewDesc(s.name, s.name, nil, nil), c.M.summaries[s.name])
	}
	c.M.setsMu.RLock()
	sets := make([]*SummarySet, 0, len(c.M.sets))
	for _, s := range c.M.sets {
		sets = append(sets, s)
	}
	c.M.setsMu.RUnlock()
	for _, set := range sets {
		desc := prometheus.NewDesc(set.Name, set.Name, []string{"key"}, nil)
		set.each(func(key string, sm *Summary) { ch <- summary(desc, sm, key) })
	}
	if c.Samples == nil {
		return
	}
	for _, s := range c.Samples() {
		var names, values []string
		for i := 0; i+1 < len(s.Labels); i += 2 {
			names, values = append(names, s.Labels[i]), append(values, s.Labels[i+1])
		}
		help := s.Help
		if help == "" {
			help = s.Name
		}
		t := prometheus.GaugeValue
		if s.Counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(s.Name, help, names, nil), t, s.Value, values...)
	}
}

func summary(desc *prometheus.Desc, s *Summary, labels ...string) prometheus.Metric {
	sn := s.Snapshot()
	q := map[float64]float64{0.5: sn.P50}
	if s.Advanced {
		q[0.9], q[0.99] = sn.P90, sn.P99
	}
	return prometheus.MustNewConstSummary(desc, uint64(sn.Count), sn.Sum, q, labels...)
}
