package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// TestWatchesGoZK: which read sets which watch, which change fires it, with which event
// type and path, and that standard watches are one-shot.
func TestWatchesGoZK(t *testing.T) {
	srv := ensembletest.RunServer(t)
	w := connect(t, srv.Addr) // the watcher
	m := connect(t, srv.Addr) // the mutator
	mk := func(p string) {
		t.Helper()
		if _, err := m.Create(p, nil, 0, worldAll); err != nil {
			t.Fatal(err)
		}
	}
	type tc struct {
		name  string
		setup func()
		watch func() <-chan zk.Event
		fire  func()
		want  zk.EventType
		path  string
	}
	tests := []tc{
		{"getData-changed", func() { mk("/g1") },
			func() <-chan zk.Event { _, _, ch, _ := w.GetW("/g1"); return ch },
			func() { m.Set("/g1", []byte("x"), -1) }, zk.EventNodeDataChanged, "/g1"},
		{"getData-deleted", func() { mk("/g2") },
			func() <-chan zk.Event { _, _, ch, _ := w.GetW("/g2"); return ch },
			func() { m.Delete("/g2", -1) }, zk.EventNodeDeleted, "/g2"},
		{"exists-created", func() {},
			func() <-chan zk.Event { _, _, ch, _ := w.ExistsW("/e1"); return ch },
			func() { mk("/e1") }, zk.EventNodeCreated, "/e1"},
		{"exists-changed", func() { mk("/e2") },
			func() <-chan zk.Event { _, _, ch, _ := w.ExistsW("/e2"); return ch },
			func() { m.Set("/e2", nil, -1) }, zk.EventNodeDataChanged, "/e2"},
		{"exists-deleted", func() { mk("/e3") },
			func() <-chan zk.Event { _, _, ch, _ := w.ExistsW("/e3"); return ch },
			func() { m.Delete("/e3", -1) }, zk.EventNodeDeleted, "/e3"},
		{"children-created", func() { mk("/c1") },
			func() <-chan zk.Event { _, _, ch, _ := w.ChildrenW("/c1"); return ch },
			func() { mk("/c1/k") }, zk.EventNodeChildrenChanged, "/c1"},
		{"children-child-deleted", func() { mk("/c2"); mk("/c2/k") },
			func() <-chan zk.Event { _, _, ch, _ := w.ChildrenW("/c2"); return ch },
			func() { m.Delete("/c2/k", -1) }, zk.EventNodeChildrenChanged, "/c2"},
		{"children-node-deleted", func() { mk("/c3") },
			func() <-chan zk.Event { _, _, ch, _ := w.ChildrenW("/c3"); return ch },
			func() { m.Delete("/c3", -1) }, zk.EventNodeDeleted, "/c3"},
		{"ephemeral-owner-closes", func() {},
			func() <-chan zk.Event {
				o := connect(t, srv.Addr)
				if _, err := o.Create("/eph", nil, zk.FlagEphemeral, worldAll); err != nil {
					t.Fatal(err)
				}
				_, _, ch, _ := w.GetW("/eph")
				o.Close()
				return ch
			},
			func() {}, zk.EventNodeDeleted, "/eph"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			ch := tc.watch()
			if ch == nil {
				t.Fatal("no watch channel")
			}
			tc.fire()
			ev := waitEvent(t, ch)
			if ev.Type != tc.want || ev.Path != tc.path || ev.State != zk.StateSyncConnected {
				t.Fatalf("event %+v, want %v on %s", ev, tc.want, tc.path)
			}
		})
	}

	t.Run("one-shot", func(t *testing.T) {
		mk("/once")
		_, _, ch, _ := w.GetW("/once")
		m.Set("/once", []byte("1"), -1)
		waitEvent(t, ch)
		// go-zookeeper closes the channel after one event; check at the server that
		// the second change fires nothing, with a fresh raw watcher as reference.
		rc := rawConnect(t, srv.Addr, 10000)
		var gd zkproto.GetDataResponse
		rawCall(t, rc, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/once", Watch: true}, &gd)
		m.Set("/once", []byte("2"), -1)
		m.Set("/once", []byte("3"), -1)
		rawPing(t, rc)
		if got := rawEventKeys(rc); len(got) != 1 || got[0] != (eventKey{zkproto.EventNodeDataChanged, "/once"}) {
			t.Fatalf("events after two changes to a one-shot watch: %v", got)
		}
	})

	t.Run("child-data-change-does-not-fire-child-watch", func(t *testing.T) {
		mk("/cd")
		mk("/cd/k")
		_, _, ch, _ := w.ChildrenW("/cd")
		m.Set("/cd/k", []byte("x"), -1)
		m.Set("/cd", []byte("x"), -1)
		noEvent(t, ch, 200*time.Millisecond)
	})
}

