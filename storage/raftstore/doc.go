package raftstore

// What is on disk and how it is checked (the design note for this package).
//
// raft.db (bbolt, through raft-boltdb) holds the log and the stable store. bbolt
// checksums only its meta pages, so every log entry and stable value carries a
// CRC-32C (logstore.go), checked on every read and, for the whole log and every
// stable value, when the stores open. Snapshots are hashicorp/raft's files; their
// state has a CRC-64 in meta.json, and meta.json is covered by a header at the start
// of the state (snapshots.go). A damaged file makes Open fail with a CorruptError
// naming it: the member must not start, never serve what it cannot vouch for. Damage
// found by a read once raft runs (a leader reading entries to send them) stops the
// member the same way as a failed write (below), where raft would retry the read
// for ever or panic.
//
// Data written by the version before checksums still opens: Open records the last
// log index written without checksums (such entries are read unchecked until a
// compaction removes them), seals the old stable values in place, and reads
// snapshot states without the header as they are.
//
// A write that fails stops every later write (faults.go): after a failed fsync the
// kernel may have dropped dirty pages, so a retry could report success for data
// that is gone. hashicorp/raft retries a failed StoreLogs by itself (a leader steps
// down and may be elected again; a follower rejects AppendEntries and the leader
// sends them again), so the stores, not raft, must refuse. The exception is a lack of
// space (ENOSPC/EDQUOT from a page write or from growing the file): bbolt reports it
// before the meta page that would commit the transaction is written, the committed
// state is intact, and the disk-full behaviour (writes fail until there is room,
// then go on) depends on retrying it. A failed write of the current term is the
// other exception, the other way: raft panics on it (setCurrentTerm), so once raft
// runs (Stores.RaftStarting) the store latches it whatever the error and ends the
// calling goroutine, raft's main loop, and the server stops through Failed.
//
// Not covered: a damaged bbolt meta page of the newest transaction looks like a
// transaction torn by a crash, and bbolt falls back to the previous one, as
// ZooKeeper truncates a torn log tail; the Peers field of meta.json, which raft
// reads only for version-0 snapshots, is ignored.
