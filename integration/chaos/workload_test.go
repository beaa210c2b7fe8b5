package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/integration/ensembleproc"
	"github.com/zkraft/zkraft/zkproto"
)

const (
	regDir  = "/chaos/reg"
	seqDir  = "/chaos/seq"
	fifoDir = "/chaos/fifo"
	ephDir  = "/chaos/eph"
)

// sessionTimeout is what every client asks for: long enough that a failover (a few
// ticks of 200 ms) never expires a session that goes on talking to a live member.
const sessionTimeout = 6 * time.Second

// dial opens a go-zookeeper client on addrs (in an order of rng's); it connects and
// reconnects in the background.
func dial(addrs []string, rng *rand.Rand) (*zk.Conn, <-chan zk.Event, error) {
	a := slices.Clone(addrs)
	rng.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
	return zk.Connect(a, sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(ensembleproc.QuietLogger{}), zk.WithHostProvider(&ensembleproc.OrderedHosts{Servers: a}))
}

// definite errors are answers: the operation did not take effect. Anything else
// (connection loss, a closed session, a timeout) leaves its outcome unknown.
func definite(err error) bool {
	for _, d := range []error{zk.ErrBadVersion, zk.ErrNoNode, zk.ErrNodeExists, zk.ErrNotEmpty, zk.ErrNoAuth, zk.ErrBadArguments} {
		if errors.Is(err, d) {
			return true
		}
	}
	return false
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func pause(stop <-chan struct{}, d time.Duration) {
	select {
	case <-stop:
	case <-time.After(d):
	}
}

// registerWorker writes and reads the registers regDir/k<i>: put (setData -1),
// compare-and-set (setData with the version it last saw, sometimes a wrong one) and
// sync+getData, each recorded for the porcupine check.
func registerWorker(h *history, client int, addrs []string, keys int, rng *rand.Rand, stop <-chan struct{}) {
	c, _, err := dial(addrs, rng)
	if err != nil {
		h.violation("register client %d: connect: %v", client, err)
		return
	}
	defer c.Close()
	seen := make([]int32, keys)
	for n := 0; !stopped(stop); n++ {
		k := rng.IntN(keys)
		p := fmt.Sprintf("%s/k%d", regDir, k)
		in := regInput{Key: k, Value: fmt.Sprintf("%d.%d", client, n)}
		var out regOutput
		server := c.Server()
		call := h.now()
		switch r := rng.IntN(10); {
		case r < 3:
			in.Kind = regPut
			st, err := c.Set(p, []byte(in.Value), -1)
			switch {
			case err == nil:
				out.Version, seen[k] = st.Version, st.Version
			case definite(err):
				h.violation("register client %d: set %s: %v", client, p, err)
				continue
			default:
				out.Unknown = true
			}
		case r < 6:
			in.Kind, in.Expect = regCAS, seen[k]
			if rng.IntN(5) == 0 {
				// A wrong version, but not -1 (that is an unconditional set).
				in.Expect = max(0, in.Expect+int32(rng.IntN(3))-1)
			}
			st, err := c.Set(p, []byte(in.Value), in.Expect)
			switch {
			case err == nil:
				out.Version, seen[k] = st.Version, st.Version
			case errors.Is(err, zk.ErrBadVersion):
				out.Failed = true
			case definite(err):
				h.violation("register client %d: set %s version %d: %v", client, p, in.Expect, err)
				continue
			default:
				out.Unknown = true
			}
		default:
			in.Kind = regRead
			sid := c.SessionID()
			if _, err := c.Sync(p); err != nil {
				continue // nothing read: nothing to check
			}
			data, st, err := c.Get(p)
			if err != nil || c.SessionID() != sid {
				// A sync orders only its own session's reads: one whose session was
				// replaced in between (expired, renewed) proves nothing.
				continue
			}
			out.Value, out.Version, seen[k] = string(data), st.Version, st.Version
		}
		ret := h.now()
		if out.Unknown {
			ret = never
		}
		if after := c.Server(); after != server {
			server += "→" + after
		}
		h.addReg(porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out, Metadata: server})
		pause(stop, time.Duration(rng.IntN(4))*time.Millisecond)
	}
}

// seqState collects the sequential creates of every worker.
type seqState struct {
	mu      sync.Mutex
	acked   map[string]string // name → token
	unknown map[string]bool   // tokens of creates with an unknown outcome
}

