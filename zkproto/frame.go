package zkproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrFrameTooLarge means a frame's length prefix exceeds the configured maximum
// (jute.maxbuffer). ZooKeeper closes the connection; so should the server.
var ErrFrameTooLarge = errors.New("zkproto: frame length exceeds jute.maxbuffer")

// ErrBadFrameLength means a frame's length prefix is negative.
var ErrBadFrameLength = errors.New("zkproto: negative frame length")

// frameRetainLimit is the largest frame buffer a FrameReader keeps between frames;
// larger frames get a buffer of their own so that an idle connection does not pin
// jute.maxbuffer bytes.
const frameRetainLimit = 64 << 10

// FrameReader reads length-prefixed frames (4-byte big-endian length + body) from
// a connection.
type FrameReader struct {
	r   *bufio.Reader
	max int
	hdr [4]byte
	buf []byte
}

// NewFrameReader reads frames from r of at most maxLen bytes; maxLen <= 0 means
// DefaultMaxBuffer.
func NewFrameReader(r io.Reader, maxLen int) *FrameReader {
	if maxLen <= 0 {
		maxLen = DefaultMaxBuffer
	}
	return &FrameReader{r: bufio.NewReader(r), max: maxLen}
}

// MaxLength is the largest frame body accepted.
func (f *FrameReader) MaxLength() int { return f.max }

// Next reads one frame and returns its body. The slice is valid until the next call
// (decoded records never alias it). At a clean frame boundary end of input gives
// io.EOF; a frame cut short gives io.ErrUnexpectedEOF. A length prefix that is
// negative or larger than the maximum gives an error wrapping ErrBadFrameLength or
// ErrFrameTooLarge before anything is allocated; the stream cannot be resynchronised
// after it, so close the connection.
func (f *FrameReader) Next() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		return nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(f.hdr[:])))
	if n < 0 {
		return nil, fmt.Errorf("%w: %d (bytes %q)", ErrBadFrameLength, n, f.hdr[:])
	}
	if n > int64(f.max) {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, f.max)
	}
	if n <= frameRetainLimit {
		if cap(f.buf) < int(n) {
			f.buf = make([]byte, max(int(n), 512))
		}
		body := f.buf[:n]
		if err := f.readFull(body); err != nil {
			return nil, err
		}
		return body, nil
	}
	// A large frame grows as its bytes arrive, so a peer that announces
	// jute.maxbuffer and sends nothing costs us frameRetainLimit, not the maximum.
	body := make([]byte, 0, frameRetainLimit)
	for int64(len(body)) < n {
		next := min(n, int64(2*cap(body)))
		body = slices.Grow(body, int(next)-len(body))
		chunk := body[len(body):next]
		if err := f.readFull(chunk); err != nil {
			return nil, err
		}
		body = body[:next]
	}
	return body, nil
}

func (f *FrameReader) readFull(b []byte) error {
	if _, err := io.ReadFull(f.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// PeekFourLetterWord looks at the first 4 bytes of a new connection, where
// ZooKeeper accepts a four-letter word instead of a frame length. It consumes them
// only when they are a known word; otherwise the next Next reads them as the length
// of the ConnectRequest. Call it once, before the first Next. (stmk is followed by an
// 8-byte trace mask: read it through f as an io.Reader.)
func (f *FrameReader) PeekFourLetterWord() (string, bool, error) {
	b, err := f.r.Peek(4)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", false, err
	}
	w, ok := FourLetterWord([4]byte(b))
	if ok {
		_, _ = f.r.Discard(4) // cannot fail: the bytes are buffered
	}
	return w, ok, nil
}

// Read reads raw bytes from the buffered connection, for the few words that carry
// an argument (stmk).
func (f *FrameReader) Read(p []byte) (int, error) { return f.r.Read(p) }

// FourLetterWord reports whether the first 4 bytes of a connection are one of
// ZooKeeper 3.8's four-letter words (FourLetterCommands), and which. Whether the
// word is whitelisted is the server's business.
func FourLetterWord(first4 [4]byte) (string, bool) {
	switch w := string(first4[:]); w {
	case "ruok", "stat", "srvr", "conf", "cons", "crst", "srst", "dump", "envi",
		"gtmk", "stmk", "mntr", "wchs", "wchc", "wchp", "isro", "dirs", "hash":
		return w, true
	}
	return "", false
}

// AppendFrame appends one frame to dst: the length prefix, hdr and body (either may
// be nil; a nil interface, not a typed nil pointer). Replies are
// AppendFrame(buf, &ReplyHeader{...}, resp); watch events use XidWatchEvent and a
// *WatcherEvent body. To write without allocating, keep an Encoder per connection
// and use BeginFrame/EndFrame directly.
func AppendFrame(dst []byte, hdr, body Record) []byte {
	e := Encoder{Buf: dst}
	start := e.BeginFrame()
	if hdr != nil {
		hdr.Encode(&e)
	}
	if body != nil {
		body.Encode(&e)
	}
	e.EndFrame(start)
	return e.Buf
}
