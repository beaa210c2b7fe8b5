package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
)

// Checksummed formats, inside what the log store keeps (raft-wal; raft-boltdb for the
// log of older versions, read once to move it into raft-wal: migrate.go).
//
// A log entry carries its checksum in Extensions: "zkc1", then the CRC-32C
// (Castagnoli, big-endian) of the entry's index, term, type, append time, data and
// the caller's own extensions, then those extensions. A stable-store value is "zks1",
// the CRC-32C of its key and value, then the value. In raft.db, the format record
// (key formatKey) says which log entries predate checksums: those at or below
// legacyLast, written by a version without them, are read unchecked; every later
// entry must carry a checksum. Entries moved into raft-wal are all checksummed.
const (
	logMagic    = "zkc1"
	stableMagic = "zks1"
	sealLen     = 8 // magic + CRC
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	formatKey  = []byte("zkraft.format")
	// The stable-store keys hashicorp/raft uses (unexported there).
	raftKeys = [][]byte{[]byte("CurrentTerm"), []byte("LastVoteTerm"), []byte("LastVoteCand")}
)

// logStore is what checkedStore wraps: raft-wal, or raft-boltdb while migrating.
type logStore interface {
	raft.LogStore
	raft.StableStore
}

// checkedStore is a raft.LogStore and raft.StableStore that checksums what it stores,
// verifies it on every read, and stops writing after the first write that failed
// (see latch).
type checkedStore struct {
	inner      logStore
	path       string                  // the store's file or directory
	fileOf     func(idx uint64) string // the file that holds entry idx; nil: path
	stablePath string                  // the file of the stable store; "": path
	latch      *latch
	legacyLast uint64 // entries up to this index may have no checksum
	// raftRunning is set once raft's goroutines use the store (see Set);
	// raftStarted once raft.NewRaft has returned (see GetLog).
	raftRunning, raftStarted atomic.Bool
	// cache holds the entries verify read past the snapshot for raft's next reads
	// (readcache.go).
	cache readCache
}

func (s *checkedStore) corrupt(format string, args ...any) error {
	return &CorruptError{Path: s.path, What: fmt.Sprintf(format, args...)}
}

func (s *checkedStore) corruptStable(format string, args ...any) error {
	if s.stablePath == "" {
		return s.corrupt(format, args...)
	}
	return &CorruptError{Path: s.stablePath, What: fmt.Sprintf(format, args...)}
}

// corruptEntry reports damage to entry idx, naming its file.
func (s *checkedStore) corruptEntry(idx uint64, format string, args ...any) error {
	path := s.path
	if s.fileOf != nil {
		path = s.fileOf(idx)
	}
	return &CorruptError{Path: path, What: fmt.Sprintf(format, args...)}
}

func logCRC(l *raft.Log, ext []byte) uint32 {
	// One buffer for the header and then the time: what crc32 reads escapes to the
	// heap, so each would be an allocation of its own.
	buf := make([]byte, 8+8+1+4, 32)
	binary.BigEndian.PutUint64(buf[0:], l.Index)
	binary.BigEndian.PutUint64(buf[8:], l.Term)
	buf[16] = byte(l.Type)
	binary.BigEndian.PutUint32(buf[17:], uint32(len(l.Data)))
	c := crc32.Update(0, castagnoli, buf)
	c = crc32.Update(c, castagnoli, l.Data)
	// The append time as its binary form (seconds, nanoseconds, zone offset), which
	// survives raft-boltdb's msgpack round trip.
	at, err := l.AppendedAt.AppendBinary(buf[:0])
	if err != nil { // a zone offset that is not whole minutes: the instant alone
		at = binary.BigEndian.AppendUint64(buf[:0], uint64(l.AppendedAt.UnixNano()))
	}
	c = crc32.Update(c, castagnoli, at)
	return crc32.Update(c, castagnoli, ext)
}

// seal returns a copy of l whose Extensions carry its checksum. raft keeps using
// the original (it replicates it), so l itself is not changed.
func seal(l *raft.Log) *raft.Log {
	c := *l
	ext := make([]byte, sealLen, sealLen+len(l.Extensions))
	copy(ext, logMagic)
	binary.BigEndian.PutUint32(ext[4:], logCRC(l, l.Extensions))
	c.Extensions = append(ext, l.Extensions...)
	return &c
}