// seqWorker creates sequential znodes seqDir/n-, each with a token of its own as
// data. No two acknowledged creates may get one name.
func seqWorker(h *history, s *seqState, client int, addrs []string, rng *rand.Rand, stop <-chan struct{}) {
	c, _, err := dial(addrs, rng)
	if err != nil {
		h.violation("sequential client %d: connect: %v", client, err)
		return
	}
	defer c.Close()
	for n := 0; !stopped(stop); n++ {
		token := fmt.Sprintf("s%d.%d", client, n)
		name, err := c.Create(seqDir+"/n-", []byte(token), zk.FlagSequence, ensembleproc.OpenACL)
		s.mu.Lock()
		switch {
		case err == nil:
			if prev, dup := s.acked[name]; dup {
				h.violation("sequential name %s acknowledged twice: to %s and to %s", name, prev, token)
			}
			s.acked[name] = token
		case definite(err):
			h.violation("sequential client %d: create: %v", client, err)
		default:
			s.unknown[token] = true
		}
		s.mu.Unlock()
		h.count("sequential creates", 1)
		pause(stop, time.Duration(rng.IntN(5))*time.Millisecond)
	}
}

// checkSeq reads seqDir through c: every acknowledged name is there with its token,
// and no token is there twice or under another name.
func checkSeq(h *history, s *seqState, c *zk.Conn) error {
	kids, _, err := c.Children(seqDir)
	if err != nil {
		return fmt.Errorf("children of %s: %w", seqDir, err)
	}
	have := map[string]string{}
	byToken := map[string]string{}
	for _, k := range kids {
		p := seqDir + "/" + k
		data, _, err := c.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		have[p] = string(data)
		if other, dup := byToken[string(data)]; dup {
			h.violation("sequential create %s applied twice: %s and %s", data, other, p)
		}
		byToken[string(data)] = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, token := range s.acked {
		if got, ok := have[name]; !ok {
			h.violation("acknowledged sequential znode %s (%s) lost", name, token)
		} else if got != token {
			h.violation("sequential znode %s holds %s, acknowledged to %s", name, got, token)
		}
	}
	for p, token := range have {
		if name, ok := byToken[token]; ok && name == p && s.acked[p] != token && !s.unknown[token] {
			h.violation("sequential znode %s holds %s, a create that failed or was never made", p, token)
		}
	}
	h.count("sequential znodes acknowledged", len(s.acked))
	return nil
}

// fifoWorker pipelines rounds of requests on one session over rawzk, moving the
// session between members when its connection breaks, and checks that each reply
// reflects exactly the requests sent before it on the session:
//
//	setData(p, A) getData(p) setData(p, B) getData(p) create(q) exists(q) delete(q) exists(q)
//
// A get after an acknowledged set reads that set's data and version (not the next
// one's); exists after create (OK or NODEEXISTS) finds q; exists after an
// acknowledged delete does not. Reply zxids never go down on a connection.
func fifoWorker(h *history, client int, addrs []string, rng *rand.Rand, stop <-chan struct{}) {
	p := fmt.Sprintf("%s/f%d", fifoDir, client)
	q := p + "/q"
	var (
		c        *rawzk.Conn
		sid      zkproto.SessionID
		passwd   = make([]byte, 16)
		lastZxid zkproto.Zxid
		member   string
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for round := 0; !stopped(stop); round++ {
		if c == nil {
			member = addrs[rng.IntN(len(addrs))]
			nc, err := connectRaw(member, zkproto.ConnectRequest{TimeOut: int32(sessionTimeout / time.Millisecond), SessionID: sid, Passwd: passwd, LastZxidSeen: lastZxid})
			if err != nil {
				pause(stop, 50*time.Millisecond)
				continue
			}
			if nc.Session.TimeOut <= 0 {
				// The session expired: start a new one.
				nc.Close()
				sid, passwd = 0, make([]byte, 16)
				h.count("fifo sessions expired", 1)
				continue
			}
			if sid != nc.Session.SessionID {
				h.count("fifo sessions", 1)
			}
			c, sid, passwd = nc, nc.Session.SessionID, nc.Session.Passwd
			if err := ensureNode(c, p); err != nil {
				c.Close()
				c = nil
				continue
			}
		}
		a, b := fmt.Sprintf("%d.%d.a", client, round), fmt.Sprintf("%d.%d.b", client, round)
		reqs := []struct {
			op  zkproto.OpCode
			req zkproto.Record
		}{
			{zkproto.OpSetData, &zkproto.SetDataRequest{Path: p, Data: []byte(a), Version: -1}},
			{zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}},
			{zkproto.OpSetData, &zkproto.SetDataRequest{Path: p, Data: []byte(b), Version: -1}},
			{zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}},
			{zkproto.OpCreate, &zkproto.CreateRequest{Path: q, ACL: openACL()}},
			{zkproto.OpExists, &zkproto.ExistsRequest{Path: q}},
			{zkproto.OpDelete, &zkproto.DeleteRequest{Path: q, Version: -1}},
			{zkproto.OpExists, &zkproto.ExistsRequest{Path: q}},
		}
		c.Raw().SetDeadline(time.Now().Add(3 * time.Second))
		xids := make([]zkproto.Xid, len(reqs))
		var err error
		for i, r := range reqs {
			if xids[i], err = c.Send(r.op, r.req); err != nil {
				break
			}
		}
		var (
			hdrs   []zkproto.ReplyHeader
			sets   [2]zkproto.SetDataResponse
			gets   [2]zkproto.GetDataResponse
			exists [2]zkproto.ExistsResponse
		)
		resps := []zkproto.Record{&sets[0], &gets[0], &sets[1], &gets[1], &zkproto.CreateResponse{}, &exists[0], nil, &exists[1]}
		for i := range reqs {
			if err != nil {
				break
			}
			var hd zkproto.ReplyHeader
			if hd, err = c.Recv(xids[i], resps[i]); err == nil {
				hdrs = append(hdrs, hd)
			}
		}
		if err != nil {
			c.Close()
			c = nil
		}
		h.count("fifo rounds", 1)
		ok := func(i int) bool { return i < len(hdrs) && hdrs[i].Err == zkproto.ErrOK }
		var wrong []string
		bad := func(what string) { wrong = append(wrong, what) }
		for i, want := range []string{a, b} {
			if ok(2*i) && ok(2*i+1) {
				g, s := gets[i], sets[i]
				if !bytes.Equal(g.Data, []byte(want)) || g.Stat.Version != s.Stat.Version {
					bad(fmt.Sprintf("getData after setData(%q)→version %d read %q version %d", want, s.Stat.Version, g.Data, g.Stat.Version))
				}
			}
		}
		if len(hdrs) > 5 && (hdrs[4].Err == zkproto.ErrOK || hdrs[4].Err == zkproto.ErrNodeExists) && hdrs[5].Err != zkproto.ErrOK {
			bad("exists after create does not find the znode")
		}
		if ok(6) && len(hdrs) > 7 && hdrs[7].Err != zkproto.ErrNoNode {
			bad("exists after an acknowledged delete finds the znode")
		}
		for i := range hdrs {
			if hdrs[i].Zxid < lastZxid && hdrs[i].Zxid > 0 {
				bad(fmt.Sprintf("reply zxid %#x after %#x", hdrs[i].Zxid, lastZxid))
			}
			lastZxid = max(lastZxid, hdrs[i].Zxid)
		}
		if len(wrong) > 0 {
			var got []string
			for i, hd := range hdrs {
				got = append(got, fmt.Sprintf("%s→%s@%#x", reqs[i].op, describeReply(hd, resps[i]), hd.Zxid))
			}
			h.violation("fifo: session %#x on %s, round %d (a=%q b=%q): %s; replies in order (→result@zxid): %s", sid, member, round, a, b, strings.Join(wrong, "; "), strings.Join(got, " "))
		}
		pause(stop, time.Duration(rng.IntN(10))*time.Millisecond)
	}
}

