// Package benchcompare runs zkraft and the reference Apache ZooKeeper 3.8.0 side by
// side on loopback, single node and 3 members, drives both with `zkraft bench`
// workload by workload, alternating the targets, then builds a tree of BENCH_ZNODES
// znodes in each to compare memory and restart time, and writes the ratios to a
// Markdown report: `make bench-compare` generates docs/performance.md with it. `make
// test` runs it at a tiny scale and checks the report's tables. See compare_test.go.
//
// Test code only: nothing imports it.
package benchcompare
