package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"go.etcd.io/bbolt"
)

// The Raft log on raft-wal: wal/ holds segment files (<base index>-<id>.wal, each
// preallocated to segmentSize, appended to and fdatasynced once per batch) and
// wal-meta.db, a small bbolt file with the list of segments and the stable store
// (term and vote). See doc.go for what checks what.
const (
	walDirName  = "wal"
	metaName    = "wal-meta.db"
	segmentSize = 8 << 20
)

// walStore is raft-wal opened on our file layer: every file operation goes through
// the latch (and a test's write hook), and damage is reported as a CorruptError
// naming the file.
type walStore struct {
	*wal.WAL
	dir   string
	filer *segFiler
}

// openWAL opens (creating if needed) the log in dir. A tail segment that a crash left
// sealed before its successor was recorded gets that successor now (see
// finishRotation).
func openWAL(dir string, l *latch, size int, logOut io.Writer) (*walStore, error) {
	if size <= 0 {
		size = segmentSize
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log directory %q: %w", dir, err)
	}
	// wal/'s own entry in its parent, so that a power cut cannot take the new log,
	// term and vote with it.
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("create log directory %q: %w", dir, err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "wal", Output: logOut, Level: hclog.Warn})
	for attempt := 0; ; attempt++ {
		vfs := &fileVFS{latch: l}
		f := &segFiler{Filer: segment.NewFiler(dir, vfs), vfs: vfs, dir: dir}
		meta := &metaStore{path: filepath.Join(dir, metaName), latch: l}
		var w *wal.WAL
		err := check(meta.path, func() error {
			var err error
			w, err = wal.Open(dir, wal.WithSegmentFiler(f), wal.WithMetaStore(meta),
				wal.WithLogger(logger), wal.WithSegmentSize(size))
			return err
		})
		if err != nil {
			meta.Close()
			return nil, walError(dir, err)
		}
		if f.sealedTail == nil {
			return &walStore{WAL: w, dir: dir, filer: f}, nil
		}
		w.Close()
		if attempt > 0 {
			return nil, &CorruptError{Path: f.path(f.sealedTail.info), What: "its segment stays sealed after its successor was recorded"}
		}
		if err := finishRotation(meta.path, l, *f.sealedTail, uint32(size)); err != nil {
			return nil, err
		}
	}
}

// walError turns raft-wal's own corruption error (which names no file) into a
// CorruptError naming the log directory.
func walError(dir string, err error) error {
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, wal.ErrCorrupt):
		return &CorruptError{Path: dir, What: err.Error()}
	}
	return fmt.Errorf("open raft log %q: %w", dir, err)
}

// finishRotation records the successor of a tail segment that is sealed on disk but
// not in the metadata: raft-wal seals the full tail in the batch that fills it and
// records the rotation afterwards, from another goroutine; a crash in between left a
// tail raft-wal would refuse every append to (ErrSealed) without ever rotating it.
// This commits what the rotation would have.
func finishRotation(metaPath string, l *latch, tail sealedTail, size uint32) error {
	m := &metaStore{path: metaPath, latch: l}
	defer m.Close() // also when Load opened the file and then found it damaged
	st, err := m.Load(filepath.Dir(metaPath))
	if err != nil {
		return walError(filepath.Dir(metaPath), err)
	}
	last := len(st.Segments) - 1
	if last < 0 || st.Segments[last].ID != tail.info.ID {
		return &CorruptError{Path: metaPath, What: "the sealed tail segment is not the last one recorded"}
	}
	now := time.Now()
	seg := &st.Segments[last]
	seg.SealTime, seg.MaxIndex, seg.IndexStart = now, tail.lastIndex, tail.indexStart
	st.Segments = append(st.Segments, types.SegmentInfo{
		ID: st.NextSegmentID, BaseIndex: tail.lastIndex + 1, MinIndex: tail.lastIndex + 1,
		SizeLimit: size, Codec: wal.CodecBinaryV1, CreateTime: now,
	})
	st.NextSegmentID++
	return m.CommitState(st)
}

type sealedTail struct {
	info                  types.SegmentInfo
	indexStart, lastIndex uint64
}

