package main

import (
	"bufio"
	"bytes"
	"context"
	be "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"

	"github.com/zkraft/zkraft/zkproto"
)

// The live mirror: a client of the source ensemble (ZooKeeper 3.6+, for persistent
// recursive watches) and of the target (zkraft), copying znodes over the client
// protocol.

// srcConn is a minimal ZooKeeper client for the source: requests and their replies,
// watch events on a channel, pings. Any error ends it (done closes); the mirror then
// connects again and copies the tree again.
type srcConn struct {
	nc       net.Conn
	wmu      sync.Mutex
	xid      atomic.Int32
	pmu      sync.Mutex
	pending  map[zkproto.Xid]chan srcReply
	events   chan zkproto.WatcherEvent
	overflow atomic.Bool
	zxid     atomic.Int64 // the largest zxid in any reply header
	done     chan struct{}
	once     sync.Once
	err      error
	wg       sync.WaitGroup
}

type srcReply struct {
	hdr  zkproto.ReplyHeader
	body []byte
}

func mirrorWriteFrame(w io.Writer, body []byte) error {
	_, err := w.Write(append(be.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	return err
}

func mirrorReadFrame(r io.Reader) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := be.BigEndian.Uint32(l[:])
	if n > 256<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// dialSource opens a session with the first of addrs that answers.
func dialSource(addrs []string, timeout time.Duration) (*srcConn, error) {
	var last error
	for _, a := range addrs {
		nc, err := net.DialTimeout("tcp", a, 5*time.Second)
		if err != nil {
			last = err
			continue
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		req := zkproto.ConnectRequest{TimeOut: int32(timeout / time.Millisecond), Passwd: make([]byte, 16)}
		br := bufio.NewReader(nc)
		var resp zkproto.ConnectResponse
		if err := mirrorWriteFrame(nc, zkproto.Marshal(&req)); err != nil {
			nc.Close()
			last = err
			continue
		}
		b, err := mirrorReadFrame(br)
		if err == nil {
			err = zkproto.Unmarshal(b, &resp)
		}
		if err == nil && resp.TimeOut <= 0 {
			err = errors.New("session refused")
		}
		if err != nil {
			nc.Close()
			last = fmt.Errorf("%s: %w", a, err)
			continue
		}
		nc.SetDeadline(time.Time{})
		c := &srcConn{nc: nc, pending: map[zkproto.Xid]chan srcReply{}, events: make(chan zkproto.WatcherEvent, 1<<16), done: make(chan struct{})}
		c.wg.Add(2)
		go c.readLoop(br)
		go c.pingLoop(time.Duration(resp.TimeOut) * time.Millisecond / 3)
		return c, nil
	}
	return nil, fmt.Errorf("no source server answers: %w", last)
}

func (c *srcConn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		c.nc.Close()
	})
}

func (c *srcConn) close() {
	c.fail(errors.New("closed"))
	c.wg.Wait()
}

func (c *srcConn) readLoop(br *bufio.Reader) {
	defer c.wg.Done()
	for {
		b, err := mirrorReadFrame(br)
		if err != nil {
			c.fail(fmt.Errorf("source connection: %w", err))
			return
		}
		d := zkproto.NewDecoder(b)
		var h zkproto.ReplyHeader
		h.Decode(d)
		if h.Zxid > 0 {
			for {
				cur := c.zxid.Load()
				if int64(h.Zxid) <= cur || c.zxid.CompareAndSwap(cur, int64(h.Zxid)) {
					break
				}
			}
		}
		switch h.Xid {
		case zkproto.XidPing:
			continue
		case zkproto.XidWatchEvent:
			var ev zkproto.WatcherEvent
			ev.Decode(d)
			select {
			case c.events <- ev:
			default:
				c.overflow.Store(true) // the mirror copies everything again
			}
			continue
		}
		c.pmu.Lock()
		ch := c.pending[h.Xid]
		delete(c.pending, h.Xid)
		c.pmu.Unlock()
		if ch != nil {
			ch <- srcReply{hdr: h, body: b[16:]}
		}
	}
}

func (c *srcConn) pingLoop(every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(max(every, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.send(zkproto.XidPing, zkproto.OpPing, nil); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

func (c *srcConn) send(xid zkproto.Xid, op zkproto.OpCode, req zkproto.Record) error {
	e := zkproto.Encoder{}
	hdr := zkproto.RequestHeader{Xid: xid, Type: op}
	hdr.Encode(&e)
	if req != nil {
		req.Encode(&e)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return mirrorWriteFrame(c.nc, e.Buf)
}

// call sends a request and decodes its reply into resp; the reply's error code is
// returned as a zkproto.ErrCode error.
func (c *srcConn) call(op zkproto.OpCode, req, resp zkproto.Record) error {
	xid := zkproto.Xid(c.xid.Add(1))
	if op == zkproto.OpAuth {
		xid = zkproto.XidAuth // ZooKeeper answers auth with this xid
	}
	ch := make(chan srcReply, 1)
	c.pmu.Lock()
	c.pending[xid] = ch
	c.pmu.Unlock()
	if err := c.send(xid, op, req); err != nil {
		c.fail(err)
		return err
	}
	select {
	case r := <-ch:
		if r.hdr.Err != zkproto.ErrOK {
			return r.hdr.Err
		}
		if resp != nil {
			return zkproto.Unmarshal(r.body, resp)
		}
		return nil
	case <-c.done:
		return c.err
	case <-time.After(30 * time.Second):
		c.fail(errors.New("source: no reply in 30s"))
		return c.err
	}
}

// mirror copies a source tree into a target and keeps it current.
type mirror struct {
	src     *srcConn
	tgt     *zk.Conn
	root    string
	out     io.Writer
	copied  atomic.Int64 // znodes written to the target
	deleted atomic.Int64
	events  atomic.Int64
	skipped map[string]bool // ephemerals seen on the source, not carried
	// unreadable are source znodes whose ACL does not let the mirror read them.
	unreadable map[string]bool
	dirty      map[string]bool // parents whose sequence counter may lag
	applied    atomic.Int64    // source zxid of the last event applied (the reply header's)
}

func toZKACL(acl []zkproto.ACL) []zk.ACL {
	out := make([]zk.ACL, len(acl))
	for i, a := range acl {
		out[i] = zk.ACL{Perms: a.Perms, Scheme: a.ID.Scheme, ID: a.ID.ID}
	}
	return out
}

func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// special paths belong to each server.
func special(p string) bool { return p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") }

// syncNode makes the target's node at p what the source's is (data and ACL; a node
// gone from the source goes from the target with its subtree). Ephemeral nodes
// belong to the source's sessions and are not copied.
func (m *mirror) syncNode(p string) error {
	if special(p) {
		return nil
	}
	var gd zkproto.GetDataResponse
	err := m.src.call(zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}, &gd)
	if errors.Is(err, zkproto.ErrNoNode) {
		return m.deleteTarget(p)
	}
	if errors.Is(err, zkproto.ErrNoAuth) {
		m.unreadable[p] = true
		return nil
	}
	if err != nil {
		return err
	}
	delete(m.unreadable, p)
	if gd.Stat.EphemeralOwner != 0 {
		m.skipped[p] = true
		return nil
	}
	var ga zkproto.GetACLResponse
	if err := m.src.call(zkproto.OpGetACL, &zkproto.GetACLRequest{Path: p}, &ga); err != nil {
		if errors.Is(err, zkproto.ErrNoNode) {
			return m.deleteTarget(p)
		}
		return err
	}
	acl := toZKACL(ga.ACL)
	if p != "/" {
		if ok, _, err := m.tgt.Exists(parentPath(p)); err != nil {
			return err
		} else if !ok {
			if err := m.syncNode(parentPath(p)); err != nil {
				return err
			}
		}
	}
	data, _, err := m.tgt.Get(p)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		if _, err := m.tgt.Create(p, gd.Data, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s on the target: %w", p, err)
		}
		m.copied.Add(1)
		m.dirty[parentPath(p)] = true
		return nil
	case err != nil:
		return err
	}
	if !bytes.Equal(data, gd.Data) {
		if _, err := m.tgt.Set(p, gd.Data, -1); err != nil {
			return fmt.Errorf("set %s on the target: %w", p, err)
		}
		m.copied.Add(1)
	}
	if tacl, _, err := m.tgt.GetACL(p); err == nil && !reflect.DeepEqual(tacl, acl) {
		if _, err := m.tgt.SetACL(p, acl, -1); err != nil {
			return fmt.Errorf("setACL %s on the target: %w", p, err)
		}
	}
	return nil
}

// deleteTarget removes p and its subtree from the target.
func (m *mirror) deleteTarget(p string) error {
	if special(p) || p == "/" {
		return nil
	}
	kids, _, err := m.tgt.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := m.deleteTarget(childPath(p, k)); err != nil {
			return err
		}
	}
	if err := m.tgt.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s on the target: %w", p, err)
	}
	m.deleted.Add(1)
	return nil
}

// syncCounter brings the target parent's child-create counter (what the next
// sequential name is made of) up to the source's, once the target has all the
// source's persistent children: it creates and deletes placeholder children. The
// counter is C = (cversion + numChildren) / 2 on both.
func (m *mirror) syncCounter(p string) error {
	if special(p) {
		return nil
	}
	var src zkproto.GetChildren2Response
	if err := m.src.call(zkproto.OpGetChildren2, &zkproto.GetChildren2Request{Path: p}, &src); err != nil {
		if errors.Is(err, zkproto.ErrNoNode) {
			return nil
		}
		return err
	}
	tkids, tstat, err := m.tgt.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range src.Children {
		if c := childPath(p, k); !slices.Contains(tkids, k) && !m.skipped[c] && !m.unreadable[c] {
			return nil // a create still to come: try again later
		}
	}
	want := (src.Stat.Cversion + src.Stat.NumChildren) / 2
	have := (tstat.Cversion + tstat.NumChildren) / 2
	prefix := childPath(p, ".zkraft-mirror-seq-")
	for have < want {
		var ops []any
		for n := 0; n < 100 && have < want; n++ {
			ops = append(ops,
				&zk.CreateRequest{Path: prefix, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence},
				&zk.DeleteRequest{Path: fmt.Sprintf("%s%010d", prefix, have), Version: -1})
			have++
		}
		if _, err := m.tgt.Multi(ops...); err != nil {
			return fmt.Errorf("advance the sequence counter of %s on the target: %w", p, err)
		}
	}
	return nil
}

// fullSync copies the whole tree under root, removes from the target what the
// source lacks, then syncs every counter.
func (m *mirror) fullSync() error {
	seen := map[string]bool{}
	queue := []string{m.root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		seen[p] = true
		if err := m.syncNode(p); err != nil {
			return err
		}
		var kids zkproto.GetChildrenResponse
		if err := m.src.call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p}, &kids); err != nil {
			if errors.Is(err, zkproto.ErrNoNode) {
				continue
			}
			return err
		}
		for _, k := range kids.Children {
			if c := childPath(p, k); !special(c) && !m.skipped[c] {
				queue = append(queue, c)
			}
		}
	}
	// What the target has and the source does not.
	var stale []string
	queue = []string{m.root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		kids, _, err := m.tgt.Children(p)
		if err != nil {
			continue
		}
		for _, k := range kids {
			c := childPath(p, k)
			if special(c) {
				continue
			}
			if !seen[c] {
				stale = append(stale, c)
				continue
			}
			queue = append(queue, c)
		}
	}
	for _, p := range stale {
		if err := m.syncNode(p); err != nil { // gone from the source, or created since
			return err
		}
	}
	for p := range seen {
		m.dirty[p] = true
	}
	return m.syncCounters()
}

