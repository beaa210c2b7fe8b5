package fuzz

import (
	"slices"
	"testing"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// TestGenerateCovers: a few seeds' programs hold every op code the generator knows,
// every create mode, every ACL scheme, every step kind, pipelined batches and
// multis failing at every position; and a seed always gives the same program.
func TestGenerateCovers(t *testing.T) {
	ops := map[zkproto.OpCode]bool{}
	modes := map[int32]bool{}
	schemes := map[string]bool{}
	kinds := map[string]bool{}
	auths := map[string]bool{}
	batches, watches, multiLens := 0, 0, map[int]bool{}
	var visit func(o Op)
	visit = func(o Op) {
		ops[o.Code] = true
		if isCreate(o.Code) {
			modes[o.Mode] = true
		}
		for _, a := range o.ACL {
			schemes[a.Scheme] = true
		}
		if o.Auth != "" {
			auths[o.Auth] = true
		}
		if o.Watch {
			watches++
		}
		if o.Code == zkproto.OpMulti {
			multiLens[len(o.Sub)] = true
		}
		for _, s := range o.Sub {
			visit(s)
		}
	}
	for seed := int64(1); seed <= 10; seed++ {
		p := Generate(seed, GenOptions{Steps: 300})
		if q := Generate(seed, GenOptions{Steps: 300}); !slices.EqualFunc(p.Steps, q.Steps, func(a, b Step) bool {
			return a.Slot == b.Slot && a.Kind == b.Kind && len(a.Ops) == len(b.Ops)
		}) {
			t.Fatalf("seed %d gives two programs", seed)
		}
		for _, st := range p.Steps {
			kinds[st.Kind] = true
			if len(st.Ops) > 1 {
				batches++
			}
			for _, o := range st.Ops {
				visit(o)
			}
		}
	}
	for _, ow := range opWeights {
		if !ops[ow.code] {
			t.Errorf("op %v never drawn", ow.code)
		}
	}
	for m := int32(0); m <= 6; m++ {
		if !modes[m] {
			t.Errorf("create mode %d never drawn", m)
		}
	}
	for _, s := range []string{"world", "digest", "ip", "auth"} {
		if !schemes[s] {
			t.Errorf("ACL scheme %s never drawn", s)
		}
	}
	for _, k := range []string{KindOps, KindClose, KindDrop, KindExpire, KindTree} {
		if !kinds[k] {
			t.Errorf("step kind %s never drawn", k)
		}
	}
	for _, a := range []string{"digest:u1:p1", "digest:super:$super"} {
		if !auths[a] {
			t.Errorf("addauth %s never drawn", a)
		}
	}
	for n := 0; n <= 5; n++ {
		if !multiLens[n] {
			t.Errorf("no multi of %d ops", n)
		}
	}
	if batches == 0 || watches == 0 {
		t.Errorf("%d pipelined batches, %d watches", batches, watches)
	}
}

// TestGenerateAvoidOpen: with AvoidOpen, sasl is sent (no longer an open
// difference) and pipelined batches still hold writes and setWatches (their order
// is checked since the FIFO fix).
func TestGenerateAvoidOpen(t *testing.T) {
	batchedWrites, sasls := 0, 0
	for seed := int64(1); seed <= 10; seed++ {
		for _, st := range Generate(seed, GenOptions{Steps: 300, AvoidOpen: true}).Steps {
			for _, o := range st.Ops {
				if o.Code == zkproto.OpSASL {
					sasls++
				}
				if len(st.Ops) > 1 && o.isWrite() {
					batchedWrites++
				}
			}
		}
	}
	if batchedWrites == 0 || sasls == 0 {
		t.Fatalf("%d writes in pipelined batches, %d sasl in 10 programs", batchedWrites, sasls)
	}
}

// TestGenerateUnpreparableFirst: a multi's create with a TTL mode, which ZooKeeper
// 3.8.0 refuses without undoing the sub-ops prepared before it, is never drawn
// after another sub-op, and is drawn first.
func TestGenerateUnpreparableFirst(t *testing.T) {
	first := 0
	var visit func(o Op)
	visit = func(o Op) {
		// ZooKeeper stops at the first; later ones are never prepared.
		switch i := slices.IndexFunc(o.Sub, unpreparable); {
		case i > 0:
			t.Fatalf("multi %v: create mode %d at position %d", o.Sub, o.Sub[i].Mode, i)
		case i == 0:
			first++
		}
	}
	for seed := int64(1); seed <= 20; seed++ {
		for _, st := range Generate(seed, GenOptions{Steps: 300}).Steps {
			for _, o := range st.Ops {
				visit(o)
			}
		}
	}
	if first == 0 {
		t.Fatal("no multi starts with a create that carries a TTL mode")
	}
}

// TestShrink: delta debugging keeps exactly the steps a failure needs, and then only
// the ops of a batch and of a multi that it needs.
func TestShrink(t *testing.T) {
	p := Generate(7, GenOptions{Steps: 120})
	// The failure needs step 10's first op and step 90, in that order.
	p.Steps[10] = Step{Slot: 1, Kind: KindOps, Ops: []Op{
		{Code: zkproto.OpCreate, Path: "/needed"},
		{Code: zkproto.OpMulti, Sub: []Op{{Code: zkproto.OpCheck, Path: "/x"}, {Code: zkproto.OpDelete, Path: "/needed-too"}}},
		{Code: zkproto.OpGetData, Path: "/noise"}}}
	p.Steps[90] = Step{Slot: 2, Kind: KindClose}
	fails := func(c Program) bool {
		i := slices.IndexFunc(c.Steps, func(s Step) bool { return len(s.Ops) > 0 && s.Ops[0].Path == "/needed" })
		if i < 0 {
			return false
		}
		multi := slices.IndexFunc(c.Steps[i].Ops, func(o Op) bool {
			return o.Code == zkproto.OpMulti && slices.ContainsFunc(o.Sub, func(s Op) bool { return s.Path == "/needed-too" })
		})
		return multi >= 0 && slices.ContainsFunc(c.Steps[i+1:], func(s Step) bool { return s.Slot == 2 && s.Kind == KindClose })
	}
	small, runs := shrink(p, fails, time.Minute)
	if !fails(small) {
		t.Fatal("the shrunk program does not fail")
	}
	if len(small.Steps) != 2 || len(small.Steps[0].Ops) != 2 || len(small.Steps[0].Ops[1].Sub) != 1 {
		t.Fatalf("shrunk to %+v in %d runs, want the two steps, the two ops and the one sub-op it needs", small, runs)
	}
	t.Logf("%d steps to %d in %d runs", len(p.Steps), len(small.Steps), runs)
}

// TestLabeler: zxids are named by first sight and placed among the older ones, so
// that two servers' zxids compare equal exactly when they are ordered alike.
func TestLabeler(t *testing.T) {
	var a, b labeler
	seqA := []zkproto.Zxid{10, 12, 11, 12, 5}
	seqB := []zkproto.Zxid{0x100000003, 0x100000009, 0x100000004, 0x100000009, 0x100000001}
	var la, lb []string
	for i := range seqA {
		la, lb = append(la, a.zxid(seqA[i])), append(lb, b.zxid(seqB[i]))
	}
	want := []string{"z1", "z2", "z3<z2", "z2", "z4<z1"}
	if !slices.Equal(la, want) || !slices.Equal(lb, want) {
		t.Fatalf("labels %v and %v, want %v", la, lb, want)
	}
	var c labeler
	c.zxid(10)
	c.zxid(12)
	if got := c.zxid(13); got != "z3" { // the newest is named alone
		t.Fatalf("got %s", got)
	}
	if a.rel(12) != "≥max" || a.rel(11) != "<max" || a.rel(0) != "=0" {
		t.Fatalf("rel: %s %s %s", a.rel(12), a.rel(11), a.rel(0))
	}
}