// TestWatchEventBeforeReply is ZooKeeper's ordering guarantee: a client sees the watch
// event for a change before any reply that reflects the change. B's writes are
// pipelined without waiting so that A's reads race them.
func TestWatchEventBeforeReply(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a := rawConnect(t, srv.Addr, 10000)
	b := rawConnect(t, srv.Addr, 10000)
	if code := rawCreate(t, b, "/w", []byte("0"), 0); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	sawNew := 0
	for i := 1; i <= 100; i++ {
		a.Log, a.Events = nil, nil
		var gd zkproto.GetDataResponse
		if code := rawCall(t, a, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/w", Watch: true}, &gd); code != zkproto.ErrOK {
			t.Fatal(code)
		}
		val := fmt.Sprint(i)
		bx, err := b.Send(zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/w", Data: []byte(val), Version: -1})
		if err != nil {
			t.Fatal(err)
		}
		// Read until A's reply reflects the new value (bounded), checking the order.
		for try := 0; ; try++ {
			ax, err := a.Send(zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/w"})
			if err != nil {
				t.Fatal(err)
			}
			var r zkproto.GetDataResponse
			if _, err := a.Recv(ax, &r); err != nil {
				t.Fatal(err)
			}
			reply := fmt.Sprintf("reply:%d", ax)
			if string(r.Data) == val {
				if try == 0 {
					sawNew++
				}
				ev := slices.Index(a.Log, "event")
				if ev < 0 || ev > slices.Index(a.Log, reply) {
					t.Fatalf("round %d: reply with the new data arrived before the watch event: %v", i, a.Log)
				}
				break
			}
			if try > 1000 {
				t.Fatalf("round %d: new value never visible", i)
			}
		}
		if _, err := b.Recv(bx, nil); err != nil {
			t.Fatal(err)
		}
		if got := rawEventKeys(a); len(got) != 1 || got[0] != (eventKey{zkproto.EventNodeDataChanged, "/w"}) {
			t.Fatalf("round %d: events %v", i, got)
		}
	}
	t.Logf("%d/100 rounds read the new value on the first try", sawNew)

	// The deterministic form of the brief: B's set is acknowledged, then A reads.
	a.Log, a.Events = nil, nil
	var gd zkproto.GetDataResponse
	rawCall(t, a, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/w", Watch: true}, &gd)
	a.Log = nil
	var sd zkproto.SetDataResponse
	if code := rawCall(t, b, zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/w", Data: []byte("final"), Version: -1}, &sd); code != zkproto.ErrOK {
		t.Fatal(code)
	}
	ax, _ := a.Send(zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/w"})
	if _, err := a.Recv(ax, &gd); err != nil {
		t.Fatal(err)
	}
	if want := []string{"event", fmt.Sprintf("reply:%d", ax)}; !slices.Equal(a.Log, want) || string(gd.Data) != "final" {
		t.Fatalf("arrival order %v (data %q), want %v", a.Log, gd.Data, want)
	}
}

func addWatch(t *testing.T, c *rawzk.Conn, path string, mode int32) {
	t.Helper()
	xid, err := c.Send(zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: path, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	var er zkproto.ErrorResponse
	h, err := c.Recv(xid, &er)
	if err != nil || h.Err != zkproto.ErrOK || er.Err != zkproto.ErrOK {
		t.Fatalf("addWatch %s: %v %v %v", path, h.Err, er.Err, err)
	}
}

// TestAddWatchReplyBody: ZooKeeper answers addWatch with an ErrorResponse(0) body that
// the Java client deserializes; a header-only reply is a short read for it.
func TestAddWatchReplyBody(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := rawConnect(t, srv.Addr, 10000)
	if err := c.SendXid(7, zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: "/", Mode: zkproto.AddWatchPersistent}); err != nil {
		t.Fatal(err)
	}
	frame, err := c.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	// header (4+8+4) + ErrorResponse (4)
	if len(frame) != 20 {
		t.Fatalf("addWatch reply is %d bytes, want 20 (header + ErrorResponse)", len(frame))
	}
}

// TestPersistentWatches: addWatch persistent and persistent-recursive fire repeatedly,
// with ZooKeeper's event types, until removed.
func TestPersistentWatches(t *testing.T) {
	srv := ensembletest.RunServer(t)
	w := rawConnect(t, srv.Addr, 10000)
	m := connect(t, srv.Addr)
	for _, p := range []string{"/p", "/r", "/r/a"} {
		if _, err := m.Create(p, nil, 0, worldAll); err != nil {
			t.Fatal(err)
		}
	}
	addWatch(t, w, "/p", zkproto.AddWatchPersistent)
	addWatch(t, w, "/r", zkproto.AddWatchPersistentRecursive)

	steps := []struct {
		do   func() error
		want []eventKey
	}{
		{func() error { _, err := m.Set("/p", []byte("1"), -1); return err }, []eventKey{{zkproto.EventNodeDataChanged, "/p"}}},
		{func() error { _, err := m.Set("/p", []byte("2"), -1); return err }, []eventKey{{zkproto.EventNodeDataChanged, "/p"}}},
		{func() error { _, err := m.Create("/p/kid", nil, 0, worldAll); return err }, []eventKey{{zkproto.EventNodeChildrenChanged, "/p"}}},
		// A persistent (non-recursive) watch does not see a grandchild or a child's data.
		{func() error { _, err := m.Set("/p/kid", []byte("x"), -1); return err }, nil},
		{func() error { return m.Delete("/p/kid", -1) }, []eventKey{{zkproto.EventNodeChildrenChanged, "/p"}}},
		// Recursive: created / changed / deleted anywhere below, never NodeChildrenChanged.
		{func() error { _, err := m.Create("/r/a/b", nil, 0, worldAll); return err }, []eventKey{{zkproto.EventNodeCreated, "/r/a/b"}}},
		{func() error { _, err := m.Set("/r/a/b", []byte("x"), -1); return err }, []eventKey{{zkproto.EventNodeDataChanged, "/r/a/b"}}},
		{func() error { _, err := m.Set("/r", []byte("x"), -1); return err }, []eventKey{{zkproto.EventNodeDataChanged, "/r"}}},
		{func() error { return m.Delete("/r/a/b", -1) }, []eventKey{{zkproto.EventNodeDeleted, "/r/a/b"}}},
		{func() error { _, err := m.Create("/r/a/b", nil, 0, worldAll); return err }, []eventKey{{zkproto.EventNodeCreated, "/r/a/b"}}},
		{func() error { _, err := m.Create("/rx", nil, 0, worldAll); return err }, nil}, // a sibling prefix is not below /r
		{func() error { return m.Delete("/p", -1) }, []eventKey{{zkproto.EventNodeDeleted, "/p"}}},
		// The persistent watch outlives its node.
		{func() error { _, err := m.Create("/p", nil, 0, worldAll); return err }, []eventKey{{zkproto.EventNodeCreated, "/p"}}},
	}
	for i, s := range steps {
		w.Events = nil
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		rawPing(t, w)
		if got := rawEventKeys(w); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: events %v, want %v", i, got, s.want)
		}
	}

	// checkWatches / removeWatches of type Any cover persistent watches (3.8 has no
	// Persistent/PersistentRecursive watcher types: those came in 3.9).
	if code := rawCall(t, w, zkproto.OpCheckWatches, &zkproto.CheckWatchesRequest{Path: "/r", Type: zkproto.WatcherAny}, nil); code != zkproto.ErrOK {
		t.Fatalf("checkWatches recursive: %v", code)
	}
	if code := rawCall(t, w, zkproto.OpRemoveWatches, &zkproto.RemoveWatchesRequest{Path: "/r", Type: zkproto.WatcherAny}, nil); code != zkproto.ErrOK {
		t.Fatalf("removeWatches any on /r: %v", code)
	}
	if code := rawCall(t, w, zkproto.OpCheckWatches, &zkproto.CheckWatchesRequest{Path: "/r", Type: zkproto.WatcherAny}, nil); code != zkproto.ErrNoWatcher {
		t.Fatalf("checkWatches after remove: %v", code)
	}
	w.Events = nil
	if _, err := m.Set("/r/a", []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	rawPing(t, w)
	if len(w.Events) != 0 {
		t.Fatalf("removed recursive watch still fires: %v", rawEventKeys(w))
	}

	// A second addWatch on the same path replaces the mode (3.8): persistent → recursive.
	addWatch(t, w, "/p", zkproto.AddWatchPersistentRecursive)
	w.Events = nil
	if _, err := m.Create("/p/x", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	rawPing(t, w)
	if got := rawEventKeys(w); !slices.Equal(got, []eventKey{{zkproto.EventNodeCreated, "/p/x"}}) {
		t.Fatalf("after re-adding /p as recursive: %v", got)
	}
}

// TestCheckAndRemoveWatches: NOWATCHER when there is none, OK when there is one; a
// removed watch no longer fires; removing by type keeps the other type.
func TestCheckAndRemoveWatches(t *testing.T) {
	srv := ensembletest.RunServer(t)
	w := rawConnect(t, srv.Addr, 10000)
	m := connect(t, srv.Addr)
	if _, err := m.Create("/x", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	check := func(typ int32, want zkproto.ErrCode) {
		t.Helper()
		if code := rawCall(t, w, zkproto.OpCheckWatches, &zkproto.CheckWatchesRequest{Path: "/x", Type: typ}, nil); code != want {
			t.Fatalf("checkWatches type %d: %v, want %v", typ, code, want)
		}
	}
	remove := func(typ int32, want zkproto.ErrCode) {
		t.Helper()
		if code := rawCall(t, w, zkproto.OpRemoveWatches, &zkproto.RemoveWatchesRequest{Path: "/x", Type: typ}, nil); code != want {
			t.Fatalf("removeWatches type %d: %v, want %v", typ, code, want)
		}
	}
	for _, typ := range []int32{zkproto.WatcherChildren, zkproto.WatcherData, zkproto.WatcherAny} {
		check(typ, zkproto.ErrNoWatcher)
		remove(typ, zkproto.ErrNoWatcher)
	}
	var gd zkproto.GetDataResponse
	rawCall(t, w, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/x", Watch: true}, &gd)
	var gc zkproto.GetChildrenResponse
	rawCall(t, w, zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/x", Watch: true}, &gc)
	check(zkproto.WatcherData, zkproto.ErrOK)
	check(zkproto.WatcherChildren, zkproto.ErrOK)
	check(zkproto.WatcherAny, zkproto.ErrOK)
	remove(zkproto.WatcherData, zkproto.ErrOK)
	check(zkproto.WatcherData, zkproto.ErrNoWatcher)
	check(zkproto.WatcherChildren, zkproto.ErrOK)
	// An exists watch is a data watch for removal purposes.
	var ex zkproto.ExistsResponse
	rawCall(t, w, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/x", Watch: true}, &ex)
	check(zkproto.WatcherData, zkproto.ErrOK)
	remove(zkproto.WatcherData, zkproto.ErrOK)

	w.Events = nil
	if _, err := m.Set("/x", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("/x/k", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	rawPing(t, w)
	if got := rawEventKeys(w); !slices.Equal(got, []eventKey{{zkproto.EventNodeChildrenChanged, "/x"}}) {
		t.Fatalf("events after removing the data watch: %v", got)
	}
	remove(zkproto.WatcherAny, zkproto.ErrNoWatcher)
}

// TestSetWatches: a reconnecting client's watches are re-armed, and what it missed
// since relativeZxid is delivered at once, by SEMANTICS.md's rules, for both
// setWatches (101) and setWatches2 (105).
func TestSetWatches(t *testing.T) {
	for _, op := range []zkproto.OpCode{zkproto.OpSetWatches, zkproto.OpSetWatches2} {
		t.Run(op.String(), func(t *testing.T) {
			srv := ensembletest.RunServer(t)
			m := connect(t, srv.Addr)
			for _, p := range []string{"/d", "/same", "/g", "/c", "/cs", "/gc", "/pw"} {
				if _, err := m.Create(p, nil, 0, worldAll); err != nil {
					t.Fatal(err)
				}
			}
			// The client's last seen zxid, taken from a reply header.
			probe := rawConnect(t, srv.Addr, 10000)
			xid, _ := probe.Send(zkproto.OpExists, &zkproto.ExistsRequest{Path: "/d"})
			h, err := probe.Recv(xid, &zkproto.ExistsResponse{})
			if err != nil {
				t.Fatal(err)
			}
			rel := h.Zxid
			// What happens while the client is away.
			m.Set("/d", []byte("changed"), -1)
			m.Delete("/g", -1)
			m.Create("/e", nil, 0, worldAll)
			m.Create("/c/k", nil, 0, worldAll)
			m.Delete("/gc", -1)
			m.Set("/c", []byte("data change is not a child change"), -1)

			w := rawConnect(t, srv.Addr, 10000)
			data := []string{"/d", "/g", "/same"}
			exist := []string{"/e", "/missing"}
			child := []string{"/c", "/gc", "/cs"}
			var req zkproto.Record = &zkproto.SetWatches{RelativeZxid: rel, DataWatches: data, ExistWatches: exist, ChildWatches: child}
			if op == zkproto.OpSetWatches2 {
				req = &zkproto.SetWatches2{RelativeZxid: rel, DataWatches: data, ExistWatches: exist, ChildWatches: child,
					PersistentWatches: []string{"/pw"}, PersistentRecursiveWatches: []string{"/rw"}}
			}
			if err := w.SendXid(zkproto.XidSetWatches, op, req); err != nil {
				t.Fatal(err)
			}
			if h, err := w.Recv(zkproto.XidSetWatches, nil); err != nil || h.Err != zkproto.ErrOK {
				t.Fatalf("%v: %v %v", op, h.Err, err)
			}
			got := rawEventKeys(w)
			want := []eventKey{
				{zkproto.EventNodeDataChanged, "/d"},
				{zkproto.EventNodeDeleted, "/g"},
				{zkproto.EventNodeCreated, "/e"},
				{zkproto.EventNodeChildrenChanged, "/c"},
				{zkproto.EventNodeDeleted, "/gc"},
			}
			sortKeys := func(k []eventKey) {
				slices.SortFunc(k, func(a, b eventKey) int {
					if a.Path != b.Path {
						if a.Path < b.Path {
							return -1
						}
						return 1
					}
					return int(a.Type - b.Type)
				})
			}
			sortKeys(got)
			sortKeys(want)
			if !slices.Equal(got, want) {
				t.Fatalf("missed events delivered: %v, want %v", got, want)
			}
			// The others were re-armed and fire on the next change.
			w.Events = nil
			m.Set("/same", []byte("now"), -1)
			m.Create("/missing", nil, 0, worldAll)
			m.Create("/cs/k", nil, 0, worldAll)
			m.Set("/d", []byte("again"), -1) // already fired: no longer armed
			wantNext := []eventKey{
				{zkproto.EventNodeDataChanged, "/same"},
				{zkproto.EventNodeCreated, "/missing"},
				{zkproto.EventNodeChildrenChanged, "/cs"},
			}
			if op == zkproto.OpSetWatches2 {
				m.Set("/pw", []byte("1"), -1)
				m.Set("/pw", []byte("2"), -1)
				m.Create("/rw", nil, 0, worldAll)
				m.Create("/rw/deep", nil, 0, worldAll)
				wantNext = append(wantNext,
					eventKey{zkproto.EventNodeDataChanged, "/pw"},
					eventKey{zkproto.EventNodeDataChanged, "/pw"},
					eventKey{zkproto.EventNodeCreated, "/rw"},
					eventKey{zkproto.EventNodeCreated, "/rw/deep"})
			}
			rawPing(t, w)
			if got := rawEventKeys(w); !slices.Equal(got, wantNext) {
				t.Fatalf("re-armed watches fired %v, want %v", got, wantNext)
			}
		})
	}
}

// TestSetWatchesSplit: clients split a large watch set over several setWatches
// requests; every one is accepted and re-arms its watches.
func TestSetWatchesSplit(t *testing.T) {
	srv := ensembletest.RunServer(t)
	m := connect(t, srv.Addr)
	w := rawConnect(t, srv.Addr, 10000)
	var last zkproto.Zxid
	const n = 30
	for i := range n {
		if _, err := m.Create(fmt.Sprintf("/n%d", i), nil, 0, worldAll); err != nil {
			t.Fatal(err)
		}
	}
	xid, _ := w.Send(zkproto.OpSync, &zkproto.SyncRequest{Path: "/"})
	h, err := w.Recv(xid, &zkproto.SyncResponse{})
	if err != nil {
		t.Fatal(err)
	}
	last = h.Zxid
	for batch := 0; batch < n; batch += 10 {
		var paths []string
		for i := batch; i < batch+10; i++ {
			paths = append(paths, fmt.Sprintf("/n%d", i))
		}
		if err := w.SendXid(zkproto.XidSetWatches, zkproto.OpSetWatches, &zkproto.SetWatches{RelativeZxid: last, DataWatches: paths}); err != nil {
			t.Fatal(err)
		}
		if h, err := w.Recv(zkproto.XidSetWatches, nil); err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("setWatches batch %d: %v %v", batch, h.Err, err)
		}
	}
	if len(w.Events) != 0 {
		t.Fatalf("nothing was missed, yet events came: %v", rawEventKeys(w))
	}
	for i := range n {
		m.Set(fmt.Sprintf("/n%d", i), []byte("x"), -1)
	}
	rawPing(t, w)
	if len(w.Events) != n {
		t.Fatalf("%d events after changing %d watched nodes", len(w.Events), n)
	}
}
