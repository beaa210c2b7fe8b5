package compat

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer, the one the scenarios
// around it expect.
const DefaultMaxBuffer = zkproto.DefaultMaxBuffer

// Options says what Check runs against.
type Options struct {
	// Servers are the client addresses of the target: one server, or members of
	// an ensemble (the scenarios are spread over them, each on one member).
	Servers []string
	// Reference, when set, is a server every scenario also runs against; the
	// target must answer as it does. Without it, the target is compared with the
	// golden transcripts (Apache ZooKeeper 3.8.0's).
	Reference string
	// SuperPassword is the password of the servers' superDigest; without it the
	// super cases are not run.
	SuperPassword string
	// JuteMaxBuffer is the servers' jute.maxbuffer (0: the default).
	JuteMaxBuffer int
	// Filter, when set, selects the scenarios whose name contains it (or one of
	// its comma-separated parts).
	Filter string
	// Parallel is how many scenarios run at once (0: 4).
	Parallel int
	// Progress, when set, gets a line now and then.
	Progress io.Writer
}

// CaseResult is one scenario's outcome.
type CaseResult struct {
	Name, Feature string
	Server        string // the member it ran on
	Want, Got     []string
	Outcome       Outcome
	Allow         *AllowEntry
}

// AreaCount counts the cases of one area (a row of the compatibility matrix).
type AreaCount struct {
	Area                            string
	Passed, Allowed, Failed, NotRun int
}

// NotRun groups the cases that were not run for one reason.
type NotRun struct {
	Reason string
	Cases  []string
}

// Report is what Check found.
type Report struct {
	Servers   []string
	Reference string
	// Probes describes what each server was found to provide.
	Probes    []string
	Areas     []AreaCount
	Total     AreaCount
	Failures  []CaseResult
	Allowed   []CaseResult
	NotRun    []NotRun
	Leftovers []string
	Elapsed   time.Duration
}

// OK reports whether every case that ran passed (identical or an allowed difference).
func (r *Report) OK() bool { return r.Total.Failed == 0 }

// probe is what one server was found to provide.
type probe struct {
	addr      string
	timeout   int32 // negotiated for defaultTimeout
	min, max  int32 // negotiated for 1 and 2^30
	local     string
	extended  string // "" when createTTL works, else what it answered
	reaped    bool
	superOK   string // "" when the super password works, else why not
	parentErr error
}

func (p *probe) provides(n Need, o Options) (bool, string) {
	switch n {
	case NeedSuper:
		if o.SuperPassword == "" {
			return false, "no --super-password given"
		}
		return p.superOK == "", p.superOK
	case NeedExtendedTypes:
		return p.extended == "", "createTTL answered " + p.extended
	case NeedSessionTimeouts:
		return p.min == 1000 && p.max == 20000, fmt.Sprintf("%s accepts %d–%d ms", p.addr, p.min, p.max)
	case NeedFastReaping:
		return p.reaped, fmt.Sprintf("%s did not reap an emptied container within 2 s", p.addr)
	case NeedLoopback:
		return strings.HasPrefix(p.local, "127.0.0.1:"), fmt.Sprintf("the client's address at %s is %s", p.addr, p.local)
	case NeedDefaultMaxBuffer:
		mb := o.JuteMaxBuffer
		return mb == 0 || mb == DefaultMaxBuffer, fmt.Sprintf("--jute-maxbuffer %d", mb)
	case NeedFreshServer:
		return false, "compat never runs it: the target is not assumed to be empty"
	}
	return false, "unknown need"
}

func (p *probe) describe(o Options) string {
	var parts []string
	if p.timeout == defaultTimeout {
		parts = append(parts, fmt.Sprintf("session timeout %d ms as asked", p.timeout))
	} else {
		parts = append(parts, fmt.Sprintf("WARNING: asked for a %d ms session timeout, got %d (every case expects %d)",
			defaultTimeout, p.timeout, defaultTimeout))
	}
	parts = append(parts, fmt.Sprintf("accepts %d–%d ms", p.min, p.max))
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	parts = append(parts, "TTL nodes: "+yes(p.extended == ""), "containers reaped within 2 s: "+yes(p.reaped),
		"client address "+p.local)
	switch {
	case o.SuperPassword == "":
		parts = append(parts, "super password: not given")
	case p.superOK == "":
		parts = append(parts, "super password: accepted")
	default:
		parts = append(parts, "super password: "+p.superOK)
	}
	return p.addr + ": " + strings.Join(parts, "; ")
}

