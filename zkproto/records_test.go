package zkproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"runtime"
	"testing"
)

var testStat = Stat{
	Czxid: 0x100000001, Mzxid: 0x100000002, Ctime: 1700000000000, Mtime: 1700000000001,
	Version: 3, Cversion: -4, Aversion: 5, EphemeralOwner: 0x7766554433221100,
	DataLength: 6, NumChildren: 7, Pzxid: 0x100000003,
}

var testACL = []ACL{
	{Perms: PermAll, ID: Id{Scheme: "world", ID: "anyone"}},
	{Perms: PermRead | PermAdmin, ID: Id{Scheme: "digest", ID: "u:kTb1mZ3AGNHQdsbYzTzBkZfLyZk="}},
}

type recordCase struct {
	name string
	rec  Record
	new  func() Record
	// optionalTail is how many trailing bytes may be cut while the rest still
	// decodes (ConnectRequest's readOnly flag).
	optionalTail int
}

// recordCases holds at least one populated value of every record in records.go,
// plus the nil/empty variants of buffers and vectors.
func recordCases() []recordCase {
	return []recordCase{
		{name: "Id", rec: &Id{Scheme: "ip", ID: "10.0.0.1"}, new: func() Record { return &Id{} }},
		{name: "ACL", rec: &testACL[1], new: func() Record { return &ACL{} }},
		{name: "Stat", rec: &testStat, new: func() Record { return &Stat{} }},
		{name: "ConnectRequest/readOnly", rec: &ConnectRequest{ProtocolVersion: 0, LastZxidSeen: 42, TimeOut: 30000, SessionID: 0x1234, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}, new: func() Record { return &ConnectRequest{} }, optionalTail: 1},
		{name: "ConnectRequest/readOnlyFalse", rec: &ConnectRequest{TimeOut: 1, Passwd: []byte{1, 2}, HasReadOnly: true}, new: func() Record { return &ConnectRequest{} }, optionalTail: 1},
		{name: "ConnectRequest/old", rec: &ConnectRequest{LastZxidSeen: -1, TimeOut: 4000, Passwd: []byte{}}, new: func() Record { return &ConnectRequest{} }},
		{name: "ConnectRequest/nilPasswd", rec: &ConnectRequest{TimeOut: 4000}, new: func() Record { return &ConnectRequest{} }},
		{name: "ConnectResponse/readOnly", rec: &ConnectResponse{TimeOut: 30000, SessionID: -5, Passwd: bytes.Repeat([]byte{9}, 16), HasReadOnly: true, ReadOnly: true}, new: func() Record { return &ConnectResponse{} }, optionalTail: 1},
		{name: "ConnectResponse/old", rec: &ConnectResponse{TimeOut: 30000, SessionID: 5, Passwd: []byte{1}}, new: func() Record { return &ConnectResponse{} }},
		{name: "RequestHeader", rec: &RequestHeader{Xid: 7, Type: OpGetData}, new: func() Record { return &RequestHeader{} }},
		{name: "ReplyHeader", rec: &ReplyHeader{Xid: -1, Zxid: 99, Err: ErrNoNode}, new: func() Record { return &ReplyHeader{} }},
		{name: "MultiHeader", rec: &MultiHeader{Type: OpCheck, Done: true, Err: -1}, new: func() Record { return &MultiHeader{} }},
		{name: "AuthPacket", rec: &AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("u:p")}, new: func() Record { return &AuthPacket{} }},
		{name: "AuthPacket/nil", rec: &AuthPacket{Scheme: "x"}, new: func() Record { return &AuthPacket{} }},
		{name: "SetWatches", rec: &SetWatches{RelativeZxid: 10, DataWatches: []string{"/a", "/b"}, ExistWatches: []string{}, ChildWatches: nil}, new: func() Record { return &SetWatches{} }},
		{name: "SetWatches2", rec: &SetWatches2{RelativeZxid: 11, DataWatches: []string{"/a"}, ExistWatches: []string{"/e"}, ChildWatches: []string{"/c", ""}, PersistentWatches: []string{}, PersistentRecursiveWatches: []string{"/r"}}, new: func() Record { return &SetWatches2{} }},
		{name: "CreateRequest", rec: &CreateRequest{Path: "/a", Data: []byte("x"), ACL: testACL, Flags: ModeEphemeralSequential}, new: func() Record { return &CreateRequest{} }},
		{name: "CreateRequest/nil", rec: &CreateRequest{Path: "/a"}, new: func() Record { return &CreateRequest{} }},
		{name: "CreateRequest/empty", rec: &CreateRequest{Path: "/a", Data: []byte{}, ACL: []ACL{}}, new: func() Record { return &CreateRequest{} }},
		{name: "CreateTTLRequest", rec: &CreateTTLRequest{Path: "/t", Data: []byte{0}, ACL: testACL[:1], Flags: ModePersistentWithTTL, TTL: 5000}, new: func() Record { return &CreateTTLRequest{} }},
		{name: "CreateResponse", rec: &CreateResponse{Path: "/a0000000001"}, new: func() Record { return &CreateResponse{} }},
		{name: "Create2Response", rec: &Create2Response{Path: "/a", Stat: testStat}, new: func() Record { return &Create2Response{} }},
		{name: "DeleteRequest", rec: &DeleteRequest{Path: "/a", Version: -1}, new: func() Record { return &DeleteRequest{} }},
		{name: "ExistsRequest", rec: &ExistsRequest{Path: "/a", Watch: true}, new: func() Record { return &ExistsRequest{} }},
		{name: "ExistsResponse", rec: &ExistsResponse{Stat: testStat}, new: func() Record { return &ExistsResponse{} }},
		{name: "GetDataRequest", rec: &GetDataRequest{Path: "/a", Watch: true}, new: func() Record { return &GetDataRequest{} }},
		{name: "GetDataResponse", rec: &GetDataResponse{Data: []byte("hello"), Stat: testStat}, new: func() Record { return &GetDataResponse{} }},
		{name: "GetDataResponse/nil", rec: &GetDataResponse{Stat: testStat}, new: func() Record { return &GetDataResponse{} }},
		{name: "GetDataResponse/empty", rec: &GetDataResponse{Data: []byte{}}, new: func() Record { return &GetDataResponse{} }},
		{name: "SetDataRequest", rec: &SetDataRequest{Path: "/a", Data: []byte("v"), Version: 3}, new: func() Record { return &SetDataRequest{} }},
		{name: "SetDataResponse", rec: &SetDataResponse{Stat: testStat}, new: func() Record { return &SetDataResponse{} }},
		{name: "GetACLRequest", rec: &GetACLRequest{Path: "/a"}, new: func() Record { return &GetACLRequest{} }},
		{name: "GetACLResponse", rec: &GetACLResponse{ACL: testACL, Stat: testStat}, new: func() Record { return &GetACLResponse{} }},
		{name: "SetACLRequest", rec: &SetACLRequest{Path: "/a", ACL: testACL, Version: 2}, new: func() Record { return &SetACLRequest{} }},
		{name: "SetACLResponse", rec: &SetACLResponse{Stat: testStat}, new: func() Record { return &SetACLResponse{} }},
		{name: "GetChildrenRequest", rec: &GetChildrenRequest{Path: "/", Watch: true}, new: func() Record { return &GetChildrenRequest{} }},
		{name: "GetChildrenResponse", rec: &GetChildrenResponse{Children: []string{"a", "b", "zookeeper"}}, new: func() Record { return &GetChildrenResponse{} }},
		{name: "GetChildrenResponse/empty", rec: &GetChildrenResponse{Children: []string{}}, new: func() Record { return &GetChildrenResponse{} }},
		{name: "GetChildren2Request", rec: &GetChildren2Request{Path: "/x"}, new: func() Record { return &GetChildren2Request{} }},
		{name: "GetChildren2Response", rec: &GetChildren2Response{Children: []string{"a"}, Stat: testStat}, new: func() Record { return &GetChildren2Response{} }},
		{name: "SyncRequest", rec: &SyncRequest{Path: "/a"}, new: func() Record { return &SyncRequest{} }},
		{name: "SyncResponse", rec: &SyncResponse{Path: "/a"}, new: func() Record { return &SyncResponse{} }},
		{name: "CheckVersionRequest", rec: &CheckVersionRequest{Path: "/a", Version: 9}, new: func() Record { return &CheckVersionRequest{} }},
		{name: "ReconfigRequest", rec: &ReconfigRequest{JoiningServers: "server.4=h:2888:3888;2181", LeavingServers: "1", NewMembers: "", CurConfigID: -1}, new: func() Record { return &ReconfigRequest{} }},
		{name: "CheckWatchesRequest", rec: &CheckWatchesRequest{Path: "/a", Type: WatcherData}, new: func() Record { return &CheckWatchesRequest{} }},
		{name: "RemoveWatchesRequest", rec: &RemoveWatchesRequest{Path: "/a", Type: WatcherAny}, new: func() Record { return &RemoveWatchesRequest{} }},
		{name: "GetEphemeralsRequest", rec: &GetEphemeralsRequest{PrefixPath: "/app"}, new: func() Record { return &GetEphemeralsRequest{} }},
		{name: "GetEphemeralsResponse", rec: &GetEphemeralsResponse{Ephemerals: []string{"/app/a", "/app/b"}}, new: func() Record { return &GetEphemeralsResponse{} }},
		{name: "GetAllChildrenNumberRequest", rec: &GetAllChildrenNumberRequest{Path: "/"}, new: func() Record { return &GetAllChildrenNumberRequest{} }},
		{name: "GetAllChildrenNumberResponse", rec: &GetAllChildrenNumberResponse{TotalNumber: 12}, new: func() Record { return &GetAllChildrenNumberResponse{} }},
		{name: "AddWatchRequest", rec: &AddWatchRequest{Path: "/a", Mode: AddWatchPersistentRecursive}, new: func() Record { return &AddWatchRequest{} }},
		{name: "WatcherEvent", rec: &WatcherEvent{Type: EventNodeChildrenChanged, State: StateSyncConnected, Path: "/a"}, new: func() Record { return &WatcherEvent{} }},
		{name: "ErrorResponse", rec: &ErrorResponse{Err: ErrBadVersion}, new: func() Record { return &ErrorResponse{} }},
		{name: "GetSASLRequest", rec: &GetSASLRequest{Token: []byte{1, 2, 3}}, new: func() Record { return &GetSASLRequest{} }},
		{name: "SetSASLResponse", rec: &SetSASLResponse{Token: nil}, new: func() Record { return &SetSASLResponse{} }},
		{name: "ClientInfo", rec: &ClientInfo{AuthScheme: "ip", User: "127.0.0.1"}, new: func() Record { return &ClientInfo{} }},
		{name: "WhoAmIResponse", rec: &WhoAmIResponse{ClientInfo: []ClientInfo{{"ip", "127.0.0.1"}, {"digest", "u"}}}, new: func() Record { return &WhoAmIResponse{} }},
		{name: "WhoAmIResponse/nil", rec: &WhoAmIResponse{}, new: func() Record { return &WhoAmIResponse{} }},
		{name: "WhoAmIResponse/empty", rec: &WhoAmIResponse{ClientInfo: []ClientInfo{}}, new: func() Record { return &WhoAmIResponse{} }},
		{name: "MultiRequest/write", rec: testMultiWrite(), new: func() Record { return &MultiRequest{} }},
		{name: "MultiRequest/read", rec: testMultiRead(), new: func() Record { return &MultiRequest{} }},
		{name: "MultiRequest/empty", rec: &MultiRequest{}, new: func() Record { return &MultiRequest{} }},
		{name: "MultiResponse", rec: testMultiResponse(), new: func() Record { return &MultiResponse{} }},
		{name: "MultiResponse/empty", rec: &MultiResponse{}, new: func() Record { return &MultiResponse{} }},
	}
}

