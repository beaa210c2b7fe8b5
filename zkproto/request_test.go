package zkproto

import (
	"errors"
	"reflect"
	"testing"
)

func TestNewRequestEveryOp(t *testing.T) {
	want := map[OpCode]Record{
		OpCreate: &CreateRequest{}, OpDelete: &DeleteRequest{}, OpExists: &ExistsRequest{},
		OpGetData: &GetDataRequest{}, OpSetData: &SetDataRequest{}, OpGetACL: &GetACLRequest{},
		OpSetACL: &SetACLRequest{}, OpGetChildren: &GetChildrenRequest{}, OpSync: &SyncRequest{},
		OpPing: nil, OpGetChildren2: &GetChildren2Request{}, OpCheck: &CheckVersionRequest{},
		OpMulti: &MultiRequest{}, OpCreate2: &CreateRequest{}, OpReconfig: &ReconfigRequest{},
		OpCheckWatches: &CheckWatchesRequest{}, OpRemoveWatches: &RemoveWatchesRequest{},
		OpCreateContainer: &CreateRequest{}, OpDeleteContainer: &DeleteRequest{},
		OpCreateTTL: &CreateTTLRequest{}, OpMultiRead: &MultiRequest{}, OpAuth: &AuthPacket{},
		OpSetWatches: &SetWatches{}, OpSASL: &GetSASLRequest{}, OpGetEphemerals: &GetEphemeralsRequest{},
		OpGetAllChildrenNumber: &GetAllChildrenNumberRequest{}, OpSetWatches2: &SetWatches2{},
		OpAddWatch: &AddWatchRequest{}, OpWhoAmI: nil, OpCloseSession: nil,
	}
	for op := OpCode(-200); op <= 300; op++ {
		rec, ok := NewRequest(op)
		w, known := want[op]
		if ok != known {
			t.Errorf("NewRequest(%v): ok=%v, want %v", op, ok, known)
			continue
		}
		if !known {
			if rec != nil {
				t.Errorf("NewRequest(%v): record for unknown op", op)
			}
			continue
		}
		if reflect.TypeOf(rec) != reflect.TypeOf(w) {
			t.Errorf("NewRequest(%v) = %T, want %T", op, rec, w)
			continue
		}
		if rec == nil {
			continue
		}
		if again, _ := NewRequest(op); again == rec {
			t.Errorf("NewRequest(%v) returned a shared record", op)
		}
		// The empty request round-trips through a whole frame.
		frame := AppendFrame(nil, &RequestHeader{Xid: 3, Type: op}, rec)
		h, got, err := DecodeRequest(frame[4:])
		if err != nil || h.Type != op || h.Xid != 3 || !reflect.DeepEqual(got, rec) {
			t.Errorf("DecodeRequest(%v): %+v %#v %v", op, h, got, err)
		}
	}
	// Every op with a request has a NewResponse entry, and vice versa.
	for op := OpCode(-200); op <= 300; op++ {
		_, reqOK := NewRequest(op)
		_, respOK := NewResponse(op)
		if reqOK != respOK {
			t.Errorf("op %v: NewRequest ok=%v NewResponse ok=%v", op, reqOK, respOK)
		}
	}
}

func TestDecodeRequest(t *testing.T) {
	frame := AppendFrame(nil, &RequestHeader{Xid: 9, Type: OpCreate2},
		&CreateRequest{Path: "/a", Data: []byte("x"), ACL: testACL, Flags: ModeEphemeral})[4:]
	h, rec, err := DecodeRequest(frame)
	if err != nil {
		t.Fatal(err)
	}
	// The record must not alias the frame, which the reader reuses.
	for i := range frame {
		frame[i] = 0
	}
	want := &CreateRequest{Path: "/a", Data: []byte("x"), ACL: testACL, Flags: ModeEphemeral}
	if h != (RequestHeader{Xid: 9, Type: OpCreate2}) || !reflect.DeepEqual(rec, want) {
		t.Fatalf("got %+v %#v", h, rec)
	}

	h, rec, err = DecodeRequest(Marshal(&RequestHeader{Xid: XidPing, Type: OpPing}))
	if err != nil || rec != nil || h.Xid != XidPing {
		t.Fatalf("ping: %+v %v %v", h, rec, err)
	}
	h, _, err = DecodeRequest(Marshal(&RequestHeader{Xid: 4, Type: 77}))
	if !errors.Is(err, ErrUnknownOp) || h.Xid != 4 {
		t.Fatalf("unknown op: %+v %v", h, err)
	}
	if _, _, err = DecodeRequest([]byte{0, 0, 0, 1, 0, 0, 0}); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short header: %v", err)
	}
	_, _, err = DecodeRequest(Marshal(&RequestHeader{Xid: 5, Type: OpGetData}))
	if !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("missing body: %v", err)
	}
}
