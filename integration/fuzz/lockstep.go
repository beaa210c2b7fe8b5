package fuzz

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zkraft/zkraft/integration/compat"
	"github.com/zkraft/zkraft/zkproto"
)

// A Runner runs programs in lockstep on the reference and on zkraft, one at a time,
// in the namespace Root (deleted before each run, so that a program sees the same
// names every time: ZooKeeper's order of some events follows Java hashes of paths).
// Quiesce, when set, waits until every zkraft member has applied everything (an
// ensemble), so that a step's effects are visible everywhere before the next step.
type Runner struct {
	Ref, Zkraft   Target
	SuperPassword string
	Root          string
	Quiesce       func() error
	Slots         int
	// ZkraftLog returns the last lines zkraft logged (info and above), for a
	// difference that does not show again: why it closed a connection, say.
	ZkraftLog func(lines int) string
}

// Result is what a run found.
type Result struct {
	Steps, Ops int
	Diff       *Difference
	// Allowed are the differences the allow-list accepts (compat.AllowList).
	Allowed []string
	// Err is a harness failure (a target stopped answering its observer...).
	Err     error
	Elapsed time.Duration
}

// A Difference is where zkraft's observations first differ from the reference's.
type Difference struct {
	Step   int    // index in the program
	Stream string // "c2" (slot 2's session), or "tree"
	// Ref and Zkraft are the stream's lines, from a few before the difference on.
	Ref, Zkraft []string
	// Line is the first differing line of each ("" where a stream has ended).
	RefLine, ZkraftLine string
	// RestrictedEvent: zkraft's line is a watch event on a path that had an ACL
	// without READ for world (where issue 8 (b) shows).
	RestrictedEvent bool
}

func (d *Difference) String() string {
	return fmt.Sprintf("step %d, %s:\n%s", d.Step, d.Stream, compat.SideBySide(d.Ref, d.Zkraft, "zookeeper", "zkraft"))
}

// Signature says what kind of difference it is, for shrinking to keep the same one:
// the stream kind and the op (or event, or tree) of the first differing line.
func (d *Difference) Signature() string {
	kind := func(l string) string {
		switch {
		case l == "":
			return "-"
		case strings.HasPrefix(l, "event "):
			return "event"
		case strings.HasPrefix(l, "tree"):
			return "tree"
		}
		return strings.FieldsFunc(l, func(r rune) bool { return r == '(' || r == ' ' || r == '{' })[0]
	}
	stream := "session"
	if d.Stream == "tree" {
		stream = "tree"
	}
	return stream + ":" + kind(d.RefLine) + "/" + kind(d.ZkraftLine)
}

// Run runs p on both targets and returns what it found; it stops at the first
// difference (the trees may have parted).
func (r *Runner) Run(p Program) (res Result) {
	t0 := time.Now()
	root := r.Root
	par(func() { compat.DeleteTree(r.Ref.Addrs[0], root, r.SuperPassword) },
		func() { compat.DeleteTree(r.Zkraft.Addrs[0], root, r.SuperPassword) })
	slots := r.Slots
	for _, st := range p.Steps {
		slots = max(slots, st.Slot+1)
	}
	ref, zr, err := r.sides(root, slots)
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		par(func() { ref.close() }, func() { zr.close() })
		par(func() { compat.DeleteTree(r.Ref.Addrs[0], root, r.SuperPassword) },
			func() { compat.DeleteTree(r.Zkraft.Addrs[0], root, r.SuperPassword) })
		res.Elapsed = time.Since(t0)
	}()
	cmp := comparer{r: r, ref: ref, zr: zr, pos: map[int]int{}}
	for i, st := range p.Steps {
		keepingAlive(st.Slot, func() { par(func() { ref.step(st) }, func() { zr.step(st) }) }, ref, zr)
		if r.Quiesce != nil {
			if err := r.Quiesce(); err != nil {
				res.Err = fmt.Errorf("step %d: %w", i, err)
				return res
			}
		}
		// Waiting for the reaper may take up to reapWithin, longer than a session
		// timeout: the sessions are kept alive meanwhile, as during a step.
		keepingAlive(-1, func() { par(func() { ref.awaitReaper() }, func() { zr.awaitReaper() }) }, ref, zr)
		par(func() { ref.keepalive(-1) }, func() { zr.keepalive(-1) })
		// A dropped session is resumed before it could expire (its next step may
		// come much later), at the same point on both: expiry is the expire
		// step's, on a timing both servers share.
		for k, sl := range ref.slots {
			if sl.state == slotDetached && time.Since(sl.dropped) > sessionTimeout*time.Millisecond/3 {
				par(func() { ref.conn(k) }, func() { zr.conn(k) })
			}
		}
		if r.Quiesce != nil {
			if err := r.Quiesce(); err != nil {
				res.Err = fmt.Errorf("step %d: %w", i, err)
				return res
			}
		}
		res.Steps, res.Ops = i+1, ref.ops
		if err := firstErr(ref.err, zr.err); err != nil {
			res.Err = fmt.Errorf("step %d: %w", i, err)
			return res
		}
		if d := cmp.compare(i, false); d != nil {
			res.Diff, res.Allowed = d, cmp.allowed
			return res
		}
	}
	par(ref.flush, zr.flush)
	if r.Quiesce != nil {
		r.Quiesce()
	}
	res.Diff, res.Allowed = cmp.compare(len(p.Steps)-1, true), cmp.allowed
	if res.Diff == nil {
		res.Err = firstErr(ref.err, zr.err)
	}
	return res
}

