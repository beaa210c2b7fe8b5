package zkproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func frameBytes(bodies ...[]byte) []byte {
	var b []byte
	for _, body := range bodies {
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
		b = append(b, body...)
	}
	return b
}

func TestFrameReaderLimits(t *testing.T) {
	const max = 100
	exact := bytes.Repeat([]byte{7}, max)
	fr := NewFrameReader(bytes.NewReader(frameBytes(exact, nil)), max)
	if got, err := fr.Next(); err != nil || !bytes.Equal(got, exact) {
		t.Fatalf("exact max: %d bytes, %v", len(got), err)
	}
	if got, err := fr.Next(); err != nil || len(got) != 0 {
		t.Fatalf("empty frame: %v %v", got, err)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}

	fr = NewFrameReader(bytes.NewReader(frameBytes(make([]byte, max+1))), max)
	if _, err := fr.Next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("max+1: %v", err)
	}
	for _, l := range []uint32{0x80000000, 0xffffffff, 0xfff4fffd} {
		fr = NewFrameReader(bytes.NewReader(binary.BigEndian.AppendUint32(nil, l)), max)
		if _, err := fr.Next(); !errors.Is(err, ErrBadFrameLength) {
			t.Fatalf("length %#x: %v", l, err)
		}
	}
	fr = NewFrameReader(bytes.NewReader(frameBytes(make([]byte, DefaultMaxBuffer+1))), 0)
	if fr.MaxLength() != DefaultMaxBuffer {
		t.Fatalf("default max %d", fr.MaxLength())
	}
	if _, err := fr.Next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("default max+1: %v", err)
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	full := frameBytes([]byte("hello"))
	for cut := 1; cut < len(full); cut++ {
		fr := NewFrameReader(bytes.NewReader(full[:cut]), 0)
		if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Errorf("cut %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
	big := frameBytes(make([]byte, 3*frameRetainLimit))
	fr := NewFrameReader(bytes.NewReader(big[:len(big)-1]), 0)
	if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
		t.Errorf("large cut: %v", err)
	}
}

// Frames split across one-byte reads, small and larger than the retained buffer,
// come out whole and in order.
func TestFrameReaderSplitReads(t *testing.T) {
	large := make([]byte, 3*frameRetainLimit+17)
	for i := range large {
		large[i] = byte(i * 7)
	}
	bodies := [][]byte{[]byte("a"), large, {}, bytes.Repeat([]byte("xy"), 300), large[:frameRetainLimit], large[:frameRetainLimit+1]}
	for _, r := range []io.Reader{
		iotest.OneByteReader(bytes.NewReader(frameBytes(bodies...))),
		iotest.HalfReader(bytes.NewReader(frameBytes(bodies...))),
		iotest.DataErrReader(bytes.NewReader(frameBytes(bodies...))),
	} {
		fr := NewFrameReader(r, 0)
		for i, want := range bodies {
			got, err := fr.Next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("frame %d: %d bytes, %v", i, len(got), err)
			}
		}
		if _, err := fr.Next(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}
}

func TestFourLetterWords(t *testing.T) {
	for _, w := range strings.Fields("ruok stat srvr conf cons crst srst dump envi gtmk stmk mntr wchs wchc wchp isro dirs hash") {
		if got, ok := FourLetterWord([4]byte([]byte(w))); !ok || got != w {
			t.Errorf("%s: %q %v", w, got, ok)
		}
	}
	for _, w := range []string{"RUOK", "ruoK", "\x00\x00\x00\x2d", "icfg", "abcd", "\xff\xf4\xff\xfd"} {
		if _, ok := FourLetterWord([4]byte([]byte(w))); ok {
			t.Errorf("%q accepted", w)
		}
	}
}