// segFiler is raft-wal's segment filer, with the files' names kept (to name the
// file of a damaged entry) and the tail checked for damage at open.
type segFiler struct {
	*segment.Filer
	vfs        *fileVFS
	dir        string
	mu         sync.Mutex
	segs       []types.SegmentInfo // the segments opened, by BaseIndex
	sealedTail *sealedTail
}

func (f *segFiler) path(info types.SegmentInfo) string {
	return filepath.Join(f.dir, segment.FileName(info))
}

func (f *segFiler) add(info types.SegmentInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.segs = slices.DeleteFunc(f.segs, func(s types.SegmentInfo) bool { return s.BaseIndex >= info.BaseIndex })
	f.segs = append(f.segs, info)
}

// fileOf names the segment file that holds entry idx (the log directory if none).
func (f *segFiler) fileOf(idx uint64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.segs) - 1; i >= 0; i-- {
		if f.segs[i].BaseIndex <= idx {
			return f.path(f.segs[i])
		}
	}
	return f.dir
}

func (f *segFiler) corrupt(info types.SegmentInfo, err error) error {
	if err != nil && errors.Is(err, wal.ErrCorrupt) {
		return &CorruptError{Path: f.path(info), What: err.Error()}
	}
	return err
}

// Create implements types.SegmentFiler.
func (f *segFiler) Create(info types.SegmentInfo) (types.SegmentWriter, error) {
	w, err := f.Filer.Create(info)
	if err == nil {
		f.add(info)
	}
	return w, err
}

// Open implements types.SegmentFiler.
func (f *segFiler) Open(info types.SegmentInfo) (types.SegmentReader, error) {
	r, err := f.Filer.Open(info)
	if err != nil {
		return nil, f.corrupt(info, err)
	}
	f.add(info)
	return r, nil
}

// RecoverTail implements types.SegmentFiler: raft-wal's recovery, which keeps the
// batches up to the last one whose commit frame's CRC matches and ignores what
// follows as torn by a crash; then a check that nothing committed follows what it
// kept, and the torn rest zeroed on disk. raft-wal v0.4.1 leaves that rest in place
// and remembers an index frame it saw there as if the segment were sealed: a crash
// in the append that seals a segment left a tail raft-wal would never append to, or
// (recorded as sealed) an index of garbage offsets. Zeroed, the next recovery stops
// where the last one kept.
func (f *segFiler) RecoverTail(info types.SegmentInfo) (types.SegmentWriter, error) {
	w, err := f.Filer.RecoverTail(info)
	if err != nil {
		return nil, f.corrupt(info, err)
	}
	path := f.path(info)
	b, err := os.ReadFile(path)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("read log segment %s: %w", path, err)
	}
	end := tailEnd(b)
	if err := checkTail(path, b, end, w.LastIndex()); err != nil {
		w.Close()
		return nil, err
	}
	if rest := bytes.TrimRight(b[end:], "\x00"); len(rest) > 0 {
		last := w.LastIndex()
		w.Close()
		if err := f.zero(path, int64(end), len(rest)); err != nil {
			return nil, err
		}
		if w, err = f.Filer.RecoverTail(info); err != nil {
			return nil, f.corrupt(info, err)
		}
		if w.LastIndex() != last {
			w.Close()
			return nil, &CorruptError{Path: path, What: fmt.Sprintf("its last entry was %d, then %d once the torn end was removed", last, w.LastIndex())}
		}
	}
	if sealed, indexStart, _ := w.Sealed(); sealed {
		f.sealedTail = &sealedTail{info: info, indexStart: indexStart, lastIndex: w.LastIndex()}
	}
	f.add(info)
	return w, nil
}

// zero overwrites n bytes at off with zeros, synced.
func (f *segFiler) zero(path string, off int64, n int) error {
	wf, err := f.vfs.OpenWriter(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return err
	}
	defer wf.Close()
	if _, err := wf.WriteAt(make([]byte, n), off); err != nil {
		return err
	}
	return wf.Sync()
}

