package fuzz

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/zkraft/zkraft/zkproto"
)

// GenOptions shape Generate's programs.
type GenOptions struct {
	Steps    int // how many steps (default 200)
	Sessions int // session slots (default 4)
	// AvoidOpen keeps out what shows the differences still open (each has a
	// repro file in testdata marked "differs"), for runs that must look past
	// them: none at present (sasl was the last: repro-new-single-sasl).
	AvoidOpen bool
	// NoExpire leaves session expiry out (each expiry waits a session timeout).
	NoExpire bool
}

func (o GenOptions) withDefaults() GenOptions {
	if o.Steps == 0 {
		o.Steps = 200
	}
	if o.Sessions == 0 {
		o.Sessions = 4
	}
	return o
}

// treeEvery is how often (in steps) a program compares the whole tree.
const treeEvery = 25

// Generate draws a program from seed. The same seed and options give the same program.
func Generate(seed int64, o GenOptions) Program {
	o = o.withDefaults()
	g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x7a6b72616674)), o: o}
	var p Program
	for i := 0; i < o.Steps; i++ {
		if i > 0 && i%treeEvery == 0 {
			p.Steps = append(p.Steps, Step{Kind: KindTree})
		}
		p.Steps = append(p.Steps, g.step())
	}
	p.Steps = append(p.Steps, Step{Kind: KindTree})
	return p
}

type gen struct {
	r *rand.Rand
	o GenOptions
	// alone is set while an op that will be sent alone is drawn: only such ops
	// may carry data past jute.maxbuffer, on which the server closes the
	// connection (with pipelined requests, which earlier ones are answered
	// before the close is a race in ZooKeeper).
	alone bool
}