func multiOp(t OpCode, r Record) MultiOp {
	return MultiOp{Header: MultiHeader{Type: t, Err: -1}, Request: r}
}

func testMultiWrite() *MultiRequest {
	return &MultiRequest{Ops: []MultiOp{
		multiOp(OpCreate, &CreateRequest{Path: "/a", Data: []byte("1"), ACL: testACL, Flags: ModePersistent}),
		multiOp(OpCreate, &CreateRequest{Path: "/b", ACL: testACL[:1], Flags: ModeEphemeral}),
		multiOp(OpCreateContainer, &CreateRequest{Path: "/c", Data: []byte{}, ACL: testACL, Flags: ModeContainer}),
		multiOp(OpCreateTTL, &CreateTTLRequest{Path: "/t", ACL: testACL, Flags: ModePersistentWithTTL, TTL: 100}),
		multiOp(OpDelete, &DeleteRequest{Path: "/a", Version: -1}),
		multiOp(OpSetData, &SetDataRequest{Path: "/b", Data: []byte("2"), Version: 0}),
		multiOp(OpCheck, &CheckVersionRequest{Path: "/controller_epoch", Version: 7}),
	}}
}

func testMultiRead() *MultiRequest {
	return &MultiRequest{Ops: []MultiOp{
		multiOp(OpGetData, &GetDataRequest{Path: "/a"}),
		multiOp(OpGetChildren, &GetChildrenRequest{Path: "/"}),
	}}
}