func (m *mirror) syncCounters() error {
	for p := range m.dirty {
		if err := m.syncCounter(p); err != nil {
			return err
		}
		delete(m.dirty, p)
	}
	return nil
}

func (m *mirror) report(prefix string) {
	src := m.src.zxid.Load()
	fmt.Fprintf(m.out, "%s %s: %d znodes written, %d deleted, %d events applied, %d queued, source zxid %#x, last event applied at %#x, %d ephemerals not carried, %d znodes unreadable (--auth)\n",
		time.Now().Format(time.TimeOnly), prefix, m.copied.Load(), m.deleted.Load(), m.events.Load(), len(m.src.events), src, m.applied.Load(), len(m.skipped), len(m.unreadable))
}

// errOverflow: events came faster than the mirror applied them and some were lost.
var errOverflow = errors.New("watch events overflowed; copying again")

// run mirrors until ctx ends or the source fails; once: copy, then return.
func (m *mirror) run(ctx context.Context, once bool, every, resync time.Duration) error {
	if !once {
		if err := m.src.call(zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: m.root, Mode: zkproto.AddWatchPersistentRecursive}, nil); err != nil {
			return fmt.Errorf("addWatch on the source (ZooKeeper 3.6 or later needed): %w", err)
		}
	}
	start := time.Now()
	if err := m.fullSync(); err != nil {
		return err
	}
	m.applied.Store(m.src.zxid.Load())
	m.report(fmt.Sprintf("copied in %s", time.Since(start).Round(time.Millisecond)))
	if once {
		return nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	full := time.NewTicker(resync)
	defer full.Stop()
	for {
		select {
		case <-full.C:
			// ACL changes send no event: a full copy now and then brings them.
			if err := m.fullSync(); err != nil {
				return err
			}
		case <-ctx.Done():
			// Cut-over: writes to the source have stopped; apply what is queued and
			// bring every counter up.
			for len(m.src.events) > 0 {
				if err := m.apply(<-m.src.events); err != nil {
					return err
				}
			}
			if err := m.fullSync(); err != nil {
				return err
			}
			m.report("final")
			return ctx.Err()
		case <-m.src.done:
			return m.src.err
		case ev := <-m.src.events:
			if err := m.apply(ev); err != nil {
				return err
			}
			if len(m.src.events) == 0 {
				m.applied.Store(m.src.zxid.Load())
			}
		case <-tick.C:
			if m.src.overflow.Load() {
				return errOverflow
			}
			if err := m.syncCounters(); err != nil {
				return err
			}
			m.report("mirroring")
		}
	}
}