// The segment format of raft-wal v0.4 (segment/format.go): a 32-byte file header,
// then frames of an 8-byte header (type, 3 zero bytes, little-endian length or, for
// a commit frame, the CRC-32C of everything since the previous commit frame or the
// file's start) and the payload padded to 8 bytes.
const (
	fileHeaderLen  = 32
	frameHeaderLen = 8
	frameEntry     = 1
	frameIndex     = 2
	frameCommit    = 3
)

// tailEnd is where raft-wal's recovery (segment/writer.go, recoverTail) ends the
// tail segment b: after the last commit frame if no entry frame follows it and its
// batch's CRC matches, else after the commit frame before it (0 if none: raft-wal
// then starts the file again).
func tailEnd(b []byte) int {
	type commit struct{ off, crcStart, entries int }
	var prev, final *commit
	entries := 0
	for off := fileHeaderLen; off+frameHeaderLen <= len(b); {
		typ, n := b[off], int(binary.LittleEndian.Uint32(b[off+4:]))
		if typ < frameEntry || typ > frameCommit {
			break // zeros, or a torn or damaged header: where raft-wal stops too
		}
		switch typ {
		case frameEntry:
			entries++
		case frameCommit:
			prev, final = final, &commit{off: off, entries: entries}
			if prev != nil {
				final.crcStart = prev.off + frameHeaderLen
			}
			n = 0
		}
		off += frameHeaderLen + (n+frameHeaderLen-1)/frameHeaderLen*frameHeaderLen
	}
	switch {
	case final == nil:
		return 0
	case final.entries < entries,
		crc32.Checksum(b[final.crcStart:final.off], castagnoli) == binary.LittleEndian.Uint32(b[final.off+4:]):
		return final.off + frameHeaderLen
	case prev == nil:
		return 0
	}
	return prev.off + frameHeaderLen
}

// checkTail fails if the tail segment b holds a complete batch (a commit frame
// whose CRC matches the bytes since the commit frame before it) past end, where
// raft-wal's recovery ended it. A crash tears at most the batch being written,
// whose commit frame then does not match; a complete batch past the end means that
// damage cut off data that had been committed, which raft-wal would drop silently.
// A batch may start after any word shaped like a commit frame (one in a batch's
// data, too), or like another frame with a length past the file's end (a commit
// frame whose type byte was damaged: its CRC read as a length); each commit frame is
// tried from the last maxTailStarts such starts (a batch whose data holds more words
// shaped like commit frames than that goes unrecognized after damage to the frame
// before it). The tries cost nothing in the usual tail, zeros past a torn batch.
func checkTail(path string, b []byte, end int, lastIndex uint64) error {
	const maxTailStarts = 256
	starts := []int{end}
	for off := max(end, fileHeaderLen); off+frameHeaderLen <= len(b); off += frameHeaderLen {
		w := b[off : off+frameHeaderLen]
		if w[0] < frameEntry || w[0] > frameCommit || w[1] != 0 || w[2] != 0 || w[3] != 0 {
			continue
		}
		n := int(binary.LittleEndian.Uint32(w[4:]))
		switch {
		case w[0] == frameCommit:
			for _, from := range starts {
				if off > from && crc32.Checksum(b[from:off], castagnoli) == uint32(n) && !allZero(b[from:off]) {
					return &CorruptError{Path: path, What: fmt.Sprintf(
						"a committed batch at offset %d follows damage at offset %d or after (the log would end at entry %d)", from, end, lastIndex)}
				}
			}
		case n <= len(b)-off:
			continue // an entry or index frame: not where a batch starts
		}
		if starts = append(starts, off+frameHeaderLen); len(starts) > maxTailStarts {
			starts = starts[1:]
		}
	}
	return nil
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

// fileVFS is raft-wal's file system: plain files, preallocated when the space is
// there, synced with fdatasync, every write and sync through the latch.
type fileVFS struct{ latch *latch }

// ListDir implements types.VFS.
func (v *fileVFS) ListDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Create implements types.VFS. The file is preallocated, so that appends do not
// change its size (fdatasync then writes no metadata); without the space, it grows
// as it is written, and a write that finds no room fails and may be retried.
func (v *fileVFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	path := filepath.Join(dir, name)
	var f *os.File
	op := WriteOp{Kind: "segment create", Path: path}
	err := v.latch.file(op, func() error {
		var err error
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600); err != nil {
			return err
		}
		if size == 0 {
			return nil
		}
		switch err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(size)); {
		case err == nil:
		case noSpace(err) || errors.Is(err, syscall.EOPNOTSUPP):
			// Without the space (or a file system that cannot preallocate) the
			// segment grows as it is written; a partial allocation reads as zeros.
			_ = f.Truncate(0)
		default:
			return &os.PathError{Op: "fallocate", Path: path, Err: err}
		}
		return nil
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		// Never retried, not even for lack of space: raft-wal committed the segment
		// list naming this file before creating it, and on failure goes on appending
		// to the old tail, which that list no longer holds (the next open would
		// delete it with what was acknowledged in it).
		return nil, v.latch.force(op, "create a log segment", err)
	}
	return &segFile{File: f, path: path, latch: v.latch, newFile: true}, nil
}