func testMultiResponse() *MultiResponse {
	return &MultiResponse{Results: []MultiResult{
		{Header: MultiHeader{Type: OpCreate}, Response: &CreateResponse{Path: "/a"}},
		{Header: MultiHeader{Type: OpCreate2}, Response: &Create2Response{Path: "/b", Stat: testStat}},
		{Header: MultiHeader{Type: OpSetData}, Response: &SetDataResponse{Stat: testStat}},
		{Header: MultiHeader{Type: OpDelete}},
		{Header: MultiHeader{Type: OpCheck}},
		{Header: MultiHeader{Type: OpGetData}, Response: &GetDataResponse{Data: []byte("d"), Stat: testStat}},
		{Header: MultiHeader{Type: OpGetChildren}, Response: &GetChildrenResponse{Children: []string{"x"}}},
		{Header: MultiHeader{Type: OpError, Err: ErrNoNode}, Response: &ErrorResponse{Err: ErrNoNode}},
		{Header: MultiHeader{Type: OpError, Err: ErrRuntimeInconsistency}, Response: &ErrorResponse{Err: ErrRuntimeInconsistency}},
	}}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range recordCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := Marshal(tc.rec)
			got := tc.new()
			if err := Unmarshal(b, got); err != nil {
				t.Fatalf("decode %x: %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, tc.rec)
			}
			if b2 := Marshal(got); !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs:\n%x\n%x", b, b2)
			}
		})
	}
}

