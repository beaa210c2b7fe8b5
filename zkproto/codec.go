package zkproto

import (
	"encoding/binary"
	"errors"
	"math"
	"sync"
)

// Record is a jute record with hand-written encoding. Decode reports errors through
// the Decoder, which stops at the first one.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// ErrShortBuffer means a record ran past the end of its frame.
var ErrShortBuffer = errors.New("zkproto: record runs past the end of the frame")

// ErrBadLength means a length prefix is negative (other than -1 for null) or larger
// than the bytes that remain.
var ErrBadLength = errors.New("zkproto: invalid length prefix")

// Encoder appends jute encodings to Buf.
type Encoder struct{ Buf []byte }

// scratch holds encoders for Render. A buffer that grew past scratchKeep (a large
// getData reply) is dropped rather than kept for small ones.
var scratch = sync.Pool{New: func() any { return &Encoder{Buf: make([]byte, 0, 1024)} }}

const scratchKeep = 64 << 10

// Render encodes with fn and returns the bytes in a slice of exactly their size:
// one allocation, where appending to a fresh slice grows it two or three times
// on the way to a reply's or a log entry's size.
func Render(fn func(e *Encoder)) []byte {
	e := scratch.Get().(*Encoder)
	e.Buf = e.Buf[:0]
	fn(e)
	out := append(make([]byte, 0, len(e.Buf)), e.Buf...)
	if cap(e.Buf) <= scratchKeep {
		scratch.Put(e)
	}
	return out
}

func (e *Encoder) Int(v int32)  { e.Buf = binary.BigEndian.AppendUint32(e.Buf, uint32(v)) }
func (e *Encoder) Long(v int64) { e.Buf = binary.BigEndian.AppendUint64(e.Buf, uint64(v)) }

func (e *Encoder) Bool(v bool) {
	if v {
		e.Buf = append(e.Buf, 1)
	} else {
		e.Buf = append(e.Buf, 0)
	}
}

// Buffer writes a length-prefixed byte slice; nil is written as length -1, as Java does.
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.Buf = append(e.Buf, b...)
}

func (e *Encoder) String(s string) {
	e.Int(int32(len(s)))
	e.Buf = append(e.Buf, s...)
}

// Strings writes a vector<ustring>; nil is written as -1.
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Decoder reads jute encodings from a frame. The first error sticks: later reads
// return zero values, so a record's Decode needs no error checks of its own.
type Decoder struct {
	buf   []byte
	off   int
	err   error
	alias bool // Buffer returns slices of buf rather than copies
}

func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// NewAliasingDecoder is NewDecoder for a b that is never written again (a Raft log
// entry): the byte slices it decodes share b's memory instead of being copied.
func NewAliasingDecoder(b []byte) *Decoder { return &Decoder{buf: b, alias: true} }

// Err is the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.Remaining() {
		d.fail(ErrShortBuffer)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (d *Decoder) Bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

// length reads a length prefix whose elements take at least minSize bytes each; -1
// means null. It refuses lengths the remaining bytes cannot hold before anything is
// allocated.
func (d *Decoder) length(minSize int) (n int, null bool) {
	l := d.Int()
	if d.err != nil {
		return 0, false
	}
	if l == -1 {
		return 0, true
	}
	if l < 0 || (minSize > 0 && int64(l) > int64(d.Remaining()/minSize)) || int64(l) > math.MaxInt32 {
		d.fail(ErrBadLength)
		return 0, false
	}
	return int(l), false
}

// Buffer reads a length-prefixed byte slice (a copy unless the decoder aliases; nil
// for -1).
func (d *Decoder) Buffer() []byte {
	n, null := d.length(1)
	if null || d.err != nil {
		return nil
	}
	b := d.take(n)
	switch {
	case b == nil:
		return nil
	case d.alias:
		return b[:n:n] // capped: an append must not write into what follows
	}
	return append(make([]byte, 0, n), b...)
}

func (d *Decoder) String() string {
	n, null := d.length(1)
	if null || d.err != nil {
		return ""
	}
	return string(d.take(n))
}

// Strings reads a vector<ustring> (nil for -1).
func (d *Decoder) Strings() []string {
	n, null := d.length(4)
	if null || d.err != nil {
		return nil
	}
	v := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		v = append(v, d.String())
	}
	return v
}

// Marshal encodes r into a new slice.
func Marshal(r Record) []byte {
	e := Encoder{}
	r.Encode(&e)
	return e.Buf
}

// Unmarshal decodes r from b. Trailing bytes are ignored, as ZooKeeper does.
func Unmarshal(b []byte, r Record) error {
	d := NewDecoder(b)
	r.Decode(d)
	return d.Err()
}

// Fail records err as the decoder's error unless one is already set; records with
// checks of their own (multi op types) report through it.
func (d *Decoder) Fail(err error) { d.fail(err) }

// BeginFrame reserves a 4-byte length prefix and returns its offset for EndFrame.
// A connection can keep one Encoder and write every reply frame into it without
// allocating.
func (e *Encoder) BeginFrame() int {
	start := len(e.Buf)
	e.Buf = append(e.Buf, 0, 0, 0, 0)
	return start
}

// EndFrame fills in the length prefix reserved by BeginFrame at start.
func (e *Encoder) EndFrame(start int) {
	binary.BigEndian.PutUint32(e.Buf[start:], uint32(len(e.Buf)-start-4))
}

// ACLs writes a vector<ACL>; nil is written as -1.
func (e *Encoder) ACLs(v []ACL) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(e)
	}
}

// aclMinSize is the smallest encoded ACL: perms plus two empty ustrings.
const aclMinSize = 4 + 4 + 4

// ACLs reads a vector<ACL> (nil for -1).
func (d *Decoder) ACLs() []ACL {
	n, null := d.length(aclMinSize)
	if null || d.err != nil {
		return nil
	}
	v := make([]ACL, n)
	for i := 0; i < n && d.err == nil; i++ {
		v[i].Decode(d)
	}
	return v
}