func connect(addr string, timeout int32) (*rawzk.Conn, error) {
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: timeout, Passwd: make([]byte, 16), HasReadOnly: true})
	if err != nil {
		return nil, err
	}
	c.Raw().SetDeadline(time.Now().Add(30 * time.Second))
	if c.Session.TimeOut <= 0 {
		c.Close()
		return nil, errors.New("the server refused the session")
	}
	return c, nil
}

// probeServer finds what addr provides, creating the run's parent node there.
func probeServer(addr, parent string, o Options) (*probe, error) {
	p := &probe{addr: addr}
	c, err := connect(addr, defaultTimeout)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer closeSession(c)
	p.timeout = c.Session.TimeOut
	p.local = c.Raw().LocalAddr().String()
	for _, t := range []struct {
		ask int32
		got *int32
	}{{1, &p.min}, {1 << 30, &p.max}} {
		c2, err := connect(addr, t.ask)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
		*t.got = c2.Session.TimeOut
		closeSession(c2)
	}
	err = c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: parent, ACL: openACL}, &zkproto.CreateResponse{})
	if err != nil && !errors.Is(err, zkproto.ErrNodeExists) {
		return nil, fmt.Errorf("create %s on %s: %w", parent, addr, err)
	}
	// TTL nodes.
	ttl := parent + "/probe-ttl"
	err = c.Call(zkproto.OpCreateTTL, &zkproto.CreateTTLRequest{Path: ttl, ACL: openACL, Flags: zkproto.ModePersistentWithTTL, TTL: 60000}, &zkproto.CreateResponse{})
	if err != nil {
		p.extended = err.Error()
	}
	c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: ttl, Version: -1}, nil)
	// Container reaping.
	ctr := parent + "/probe-container"
	if err := c.Call(zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: ctr, ACL: openACL, Flags: zkproto.ModeContainer}, &zkproto.CreateResponse{}); err == nil {
		c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: ctr + "/x", ACL: openACL}, &zkproto.CreateResponse{})
		c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: ctr + "/x", Version: -1}, nil)
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if err := c.Call(zkproto.OpExists, &zkproto.ExistsRequest{Path: ctr}, &zkproto.ExistsResponse{}); errors.Is(err, zkproto.ErrNoNode) {
				p.reaped = true
				break
			}
		}
		c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: ctr, Version: -1}, nil)
	}
	// The super password: super reads a node whose ACL names someone else.
	if o.SuperPassword != "" {
		p.superOK = probeSuper(c, addr, parent+"/probe-super", o.SuperPassword)
	}
	return p, nil
}

func probeSuper(c *rawzk.Conn, addr, node, password string) string {
	acl := []zkproto.ACL{{Perms: zkproto.PermRead, ID: zkproto.Id{Scheme: "digest", ID: DigestID("zkraft-compat", "probe")}}}
	if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: node, ACL: acl}, &zkproto.CreateResponse{}); err != nil {
		return "cannot check it: create " + err.Error()
	}
	defer c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: node, Version: -1}, nil)
	s, err := connect(addr, defaultTimeout)
	if err != nil {
		return "cannot check it: " + err.Error()
	}
	defer closeSession(s)
	if err := s.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte("super:" + password)}); err != nil {
		return "cannot check it: " + err.Error()
	}
	if h, err := s.Recv(zkproto.XidAuth, nil); err != nil || h.Err != 0 {
		return fmt.Sprintf("auth failed (%v %v)", h.Err, err)
	}
	if err := s.Call(zkproto.OpGetData, &zkproto.GetDataRequest{Path: node}, &zkproto.GetDataResponse{}); err != nil {
		return "not accepted: super cannot read a node only another user may read (" + err.Error() + ")"
	}
	return ""
}

func randomHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Check runs the scenarios against the target as Options say and reports. Each
// scenario runs in its own namespace under /zkraft-compat-<random> and deletes it
// when it ends; the error is for what kept Check from running at all.
func Check(o Options) (*Report, error) {
	t0 := time.Now()
	if len(o.Servers) == 0 {
		return nil, errors.New("no servers")
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	var golden map[string][]string
	if o.Reference == "" {
		var err error
		if golden, err = Golden(); err != nil {
			return nil, err
		}
	}
	parent := "/zkraft-compat-" + randomHex()
	rep := &Report{Servers: o.Servers, Reference: o.Reference}
	// Every member must be reachable; the settings are probed on the first (and
	// on the reference): an ensemble's members share them.
	for _, a := range o.Servers[1:] {
		c, err := connect(a, defaultTimeout)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", a, err)
		}
		closeSession(c)
	}
	var probes []*probe
	for _, a := range append([]string{o.Servers[0]}, o.Reference) {
		if a == "" {
			continue
		}
		p, err := probeServer(a, parent, o)
		if err != nil {
			return nil, err
		}
		probes = append(probes, p)
		rep.Probes = append(rep.Probes, p.describe(o))
	}
	// What is not run, and why.
	notRun := map[string][]string{}
	var reasons []string
	skip := func(reason, name string) {
		if notRun[reason] == nil {
			reasons = append(reasons, reason)
		}
		notRun[reason] = append(notRun[reason], name)
	}
	type job struct {
		s      Scenario
		server string
	}
	var jobs []job
	areas := map[string]*AreaCount{}
	area := func(f string) *AreaCount {
		if areas[f] == nil {
			areas[f] = &AreaCount{Area: f}
		}
		return areas[f]
	}
	for _, s := range All() {
		if !selected(s.name, o.Filter) {
			continue
		}
		reason := ""
		switch {
		case s.skipRef != "":
			reason = "never run by compat: " + s.skipRef
		default:
			for _, n := range s.Needs() {
				for _, p := range probes {
					if ok, why := p.provides(n, o); !ok {
						reason = "needs " + n.Describe() + ": " + why
						break
					}
				}
				if reason != "" {
					break
				}
			}
		}
		if reason == "" && golden != nil {
			if _, ok := golden[s.name]; !ok {
				reason = "no golden transcript (run with --reference)"
			}
		}
		if reason != "" {
			skip(reason, s.name)
			area(s.feature).NotRun++
			continue
		}
		jobs = append(jobs, job{s: s, server: o.Servers[len(jobs)%len(o.Servers)]})
	}
	target := &Runner{Prefix: parent + "/", SuperPassword: o.SuperPassword, Cleanup: true}
	reference := &Runner{Prefix: parent + "/r", SuperPassword: o.SuperPassword, Cleanup: true}
	results := make([]CaseResult, len(jobs))
	var mu sync.Mutex
	var leftovers []string
	var done int
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := CaseResult{Name: j.s.name, Feature: j.s.feature, Server: j.server}
			var errs []error
			if o.Reference != "" {
				var err error
				var rwg sync.WaitGroup
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					res.Want, err = reference.Run(j.s, o.Reference)
				}()
				var terr error
				res.Got, terr = target.Run(j.s, j.server)
				rwg.Wait()
				errs = append(errs, err, terr)
			} else {
				res.Want = golden[j.s.name]
				var err error
				res.Got, err = target.Run(j.s, j.server)
				errs = append(errs, err)
			}
			res.Outcome, res.Allow = Compare(j.s.name, res.Want, res.Got)
			results[i] = res
			mu.Lock()
			defer mu.Unlock()
			for _, err := range errs {
				if err != nil {
					leftovers = append(leftovers, strings.Split(err.Error(), "\n")...)
				}
			}
			done++
			if o.Progress != nil && done%200 == 0 {
				fmt.Fprintf(o.Progress, "… %d of %d cases\n", done, len(jobs))
			}
		}()
	}
	wg.Wait()
	for _, res := range results {
		a := area(res.Feature)
		switch res.Outcome {
		case Same:
			a.Passed++
		case AllowedDiff:
			a.Allowed++
			rep.Allowed = append(rep.Allowed, res)
		default:
			a.Failed++
			rep.Failures = append(rep.Failures, res)
		}
	}
	for _, r := range reasons {
		rep.NotRun = append(rep.NotRun, NotRun{Reason: r, Cases: notRun[r]})
	}
	names := make([]string, 0, len(areas))
	for f := range areas {
		names = append(names, f)
	}
	sort.Strings(names)
	rep.Total.Area = "total"
	for _, f := range names {
		a := *areas[f]
		rep.Areas = append(rep.Areas, a)
		rep.Total.Passed += a.Passed
		rep.Total.Allowed += a.Allowed
		rep.Total.Failed += a.Failed
		rep.Total.NotRun += a.NotRun
	}
	// The parent goes last; whatever an ACL kept from deletion stays under it.
	for _, a := range append([]string{o.Servers[0]}, o.Reference) {
		if a == "" {
			continue
		}
		if err := DeleteTree(a, parent, o.SuperPassword); err != nil && len(leftovers) == 0 {
			leftovers = append(leftovers, strings.Split(err.Error(), "\n")...)
		}
	}
	sort.Strings(leftovers)
	rep.Leftovers = leftovers
	rep.Elapsed = time.Since(t0)
	return rep, nil
}