// Every cut of a valid encoding must fail cleanly (the deferred recover turns a
// panic into a test failure with the cut point).
func TestTruncatedInput(t *testing.T) {
	for _, tc := range recordCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := Marshal(tc.rec)
			for cut := 0; cut < len(b)-tc.optionalTail; cut++ {
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("cut %d of %d: panic %v", cut, len(b), p)
						}
					}()
					// A copy with no spare capacity, so reading past the cut cannot
					// see the original bytes.
					in := append([]byte(nil), b[:cut]...)
					if err := Unmarshal(in, tc.new()); err == nil {
						t.Fatalf("cut %d of %d: decoded without error", cut, len(b))
					}
				}()
			}
		})
	}
}

func TestConnectRequestWithoutReadOnly(t *testing.T) {
	full := &ConnectRequest{TimeOut: 30000, SessionID: 1, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}
	b := Marshal(full)
	if len(b) != 45 {
		t.Fatalf("ConnectRequest is %d bytes, want 45", len(b))
	}
	var old ConnectRequest
	if err := Unmarshal(b[:44], &old); err != nil {
		t.Fatal(err)
	}
	want := *full
	want.ReadOnly, want.HasReadOnly = false, false
	if !reflect.DeepEqual(old, want) {
		t.Fatalf("got %+v want %+v", old, want)
	}
	// Decoding into a used record must clear a flag the old client did not send.
	reused := *full
	if err := Unmarshal(b[:44], &reused); err != nil || reused.HasReadOnly || reused.ReadOnly {
		t.Fatalf("reused record: %+v %v", reused, err)
	}
}

