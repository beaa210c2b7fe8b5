// Package zkdata reads and writes Apache ZooKeeper's own on-disk formats, for
// `zkraft import` and `zkraft export`: the snapshot files (snapshot.<zxid>, plain,
// .gz or .snappy) and transaction logs (log.<zxid>) of a version-2 data directory,
// and the currentEpoch/acceptedEpoch files. It imports zkproto, storage/datatree and
// the standard library (plus a snappy decoder).
//
// # Formats (ZooKeeper 3.4 to 3.9; jute binary encoding, big-endian)
//
// A snapshot is a FileHeader (magic "ZKSN", version 2, dbid -1), the session table
// (int count; long id, int timeout each), the DataTree: the ACL cache (int count;
// long id and vector<ACL> each; a node's ACL is an id, -1 for the open ACL), then the
// nodes depth first, each a path (the root is "") and a DataNode (buffer data, long
// acl, StatPersisted), ended by the path "/"; then a seal (long Adler-32 of every
// byte before it, string "/"). 3.6+ append a digest section (long zxid, int
// digestVersion, long digest) and a seal; 3.9 may append the last processed zxid and
// a seal. The Adler-32 runs over the uncompressed bytes. The file's name carries
// the zxid the snapshot started at: snapshots are fuzzy (taken while transactions
// apply), so the transactions after that zxid are replayed on top of it.
//
// A log is a FileHeader (magic "ZKLG") then, per transaction, a long Adler-32 of
// the entry, the entry as a buffer (int length, bytes: TxnHeader, the txn record,
// and in 3.6+ a TxnDigest of the tree after it), and the byte 'B'. Logs are
// preallocated with zeros: a zero length ends the file.
//
// Replay follows DataTree.processTxn, including its rules for fuzzy snapshots
// (a create's parentCVersion and a delete's pzxid only move forward; a create of
// an existing node still sets its parent's cversion).
package zkdata