// unseal checks the entry read for index idx and removes its checksum.
func (s *checkedStore) unseal(idx uint64, l *raft.Log) error {
	ext := l.Extensions
	if len(ext) < sealLen || string(ext[:4]) != logMagic {
		if idx <= s.legacyLast && l.Index == idx {
			return nil // written before checksums
		}
		return s.corruptEntry(idx, "log entry %d has no checksum", idx)
	}
	want := binary.BigEndian.Uint32(ext[4:])
	if len(ext) == sealLen {
		l.Extensions = nil
	} else {
		l.Extensions = ext[sealLen:]
	}
	if got := logCRC(l, l.Extensions); got != want {
		return s.corruptEntry(idx, "log entry %d: checksum mismatch (stored %08x, computed %08x)", idx, want, got)
	}
	if l.Index != idx {
		return s.corruptEntry(idx, "log entry stored under index %d says it is entry %d", idx, l.Index)
	}
	return nil
}

// FirstIndex implements raft.LogStore.
func (s *checkedStore) FirstIndex() (uint64, error) { return s.inner.FirstIndex() }

// LastIndex implements raft.LogStore.
func (s *checkedStore) LastIndex() (uint64, error) { return s.inner.LastIndex() }

// GetLog implements raft.LogStore.
func (s *checkedStore) GetLog(idx uint64, l *raft.Log) error {
	// msgpack leaves a field that is missing from the bytes as it was: start from
	// zero, or a damaged field name would pass as the previous entry's value.
	*l = raft.Log{}
	if s.cache.get(idx, l) {
		return nil
	}
	err := s.checkRead(idx, l, s.innerGetLog(idx, l))
	var ce *CorruptError
	if errors.As(err, &ce) && s.raftStarted.Load() {
		// Damage found while running: raft would panic (applying entries) or retry
		// the read for ever (replicating them). Stop the member instead, through
		// Failed, and end raft's goroutine that read it.
		s.latch.force(WriteOp{Kind: "read", Path: s.path}, "read log entry", err)
		runtime.Goexit()
	}
	return err
}

// checkRead checks entry idx as read into l, err being the read's error: the
// entry, or damage as a CorruptError naming its file, or the read's own error.
func (s *checkedStore) checkRead(idx uint64, l *raft.Log, err error) error {
	switch {
	case err == nil:
		return s.unseal(idx, l)
	case errors.Is(err, raft.ErrLogNotFound) || !isDecodeError(err):
		return err
	}
	return s.corruptEntry(idx, "log entry %d cannot be read: %v", idx, err)
}

// isDecodeError tells complaints about the bytes read (raft-wal's damaged frames,
// its codec's or msgpack's decode errors) from a closed store or a failed read.
func isDecodeError(err error) bool {
	var pe *os.PathError
	var errno syscall.Errno
	return !errors.Is(err, bbolt.ErrDatabaseNotOpen) && !errors.Is(err, bbolt.ErrTxClosed) &&
		!errors.Is(err, wal.ErrClosed) && !errors.As(err, &pe) && !errors.As(err, &errno)
}

