// Package logstorebench compares Raft log stores on this machine's disk: the
// raft-boltdb store zkraft ships (with its bbolt options) beside hashicorp/raft-wal,
// appending batches of entries of a typical write's size, each batch fsynced as Raft
// appends them. It is its own module, so that raft-wal is no dependency of zkraft
// until it is chosen; run it with `make bench-logstore`.
package logstorebench