func (g *gen) n(k int) int           { return g.r.IntN(k) }
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// pick returns an index drawn with the given weights.
func (g *gen) pick(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := g.n(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func (g *gen) step() Step {
	slot := g.n(g.o.Sessions)
	switch x := g.n(1000); {
	case x < 20:
		return Step{Slot: slot, Kind: KindClose}
	case x < 45:
		// A dropped session resumes at its next use; a setWatches then restores
		// some of its watches, as a client does.
		return Step{Slot: slot, Kind: KindDrop}
	case x < 50 && !g.o.NoExpire:
		return Step{Slot: slot, Kind: KindExpire}
	case x < 200:
		return Step{Slot: slot, Kind: KindOps, Ops: g.batch()}
	}
	g.alone = true
	defer func() { g.alone = false }()
	return Step{Slot: slot, Kind: KindOps, Ops: []Op{g.op(true)}}
}

// batch draws 2–6 ops to pipeline on one connection. Auth and SASL are answered by
// ZooKeeper outside its request pipeline (an addauth overtakes earlier requests),
// so they are only ever sent alone. A setACL ends its batch: ZooKeeper 3.8.0
// authorizes the requests pipelined behind a setACL against the node's ACL from
// before it (docs/compatibility.md, "Known differences the fuzzer steps around").
func (g *gen) batch() []Op {
	n := 2 + g.n(5)
	ops := make([]Op, 0, n)
	for len(ops) < n {
		op := g.op(false)
		ops = append(ops, op)
		if op.Code == zkproto.OpSetACL {
			break
		}
	}
	return ops
}

// Op codes with their weights.
var opWeights = []struct {
	code zkproto.OpCode
	w    int
}{
	{zkproto.OpCreate, 10}, {zkproto.OpCreate2, 7}, {zkproto.OpCreateContainer, 3}, {zkproto.OpCreateTTL, 3},
	{zkproto.OpDelete, 8}, {zkproto.OpExists, 7}, {zkproto.OpGetData, 8}, {zkproto.OpSetData, 8},
	{zkproto.OpGetACL, 3}, {zkproto.OpSetACL, 4}, {zkproto.OpGetChildren, 4}, {zkproto.OpGetChildren2, 4},
	{zkproto.OpSync, 2}, {zkproto.OpPing, 1}, {zkproto.OpCheck, 1}, {zkproto.OpMulti, 9},
	{zkproto.OpMultiRead, 4}, {zkproto.OpCheckWatches, 2}, {zkproto.OpRemoveWatches, 3},
	{zkproto.OpAuth, 4}, {zkproto.OpSetWatches, 1}, {zkproto.OpSetWatches2, 1}, {zkproto.OpGetEphemerals, 2},
	{zkproto.OpGetAllChildrenNumber, 2}, {zkproto.OpAddWatch, 4}, {zkproto.OpWhoAmI, 1},
	{zkproto.OpReconfig, 1}, {zkproto.OpDeleteContainer, 1}, {zkproto.OpSASL, 1},
}

func (g *gen) op(alone bool) Op {
	weights := make([]int, len(opWeights))
	for i, ow := range opWeights {
		weights[i] = ow.w
		if !alone && (ow.code == zkproto.OpAuth || ow.code == zkproto.OpSASL) {
			weights[i] = 0
		}
	}
	code := opWeights[g.pick(weights)].code
	o := Op{Code: code}
	switch code {
	case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer, zkproto.OpCreateTTL:
		return g.create(code)
	case zkproto.OpDelete:
		o.Path, o.Version = g.path(), g.version()
	case zkproto.OpExists, zkproto.OpGetData, zkproto.OpGetChildren, zkproto.OpGetChildren2:
		o.Path, o.Watch = g.path(), g.chance(0.5)
	case zkproto.OpSetData:
		o.Path, o.Version = g.path(), g.version()
		g.data(&o)
	case zkproto.OpGetACL, zkproto.OpSync, zkproto.OpGetEphemerals, zkproto.OpGetAllChildrenNumber:
		o.Path = g.path()
	case zkproto.OpSetACL:
		o.Path, o.Version, o.ACL = g.path(), g.version(), g.acl()
	case zkproto.OpCheck:
		// A standalone check that succeeds is never answered by ZooKeeper 3.8.0
		// (allow-list: op/check/ok): only checks that must fail are sent alone.
		o.Path, o.Version = g.path(), 1<<30
	case zkproto.OpMulti:
		o.Sub = g.multi()
	case zkproto.OpMultiRead:
		for n := 1 + g.n(4); n > 0; n-- {
			s := Op{Code: zkproto.OpGetData, Path: g.path()}
			if g.chance(0.4) {
				s.Code = zkproto.OpGetChildren
			}
			o.Sub = append(o.Sub, s)
		}
	case zkproto.OpCheckWatches, zkproto.OpRemoveWatches:
		o.Path, o.Mode = g.path(), int32(1+g.n(3)) // children, data, any
		if g.chance(0.05) {
			o.Mode = 4 + int32(g.n(2)) // persistent, persistent-recursive (3.9), or nonsense in 3.8
		}
	case zkproto.OpAddWatch:
		o.Path, o.Mode = g.path(), int32(g.n(2))
	case zkproto.OpAuth:
		o.Auth = g.auth()
	case zkproto.OpSetWatches, zkproto.OpSetWatches2:
		o.Watches = g.watchLists(code == zkproto.OpSetWatches2)
	case zkproto.OpReconfig:
		o.Path = "1" // leaving server 1: refused (reconfig is disabled) by both
	case zkproto.OpDeleteContainer:
		o.Path, o.Version = g.path(), -1
	case zkproto.OpSASL:
		o.Data = "token"
	}
	return o
}

// create draws one of the create ops. createTTL with a non-TTL mode only ever
// carries a TTL ≥ 0: a negative one kills ZooKeeper 3.8.0's SyncThread (allow-list:
// create/createTTL/mode[0-4]/ttl-negative).
func (g *gen) create(code zkproto.OpCode) Op {
	o := Op{Code: code, ACL: g.acl()}
	mode := int32(g.pick([]int{40, 20, 10, 10, 8, 6, 6, 1}))
	if mode == 7 {
		mode = []int32{7, -1}[g.n(2)] // invalid
	}
	if code == zkproto.OpCreateContainer {
		mode = int32(zkproto.ModeContainer)
		if g.chance(0.1) {
			mode = 0 // createContainer with another mode: an error
		}
	}
	if code == zkproto.OpCreateTTL && g.chance(0.8) {
		mode = []int32{5, 6}[g.n(2)]
	}
	o.Mode = mode
	o.Path = g.path()
	if zkproto.CreateMode(mode).IsSequential() && (o.Path == "" || g.chance(0.7)) {
		// Not the namespace root's path: its sequential child would be a sibling
		// of the root, numbered by "/", which other runs share.
		o.Path = g.seqPrefix()
	}
	if code == zkproto.OpCreateTTL {
		if zkproto.CreateMode(mode).IsTTL() {
			// 1 ms: reaped as soon as it has no child; an hour: never in a run;
			// the rest are invalid.
			o.TTL = []int64{1, 1, 3_600_000, 3_600_000, 0, -5, zkproto.MaxTTL + 1}[g.n(7)]
		} else {
			o.TTL = []int64{0, 1000}[g.n(2)]
		}
	}
	g.data(&o)
	return o
}

// multi draws 1–5 ops of a transaction; in a small namespace some fail, at any position.
func (g *gen) multi() []Op {
	n := 1 + g.n(5)
	if g.chance(0.05) {
		n = 0 // an empty multi
	}
	ops := make([]Op, 0, n)
	// Small data only: ZooKeeper logs the whole buffer of a multi it fails to
	// prepare (a read in it, a TTL mode under a create), for seconds when large.
	alone := g.alone
	g.alone = false
	defer func() { g.alone = alone }()
	for len(ops) < n {
		var s Op
		switch g.pick([]int{8, 2, 2, 2, 6, 6, 5, 1}) {
		case 0:
			s = g.create(zkproto.OpCreate)
		case 1:
			s = g.create(zkproto.OpCreate2)
		case 2:
			s = g.create(zkproto.OpCreateContainer)
		case 3:
			s = g.create(zkproto.OpCreateTTL)
		case 4:
			s = Op{Code: zkproto.OpDelete, Path: g.path(), Version: g.version()}
		case 5:
			s = Op{Code: zkproto.OpSetData, Path: g.path(), Version: g.version()}
			g.data(&s)
		case 6:
			s = Op{Code: zkproto.OpCheck, Path: g.path(), Version: g.version()}
		case 7:
			s = Op{Code: zkproto.OpGetData, Path: g.path()} // a read in a multi: refused
		}
		ops = append(ops, s)
	}
	// ZooKeeper 3.8.0 refuses a multi whose create carries a TTL mode with
	// MARSHALLINGERROR, an exception its PrepRequestProcessor does not roll back:
	// the sub-ops prepared before it stay in its outstanding changes, and the next
	// write of those paths is versioned from them (seed 1796307149697426907: a
	// refused multi {setData /b; …; create mode=5} and the next setData of /b
	// answered version 5 on ZooKeeper, 4 on zkraft; a direct probe saw the tree's
	// version go 4 → 6 over that one setData, in 1 of 5 rounds). zkraft changes
	// nothing for a refused multi, as it must. So such a create goes first, where
	// nothing has been prepared before it, and the refusal is still explored.
	if i := slices.IndexFunc(ops, unpreparable); i > 0 {
		ops[0], ops[i] = ops[i], ops[0]
	}
	return ops
}

// unpreparable is a multi's sub-op that ZooKeeper fails to prepare with an
// exception other than a KeeperException (see multi).
func unpreparable(o Op) bool {
	switch o.Code {
	case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer:
		return zkproto.CreateMode(o.Mode).IsTTL()
	}
	return false
}

var names = []string{"a", "b", "c"}

// path draws a path in the small namespace: up to three levels of a, b, c, now and
// then a sequential child's name, the namespace root, or an invalid path.
func (g *gen) path() string {
	switch x := g.n(100); {
	case x < 4:
		return ""
	case x < 7:
		return []string{"/a/", "/a//b", "/a/./b", "/a/../b", "/a/b\x01", "/a\x00b", "/.", "/a/.."}[g.n(8)]
	case x < 17:
		parent := ""
		if g.chance(0.6) {
			parent = "/" + names[g.n(3)]
		}
		return fmt.Sprintf("%s/%s%010d", parent, []string{"s-", ""}[g.n(2)], g.n(12))
	}
	depth := 1 + g.pick([]int{45, 35, 20})
	p := ""
	for range depth {
		p += "/" + names[g.n(3)]
	}
	return p
}

// seqPrefix is the path of a sequential create: "/a/s-" or "/a/" (legal: the
// suffix makes the name).
func (g *gen) seqPrefix() string {
	parent := ""
	if g.chance(0.7) {
		parent = "/" + names[g.n(3)]
	}
	return parent + "/" + []string{"s-", ""}[g.n(2)]
}

func (g *gen) version() int32 {
	switch g.pick([]int{50, 30, 15, 5}) {
	case 0:
		return -1
	case 1:
		return 0
	case 2:
		return int32(1 + g.n(3))
	}
	return -2 - int32(g.n(3)) // invalid
}

// data sets a create's or setData's data: empty, nil, short, or large, up to the
// edge of jute.maxbuffer and past it (the server closes the connection).
func (g *gen) data(o *Op) {
	weights := []int{10, 8, 50, 15, 8, 4, 2, 1}
	if !g.alone {
		weights = weights[:4]
	}
	switch g.pick(weights) {
	case 0:
	case 1:
		o.Nil = true
	case 2:
		o.Data = fmt.Sprintf("v%d", g.n(1000))
	case 3:
		o.Data, o.Size = "m", 50+g.n(2000)
	case 4:
		o.Data, o.Size = "k", 4096+g.n(60000)
	case 5:
		o.Data, o.Size = "L", 200_000+g.n(300_000)
	case 6:
		// Around jute.maxbuffer (1,048,575): the frame also holds the header and path.
		o.Data, o.Size = "E", 1_048_575-200+g.n(400)
	case 7:
		o.Data, o.Size = "X", 1_200_000
	}
}

// acl draws an ACL: one or two entries of every scheme, with and without each
// permission; now and then an invalid one (empty, unknown scheme, malformed id).
func (g *gen) acl() []ACL {
	if g.chance(0.45) {
		return []ACL{{Perms: zkproto.PermAll, Scheme: "world", ID: "anyone"}}
	}
	if g.chance(0.05) {
		return [][]ACL{{}, {{Perms: 31, Scheme: "nope", ID: "x"}}, {{Perms: 31, Scheme: "digest", ID: "nocolon"}},
			{{Perms: 31, Scheme: "ip", ID: "300.1.1.1"}}, {{Perms: 31, Scheme: "world", ID: "someone"}}}[g.n(5)]
	}
	n := 1 + g.n(2)
	out := make([]ACL, 0, n)
	for range n {
		perms := int32(g.n(32))
		if g.chance(0.3) {
			perms = zkproto.PermAll &^ (1 << g.n(5)) // all but one
		}
		var a ACL
		switch g.pick([]int{3, 4, 2, 1, 2}) {
		case 0:
			a = ACL{Perms: perms, Scheme: "world", ID: "anyone"}
		case 1:
			a = ACL{Perms: perms, Scheme: "digest", ID: []string{"u1", "u2"}[g.n(2)]}
		case 2:
			a = ACL{Perms: perms, Scheme: "ip", ID: []string{"127.0.0.1", "127.0.0.0/8", "10.1.2.3"}[g.n(3)]}
		case 3:
			a = ACL{Perms: perms, Scheme: "super", ID: "x"} // no such provider: INVALIDACL
			if g.chance(0.5) {
				a = ACL{Perms: perms, Scheme: "digest", ID: "super"}
			}
		case 4:
			a = ACL{Perms: perms, Scheme: "auth", ID: ""}
		}
		out = append(out, a)
	}
	return out
}

func (g *gen) auth() string {
	return []string{"digest:u1:p1", "digest:u2:p2", "digest:u1:wrong", "digest:super:$super", "digest:super:wrong",
		"ip:127.0.0.1", "nope:x", "digest:nocolon"}[g.pick([]int{6, 4, 1, 2, 1, 1, 1, 1})]
}

func (g *gen) watchLists(v2 bool) [][]string {
	n := 3
	if v2 {
		n = 5
	}
	w := make([][]string, n)
	for i := range w {
		for k := g.n(3); k > 0; k-- {
			w[i] = append(w[i], g.path())
		}
	}
	return w
}
