package zkproto

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// chunkReader hands out its data in chunks whose sizes come from the fuzzer, so
// frames are split across reads at arbitrary points.
type chunkReader struct {
	data  []byte
	sizes []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = int(c.sizes[0]) + 1
		c.sizes = c.sizes[1:]
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func FuzzFrameReader(f *testing.F) {
	conn := AppendFrame(nil, nil, &ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true})
	req := AppendFrame(nil, &RequestHeader{Xid: 1, Type: OpGetData}, &GetDataRequest{Path: "/a", Watch: true})
	f.Add(append(conn, req...), []byte{0, 3, 200})
	f.Add([]byte("ruok"), []byte{})
	f.Add([]byte("stmk\x00\x00\x00\x00\x00\x00\x00\x01"), []byte{1})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 1, 2}, []byte{0})
	f.Add([]byte{0x00, 0x0f, 0xff, 0xff}, []byte{255})
	f.Add([]byte{0xff, 0xf4, 0xff, 0xfd}, []byte{})
	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		const max = 1 << 12
		// Reference: the frames the input holds, parsed directly.
		var want [][]byte
		var wantErr error
		rest := data
		for len(rest) > 0 {
			if len(rest) < 4 {
				wantErr = io.ErrUnexpectedEOF
				break
			}
			n := int32(uint32(rest[0])<<24 | uint32(rest[1])<<16 | uint32(rest[2])<<8 | uint32(rest[3]))
			if n < 0 {
				wantErr = ErrBadFrameLength
				break
			}
			if n > max {
				wantErr = ErrFrameTooLarge
				break
			}
			if len(rest)-4 < int(n) {
				wantErr = io.ErrUnexpectedEOF
				break
			}
			want = append(want, rest[4:4+n])
			rest = rest[4+n:]
		}
		if wantErr == nil {
			wantErr = io.EOF
		}
		for _, r := range []io.Reader{
			bytes.NewReader(data),
			&chunkReader{data: data, sizes: sizes},
			iotest.OneByteReader(bytes.NewReader(data)),
		} {
			fr := NewFrameReader(r, max)
			for i := 0; ; i++ {
				got, err := fr.Next()
				if err != nil {
					if i != len(want) || !errors.Is(err, wantErr) {
						t.Fatalf("frame %d: error %v, want %v after %d frames", i, err, wantErr, len(want))
					}
					break
				}
				if i >= len(want) || !bytes.Equal(got, want[i]) {
					t.Fatalf("frame %d: unexpected %x", i, got)
				}
			}
		}
		// Peeking never consumes anything but a four-letter word.
		fr := NewFrameReader(&chunkReader{data: data, sizes: sizes}, max)
		w, ok, err := fr.PeekFourLetterWord()
		switch {
		case len(data) < 4:
			if err == nil {
				t.Fatalf("peek of %d bytes: no error", len(data))
			}
		case ok != (w != "") || (ok && w != string(data[:4])):
			t.Fatalf("peek %q: %q %v", data[:4], w, ok)
		case !ok:
			if got, err := fr.Next(); len(want) > 0 && (err != nil || !bytes.Equal(got, want[0])) {
				t.Fatalf("after peek: %x %v", got, err)
			}
		}
	})
}

func FuzzConnectRequest(f *testing.F) {
	f.Add(Marshal(&ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}))
	f.Add(Marshal(&ConnectRequest{LastZxidSeen: 7, TimeOut: 4000, SessionID: 0x1234, Passwd: []byte("0123456789abcdef")}))
	f.Add(Marshal(&ConnectRequest{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ConnectRequest
		if err := Unmarshal(b, &r); err != nil {
			return
		}
		b1 := Marshal(&r)
		var r2 ConnectRequest
		if err := Unmarshal(b1, &r2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("unstable: %+v vs %+v", r, r2)
		}
		// The fields re-encode to the bytes they came from; only the readOnly byte
		// may differ (any non-zero byte is true) and trailing bytes are ignored, as
		// ZooKeeper does.
		n := len(b1)
		if r.HasReadOnly {
			n--
		}
		if !bytes.Equal(b[:n], b1[:n]) {
			t.Fatalf("encoding %x does not match input %x", b1, b)
		}
	})
}

func FuzzRequest(f *testing.F) {
	for _, tc := range recordCases() {
		for op := OpCode(-11); op <= 107; op++ {
			if rec, ok := NewRequest(op); ok && rec != nil && reflect.TypeOf(rec) == reflect.TypeOf(tc.rec) {
				f.Add(int32(op), Marshal(tc.rec))
			}
		}
	}
	f.Add(int32(OpMulti), Marshal(testMultiResponse())) // a response body sent as a request
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		rec, ok := NewRequest(OpCode(op))
		if !ok || rec == nil {
			return
		}
		if err := Unmarshal(body, rec); err != nil {
			return
		}
		// Decoding normalises (null strings, multi header fields); after one
		// encoding, encode∘decode must be the identity.
		b1 := Marshal(rec)
		rec2, _ := NewRequest(OpCode(op))
		if err := Unmarshal(b1, rec2); err != nil {
			t.Fatalf("op %d: re-decode of %x: %v", op, b1, err)
		}
		if b2 := Marshal(rec2); !bytes.Equal(b1, b2) {
			t.Fatalf("op %d: unstable encoding\n%x\n%x", op, b1, b2)
		}
		if _, isMulti := rec.(*MultiRequest); !isMulti && !reflect.DeepEqual(rec, rec2) {
			t.Fatalf("op %d: %#v vs %#v", op, rec, rec2)
		}
	})
}