// Golden encodings, checked by hand against the jute rules (big-endian, ustring
// and buffer as int32 length + bytes, boolean as one byte).
func TestGoldenEncodings(t *testing.T) {
	for _, tc := range []struct {
		rec Record
		hex string
	}{
		{&GetDataRequest{Path: "/a", Watch: true}, "000000022f6101"},
		{&RequestHeader{Xid: 1, Type: OpCreate}, "0000000100000001"},
		{&ReplyHeader{Xid: -2, Zxid: 5, Err: ErrNoNode}, "fffffffe0000000000000005ffffff9b"},
		{&SetDataRequest{Path: "/", Data: nil, Version: -1}, "000000012fffffffffffffffff"},
		{&MultiRequest{}, "ffffffff01ffffffff"},
		{&MultiRequest{Ops: []MultiOp{multiOp(OpCheck, &CheckVersionRequest{Path: "/", Version: 1})}},
			"0000000d00ffffffff" + "000000012f00000001" + "ffffffff01ffffffff"},
		{&MultiResponse{Results: []MultiResult{{Header: MultiHeader{Type: OpError, Err: ErrBadVersion}}}},
			"ffffffff00ffffff99" + "ffffff99" + "ffffffff01ffffffff"},
		{&ConnectRequest{TimeOut: 30000, Passwd: []byte{}, HasReadOnly: true},
			"00000000" + "0000000000000000" + "00007530" + "0000000000000000" + "00000000" + "00"},
	} {
		if got := hex.EncodeToString(Marshal(tc.rec)); got != tc.hex {
			t.Errorf("%T: got %s want %s", tc.rec, got, tc.hex)
		}
	}
}

func TestMultiResponseCreateTypes(t *testing.T) {
	// ZooKeeper reports createContainer and createTTL results as create2; the Java
	// client's MultiResponse throws on any other create type.
	for _, typ := range []OpCode{OpCreateContainer, OpCreateTTL} {
		in := &MultiResponse{Results: []MultiResult{{Header: MultiHeader{Type: typ}, Response: &Create2Response{Path: "/c", Stat: testStat}}}}
		var out MultiResponse
		if err := Unmarshal(Marshal(in), &out); err != nil {
			t.Fatal(err)
		}
		want := MultiResult{Header: MultiHeader{Type: OpCreate2}, Response: &Create2Response{Path: "/c", Stat: testStat}}
		if len(out.Results) != 1 || !reflect.DeepEqual(out.Results[0], want) {
			t.Fatalf("%v: got %+v", typ, out.Results)
		}
	}
	// An error result's code goes into header and body even if only one was set.
	in := &MultiResponse{Results: []MultiResult{{Header: MultiHeader{Type: OpError}, Response: &ErrorResponse{Err: ErrNotEmpty}}}}
	var out MultiResponse
	if err := Unmarshal(Marshal(in), &out); err != nil {
		t.Fatal(err)
	}
	if h := out.Results[0].Header; h.Err != ErrNotEmpty {
		t.Fatalf("header err %v", h.Err)
	}
	// A nil body is written as the zero body of its type.
	in = &MultiResponse{Results: []MultiResult{{Header: MultiHeader{Type: OpSetData}}}}
	if err := Unmarshal(Marshal(in), &out); err != nil || !reflect.DeepEqual(out.Results[0].Response, &SetDataResponse{}) {
		t.Fatalf("nil body: %+v %v", out.Results, err)
	}
}

func TestMultiRequestErrors(t *testing.T) {
	enc := func(hs ...any) []byte {
		e := &Encoder{}
		for _, h := range hs {
			switch v := h.(type) {
			case MultiHeader:
				v.Encode(e)
			case Record:
				v.Encode(e)
			}
		}
		return e.Buf
	}
	hdr := func(t OpCode) MultiHeader { return MultiHeader{Type: t, Err: -1} }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"unknown op", enc(hdr(OpExists), &ExistsRequest{Path: "/"}, multiEnd), ErrUnknownMultiOp},
		{"ping op", enc(hdr(OpPing), multiEnd), ErrUnknownMultiOp},
		{"mixed", enc(hdr(OpGetData), &GetDataRequest{Path: "/"}, hdr(OpDelete), &DeleteRequest{Path: "/"}, multiEnd), ErrMixedMultiOps},
		{"no terminator", enc(hdr(OpDelete), &DeleteRequest{Path: "/"}), ErrShortBuffer},
		{"empty", nil, ErrShortBuffer},
	} {
		if err := Unmarshal(tc.b, &MultiRequest{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
	}
	// A header with Done ends the multi whatever its type, as in Java.
	var r MultiRequest
	if err := Unmarshal(enc(MultiHeader{Type: 5, Done: true}), &r); err != nil || r.Ops != nil {
		t.Fatalf("done header: %+v %v", r, err)
	}
	if err := Unmarshal(enc(MultiHeader{Type: OpExists}, &ExistsRequest{}), &MultiResponse{}); !errors.Is(err, ErrUnknownMultiOp) {
		t.Fatalf("response with exists: %v", err)
	}
	if !testMultiWrite().IsWrite() || testMultiWrite().IsRead() || !testMultiRead().IsRead() || testMultiRead().IsWrite() {
		t.Fatal("IsRead/IsWrite")
	}
}

func TestMultiEncodePanicsOnWrongType(t *testing.T) {
	for _, r := range []Record{
		&MultiRequest{Ops: []MultiOp{multiOp(OpDelete, &SetDataRequest{})}},
		&MultiRequest{Ops: []MultiOp{multiOp(OpExists, nil)}},
		&MultiResponse{Results: []MultiResult{{Header: MultiHeader{Type: OpDelete}, Response: &SetDataResponse{}}}},
		&MultiResponse{Results: []MultiResult{{Header: MultiHeader{Type: OpSync}}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", r)
				}
			}()
			Marshal(r)
		}()
	}
}

