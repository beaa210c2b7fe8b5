package zkproto

import (
	"errors"
	"fmt"
)

// ErrUnknownMultiOp means a multi request or response holds an op type that
// MultiOperationRecord / MultiResponse do not allow.
var ErrUnknownMultiOp = errors.New("zkproto: invalid op type in multi")

// ErrMixedMultiOps means a multi request mixes read ops (getData, getChildren) with
// write ops; ZooKeeper refuses to deserialize such a request.
var ErrMixedMultiOps = errors.New("zkproto: multi mixes read and write ops")

// multiEnd terminates both a MultiRequest and a MultiResponse.
var multiEnd = MultiHeader{Type: -1, Done: true, Err: -1}

// newMultiOpRequest is the request record for an op inside a multi, and whether the
// op is a read (multiRead) rather than a write (multi); nil for types a multi
// cannot hold.
func newMultiOpRequest(t OpCode) (Record, bool) {
	switch t {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}, false
	case OpCreateTTL:
		return &CreateTTLRequest{}, false
	case OpDelete:
		return &DeleteRequest{}, false
	case OpSetData:
		return &SetDataRequest{}, false
	case OpCheck:
		return &CheckVersionRequest{}, false
	case OpGetData:
		return &GetDataRequest{}, true
	case OpGetChildren:
		return &GetChildrenRequest{}, true
	}
	return nil, false
}

// multiOpRequestFits reports whether r is the request type that op type t carries.
func multiOpRequestFits(t OpCode, r Record) bool {
	switch r.(type) {
	case *CreateRequest:
		return t == OpCreate || t == OpCreate2 || t == OpCreateContainer
	case *CreateTTLRequest:
		return t == OpCreateTTL
	case *DeleteRequest:
		return t == OpDelete
	case *SetDataRequest:
		return t == OpSetData
	case *CheckVersionRequest:
		return t == OpCheck
	case *GetDataRequest:
		return t == OpGetData
	case *GetChildrenRequest:
		return t == OpGetChildren
	}
	return false
}

// IsRead reports whether the request holds only read ops (a multiRead body). An
// empty request is neither: IsRead and IsWrite both report true.
func (r *MultiRequest) IsRead() bool {
	for _, op := range r.Ops {
		if _, read := newMultiOpRequest(op.Header.Type); !read {
			return false
		}
	}
	return true
}

// IsWrite reports whether the request holds only write ops (a multi body).
func (r *MultiRequest) IsWrite() bool {
	for _, op := range r.Ops {
		if rec, read := newMultiOpRequest(op.Header.Type); rec == nil || read {
			return false
		}
	}
	return true
}

// Encode writes each op as MultiHeader{Type, false, -1} + body, as the Java client
// does, then the terminator. A nil Request is written as the zero request of its
// type. Encode panics on an op type a multi cannot hold or a Request of the wrong
// type: that is a bug in the caller, and the bytes would not decode.
func (r *MultiRequest) Encode(e *Encoder) {
	for i := range r.Ops {
		op := &r.Ops[i]
		body := op.Request
		if body == nil {
			body, _ = newMultiOpRequest(op.Header.Type)
		}
		if body == nil || !multiOpRequestFits(op.Header.Type, body) {
			panic(fmt.Sprintf("zkproto: MultiRequest op %d: cannot encode %T as %v", i, op.Request, op.Header.Type))
		}
		h := MultiHeader{Type: op.Header.Type, Done: false, Err: -1}
		h.Encode(e)
		body.Encode(e)
	}
	multiEnd.Encode(e)
}

// Decode reads ops until a header with Done set. Each op consumes at least a 9-byte
// header, so the frame bounds the number of ops.
func (r *MultiRequest) Decode(d *Decoder) {
	r.Ops = nil
	var sawRead, sawWrite bool
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		body, read := newMultiOpRequest(h.Type)
		if body == nil {
			d.Fail(fmt.Errorf("%w: op %d has type %d", ErrUnknownMultiOp, len(r.Ops), int32(h.Type)))
			return
		}
		sawRead = sawRead || read
		sawWrite = sawWrite || !read
		if sawRead && sawWrite {
			d.Fail(fmt.Errorf("%w: op %d is %v", ErrMixedMultiOps, len(r.Ops), h.Type))
			return
		}
		body.Decode(d)
		if d.Err() != nil {
			return
		}
		h.Type, body = multiCreate(h.Type, body)
		if r.Ops == nil {
			r.Ops = make([]MultiOp, 0, 8) // fewer steps of growth for the usual multi
		}
		r.Ops = append(r.Ops, MultiOp{Header: h, Request: body})
	}
}