// IsMonotonic implements raft.MonotonicLogStore: raft-wal keeps no holes, so raft
// must remove the whole log when it installs a snapshot instead of keeping some.
func (s *checkedStore) IsMonotonic() bool {
	m, ok := s.inner.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// StoreLog implements raft.LogStore.
func (s *checkedStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore.
func (s *checkedStore) StoreLogs(logs []*raft.Log) error {
	sealed := make([]*raft.Log, len(logs))
	for i, l := range logs {
		sealed[i] = seal(l)
	}
	if len(logs) > 0 {
		s.cache.forget(logs[0].Index, ^uint64(0)) // what follows a replaced entry goes too
	}
	return s.latch.do(WriteOp{Kind: "store logs", Path: s.path}, "store log entries", func() error {
		err := s.inner.StoreLogs(sealed)
		if errors.Is(err, wal.ErrSealed) {
			// raft-wal failed to start the next segment, on its own goroutine,
			// and refuses appends until it is reopened (the next start does).
			s.latch.mu.Lock()
			cause := s.latch.lastFile
			s.latch.mu.Unlock()
			if cause == nil {
				cause = errors.New("raft-wal did not say why (see its log lines)")
			}
			err = fmt.Errorf("%w: starting the next segment failed: %v", err, cause)
		}
		return err
	})
}

// DeleteRange implements raft.LogStore. raft-wal deletes a prefix (a compaction)
// by recording its new first index and removing whole segments, a suffix by sealing
// the tail and starting a new segment: one metadata commit either way.
func (s *checkedStore) DeleteRange(lo, hi uint64) error {
	s.cache.forget(lo, hi)
	return s.latch.do(WriteOp{Kind: "delete logs", Path: s.path}, "delete log entries", func() error {
		return s.inner.DeleteRange(lo, hi)
	})
}

func sealValue(k, v []byte) []byte {
	out := make([]byte, sealLen, sealLen+len(v))
	copy(out, stableMagic)
	c := crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, v)
	binary.BigEndian.PutUint32(out[4:], c)
	return append(out, v...)
}

// unsealValue returns the value of a sealed stable-store entry; ok is false when
// raw is not sealed or fails its checksum.
func unsealValue(k, raw []byte) (v []byte, ok bool) {
	if len(raw) < sealLen || string(raw[:4]) != stableMagic {
		return nil, false
	}
	v = raw[sealLen:]
	c := crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, v)
	return v, c == binary.BigEndian.Uint32(raw[4:])
}

// Set implements raft.StableStore.
func (s *checkedStore) Set(k, v []byte) error {
	op := WriteOp{Kind: "set", Path: s.path}
	err := s.latch.do(op, "set "+string(k), func() error {
		return s.inner.Set(k, sealValue(k, v))
	})
	if err != nil && s.raftRunning.Load() && string(k) == string(raftKeys[0]) {
		// hashicorp/raft panics when it cannot persist a new term (setCurrentTerm),
		// which would take the whole process down, and it must not go on in a term
		// it did not persist. Stop writing and end raft's goroutine instead: the
		// server stops through Failed, and raft's shutdown does not wait for a
		// goroutine that is gone. This holds for a lack of space too.
		s.latch.force(op, "set "+string(k), err)
		runtime.Goexit()
	}
	return err
}

// errNotFound is a missing stable-store key: raft-boltdb's error, the text raft
// looks for (raft-wal returns no value and no error).
var errNotFound = errors.New("not found")

// Get implements raft.StableStore.
func (s *checkedStore) Get(k []byte) ([]byte, error) {
	raw, err := s.inner.Get(k)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errNotFound
	}
	v, ok := unsealValue(k, raw)
	if !ok {
		return nil, s.corruptStable("stable store value %q fails its checksum", k)
	}
	return v, nil
}

// SetUint64 implements raft.StableStore.
func (s *checkedStore) SetUint64(k []byte, v uint64) error {
	return s.Set(k, binary.BigEndian.AppendUint64(nil, v))
}