func (r *Runner) sides(root string, slots int) (ref, zr *side, err error) {
	var errRef, errZr error
	par(func() { ref, errRef = newSide(r.Ref, root, r.SuperPassword, slots) },
		func() { zr, errZr = newSide(r.Zkraft, root, r.SuperPassword, slots) })
	if err := firstErr(errRef, errZr); err != nil {
		if ref != nil {
			ref.close()
		}
		if zr != nil {
			zr.close()
		}
		return nil, nil, err
	}
	// The namespace root, made by the observers (its zxid is labelled on each side).
	for _, s := range []*side{ref, zr} {
		var cr zkproto.Create2Response
		h, err := s.obsCall(0, zkproto.OpCreate2, &zkproto.CreateRequest{Path: root,
			ACL: []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}}, &cr)
		if err == nil && h.Err != 0 {
			err = fmt.Errorf("create %s: %v", root, h.Err)
		}
		if err != nil {
			ref.close()
			zr.close()
			return nil, nil, fmt.Errorf("%s: %w", s.t.Name, err)
		}
		s.d.Stat(cr.Stat)
	}
	if r.Quiesce != nil {
		r.Quiesce()
	}
	return ref, zr, nil
}

// comparer compares the two sides' streams as they grow. A slot's stream is
// compared up to the shorter of the two: when a keepalive ping reads a session's
// queued events depends on timing, but the order of what one connection receives
// does not. At the end (final), the streams must be equal.
type comparer struct {
	r       *Runner
	ref, zr *side
	pos     map[int]int // stream → lines already compared
	allowed []string
}

func (c *comparer) compare(step int, final bool) *Difference {
	keys := map[int]bool{}
	for k := range c.ref.streams {
		keys[k] = true
	}
	for k := range c.zr.streams {
		keys[k] = true
	}
	sorted := make([]int, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		for {
			a, b := c.ref.streams[k], c.zr.streams[k]
			i := c.pos[k]
			for i < len(a) && i < len(b) && a[i] == b[i] {
				i++
			}
			c.pos[k] = i
			if i < len(a) && i < len(b) || final && len(a) != len(b) {
				if c.allow(k, i) {
					continue
				}
				return c.diff(step, k, i)
			}
			break
		}
	}
	return nil
}

// lineAllows accept a difference of one line, each through the allow-list entry of
// the scenario that shows it (so that the entry's reason is the fuzzer's too).
var lineAllows = []struct {
	scenario string
	match    func(req, ref, zr string) bool
}{
	{"watch/checkWatches/other-session/3", func(req, ref, zr string) bool {
		return strings.HasPrefix(req, "checkWatches(") && strings.HasPrefix(ref, "OK ") && strings.HasPrefix(zr, "-121(")
	}},
}

// allow replaces zkraft's line i of stream k by the reference's when the allow-list
// accepts the difference.
func (c *comparer) allow(k, i int) bool {
	a, b := c.ref.streams[k], c.zr.streams[k]
	if i >= len(a) || i >= len(b) {
		return false
	}
	req, ref, ok1 := strings.Cut(a[i], " → ")
	req2, zr, ok2 := strings.Cut(b[i], " → ")
	if !ok1 || !ok2 || req != req2 {
		return false
	}
	for _, la := range lineAllows {
		if e := compat.FindAllow(la.scenario); e != nil && la.match(req, ref, zr) {
			c.allowed = append(c.allowed, fmt.Sprintf("%s (allow-list %s)", b[i], e.Pattern))
			c.zr.streams[k][i] = a[i]
			return true
		}
	}
	return false
}

func (c *comparer) diff(step, k, i int) *Difference {
	a, b := c.ref.streams[k], c.zr.streams[k]
	from := max(0, i-8)
	d := &Difference{Step: step, Stream: streamName(k), Ref: slices.Clone(a[from:]), Zkraft: slices.Clone(b[from:])}
	if i < len(a) {
		d.RefLine = a[i]
	}
	if i < len(b) {
		d.ZkraftLine = b[i]
		if strings.HasPrefix(b[i], "event ") {
			d.RestrictedEvent = c.zr.restricted[eventPath(b[i])]
		}
	}
	return d
}

func streamName(k int) string {
	if k == treeStream {
		return "tree"
	}
	return fmt.Sprintf("c%d", k)
}

// keepingAlive runs fn while the sessions of both sides but slot's (-1: all) are
// pinged as they go idle (keepaliveDuring).
func keepingAlive(slot int, fn func(), sides ...*side) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Add(1)
		go func() { defer wg.Done(); s.keepaliveDuring(slot, stop) }()
	}
	fn()
	close(stop)
	wg.Wait()
}

// par runs the functions at once and waits for all.
func par(fns ...func()) {
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// eventPath is the path of a logged event line, relative to the namespace root.
func eventPath(line string) string {
	f := strings.Fields(line)
	return strings.TrimPrefix(f[len(f)-1], "/R")
}
