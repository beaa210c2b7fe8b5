// Package datatree is zkraft's replicated state: the znode tree, the session table and
// the zxid counter. Apply is deterministic: no clock, randomness or node-local state.
//
// It imports zkproto and the standard library only.
//
// # Concurrency
//
// A Tree is not safe for concurrent use: the server guards it with its own
// sync.RWMutex. Apply and Snapshot take the write lock; the read methods (GetData,
// Exists, Children, ...) may share the read lock. A *Snapshot is immutable and
// needs no lock: take it under the write lock (it costs O(shards + sessions), not
// O(nodes)), release the lock, then write it with WriteTo while Apply goes on.
//
// Slices handed to Apply (data and ACLs inside requests) become the tree's: the
// caller must not change them afterwards. Slices returned by reads (data, ACLs)
// are shared with the tree and must not be modified.
//
// # Layout
//
// Nodes live by value in a fixed number of hash shards keyed by path. Snapshot
// copies the shard pointer array and bumps a generation; the first write to a shard
// that a snapshot still sees clones that shard (maps.Clone of 1/1024th of the
// tree), so a snapshot of a million nodes never stops writes for more than a
// fraction of a millisecond. Data and ACL slices are never modified in place, so a
// node value copied into a snapshot stays valid. The children index (a set of names
// per parent) is mutable and not part of snapshots; Restore rebuilds it.
//
// # Sequence numbers and cversion
//
// Each node stores C, the number of child creates ever (ZooKeeper's persisted
// cversion). A sequential child gets the suffix fmt("%010d", C) before the
// increment; clients see cversion = 2*C - numChildren (DataNode.copyStat since
// ZOOKEEPER-1046), so the built-in nodes show -1 (/) and -2 (/zookeeper) as on
// ZooKeeper.
package datatree