// GetUint64 implements raft.StableStore.
func (s *checkedStore) GetUint64(k []byte) (uint64, error) {
	v, err := s.Get(k)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, s.corruptStable("stable store value %q has %d bytes, not 8", k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func isNotFound(err error) bool {
	return err != nil && err.Error() == errNotFound.Error()
}

// format record: version 1, then legacyLast.
const formatVersion = 1

// load reads the format record, or writes one: for a new store, and for a store
// written by the version before checksums, whose stable values it seals in place
// and whose log entries it records as unchecked up to the last one.
func (s *checkedStore) load() error {
	raw, err := s.inner.Get(formatKey)
	if err == nil {
		v, ok := unsealValue(formatKey, raw)
		if !ok || len(v) != 9 || v[0] != formatVersion {
			return s.corrupt("the format record (key %q) fails its checksum or is not version %d", formatKey, formatVersion)
		}
		s.legacyLast = binary.BigEndian.Uint64(v[1:])
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("read the format record of %s: %w", s.path, err)
	}
	last, err := s.inner.LastIndex()
	if err != nil {
		return fmt.Errorf("read the last index of %s: %w", s.path, err)
	}
	// Seal the old values first: sealing is idempotent, so a crash before the
	// format record is written only means doing it again.
	for _, k := range raftKeys {
		raw, err := s.inner.Get(k)
		if isNotFound(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("read %s of %s: %w", k, s.path, err)
		}
		if _, ok := unsealValue(k, raw); ok {
			continue
		}
		if err := s.inner.Set(k, sealValue(k, raw)); err != nil {
			return fmt.Errorf("add a checksum to %s in %s: %w", k, s.path, err)
		}
	}
	rec := binary.BigEndian.AppendUint64([]byte{formatVersion}, last)
	if err := s.inner.Set(formatKey, sealValue(formatKey, rec)); err != nil {
		return fmt.Errorf("write the format record of %s: %w", s.path, err)
	}
	s.legacyLast = last
	return nil
}

// verify reads every log entry and stable value and checks it. Entries up to
// snapIndex (the newest snapshot's) may be missing: after a follower installs a
// snapshot, hashicorp/raft keeps TrailingLogs of its old entries and appends the new
// ones after the snapshot, leaving a hole that nothing reads (a leader sends a
// snapshot instead of entries it does not have). The entries after snapIndex go into
// the start-up read cache (readcache.go), as many as it takes. raft-wal's segments
// are read a file at a time (walStore.scan: one GetLog costs two preads); other
// stores (raft.db, while migrating) an entry at a time.
func (s *checkedStore) verify(snapIndex uint64) error {
	first, err := s.inner.FirstIndex()
	if err != nil {
		return fmt.Errorf("read the first index of %s: %w", s.path, err)
	}
	last, err := s.inner.LastIndex()
	if err != nil {
		return fmt.Errorf("read the last index of %s: %w", s.path, err)
	}
	v := &verifier{s: s, snapIndex: snapIndex, first: first, last: last, caching: true}
	if w, ok := s.inner.(*walStore); ok && last > 0 {
		err = w.scan(first, last, v.decoded, v.missing)
	} else if last > 0 {
		var l raft.Log
		for i := first; i <= last && err == nil; i++ {
			if err = s.GetLog(i, &l); errors.Is(err, raft.ErrLogNotFound) {
				err = v.missing(i, i)
			} else {
				err = v.entry(i, &l, err)
			}
		}
	}
	if err != nil {
		return err
	}
	lastTerm := v.lastTerm
	for _, k := range raftKeys {
		if _, err := s.Get(k); err != nil && !isNotFound(err) {
			return err
		}
	}
	term, err := s.GetUint64(raftKeys[0])
	switch {
	case isNotFound(err):
		if last > 0 {
			return s.corrupt("the log holds entries but the stable store has no current term")
		}
	case err != nil:
		return err
	case term < lastTerm:
		return s.corrupt("the current term %d is below the term %d of the last log entry", term, lastTerm)
	}
	return nil
}

// verifier holds verify's state across the entries, read either way.
type verifier struct {
	s                      *checkedStore
	snapIndex, first, last uint64
	lastTerm               uint64
	caching                bool
}

// missing checks that entries from to to may be missing: up to the snapshot only.
func (v *verifier) missing(from, to uint64) error {
	if to <= v.snapIndex {
		return nil
	}
	return v.s.corrupt("log entry %d is missing (the log holds %d to %d)", max(from, v.snapIndex+1), v.first, v.last)
}

// decoded checks entry idx decoded from its frame's payload (err: the decoder's).
func (v *verifier) decoded(idx uint64, l *raft.Log, err error) error {
	return v.entry(idx, l, v.s.checkRead(idx, l, err))
}

// entry checks entry idx, read into l with err from checkRead, against the entries
// before it, and caches it if it is past the snapshot.
func (v *verifier) entry(idx uint64, l *raft.Log, err error) error {
	if err != nil {
		return err
	}
	if l.Term < v.lastTerm {
		return v.s.corrupt("log entry %d has term %d, below the term %d of the entry before it", idx, l.Term, v.lastTerm)
	}
	v.lastTerm = l.Term
	if idx > v.snapIndex && v.caching {
		v.caching = v.s.cache.add(l)
	}
	return nil
}

// innerGetLog reads entry idx from the inner store; a panic of its decoder on a
// damaged entry becomes a decode error (noPanic), so that damage found while running
// stops the member naming the file rather than crashing it.
func (s *checkedStore) innerGetLog(idx uint64, l *raft.Log) error {
	return noPanic(func() error { return s.inner.GetLog(idx, l) })
}
