package raftstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Snapshot files are hashicorp/raft's: snapshots/<id>/meta.json and state.bin, the
// state covered by a CRC-64 kept in meta.json. meta.json itself has no checksum, and
// a meta.json that does not parse makes raft skip the snapshot silently, so the
// state starts with a header that repeats the metadata raft acts on:
//
//	magic  "ZKRSNAP1"
//	length uint32, big-endian
//	body   JSON: Version, ID, Index, Term, Configuration, ConfigurationIndex
//	crc    CRC-32C of magic, length and body, uint32
//
// then the FSM's own snapshot (storage/datatree, with its own CRC). Open checks the
// state's CRC-64, the header's CRC-32C, that the header agrees with meta.json and
// that meta.json's Size is the state's; it strips the header. A state without the
// header (the FSM's magic "ZKRTREE\x00" first) was written before the header
// existed and is read as it is. meta.json's Peers, which raft reads only for
// version-0 snapshots, is not used: Open and List return it empty.
const (
	snapHeaderMagic  = "ZKRSNAP1"
	legacyStateMagic = "ZKRTREE\x00"
	maxHeader        = 1 << 20
)

type snapHeader struct {
	Version            raft.SnapshotVersion
	ID                 string
	Index, Term        uint64
	Configuration      raft.Configuration
	ConfigurationIndex uint64
}

func (h *snapHeader) encode() []byte {
	body, err := json.Marshal(h)
	if err != nil {
		panic(fmt.Sprintf("raftstore: encode snapshot header: %v", err)) // plain data: cannot fail
	}
	out := make([]byte, 0, len(snapHeaderMagic)+4+len(body)+4)
	out = append(out, snapHeaderMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// snapshotStore wraps raft's file snapshot store with the header and the write latch.
type snapshotStore struct {
	inner *raft.FileSnapshotStore
	dir   string // the snapshots directory
	latch *latch

	// verified are the snapshots verify checked, by id, with their state.bin as it
	// was then. The next Open of one (raft restoring it at start) skips the CRC-64
	// that verify computed a moment before: a pass over a file of 200 MB at 1M
	// znodes. Its header and the tree keep their own CRC-32C, checked as read.
	// opened is the preloaded value of the snapshot Open returned last.
	mu       sync.Mutex
	verified map[string]verifiedSnap
	opened   any
}

type verifiedSnap struct {
	stamp     fileStamp
	preloaded any // what Options.Preload made of it, if it ran
}

// fileStamp is what tells that a file has not changed since it was checked.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{st.Size(), st.ModTime()}, nil
}

// takeVerified tells whether verify checked snapshot id as its state.bin is now,
// with what Preload made of it, and forgets it (the CRC-64 is skipped once).
func (s *snapshotStore) takeVerified(id string) (bool, any) {
	s.mu.Lock()
	v, ok := s.verified[id]
	delete(s.verified, id)
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if now, err := stampOf(filepath.Join(s.dir, id, "state.bin")); err != nil || now != v.stamp {
		return false, nil
	}
	return true, v.preloaded
}

// takeOpened returns, once, the preloaded value of the snapshot opened last.
func (s *snapshotStore) takeOpened() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.opened
	s.opened = nil
	return v
}

// dropPreloaded lets go of preloaded values that no restore took.
func (s *snapshotStore) dropPreloaded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verified, s.opened = nil, nil
}

func (s *snapshotStore) corrupt(id, file, format string, args ...any) error {
	return &CorruptError{Path: filepath.Join(s.dir, id, file), What: fmt.Sprintf(format, args...)}
}

// Create implements raft.SnapshotStore.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, conf raft.Configuration, confIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	var sink raft.SnapshotSink
	err := s.latch.do(WriteOp{Kind: "snapshot create", Path: s.dir}, "create snapshot", func() error {
		var err error
		sink, err = s.inner.Create(version, index, term, conf, confIndex, trans)
		return err
	})
	if err != nil {
		return nil, err
	}
	k := &checkedSink{SnapshotSink: sink, latch: s.latch, path: filepath.Join(s.dir, sink.ID()+".tmp")}
	k.pace = newWriteback(filepath.Join(k.path, "state.bin"))
	h := snapHeader{Version: version, ID: sink.ID(), Index: index, Term: term, Configuration: conf, ConfigurationIndex: confIndex}
	if _, err := k.Write(h.encode()); err != nil {
		_ = sink.Cancel()
		return nil, err
	}
	return k, nil
}