func TestPeekFourLetterWord(t *testing.T) {
	// A 4lw is consumed; stmk's argument follows through Read.
	fr := NewFrameReader(iotest.OneByteReader(strings.NewReader("stmk\x00\x00\x00\x00\x00\x00\x00\xff")), 0)
	w, ok, err := fr.PeekFourLetterWord()
	if err != nil || !ok || w != "stmk" {
		t.Fatalf("stmk: %q %v %v", w, ok, err)
	}
	var mask [8]byte
	if _, err := io.ReadFull(fr, mask[:]); err != nil || binary.BigEndian.Uint64(mask[:]) != 0xff {
		t.Fatalf("stmk mask: %x %v", mask, err)
	}

	// A ConnectRequest is left for Next.
	conn := &ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}
	fr = NewFrameReader(iotest.OneByteReader(bytes.NewReader(AppendFrame(nil, nil, conn))), 0)
	if w, ok, err := fr.PeekFourLetterWord(); err != nil || ok || w != "" {
		t.Fatalf("connect: %q %v %v", w, ok, err)
	}
	body, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	var got ConnectRequest
	if err := Unmarshal(body, &got); err != nil || !reflect.DeepEqual(&got, conn) {
		t.Fatalf("connect: %+v %v", got, err)
	}

	fr = NewFrameReader(strings.NewReader("ru"), 0)
	if _, _, err := fr.PeekFourLetterWord(); err != io.ErrUnexpectedEOF {
		t.Fatalf("short: %v", err)
	}
	fr = NewFrameReader(strings.NewReader(""), 0)
	if _, _, err := fr.PeekFourLetterWord(); err != io.EOF {
		t.Fatalf("empty: %v", err)
	}
}

func TestAppendFrame(t *testing.T) {
	buf := AppendFrame([]byte("prefix"), &ReplyHeader{Xid: 1, Zxid: 2}, &GetDataResponse{Data: []byte("d"), Stat: testStat})
	buf = AppendFrame(buf, &ReplyHeader{Xid: XidWatchEvent, Zxid: -1}, &WatcherEvent{Type: EventNodeDeleted, State: StateSyncConnected, Path: "/a"})
	buf = AppendFrame(buf, &ReplyHeader{Xid: 3, Zxid: 2, Err: ErrNoNode}, nil)
	if !bytes.HasPrefix(buf, []byte("prefix")) {
		t.Fatal("prefix lost")
	}
	fr := NewFrameReader(bytes.NewReader(buf[6:]), 0)
	var h ReplyHeader
	var gd GetDataResponse
	var ev WatcherEvent
	for i, rec := range []Record{&gd, &ev, nil} {
		body, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(body)
		h.Decode(d)
		if rec != nil {
			rec.Decode(d)
		}
		if d.Err() != nil || d.Remaining() != 0 {
			t.Fatalf("frame %d: %v, %d bytes left", i, d.Err(), d.Remaining())
		}
	}
	if h.Err != ErrNoNode || ev.Path != "/a" || string(gd.Data) != "d" {
		t.Fatalf("decoded %+v %+v %+v", h, ev, gd)
	}
}

func TestFrameAllocations(t *testing.T) {
	e := &Encoder{Buf: make([]byte, 0, 4096)}
	hdr := &ReplyHeader{Xid: 1, Zxid: 2}
	resp := &GetDataResponse{Data: []byte("hello"), Stat: testStat}
	if n := testing.AllocsPerRun(100, func() {
		e.Buf = e.Buf[:0]
		start := e.BeginFrame()
		hdr.Encode(e)
		resp.Encode(e)
		e.EndFrame(start)
	}); n != 0 {
		t.Errorf("BeginFrame/EndFrame: %v allocs", n)
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendFrame(buf[:0], hdr, resp) }); n > 1 {
		t.Errorf("AppendFrame: %v allocs", n)
	}
	// Reading small frames reuses one buffer.
	frames := bytes.Repeat(frameBytes(make([]byte, 100)), 200)
	r := bytes.NewReader(frames)
	fr := NewFrameReader(r, 0)
	fr.Next()
	if n := testing.AllocsPerRun(100, func() {
		if _, err := fr.Next(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("FrameReader.Next: %v allocs", n)
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	hdr := &ReplyHeader{Xid: 1, Zxid: 2}
	resp := &GetDataResponse{Data: make([]byte, 100), Stat: testStat}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], hdr, resp)
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	frame := AppendFrame(nil, &RequestHeader{Xid: 9, Type: OpCreate2},
		&CreateRequest{Path: "/some/path/node", Data: make([]byte, 100), ACL: testACL, Flags: ModeEphemeral})[4:]
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRequest(frame); err != nil {
			b.Fatal(err)
		}
	}
}
