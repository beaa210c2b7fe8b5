// Package logstorebench compares Raft log stores on this machine's disk: raft-boltdb
// as zkraft's versions before raft-wal opened it (with their bbolt options) beside
// hashicorp/raft-wal (as it opens itself; zkraft ships v0.4.1 on its own file layer,
// storage/raftstore), appending batches of entries of a typical write's size, each
// batch fsynced as Raft appends them. It is its own module, measured before raft-wal
// was chosen; run it with `make bench-logstore`.
package logstorebench