// Delete implements types.VFS.
func (v *fileVFS) Delete(dir, name string) error {
	path := filepath.Join(dir, name)
	return v.latch.file(WriteOp{Kind: "segment delete", Path: path}, func() error {
		if err := os.Remove(path); err != nil {
			return err
		}
		return syncDir(dir)
	})
}

// OpenReader implements types.VFS.
func (v *fileVFS) OpenReader(dir, name string) (types.ReadableFile, error) {
	return os.Open(filepath.Join(dir, name))
}

// OpenWriter implements types.VFS.
func (v *fileVFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	// A segment created just before a clean restart may not have its directory
	// entry synced yet: the first sync after opening it syncs the directory too.
	sf := &segFile{File: f, path: path, latch: v.latch, newFile: true}
	sf.ahead.Store(&readAhead{})
	return sf, nil
}

// segFile is a segment open for appending.
type segFile struct {
	*os.File
	path    string
	latch   *latch
	newFile bool // its directory entry is not synced yet

	// ahead serves the reads of a reopened tail until the first write: raft-wal
	// recovers the tail by reading every frame's 8-byte header with a pread of its
	// own (25,104 of them at a restart with 1M znodes).
	ahead atomic.Pointer[readAhead]
}

// readAheadSize is the window a reopened tail is read in.
const readAheadSize = 1 << 20

// readAhead is a window of a file: what it held at off when it was read.
type readAhead struct {
	mu  sync.Mutex
	off int64
	buf []byte
}