// connectRaw opens a rawzk session, giving up on a member that does not answer the
// handshake within 3 s (a stopped or stuck one).
func connectRaw(addr string, req zkproto.ConnectRequest) (*rawzk.Conn, error) {
	c, err := rawzk.Dial(addr)
	if err != nil {
		return nil, err
	}
	c.Raw().SetDeadline(time.Now().Add(3 * time.Second))
	if err := c.Handshake(req); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func openACL() []zkproto.ACL {
	return []zkproto.ACL{{Perms: 31, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
}

func ensureNode(c *rawzk.Conn, p string) error {
	err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL()}, &zkproto.CreateResponse{})
	if err == nil || errors.Is(err, zkproto.ErrNodeExists) {
		return nil
	}
	return err
}

func describeReply(hd zkproto.ReplyHeader, r zkproto.Record) string {
	if hd.Err != zkproto.ErrOK {
		return hd.Err.Error()
	}
	switch r := r.(type) {
	case *zkproto.SetDataResponse:
		return "v" + strconv.Itoa(int(r.Stat.Version))
	case *zkproto.GetDataResponse:
		return fmt.Sprintf("%q v%d", r.Data, r.Stat.Version)
	}
	return "OK"
}

// holder keeps one session and an ephemeral znode of it, and watches for the two
// session failures: an expiry although it heard from the ensemble all along, and its
// ephemeral gone while the session lives.
type holder struct {
	h      *history
	client int

	mu      sync.Mutex
	expired map[int64]bool // sessions the client saw expire
	created map[int64]string
}

func (o *holder) run(addrs []string, rng *rand.Rand, stop <-chan struct{}) {
	for !stopped(stop) {
		o.session(addrs, rng, stop)
	}
}

// session runs one client until stop or until it decides to close the session
// (about every 10 s), which must take the session's ephemeral with it.
func (o *holder) session(addrs []string, rng *rand.Rand, stop <-chan struct{}) {
	c, events, err := dial(addrs, rng)
	if err != nil {
		o.h.violation("session client %d: connect: %v", o.client, err)
		return
	}
	defer c.Close()
	var (
		sid       int64
		eph       string
		lastOK    time.Time // last reply on this session
		maxGap    time.Duration
		sessStart time.Time
	)
	for !stopped(stop) {
		for drained := false; !drained; {
			select {
			case ev := <-events:
				if ev.State == zk.StateExpired && sid != 0 {
					gap := max(maxGap, time.Since(lastOK))
					o.mu.Lock()
					o.expired[sid] = true
					o.mu.Unlock()
					o.h.count("sessions expired", 1)
					if gap < sessionTimeout/2 {
						o.h.violation("session %#x expired although it had a reply at most %v apart all its life (%v, last %v ago; timeout %v)", sid, gap.Round(time.Millisecond), time.Since(sessStart).Round(time.Millisecond), time.Since(lastOK).Round(time.Millisecond), sessionTimeout)
					}
					sid, eph = 0, ""
				}
			default:
				drained = true
			}
		}
		if c.State() != zk.StateHasSession {
			pause(stop, 20*time.Millisecond)
			continue
		}
		if cur := c.SessionID(); cur != sid {
			sid, eph, maxGap, lastOK, sessStart = cur, "", 0, time.Now(), time.Now()
			o.h.count("sessions", 1)
		}
		if eph == "" {
			p := fmt.Sprintf("%s/h%d-%x", ephDir, o.client, sid)
			_, err := c.Create(p, nil, zk.FlagEphemeral, ensembleproc.OpenACL)
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				if c.SessionID() == sid {
					eph = p
					o.mu.Lock()
					o.created[sid] = p
					o.mu.Unlock()
				}
			}
			o.touch(err, &lastOK, &maxGap)
			continue
		}
		ok, st, err := c.Exists(eph)
		o.touch(err, &lastOK, &maxGap)
		if err == nil && (!ok || st.EphemeralOwner != sid) {
			// Perhaps the session has just expired and this member applied it before
			// closing the connection: look again after a while.
			pause(stop, time.Second)
			if c.SessionID() == sid && c.State() == zk.StateHasSession {
				o.mu.Lock()
				exp := o.expired[sid]
				o.mu.Unlock()
				if ok2, _, err2 := c.Exists(eph); err2 == nil && !ok2 && !exp {
					o.h.violation("ephemeral %s of live session %#x is gone (exists: %v, owner %#x) on %s", eph, sid, ok, ownerOf(st), c.Server())
				}
			}
		}
		o.h.count("session reads", 1)
		if rng.IntN(130) == 0 {
			o.h.count("sessions closed", 1)
			return
		}
		pause(stop, time.Duration(50+rng.IntN(50))*time.Millisecond)
	}
}

