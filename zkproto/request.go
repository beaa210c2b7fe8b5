package zkproto

import (
	"errors"
	"fmt"
)

// ErrUnknownOp means a request header names an op code that clients may not send.
var ErrUnknownOp = errors.New("zkproto: unknown op code")

// NewRequest returns a fresh, empty request record for a client op code. Ops whose
// requests have no body (ping, closeSession, whoAmI) return (nil, true); op codes no
// client may send return (nil, false). deleteContainer (20) decodes as a
// DeleteRequest, but it is internal: the server must refuse it from clients.
func NewRequest(op OpCode) (Record, bool) {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}, true
	case OpCreateTTL:
		return &CreateTTLRequest{}, true
	case OpDelete, OpDeleteContainer:
		return &DeleteRequest{}, true
	case OpExists:
		return &ExistsRequest{}, true
	case OpGetData:
		return &GetDataRequest{}, true
	case OpSetData:
		return &SetDataRequest{}, true
	case OpGetACL:
		return &GetACLRequest{}, true
	case OpSetACL:
		return &SetACLRequest{}, true
	case OpGetChildren:
		return &GetChildrenRequest{}, true
	case OpGetChildren2:
		return &GetChildren2Request{}, true
	case OpSync:
		return &SyncRequest{}, true
	case OpCheck:
		return &CheckVersionRequest{}, true
	case OpMulti, OpMultiRead:
		return &MultiRequest{}, true
	case OpReconfig:
		return &ReconfigRequest{}, true
	case OpCheckWatches:
		return &CheckWatchesRequest{}, true
	case OpRemoveWatches:
		return &RemoveWatchesRequest{}, true
	case OpAuth:
		return &AuthPacket{}, true
	case OpSetWatches:
		return &SetWatches{}, true
	case OpSetWatches2:
		return &SetWatches2{}, true
	case OpSASL:
		return &GetSASLRequest{}, true
	case OpGetEphemerals:
		return &GetEphemeralsRequest{}, true
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberRequest{}, true
	case OpAddWatch:
		return &AddWatchRequest{}, true
	case OpPing, OpCloseSession, OpWhoAmI:
		return nil, true
	}
	return nil, false
}

// NewResponse returns a fresh, empty response record for a successful reply to op,
// as ZooKeeper's FinalRequestProcessor writes it; (nil, true) when the reply is the
// header alone. A reply whose header carries an error has no body.
func NewResponse(op OpCode) (Record, bool) {
	switch op {
	case OpCreate:
		return &CreateResponse{}, true
	case OpCreate2, OpCreateContainer, OpCreateTTL:
		return &Create2Response{}, true
	case OpExists:
		return &ExistsResponse{}, true
	case OpGetData, OpReconfig: // reconfig answers with the new config node's data
		return &GetDataResponse{}, true
	case OpSetData:
		return &SetDataResponse{}, true
	case OpGetACL:
		return &GetACLResponse{}, true
	case OpSetACL:
		return &SetACLResponse{}, true
	case OpGetChildren:
		return &GetChildrenResponse{}, true
	case OpGetChildren2:
		return &GetChildren2Response{}, true
	case OpSync:
		return &SyncResponse{}, true
	case OpMulti, OpMultiRead:
		return &MultiResponse{}, true
	case OpSASL:
		return &SetSASLResponse{}, true
	case OpGetEphemerals:
		return &GetEphemeralsResponse{}, true
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberResponse{}, true
	case OpAddWatch: // ZooKeeper writes ErrorResponse(0); the Java client reads it
		return &ErrorResponse{}, true
	case OpWhoAmI:
		return &WhoAmIResponse{}, true
	case OpDelete, OpDeleteContainer, OpCheck, OpPing, OpCloseSession, OpCheckWatches,
		OpRemoveWatches, OpAuth, OpSetWatches, OpSetWatches2:
		return nil, true
	}
	return nil, false
}

// requestHeaderSize is the encoded size of a RequestHeader.
const requestHeaderSize = 8

// DecodeRequestHeader splits a request frame (after the ConnectRequest) into its
// header and body. body aliases frame.
func DecodeRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < requestHeaderSize {
		return h, nil, fmt.Errorf("request header: %w (%d bytes)", ErrShortBuffer, len(frame))
	}
	d := NewDecoder(frame)
	h.Decode(d)
	return h, frame[requestHeaderSize:], nil
}

// DecodeRequest decodes a whole request frame: the header and, through NewRequest,
// its body (nil for ops without one). The record does not alias frame, so the frame
// buffer may be reused. An op code no client may send gives ErrUnknownOp, with the
// header still filled in so that the server can answer its xid.
func DecodeRequest(frame []byte) (RequestHeader, Record, error) {
	h, body, err := DecodeRequestHeader(frame)
	if err != nil {
		return h, nil, err
	}
	rec, ok := NewRequest(h.Type)
	if !ok {
		return h, nil, fmt.Errorf("%w %d (xid %d)", ErrUnknownOp, int32(h.Type), int32(h.Xid))
	}
	if rec == nil {
		return h, nil, nil
	}
	if err := Unmarshal(body, rec); err != nil {
		return h, nil, fmt.Errorf("decode %v request (xid %d): %w", h.Type, int32(h.Xid), err)
	}
	return h, rec, nil
}