// List implements raft.SnapshotStore.
func (s *snapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.inner.List()
	for _, m := range metas {
		m.Peers = nil
	}
	return metas, err
}

// Open implements raft.SnapshotStore.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	verified, preloaded := s.takeVerified(id)
	meta, rc, err := s.open(id, verified)
	if err == nil {
		s.mu.Lock()
		s.opened = preloaded
		s.mu.Unlock()
	}
	return meta, rc, err
}

// open opens snapshot id, its state past the header; verified skips the CRC-64.
func (s *snapshotStore) open(id string, verified bool) (*raft.SnapshotMeta, io.ReadCloser, error) {
	metaPath := filepath.Join(s.dir, id, "meta.json")
	fm, err := parseMeta(metaPath)
	if err != nil {
		return nil, nil, s.corrupt(id, "meta.json", "%v", err)
	}
	var meta *raft.SnapshotMeta
	var rc io.ReadCloser
	if verified {
		meta = &fm.SnapshotMeta
		rc, err = os.Open(filepath.Join(s.dir, id, "state.bin"))
	} else {
		meta, rc, err = s.inner.Open(id)
	}
	if err != nil {
		if strings.Contains(err.Error(), "CRC mismatch") {
			return nil, nil, s.corrupt(id, "state.bin", "its CRC-64 is not the one in meta.json")
		}
		return nil, nil, fmt.Errorf("open snapshot %s: %w", filepath.Join(s.dir, id), err)
	}
	st, err := os.Stat(filepath.Join(s.dir, id, "state.bin"))
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	if st.Size() != meta.Size {
		rc.Close()
		return nil, nil, s.corrupt(id, "meta.json", "its Size %d is not the size %d of state.bin", meta.Size, st.Size())
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(len(snapHeaderMagic))
	if err != nil {
		rc.Close()
		return nil, nil, s.corrupt(id, "state.bin", "too short: %v", err)
	}
	out := *meta
	out.Peers = nil
	switch string(head) {
	case legacyStateMagic:
		return &out, readCloser{br, rc}, nil
	case snapHeaderMagic:
	default:
		rc.Close()
		return nil, nil, s.corrupt(id, "state.bin", "it starts with neither the snapshot header nor the tree's magic")
	}
	h, n, err := readHeader(br)
	if err != nil {
		rc.Close()
		return nil, nil, s.corrupt(id, "state.bin", "%v", err)
	}
	want := snapHeader{Version: meta.Version, ID: meta.ID, Index: meta.Index, Term: meta.Term, Configuration: meta.Configuration, ConfigurationIndex: meta.ConfigurationIndex}
	if h.ID != id || !reflect.DeepEqual(normalize(h), normalize(&want)) {
		rc.Close()
		return nil, nil, s.corrupt(id, "meta.json", "it disagrees with the header of state.bin (%+v, header %+v)", want, *h)
	}
	out.Size -= int64(n)
	return &out, readCloser{br, rc}, nil
}

// normalize makes nil and empty server lists compare equal.
func normalize(h *snapHeader) snapHeader {
	c := *h
	if len(c.Configuration.Servers) == 0 {
		c.Configuration.Servers = nil
	}
	return c
}

func readHeader(r io.Reader) (*snapHeader, int, error) {
	var pre [len(snapHeaderMagic) + 4]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, 0, fmt.Errorf("read the snapshot header: %w", err)
	}
	n := binary.BigEndian.Uint32(pre[len(snapHeaderMagic):])
	if n > maxHeader {
		return nil, 0, fmt.Errorf("snapshot header of %d bytes", n)
	}
	rest := make([]byte, n+4)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, 0, fmt.Errorf("read the snapshot header: %w", err)
	}
	c := crc32.Update(crc32.Checksum(pre[:], castagnoli), castagnoli, rest[:n])
	if c != binary.BigEndian.Uint32(rest[n:]) {
		return nil, 0, errors.New("the snapshot header fails its checksum")
	}
	var h snapHeader
	if err := json.Unmarshal(rest[:n], &h); err != nil {
		return nil, 0, fmt.Errorf("decode the snapshot header: %w", err)
	}
	return &h, len(pre) + len(rest), nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// fileMeta is meta.json as hashicorp/raft writes it.