// multiCreate gives a create op of a multi the type ZooKeeper 3.8's
// MultiOperationRecord gives it (Op.create): the mode decides, not the header. A
// container mode makes a createContainer, any other non-TTL mode (invalid ones
// included) a create: a create2 or createContainer header with a plain mode is a
// create, and a createTTL header with a non-TTL mode loses its TTL (found by
// integration/fuzz). A TTL mode keeps its header: under create, create2 or
// createContainer ZooKeeper builds an op it cannot prepare (the whole multi fails
// with MARSHALLINGERROR once it is reached, storage/datatree). Other ops are
// returned as they are.
func multiCreate(t OpCode, body Record) (OpCode, Record) {
	switch r := body.(type) {
	case *CreateRequest:
		switch {
		case r.Flags.IsTTL():
			return t, r
		case r.Flags == ModeContainer:
			return OpCreateContainer, r
		}
		return OpCreate, r
	case *CreateTTLRequest:
		if r.Flags.IsTTL() {
			return OpCreateTTL, r
		}
		c := &CreateRequest{Path: r.Path, Data: r.Data, ACL: r.ACL, Flags: r.Flags}
		if r.Flags == ModeContainer {
			return OpCreateContainer, c
		}
		return OpCreate, c
	}
	return t, body
}

// multiResultType is the header type ZooKeeper writes for a result: the results of
// createContainer and createTTL are CreateResults of type create2, and the Java
// client's MultiResponse rejects any other create type.
func multiResultType(t OpCode) OpCode {
	if t == OpCreateContainer || t == OpCreateTTL {
		return OpCreate2
	}
	return t
}

// newMultiResult is the response record for a result of header type t: (nil, true)
// for delete and check, which have no body; (nil, false) for types a multi response
// cannot hold.
func newMultiResult(t OpCode) (Record, bool) {
	switch t {
	case OpCreate:
		return &CreateResponse{}, true
	case OpCreate2, OpCreateContainer, OpCreateTTL:
		return &Create2Response{}, true
	case OpSetData:
		return &SetDataResponse{}, true
	case OpDelete, OpCheck:
		return nil, true
	case OpGetData:
		return &GetDataResponse{}, true
	case OpGetChildren:
		return &GetChildrenResponse{}, true
	case OpError:
		return &ErrorResponse{}, true
	}
	return nil, false
}

func multiResultFits(t OpCode, r Record) bool {
	switch r.(type) {
	case *CreateResponse:
		return t == OpCreate
	case *Create2Response:
		return t == OpCreate2
	case *SetDataResponse:
		return t == OpSetData
	case *GetDataResponse:
		return t == OpGetData
	case *GetChildrenResponse:
		return t == OpGetChildren
	case *ErrorResponse:
		return t == OpError
	}
	return false
}

// Encode writes each result as MultiHeader{Type, false, Err} + body, then the
// terminator, as ZooKeeper's MultiResponse does: Err is 0 except for OpError
// results, whose code goes in both the header and the ErrorResponse body (taken
// from Response when it is an *ErrorResponse, else from Header.Err). createContainer
// and createTTL results are written as create2. A nil Response is written as the
// zero body of its type. Encode panics on a type a multi response cannot hold or a
// Response of the wrong type: a bug in the caller, not client input.
func (r *MultiResponse) Encode(e *Encoder) {
	for i := range r.Results {
		res := &r.Results[i]
		t := multiResultType(res.Header.Type)
		body := res.Response
		if body == nil { // the type's empty body
			var ok bool
			if body, ok = newMultiResult(t); !ok {
				panic(fmt.Sprintf("zkproto: MultiResponse result %d: invalid type %v", i, res.Header.Type))
			}
		} else if !multiResultFits(t, body) {
			panic(fmt.Sprintf("zkproto: MultiResponse result %d: cannot encode %T as %v", i, res.Response, t))
		}
		h := MultiHeader{Type: t}
		if t == OpError {
			h.Err = res.Header.Err
			if er, ok := res.Response.(*ErrorResponse); ok {
				h.Err = er.Err
			}
			h.Encode(e)
			e.Int(int32(h.Err)) // the ErrorResponse body
			continue
		}
		h.Encode(e)
		if body != nil {
			body.Encode(e)
		}
	}
	multiEnd.Encode(e)
}

// Decode reads results until a header with Done set. Response is nil for delete
// and check results.
func (r *MultiResponse) Decode(d *Decoder) {
	r.Results = nil
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		body, ok := newMultiResult(h.Type)
		if !ok {
			d.Fail(fmt.Errorf("%w: result %d has type %d", ErrUnknownMultiOp, len(r.Results), int32(h.Type)))
			return
		}
		if body != nil {
			body.Decode(d)
		}
		if d.Err() != nil {
			return
		}
		r.Results = append(r.Results, MultiResult{Header: h, Response: body})
	}
}
