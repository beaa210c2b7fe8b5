package zkdata

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"

	"github.com/zkraft/zkraft/zkproto"
)

// ErrFormat is wrapped by every error about a damaged, truncated or foreign file.
var ErrFormat = errors.New("zkdata: bad ZooKeeper data file")

// FormatError names the file and the offset where reading it failed.
type FormatError struct {
	File   string
	Offset int64
	// Uncompressed: Offset counts the file's uncompressed content (.gz, .snappy).
	Uncompressed bool
	What         string
}

func (e *FormatError) Error() string {
	where := "offset"
	if e.Uncompressed {
		where = "uncompressed offset"
	}
	return fmt.Sprintf("%s at %s %d: %s", e.File, where, e.Offset, e.What)
}

func (e *FormatError) Unwrap() error { return ErrFormat }

// Limits on lengths read from files, so that a damaged length fails on the
// truncation instead of allocating gigabytes first.
const (
	maxString = 1 << 20 // a path or an ACL id
	maxBuffer = 1 << 30 // a znode's data or a log entry
	maxCount  = 1 << 30 // elements of a vector or map
)

// streamReader reads jute from a stream, keeping the offset and the Adler-32 of
// what it read. The first error sticks.
type streamReader struct {
	r            *bufio.Reader
	file         string
	uncompressed bool
	off          int64
	sum          hash.Hash32
	err          error
	tmp          [8]byte
}

func newStreamReader(r io.Reader, file string, uncompressed bool) *streamReader {
	return &streamReader{r: bufio.NewReaderSize(r, 256<<10), file: file, uncompressed: uncompressed, sum: adler32.New()}
}

func (r *streamReader) failAt(off int64, format string, args ...any) {
	if r.err == nil {
		r.err = &FormatError{File: r.file, Offset: off, Uncompressed: r.uncompressed, What: fmt.Sprintf(format, args...)}
	}
}

func (r *streamReader) read(b []byte) {
	if r.err != nil {
		return
	}
	n, err := io.ReadFull(r.r, b)
	if err != nil {
		what := "truncated: the file ends inside a record"
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			what = err.Error()
		}
		r.failAt(r.off+int64(n), "%s", what)
		return
	}
	r.sum.Write(b)
	r.off += int64(n)
}

// atEOF reports whether the stream has no more bytes.
func (r *streamReader) atEOF() bool {
	if r.err != nil {
		return false
	}
	_, err := r.r.Peek(1)
	return err == io.EOF
}

func (r *streamReader) byte1() byte {
	r.read(r.tmp[:1])
	return r.tmp[0]
}

func (r *streamReader) int32() int32 {
	r.read(r.tmp[:4])
	if r.err != nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(r.tmp[:4]))
}

func (r *streamReader) int64() int64 {
	r.read(r.tmp[:8])
	if r.err != nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(r.tmp[:8]))
}

// length reads a length prefix: -1 is null (ok=false, no error).
func (r *streamReader) length(limit int, what string) (int, bool) {
	at := r.off
	n := r.int32()
	if r.err != nil || n == -1 {
		return 0, false
	}
	if n < 0 || int(n) > limit {
		r.failAt(at, "%s length %d", what, n)
		return 0, false
	}
	return int(n), true
}

// blob reads n bytes, growing the buffer as they arrive.
func (r *streamReader) blob(n int) []byte {
	const chunk = 1 << 20
	if n <= chunk {
		b := make([]byte, n)
		r.read(b)
		return b
	}
	var b []byte
	for len(b) < n && r.err == nil {
		k := min(chunk, n-len(b))
		b = append(b, make([]byte, k)...)
		r.read(b[len(b)-k:])
	}
	return b
}

func (r *streamReader) str() string {
	n, ok := r.length(maxString, "string")
	if !ok {
		return ""
	}
	return string(r.blob(n))
}

func (r *streamReader) buffer() []byte {
	n, ok := r.length(maxBuffer, "buffer")
	if !ok {
		return nil
	}
	return r.blob(n)
}

func (r *streamReader) acls() []zkproto.ACL {
	n, ok := r.length(maxCount, "ACL vector")
	if !ok {
		return nil
	}
	var out []zkproto.ACL
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, zkproto.ACL{Perms: r.int32(), ID: zkproto.Id{Scheme: r.str(), ID: r.str()}})
	}
	return out
}

// Writing.

type juteWriter struct {
	w   *bufio.Writer
	sum hash.Hash32
	err error
	tmp [8]byte
}

func newJuteWriter(w io.Writer) *juteWriter {
	return &juteWriter{w: bufio.NewWriterSize(w, 256<<10), sum: adler32.New()}
}

func (w *juteWriter) write(b []byte) {
	if w.err != nil {
		return
	}
	w.sum.Write(b)
	_, w.err = w.w.Write(b)
}

func (w *juteWriter) int32(v int32) {
	binary.BigEndian.PutUint32(w.tmp[:4], uint32(v))
	w.write(w.tmp[:4])
}

func (w *juteWriter) int64(v int64) {
	binary.BigEndian.PutUint64(w.tmp[:8], uint64(v))
	w.write(w.tmp[:8])
}

func (w *juteWriter) str(s string) {
	w.int32(int32(len(s)))
	w.write([]byte(s))
}

func (w *juteWriter) buffer(b []byte) {
	if b == nil {
		w.int32(-1)
		return
	}
	w.int32(int32(len(b)))
	w.write(b)
}

func (w *juteWriter) acls(v []zkproto.ACL) {
	w.int32(int32(len(v)))
	for _, a := range v {
		w.int32(a.Perms)
		w.str(a.ID.Scheme)
		w.str(a.ID.ID)
	}
}

// seal writes SnapStream.sealStream: the Adler-32 so far and the path "/".
func (w *juteWriter) seal() {
	w.int64(int64(w.sum.Sum32()))
	w.str("/")
}

func (w *juteWriter) flush() error {
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}
