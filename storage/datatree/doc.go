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
// needs no lock: take it under the write lock (it costs O(nodes/1024 + sessions),
// plus the overlay: see Layout), release the lock, write it with WriteTo while
// Apply goes on, then Release it.
//
// Apply copies the data of a request into the tree and keeps its ACL slice (as the
// interned list, when no equal list is interned yet): the caller must not change
// them afterwards. Slices and strings returned by reads (data, ACLs, child names)
// are shared with the tree, stay valid after the lock is released, and must not be
// modified.
//
// # Layout
//
// Built for millions of znodes with few pointers for the GC to scan (store.go): a
// znode is a pointer-free record in a slice of blocks of 1,024 records, named by a
// 32-bit id (the index keeps 28 bits of it: at most 2^28-2 znodes at once); its
// path and data are one blob in an arena of 1 MiB byte chunks (a blob over 256 KiB
// gets a chunk of its own); its ACL is the id of an interned, reference-counted
// list (ZooKeeper's ReferenceCountedACLCache: most nodes share a handful); its
// children are a list of ids per parent, in no order (reads sort the names). A
// pointer-free open-addressing hash index finds an id by path. Arena bytes are
// never written over: a write appends a new blob, and a chunk less than three
// quarters alive has its live blobs moved to the current chunk after the
// transaction, then is dropped (whoever still holds a slice of it keeps it alive).
//
// Snapshot copies the table of record blocks, the chunk table and the ACL table
// header and bumps a generation: for a million nodes, a fraction of a millisecond
// under the write lock (plus the overlay's records, below). While it is alive the
// blocks it sees are frozen: the first write to a record copies that record (about
// 100 bytes) into an overlay, where reads find it first. Once every snapshot is
// released (Snapshot.Release), writes stop copying and the overlay folds back into
// the blocks a few thousand records per transaction. The next Snapshot folds back
// what is left first, or, while an older snapshot is alive, copies the overlay: in
// time proportional to the records in it. The children lists and the index are not
// part of snapshots; Restore rebuilds them, without looking anything up by path: a
// snapshot (format 3, see snapshot.go) names each node's parent by its place in the
// file and carries the tree's digest, and the index is built at the end in one pass
// over entries sorted by slot.
//
// # Sequence numbers and cversion
//
// Each node stores C, the number of child creates ever (ZooKeeper's persisted
// cversion). A sequential child gets the suffix fmt("%010d", C) before the
// increment; clients see cversion = 2*C - numChildren (DataNode.copyStat since
// ZOOKEEPER-1046), so the built-in nodes show -1 (/) and -2 (/zookeeper) as on
// ZooKeeper.
package datatree