// Length prefixes that the rest of the frame cannot hold are refused before
// anything of that size is allocated.
func TestHugeLengthsRefused(t *testing.T) {
	huge := []byte{0x7f, 0xff, 0xff, 0xff}
	pad := make([]byte, 64)
	cases := []struct {
		name string
		b    []byte
		rec  Record
	}{
		{"ustring", append(append([]byte{}, huge...), pad...), &GetDataRequest{}},
		{"buffer", append(append([]byte{0, 0, 0, 1, '/'}, huge...), pad...), &SetDataRequest{}},
		{"vector<ustring>", append(append([]byte{}, huge...), pad...), &GetChildrenResponse{}},
		{"vector<ACL>", append(append([]byte{0, 0, 0, 1, '/', 0xff, 0xff, 0xff, 0xff}, huge...), pad...), &CreateRequest{}},
		{"vector<ClientInfo>", append(append([]byte{}, huge...), pad...), &WhoAmIResponse{}},
		{"negative", append([]byte{0x80, 0, 0, 0}, pad...), &GetDataRequest{}},
		{"passwd", append(append(make([]byte, 24), huge...), pad...), &ConnectRequest{}},
	}
	for _, tc := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := Unmarshal(tc.b, tc.rec)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrBadLength) {
			t.Errorf("%s: got %v, want ErrBadLength", tc.name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: allocated %d bytes", tc.name, n)
		}
	}
	// 2^31-1 ACLs of 12 bytes cannot fit in 64 bytes either; nor can 6 of them.
	b := append([]byte{0, 0, 0, 6}, make([]byte, 5*12+11)...)
	if err := Unmarshal(b, &GetACLResponse{}); !errors.Is(err, ErrBadLength) {
		t.Errorf("6 ACLs in 71 bytes: %v", err)
	}
}

