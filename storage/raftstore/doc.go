package raftstore

// What is on disk and how it is checked (the design note for this package).
//
// The log and the stable store are hashicorp/raft-wal (v0.4.1: v0.4.0 left a
// tail-truncated segment without its index, so that the member could not restart,
// raft-wal issue #31; and could not retry a failed append) in wal/ under the log
// directory (the data directory unless dataLogDir is set):
//
//   - segment files, <first index>-<id>.wal, 8 MiB each, preallocated: a batch of
//     entries is appended as frames (an 8-byte header and the entry) followed by a
//     commit frame that holds the CRC-32C of the batch, and fdatasynced once
//     (wal.go's file layer; raft-wal's own would fsync). A full segment is sealed by
//     an index of its entries' offsets written in its last batch, and a new one is
//     started; a compaction after a snapshot deletes whole segments.
//   - wal-meta.db, a small bbolt file: the list of segments (which raft-wal changes
//     when it starts, seals, truncates or deletes one) and the stable store (current
//     term, vote). One file, so one lock and one atomic commit; term and vote change
//     rarely, a bbolt commit for each is no cost worth a file of its own.
//
// What checks what. raft-wal reads entries without checking anything: its commit
// CRCs are read only at open, and only the last batch's, to find where a crash tore
// the tail. So every log entry keeps the checksum it had in raft.db: a CRC-32C of
// its fields in Extensions (logstore.go), checked on every read and, for the whole
// log, at open; an entry must also be the one asked for (its index). A damaged
// frame header, index or file header makes raft-wal's read or open fail with its
// ErrCorrupt, or hands back another entry or garbage, which the checksum or the
// index check refuses. At open the log is read a segment file at a time (walscan.go:
// raft-wal reads an entry with two preads), walking the frames: a sealed segment's
// index block must hold the offsets of its frames, and the segments must chain from
// the first entry to the last, as GetLog would find them. Stable values carry their
// CRC-32C as in raft.db, and so does the segment list in wal-meta.db; bbolt
// checksums only its meta pages. Snapshots are hashicorp/raft's files; their state
// has a CRC-64 in meta.json, and meta.json is covered by a header at the start of
// the state (snapshots.go); Open checks every meta.json and the newest state (the
// one raft restores: with Options.Preload, by restoring it beside the log check, the
// header's and the tree's CRC-32Cs covering it), an older state when raft opens it. A damaged file makes Open fail with a CorruptError
// naming it (the segment file of a damaged entry): the member must not start, never
// serve what it cannot vouch for. Damage found by a read once raft runs (a leader
// reading entries to send them) stops the member the same way as a failed write
// (below), where raft would retry the read for ever or panic.
//
// A crash tears at most the batch being appended: raft-wal keeps the batches up to
// the last commit frame whose CRC matches, and drops the rest. Damage to an earlier
// batch of the tail segment looks the same to raft-wal (it stops at the first bad
// frame), and it would drop committed entries silently; so Open also looks past
// where raft-wal stopped, and a complete batch there (a commit frame matching the
// bytes since the previous one) means damage, not a crash: CorruptError (checkTail;
// a batch may start after any word shaped like a commit frame or like a frame whose
// length runs past the file — a commit frame whose type byte was hit — and each
// commit frame is tried from the last 256 such starts).
// Otherwise what follows the kept batches is zeroed on disk and the tail recovered
// again: raft-wal v0.4.1 takes an index frame in a torn batch for a seal, and a
// crash in the append that seals a segment left a member that could not restart
// (the power-loss test found it; TestTornSeal).
// Not covered: damage to the tail's last batch, which is indistinguishable from a
// torn write and dropped as one, as ZooKeeper truncates a torn log tail.
//
// wal-meta.db: damage to bbolt's newest meta page makes bbolt fall back to the
// previous commit without a word; if that commit's segment list lacks a segment
// file on disk, raft-wal would delete the file with its entries. raft-wal records
// the next segment id before it creates a file, so a file with that id or a later
// one can only come from a lost commit: Open refuses it (checkNewer). Directory
// entries are synced: wal/'s in its parent when Open makes it, a new segment's with
// its first fdatasync, and once after each open of a segment for appending (it may
// have been created just before a clean restart).
//
// raft-wal seals a full segment in the append that fills it and records the next
// segment afterwards, on its own goroutine; after a crash in between it would refuse
// every append. Open records that next segment, as the rotation would have
// (finishRotation).
//
// A log of older versions, raft.db (raft-boltdb), is moved into wal/ once at Open
// (migrate.go): checked as before (its entries from before checksums unchecked),
// copied into wal.migrating/, renamed to wal/, and raft.db renamed raft.db.migrated,
// each step synced, so that a crash at any point leaves a directory that the next
// start migrates (again) or just finishes. A marker file takes raft.db's name: an
// older binary started on the directory by mistake (a downgrade) refuses it as a
// corrupt raft.db instead of creating an empty one and joining with no log, term or
// vote.
//
// A write that fails stops every later write (faults.go): after a failed fsync the
// kernel may have dropped dirty pages, so a retry could report success for data
// that is gone. hashicorp/raft retries a failed StoreLogs by itself (a leader steps
// down and may be elected again; a follower rejects AppendEntries and the leader
// sends them again), so the stores, not raft, must refuse. Every file operation of
// the log goes through the latch (wal.go: segment writes, fdatasyncs, creations,
// deletions, wal-meta.db commits), so the error names the file. The exception is a
// lack of space (ENOSPC/EDQUOT) from a write: raft-wal v0.4.1 rolls its tail back to
// the last commit when an append fails, nothing of the batch was synced or
// acknowledged, and the disk-full behaviour (writes fail until there is room, then
// go on) depends on retrying it. A segment that cannot be preallocated for lack of
// space is created without it and grows as it is written, so a full disk surfaces
// as such a write. Not retried: a lack of space when raft-wal records a new segment
// in wal-meta.db (from its own goroutine, it then refuses appends): the member stops,
// and the record is made at the next start. Nor any failure to create a segment
// file: raft-wal has then recorded the segment already and would go on appending to
// the old tail, which its record no longer holds. A failed write of the current term is
// the other exception, the other way: raft panics on it (setCurrentTerm), so once
// raft runs (Stores.RaftStarting) the store latches it whatever the error and ends
// the calling goroutine, raft's main loop, and the server stops through Failed.
//
// Not covered: the Peers field of meta.json, which raft reads only for version-0
// snapshots, is ignored.
