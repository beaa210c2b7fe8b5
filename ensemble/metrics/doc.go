// Package metrics keeps a server's counters and summaries under ZooKeeper 3.8's
// names (ServerMetrics: commit_count, fsynctime, readlatency, ...) and exposes them
// three ways from one set of numbers: mntr lines (Dump), the AdminServer's monitor
// command, and Prometheus (Collector), as ZooKeeper's PrometheusMetricsProvider does.
//
// Recording is lock-free (atomics only), so the request path takes no mutex for
// statistics. It imports no other zkraft package.
package metrics
