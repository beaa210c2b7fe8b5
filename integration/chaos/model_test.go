package chaos

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/anishathalye/porcupine"
)

// The register workload: a few znodes whose data and version are read with
// sync+getData and written with setData (version -1: put; a version: compare-and-set).

type regKind int

const (
	regPut regKind = iota
	regCAS
	regRead
)

type regInput struct {
	Key    int
	Kind   regKind
	Value  string // put, cas
	Expect int32  // cas: the version setData names
}

type regOutput struct {
	Unknown bool   // connection loss, timeout: it may or may not have taken effect
	Failed  bool   // cas: BADVERSION
	Value   string // read
	Version int32  // the version after a put or cas, or the one read
}

type regState struct {
	Value   string
	Version int32
}

// registerModel is a znode's (data, version) under setData and sync+getData. An
// operation whose outcome is unknown may have happened or not; its return time is
// the end of the history.
var registerModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var keys []int
		for _, op := range h {
			k := op.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{regState{}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(regState), input.(regInput), output.(regOutput)
		applied := regState{Value: in.Value, Version: s.Version + 1}
		switch in.Kind {
		case regPut:
			if out.Unknown {
				return []any{s, applied}
			}
			if out.Version == applied.Version {
				return []any{applied}
			}
		case regCAS:
			match := s.Version == in.Expect
			switch {
			case out.Unknown && match:
				return []any{s, applied}
			case out.Unknown:
				return []any{s}
			case out.Failed && !match:
				return []any{s}
			case !out.Failed && match && out.Version == applied.Version:
				return []any{applied}
			}
		case regRead:
			if out.Unknown {
				return []any{s}
			}
			if out.Value == s.Value && out.Version == s.Version {
				return []any{s}
			}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		res := ""
		switch {
		case out.Unknown:
			res = "?"
		case out.Failed:
			res = "BADVERSION"
		case in.Kind == regRead:
			res = fmt.Sprintf("%q v%d", out.Value, out.Version)
		default:
			res = "v" + strconv.Itoa(int(out.Version))
		}
		switch in.Kind {
		case regPut:
			return fmt.Sprintf("set(k%d, %q) → %s", in.Key, in.Value, res)
		case regCAS:
			return fmt.Sprintf("set(k%d, %q, v%d) → %s", in.Key, in.Value, in.Expect, res)
		}
		return fmt.Sprintf("sync+get(k%d) → %s", in.Key, res)
	},
	DescribeOperationMetadata: func(info any) string {
		if s, ok := info.(string); ok {
			return "on " + s
		}
		return ""
	},
	DescribeState: func(state any) string {
		s := state.(regState)
		return fmt.Sprintf("%q v%d", s.Value, s.Version)
	},
}

// The model accepts what a linearizable register does and refuses a stale read, a
// lost acknowledged write and a CAS that succeeded on the wrong version.
func TestRegisterModel(t *testing.T) {
	m := registerModel.ToModel()
	op := func(client int, call, ret int64, in regInput, out regOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
	}
	put := func(v string) regInput { return regInput{Kind: regPut, Value: v} }
	cas := func(v string, e int32) regInput { return regInput{Kind: regCAS, Value: v, Expect: e} }
	read := regInput{Kind: regRead}
	const never = 1 << 62
	for _, c := range []struct {
		name string
		ok   bool
		h    []porcupine.Operation
	}{
		{"sequential", true, []porcupine.Operation{
			op(0, 0, 1, put("a"), regOutput{Version: 1}),
			op(1, 2, 3, read, regOutput{Value: "a", Version: 1}),
			op(0, 4, 5, cas("b", 1), regOutput{Version: 2}),
			op(1, 6, 7, cas("c", 1), regOutput{Failed: true}),
		}},
		{"concurrent read sees either", true, []porcupine.Operation{
			op(0, 0, 10, put("a"), regOutput{Version: 1}),
			op(1, 2, 3, read, regOutput{}),
			op(2, 4, 5, read, regOutput{Value: "a", Version: 1}),
		}},
		{"unknown put seen", true, []porcupine.Operation{
			op(0, 0, never, put("a"), regOutput{Unknown: true}),
			op(1, 2, 3, read, regOutput{Value: "a", Version: 1}),
		}},
		{"unknown put never seen", true, []porcupine.Operation{
			op(0, 0, never, put("a"), regOutput{Unknown: true}),
			op(1, 2, 3, read, regOutput{}),
		}},
		{"stale read", false, []porcupine.Operation{
			op(0, 0, 1, put("a"), regOutput{Version: 1}),
			op(1, 2, 3, read, regOutput{}),
		}},
		{"read goes back", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), regOutput{Version: 1}),
			op(1, 2, 3, read, regOutput{Value: "a", Version: 1}),
			op(2, 4, 5, read, regOutput{}),
		}},
		{"cas on a stale version", false, []porcupine.Operation{
			op(0, 0, 1, put("a"), regOutput{Version: 1}),
			op(1, 2, 3, cas("b", 0), regOutput{Version: 1}),
		}},
		{"badversion on the current version", false, []porcupine.Operation{
			op(0, 0, 1, put("a"), regOutput{Version: 1}),
			op(1, 2, 3, cas("b", 1), regOutput{Failed: true}),
		}},
	} {
		if got := porcupine.CheckOperations(m, c.h); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}