// Write prints the report for an operator.
func (r *Report) Write(w io.Writer) {
	against := "the golden transcripts of Apache ZooKeeper 3.8.0"
	if r.Reference != "" {
		against = "the reference server " + r.Reference
	}
	fmt.Fprintf(w, "zkraft compat: %s compared with %s\n\n", strings.Join(r.Servers, ","), against)
	for _, p := range r.Probes {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintf(w, "\n%-28s %7s %8s %7s %8s\n", "area", "passed", "allowed", "failed", "not run")
	row := func(a AreaCount) {
		mark := ""
		if a.Failed > 0 {
			mark = "  <- FAILED"
		}
		fmt.Fprintf(w, "%-28s %7d %8d %7d %8d%s\n", a.Area, a.Passed, a.Allowed, a.Failed, a.NotRun, mark)
	}
	for _, a := range r.Areas {
		row(a)
	}
	row(r.Total)
	if len(r.NotRun) > 0 {
		fmt.Fprintf(w, "\nnot run (%d cases):\n", r.Total.NotRun)
		for _, n := range r.NotRun {
			ex := strings.Join(n.Cases[:min(3, len(n.Cases))], ", ")
			if len(n.Cases) > 3 {
				ex += ", …"
			}
			fmt.Fprintf(w, "  %4d  %s\n        (%s)\n", len(n.Cases), n.Reason, ex)
		}
	}
	if len(r.Allowed) > 0 {
		fmt.Fprintf(w, "\nallowed differences (%d; known and accepted, see docs/compatibility.md):\n", len(r.Allowed))
		for _, a := range r.Allowed {
			fmt.Fprintf(w, "  %s: %s\n", a.Name, a.Allow.Reason)
		}
	}
	if len(r.Failures) > 0 {
		want := "expected (ZooKeeper 3.8.0)"
		if r.Reference != "" {
			want = "expected (" + r.Reference + ")"
		}
		fmt.Fprintf(w, "\nfailures (%d):\n", len(r.Failures))
		for _, f := range r.Failures {
			fmt.Fprintf(w, "\nFAIL %s  [%s, on %s]\n", f.Name, f.Feature, f.Server)
			for _, l := range strings.Split(strings.TrimRight(SideBySide(f.Want, f.Got, want, "got ("+f.Server+")"), "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	if len(r.Leftovers) > 0 {
		fmt.Fprintf(w, "\nnot cleaned up (%d nodes; an ACL forbids it: give --super-password, or remove them by hand):\n", len(r.Leftovers))
		for _, l := range r.Leftovers {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	ran := r.Total.Passed + r.Total.Allowed + r.Total.Failed
	if r.OK() {
		fmt.Fprintf(w, "\nPASS: %d cases ran, %d identical, %d allowed differences; %d not run (%v)\n",
			ran, r.Total.Passed, r.Total.Allowed, r.Total.NotRun, r.Elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "\nFAIL: %d of %d cases that ran failed; %d not run (%v)\n",
			r.Total.Failed, ran, r.Total.NotRun, r.Elapsed.Round(time.Millisecond))
	}
}

func selected(name, filter string) bool {
	if filter == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		if f != "" && strings.Contains(name, f) {
			return true
		}
	}
	return false
}