// ReadAt implements io.ReaderAt: from the read-ahead window until the file is
// first written, then from the file.
func (f *segFile) ReadAt(p []byte, off int64) (int, error) {
	w := f.ahead.Load()
	if w == nil || len(p) > readAheadSize {
		return f.File.ReadAt(p, off)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if off < w.off || off+int64(len(p)) > w.off+int64(len(w.buf)) {
		if cap(w.buf) < readAheadSize {
			w.buf = make([]byte, readAheadSize)
		}
		n, err := f.File.ReadAt(w.buf[:readAheadSize], off)
		if err != nil && !errors.Is(err, io.EOF) {
			w.buf = w.buf[:0]
			return 0, err
		}
		w.off, w.buf = off, w.buf[:n]
	}
	n := copy(p, w.buf[off-w.off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements types.WritableFile.
func (f *segFile) WriteAt(p []byte, off int64) (int, error) {
	f.ahead.Store(nil) // the window may hold what this overwrites; it is not needed past recovery
	var n int
	err := f.latch.file(WriteOp{Kind: "segment write", Path: f.path, Off: off, Data: p}, func() error {
		var err error
		n, err = f.File.WriteAt(p, off)
		return err
	})
	return n, err
}

// Sync implements types.WritableFile: fdatasync, and the directory once after the
// file was created, so that a crash cannot lose the file with what was synced in it.
func (f *segFile) Sync() error {
	return f.latch.file(WriteOp{Kind: "segment sync", Path: f.path}, func() error {
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return &os.PathError{Op: "sync", Path: f.path, Err: err}
		}
		if f.newFile {
			if err := syncDir(filepath.Dir(f.path)); err != nil {
				return err
			}
			f.newFile = false
		}
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	return nil
}

// metaStore is raft-wal's metadata store (types.MetaStore): a bbolt file with the
// segment list, sealed with a CRC-32C as the stable values are, and the stable
// store, whose values checkedStore seals. bbolt commits it atomically.
type metaStore struct {
	path  string
	latch *latch
	db    *bbolt.DB
}

var (
	metaBucket   = []byte("wal-meta")
	stableBucket = []byte("stable")
	metaKey      = []byte("m")
)

// Load implements types.MetaStore. A new file is made under a temporary name and
// renamed into place, so that a crash while bbolt initializes it leaves no file
// rather than a damaged one.
func (m *metaStore) Load(dir string) (types.PersistentState, error) {
	var st types.PersistentState
	if _, err := os.Stat(m.path); errors.Is(err, os.ErrNotExist) {
		if err := m.create(); err != nil {
			return st, fmt.Errorf("create %s: %w", m.path, err)
		}
	}
	db, err := bbolt.Open(m.path, 0o600, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return st, fmt.Errorf("open raft log %q: locked by another process (is another zkraft running on this data directory?)", m.path)
	case errors.Is(err, bbolt.ErrInvalid) || errors.Is(err, bbolt.ErrChecksum) || errors.Is(err, bbolt.ErrVersionMismatch):
		return st, &CorruptError{Path: m.path, What: err.Error()}
	case err != nil:
		return st, err
	}
	m.db = db
	var raw []byte
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(metaBucket)
		if b == nil || tx.Bucket(stableBucket) == nil {
			return &CorruptError{Path: m.path, What: "a bucket is missing"}
		}
		raw = bytes.Clone(b.Get(metaKey))
		return nil
	})
	if err != nil || raw == nil {
		return st, err
	}
	v, ok := unsealValue(metaKey, raw)
	if !ok {
		return st, &CorruptError{Path: m.path, What: "the segment list fails its checksum"}
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, &CorruptError{Path: m.path, What: fmt.Sprintf("the segment list does not parse: %v", err)}
	}
	return st, m.checkNewer(dir, st.NextSegmentID)
}

// checkNewer fails if dir holds a segment file whose id is next or later: raft-wal
// commits the list with the next id before it creates a file, so only a lost commit
// makes one — bbolt falling back to its previous meta page when the newest is
// damaged. raft-wal would delete the file as unknown, with the entries in it.
func (m *metaStore) checkNewer(dir string, next uint64) error {
	names, err := (&fileVFS{}).ListDir(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		base, ok := strings.CutSuffix(name, ".wal")
		_, idHex, ok2 := strings.Cut(base, "-")
		if !ok || !ok2 {
			continue
		}
		if id, err := strconv.ParseUint(idHex, 16, 64); err == nil && id >= next {
			return &CorruptError{Path: m.path, What: fmt.Sprintf(
				"its segment list (next segment id %d) is older than segment file %s: a commit of the list was lost", next, name)}
		}
	}
	return nil
}

func (m *metaStore) create() error {
	tmp := m.path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucket(metaBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucket(stableBucket)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(m.path))
}

func (m *metaStore) put(bucket, k, v []byte) error {
	return m.latch.file(WriteOp{Kind: "meta commit", Path: m.path}, func() error {
		return m.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put(k, v) })
	})
}

// CommitState implements types.MetaStore.
func (m *metaStore) CommitState(st types.PersistentState) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return m.put(metaBucket, metaKey, sealValue(metaKey, v))
}

// GetStable implements types.MetaStore: nil for a missing key.
func (m *metaStore) GetStable(k []byte) ([]byte, error) {
	var v []byte
	err := m.db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(stableBucket).Get(k))
		return nil
	})
	return v, err
}

// SetStable implements types.MetaStore.
func (m *metaStore) SetStable(k, v []byte) error { return m.put(stableBucket, k, v) }

// Close implements types.MetaStore.
func (m *metaStore) Close() error {
	if m.db == nil {
		return nil
	}
	err := m.db.Close()
	m.db = nil
	return err
}