// TestMultiCreateType: inside a multi, a create's type follows its mode, as ZooKeeper
// 3.8's MultiOperationRecord builds it with Op.create (observed on the reference by
// integration/fuzz: a createTTL with mode container made a container; a
// createContainer with mode persistent answered a create result without Stat). A TTL
// mode keeps its header (storage/datatree fails the multi).
func TestMultiCreateType(t *testing.T) {
	create := func(m CreateMode) *CreateRequest { return &CreateRequest{Path: "/x", ACL: testACL, Flags: m} }
	ttl := func(m CreateMode) *CreateTTLRequest {
		return &CreateTTLRequest{Path: "/x", ACL: testACL, Flags: m, TTL: 1000}
	}
	cases := []struct {
		name     string
		op       MultiOp
		wantType OpCode
		want     Record
	}{
		{"create/persistent", multiOp(OpCreate, create(ModePersistent)), OpCreate, create(ModePersistent)},
		{"create/container", multiOp(OpCreate, create(ModeContainer)), OpCreateContainer, create(ModeContainer)},
		{"create/ttl", multiOp(OpCreate, create(ModePersistentWithTTL)), OpCreate, create(ModePersistentWithTTL)},
		{"create2/ephemeral", multiOp(OpCreate2, create(ModeEphemeral)), OpCreate, create(ModeEphemeral)},
		{"create2/container", multiOp(OpCreate2, create(ModeContainer)), OpCreateContainer, create(ModeContainer)},
		{"create2/ttl", multiOp(OpCreate2, create(ModePersistentSequentialWithTTL)), OpCreate2, create(ModePersistentSequentialWithTTL)},
		{"createContainer/persistent", multiOp(OpCreateContainer, create(ModePersistent)), OpCreate, create(ModePersistent)},
		{"createContainer/sequential", multiOp(OpCreateContainer, create(ModeEphemeralSequential)), OpCreate, create(ModeEphemeralSequential)},
		{"createContainer/container", multiOp(OpCreateContainer, create(ModeContainer)), OpCreateContainer, create(ModeContainer)},
		{"createContainer/ttl", multiOp(OpCreateContainer, create(ModePersistentWithTTL)), OpCreateContainer, create(ModePersistentWithTTL)},
		{"createContainer/invalid", multiOp(OpCreateContainer, create(7)), OpCreate, create(7)},
		{"createTTL/ttl", multiOp(OpCreateTTL, ttl(ModePersistentWithTTL)), OpCreateTTL, ttl(ModePersistentWithTTL)},
		{"createTTL/persistent", multiOp(OpCreateTTL, ttl(ModePersistent)), OpCreate, create(ModePersistent)},
		{"createTTL/container", multiOp(OpCreateTTL, ttl(ModeContainer)), OpCreateContainer, create(ModeContainer)},
		{"createTTL/invalid", multiOp(OpCreateTTL, ttl(-1)), OpCreate, create(-1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Marshal(&MultiRequest{Ops: []MultiOp{c.op, multiOp(OpDelete, &DeleteRequest{Path: "/y", Version: -1})}})
			var got MultiRequest
			if err := Unmarshal(b, &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(got.Ops) != 2 || got.Ops[0].Header.Type != c.wantType || !reflect.DeepEqual(got.Ops[0].Request, c.want) ||
				got.Ops[1].Header.Type != OpDelete {
				t.Fatalf("decoded %v %#v, want %v %#v", got.Ops[0].Header.Type, got.Ops[0].Request, c.wantType, c.want)
			}
		})
	}
}

// TestAliasingDecoder: an aliasing decoder hands out byte slices of the frame itself,
// capped so that appending to one cannot write over the fields after it; a plain
// decoder copies.
func TestAliasingDecoder(t *testing.T) {
	frame := Marshal(&SetDataRequest{Path: "/a", Data: []byte("abc"), Version: 7})
	var plain, aliased SetDataRequest
	plain.Decode(NewDecoder(frame))
	d := NewAliasingDecoder(frame)
	aliased.Decode(d)
	if d.Err() != nil || string(aliased.Data) != "abc" || aliased.Version != 7 || aliased.Path != "/a" {
		t.Fatalf("aliased decode: %+v, %v", aliased, d.Err())
	}
	if cap(aliased.Data) != 3 {
		t.Fatalf("aliased Data has capacity %d, want 3: an append would write into the version", cap(aliased.Data))
	}
	aliased.Data[0] = 'X'
	if !bytes.Contains(frame, []byte("Xbc")) {
		t.Fatal("the aliasing decoder copied the data")
	}
	if string(plain.Data) != "abc" {
		t.Fatalf("the plain decoder's data changed with the frame: %q", plain.Data)
	}
}

// TestRender: Render's result has exactly the encoding's size and is not shared
// with the next Render (its buffer goes back to the pool).
func TestRender(t *testing.T) {
	enc := func(data string) []byte {
		return Render(func(e *Encoder) { (&SetDataRequest{Path: "/r", Data: []byte(data)}).Encode(e) })
	}
	a := enc("first")
	if want := Marshal(&SetDataRequest{Path: "/r", Data: []byte("first")}); !bytes.Equal(a, want) || cap(a) != len(want) {
		t.Fatalf("Render = %x (cap %d), want %x (cap %d)", a, cap(a), want, len(want))
	}
	b := enc("other")
	if bytes.Equal(a, b) || !bytes.Contains(a, []byte("first")) {
		t.Fatalf("a second Render changed the first's bytes: %q", a)
	}
}