type fileMeta struct {
	raft.SnapshotMeta
	CRC []byte
}

// parseMeta reads meta.json strictly: raft's own reader ignores what follows the
// JSON value, and skips a snapshot whose meta.json does not parse.
func parseMeta(path string) (*fileMeta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m fileMeta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("it does not parse: %w", err)
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return nil, errors.New("it has bytes after its JSON value")
	}
	if m.Version < raft.SnapshotVersionMin || m.Version > raft.SnapshotVersionMax {
		return nil, fmt.Errorf("its version %d is not one raft reads", m.Version)
	}
	return &m, nil
}

// verify checks the snapshots in the directory: every meta.json parses (raft's
// List would skip one that does not, and restore an older snapshot than the newest
// without a word), and the newest, the one raft restores, matches its CRC and its
// header agrees with meta.json — or, with preload, restores without an error: the
// header's and the tree's CRC-32Cs cover every byte of the state, and the CRC-64 pass
// (~80 ms of a 1M-znode restart, on two busy cores) is left to raft's next Open of it
// (to send it to a follower), which refuses a meta.json whose CRC-64 was damaged. An
// older snapshot is checked when it is opened (raft falls back to it only if the
// newest fails to restore): its CRC is a pass over 200 MB at 1M znodes, which a start
// would otherwise wait for.
func (s *snapshotStore) verify(preload func(io.Reader) (any, error)) error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read snapshot directory %s: %w", s.dir, err)
	}
	var newest *fileMeta
	var id string // newest's directory (its meta.json may name another)
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue // raft ignores both; a .tmp directory is an unfinished snapshot
		}
		fm, err := parseMeta(filepath.Join(s.dir, e.Name(), "meta.json"))
		if err != nil {
			return s.corrupt(e.Name(), "meta.json", "%v", err)
		}
		if newest == nil || newer(&fm.SnapshotMeta, &newest.SnapshotMeta) {
			newest, id = fm, e.Name()
		}
	}
	if newest == nil {
		return nil
	}
	stamp, err := stampOf(filepath.Join(s.dir, id, "state.bin"))
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", id, err)
	}
	var v any
	if preload == nil {
		_, rc, err := s.open(id, false) // the CRC-64 pass
		if err != nil {
			return err
		}
		rc.Close()
	} else if v, err = s.preload(id, preload); err != nil {
		return err
	}
	s.mu.Lock()
	s.verified = map[string]verifiedSnap{id: {stamp, v}}
	s.mu.Unlock()
	return nil
}

// preload runs preload on snapshot id's state; its error, or a panic, is the state's
// damage.
func (s *snapshotStore) preload(id string, preload func(io.Reader) (any, error)) (v any, err error) {
	_, rc, err := s.open(id, true)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	defer func() {
		if p := recover(); p != nil {
			err = s.corrupt(id, "state.bin", "restoring it failed: %v", p)
		}
	}()
	if v, err = preload(rc); err != nil {
		return nil, s.corrupt(id, "state.bin", "%v", err)
	}
	return v, nil
}

// newer orders snapshots as raft's List does, newest first: by term, index, id.
func newer(a, b *raft.SnapshotMeta) bool {
	if a.Term != b.Term {
		return a.Term > b.Term
	}
	if a.Index != b.Index {
		return a.Index > b.Index
	}
	return a.ID > b.ID
}

// checkedSink writes through the latch.
type checkedSink struct {
	raft.SnapshotSink
	latch *latch
	path  string
	pace  *writeback
}

func (k *checkedSink) Write(p []byte) (int, error) {
	var n int
	err := k.latch.do(WriteOp{Kind: "snapshot write", Path: k.path}, "write snapshot", func() error {
		var err error
		n, err = k.SnapshotSink.Write(p)
		return err
	})
	k.pace.wrote(n)
	return n, err
}

// Cancel implements raft.SnapshotSink.
func (k *checkedSink) Cancel() error {
	k.pace.close()
	return k.SnapshotSink.Cancel()
}

func (k *checkedSink) Close() error {
	defer k.pace.close()
	err := k.latch.do(WriteOp{Kind: "snapshot close", Path: k.path}, "finish snapshot", k.SnapshotSink.Close)
	if err != nil {
		_ = k.SnapshotSink.Cancel() // removes the unfinished snapshot if Close did not run
	}
	return err
}