// abandoner opens sessions with a short timeout over rawzk, creates an ephemeral in
// each and drops the connection without closing the session: the session must
// expire and take its ephemeral along (checked at the end).
func abandoner(h *history, client int, addrs []string, rng *rand.Rand, stop <-chan struct{}) {
	for n := 0; !stopped(stop); n++ {
		pause(stop, time.Duration(500+rng.IntN(1500))*time.Millisecond)
		c, err := connectRaw(addrs[rng.IntN(len(addrs))], zkproto.ConnectRequest{TimeOut: 2000, Passwd: make([]byte, 16)})
		if err != nil {
			continue
		}
		c.Raw().SetDeadline(time.Now().Add(3 * time.Second))
		p := fmt.Sprintf("%s/a%d-%x", ephDir, client, c.Session.SessionID)
		if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL(), Flags: zkproto.ModeEphemeral}, &zkproto.CreateResponse{}); err == nil {
			h.count("sessions abandoned with an ephemeral", 1)
		}
		c.Close()
	}
}

func ownerOf(st *zk.Stat) int64 {
	if st == nil {
		return 0
	}
	return st.EphemeralOwner
}

func (o *holder) touch(err error, lastOK *time.Time, maxGap *time.Duration) {
	if err != nil && !definite(err) {
		return
	}
	*maxGap = max(*maxGap, time.Since(*lastOK))
	*lastOK = time.Now()
}