func (m *mirror) apply(ev zkproto.WatcherEvent) error {
	m.events.Add(1)
	switch ev.Type {
	case zkproto.EventNodeCreated, zkproto.EventNodeDataChanged, zkproto.EventNodeDeleted:
		if ev.Type != zkproto.EventNodeDataChanged {
			m.dirty[parentPath(ev.Path)] = true
		}
		return m.syncNode(ev.Path)
	}
	return nil
}

func mirrorCmd() *cobra.Command {
	var (
		from, to, root string
		auths          []string
		once           bool
		every, resync  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mirror --from zk1:2181,... --to zkraft1:2181,...",
		Short: "Copy a live ZooKeeper tree into zkraft and keep it current until cut-over",
		Long: `Copy the tree of a running ZooKeeper ensemble (3.6 or later) into a zkraft ensemble over
the client protocol, then keep it current with a persistent recursive watch until
SIGINT/SIGTERM, reporting what it copied and how far behind it is. A source that goes
away is dialled again and the tree copied again (only what differs is written).

What it carries: every persistent znode's data and ACL, deletions, and each parent's
sequence counter (the next sequential name is ZooKeeper's, once the target has the
parent's children). What it cannot: sessions and ephemeral znodes (they belong to the
clients' sessions on ZooKeeper), Stat fields (zxids, times, versions are the target's
own), containers and TTL nodes (copied as persistent nodes), ACL changes until the next full
comparison (ZooKeeper sends no event for them: --resync, and at cut-over), and
/zookeeper. For exact zxids, versions and sessions, stop ZooKeeper and use zkraft import.

Cut-over: stop the clients' writes to ZooKeeper, wait until the report shows nothing
queued and the last event applied at the source's zxid, stop the mirror with SIGTERM
(it applies what is queued and brings every sequence counter up), then point the clients
at zkraft. --once copies and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return errors.New("give --from and --to")
			}
			out := cmd.OutOrStdout()
			tgt, _, err := zk.Connect(strings.Split(to, ","), 30*time.Second, zk.WithLogInfo(false))
			if err != nil {
				return err
			}
			defer tgt.Close()
			for _, a := range auths {
				if !strings.Contains(a, ":") {
					return fmt.Errorf("--auth %q: use scheme:credential (digest:user:password)", a)
				}
				if err := tgt.AddAuth(authScheme(a), []byte(authCred(a))); err != nil {
					return fmt.Errorf("--auth %s on the target: %w", authScheme(a), err)
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			backoff := time.Second
			for {
				src, err := dialSource(strings.Split(from, ","), 30*time.Second)
				if err != nil {
					fmt.Fprintf(out, "%s source unreachable (%v); trying again in %s\n", time.Now().Format(time.TimeOnly), err, backoff)
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(backoff):
					}
					backoff = min(2*backoff, 30*time.Second)
					continue
				}
				for _, a := range auths {
					if err := src.call(zkproto.OpAuth, &zkproto.AuthPacket{Scheme: authScheme(a), Auth: []byte(authCred(a))}, nil); err != nil {
						src.close()
						return fmt.Errorf("--auth %s on the source: %w", authScheme(a), err)
					}
				}
				m := &mirror{src: src, tgt: tgt, root: root, out: out, skipped: map[string]bool{}, dirty: map[string]bool{}, unreadable: map[string]bool{}}
				err = m.run(ctx, once, every, resync)
				src.close()
				switch {
				case once && err == nil, errors.Is(err, context.Canceled):
					return nil
				case ctx.Err() != nil:
					return err
				}
				if m.events.Load() > 0 {
					backoff = time.Second // it was mirroring
				}
				fmt.Fprintf(out, "%s %v; resuming in %s\n", time.Now().Format(time.TimeOnly), err, backoff)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 30*time.Second)
			}
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the source ZooKeeper servers, host:port,...")
	cmd.Flags().StringVar(&to, "to", "", "the target zkraft servers, host:port,...")
	cmd.Flags().StringVar(&root, "path", "/", "the subtree to mirror")
	cmd.Flags().StringArrayVar(&auths, "auth", nil, "scheme:credential to add on both sides (addauth), e.g. digest:super:secret to read and write every znode; repeatable")
	cmd.Flags().BoolVar(&once, "once", false, "copy once and exit")
	cmd.Flags().DurationVar(&every, "report", 10*time.Second, "how often to report")
	cmd.Flags().DurationVar(&resync, "resync", 10*time.Minute, "how often to compare the whole tree again (ACL changes send no event)")
	return cmd
}

func authScheme(a string) string { s, _, _ := strings.Cut(a, ":"); return s }
func authCred(a string) string   { _, c, _ := strings.Cut(a, ":"); return c }
