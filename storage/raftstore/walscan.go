package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// scan reads the entries first to last of the log as Open found it (the segments
// raft-wal opened, filer.segs: not valid once the log was written to), a segment
// file at a time, and calls entry with each one decoded (err: the decoder's), in
// order, and missing with each range of them that no segment holds. raft-wal's
// GetLog costs two preads per entry (its index, then 64 KiB for the frame), which
// made reading the log most of a restart; a sealed segment is read here in one read
// of its file, and so is the tail.
//
// It walks raft-wal v0.4's frames itself (see tailEnd) and checks what GetLog relies
// on: the segment list chains the segments without overlap; a sealed segment's
// entry frames run from its BaseIndex to at least its MaxIndex (more after a
// truncation of the log's end) and are followed by the index frame at its
// IndexStart, which holds their offsets; the tail's frames hold its entries up to
// the last that raft-wal's recovery kept (frames after the last commit frame are
// not entries: Open zeroed them). Entries below a segment's MinIndex (left by a
// compaction) or above its MaxIndex are walked over, not decoded. So this refuses
// some damage that GetLog would never read (a sealed segment's commit frames, its
// index frame's header, index slots below MinIndex): the walk cannot get past it,
// and the disk damaged the file all the same.
func (w *walStore) scan(first, last uint64, entry func(idx uint64, l *raft.Log, err error) error, missing func(from, to uint64) error) error {
	w.filer.mu.Lock()
	segs := slices.Clone(w.filer.segs)
	w.filer.mu.Unlock()
	sc := &segScanner{entry: entry}
	next := first
	for _, info := range segs {
		sealed := !info.SealTime.IsZero()
		lo, hi := info.MinIndex, last
		if sealed {
			hi = min(info.MaxIndex, last)
		}
		switch {
		case info.MinIndex < info.BaseIndex:
			return w.corruptList("segment %s starts at entry %d but holds entries from %d", segmentName(info), info.BaseIndex, info.MinIndex)
		case sealed && (info.MaxIndex < info.MinIndex || info.IndexStart == 0):
			return w.corruptList("sealed segment %s holds entries %d to %d, its index at offset %d", segmentName(info), info.MinIndex, info.MaxIndex, info.IndexStart)
		case hi < lo:
			continue // the tail, empty
		case lo < next:
			return w.corruptList("segment %s holds entries from %d, the segments before it up to %d", segmentName(info), lo, next-1)
		case lo > next:
			if err := missing(next, lo-1); err != nil {
				return err
			}
		}
		if err := sc.segment(w.filer.path(info), info, sealed, lo, hi); err != nil {
			return err
		}
		next = hi + 1
	}
	if next <= last {
		return missing(next, last)
	}
	return nil
}

func segmentName(info types.SegmentInfo) string { return segment.FileName(info) }

// corruptList reports a segment list that contradicts itself or the log's extent.
func (w *walStore) corruptList(format string, args ...any) error {
	return &CorruptError{Path: filepath.Join(w.dir, metaName), What: "its segment list is inconsistent: " + fmt.Sprintf(format, args...)}
}

// segScanner reads segment files into one buffer, reused.
type segScanner struct {
	entry   func(idx uint64, l *raft.Log, err error) error
	buf     []byte
	offsets []uint32
}

// segment reads the segment file at path and passes its entries lo to hi to entry.
func (sc *segScanner) segment(path string, info types.SegmentInfo, sealed bool, lo, hi uint64) error {
	b, err := sc.read(path)
	if err != nil {
		return err
	}
	corrupt := func(format string, args ...any) error {
		return &CorruptError{Path: path, What: fmt.Sprintf(format, args...)}
	}
	sc.offsets = sc.offsets[:0]
	idx := info.BaseIndex
	for off := fileHeaderLen; sealed || idx <= hi; {
		if off+frameHeaderLen > len(b) {
			return corrupt("its frames run to the end of the file (%d bytes) before entry %d", len(b), idx)
		}
		typ, n := b[off], int(binary.LittleEndian.Uint32(b[off+4:]))
		switch typ {
		case frameEntry:
			if n > len(b)-off-frameHeaderLen {
				return corrupt("the frame of entry %d at offset %d is %d bytes long, past the end of the file", idx, off, n)
			}
			sc.offsets = append(sc.offsets, uint32(off))
			if idx >= lo && idx <= hi {
				var l raft.Log
				err := decodeEntry(b[off+frameHeaderLen:off+frameHeaderLen+n], &l)
				if err := sc.entry(idx, &l, err); err != nil {
					return err
				}
			}
			idx++
			off += frameHeaderLen + (n+frameHeaderLen-1)/frameHeaderLen*frameHeaderLen
		case frameCommit:
			off += frameHeaderLen
		case frameIndex:
			if !sealed {
				return corrupt("the tail segment holds an index frame at offset %d, before its last entry %d", off, hi)
			}
			return sc.checkIndex(b, off, n, info, hi, corrupt)
		default:
			return corrupt("the frame at offset %d, before entry %d, has type %d", off, idx, typ)
		}
	}
	return nil
}

// checkIndex checks a sealed segment's index frame, at off with n bytes of offsets,
// against the entry frames walked before it: raft-wal's GetLog reads an entry of a
// sealed segment at the offset its index gives.
func (sc *segScanner) checkIndex(b []byte, off, n int, info types.SegmentInfo, hi uint64, corrupt func(string, ...any) error) error {
	count := uint64(len(sc.offsets))
	switch {
	case uint64(off+frameHeaderLen) != info.IndexStart:
		return corrupt("its index frame is at offset %d, the segment list has its index at %d", off, info.IndexStart)
	case n != 4*len(sc.offsets) || n > len(b)-off-frameHeaderLen:
		return corrupt("its index frame holds %d bytes, for the %d entry frames before it", n, count)
	case info.BaseIndex+count-1 < hi:
		return corrupt("it holds entries %d to %d, the segment list has it hold up to %d", info.BaseIndex, info.BaseIndex+count-1, hi)
	}
	index := b[off+frameHeaderLen:]
	for k, want := range sc.offsets {
		if got := binary.LittleEndian.Uint32(index[4*k:]); got != want {
			return corrupt("its index has entry %d at offset %d, its frame is at %d", info.BaseIndex+uint64(k), got, want)
		}
	}
	return nil
}

// read reads the file at path whole into sc.buf.
func (sc *segScanner) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read log segment %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read log segment %s: %w", path, err)
	}
	if int64(cap(sc.buf)) < fi.Size() {
		sc.buf = make([]byte, fi.Size())
	}
	b := sc.buf[:fi.Size()]
	if n, err := f.ReadAt(b, 0); n < len(b) || err != nil && !errors.Is(err, io.EOF) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read log segment %s: %w", path, err)
	}
	return b, nil
}

// decodeEntry decodes an entry frame's payload as raft-wal's GetLog does, its
// codec's panics on damaged bytes turned into errors (noPanic).
func decodeEntry(p []byte, l *raft.Log) error {
	return noPanic(func() error { return (&wal.BinaryCodec{}).Decode(p, l) })
}

// noPanic runs decode, turning a panic of raft-wal's codec on damaged bytes (a
// varint that overflows yields a negative length it slices with) into an error.
func noPanic(decode func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding it failed: %v", r)
		}
	}()
	return decode()
}
