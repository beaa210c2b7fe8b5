package watch

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

type fakeWatcher struct {
	id     zkproto.SessionID
	stale  bool
	noRead bool // MayRead answers false

	mu    sync.Mutex
	evs   []zkproto.WatcherEvent
	asked [][]zkproto.ACL // MayRead's arguments
}

func (f *fakeWatcher) MayRead(acl []zkproto.ACL) bool {
	f.mu.Lock()
	f.asked = append(f.asked, acl)
	f.mu.Unlock()
	return !f.noRead
}

func (f *fakeWatcher) Notify(ev zkproto.WatcherEvent) {
	f.mu.Lock()
	f.evs = append(f.evs, ev)
	f.mu.Unlock()
}

func (f *fakeWatcher) SessionID() zkproto.SessionID { return f.id }
func (f *fakeWatcher) Stale() bool                  { return f.stale }

// take returns and forgets the events received so far.
func (f *fakeWatcher) take() []zkproto.WatcherEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := f.evs
	f.evs = nil
	return evs
}

const (
	created  = zkproto.EventNodeCreated
	deleted  = zkproto.EventNodeDeleted
	changed  = zkproto.EventNodeDataChanged
	children = zkproto.EventNodeChildrenChanged
)

func ev(typ zkproto.EventType, path string) zkproto.WatcherEvent {
	return zkproto.WatcherEvent{Type: typ, State: zkproto.StateSyncConnected, Path: path}
}

func (k Kind) String() string {
	return [...]string{"?", "Data", "Exist", "Child", "Persistent", "PersistentRecursive"}[k]
}

// TestTrigger covers every kind × event × where the change happens relative to the
// watched path /a.
func TestTrigger(t *testing.T) {
	type want struct{ fire, kept bool }
	var (
		fireGone = want{true, false}
		fireKept = want{true, true}
		quiet    = want{false, true}
	)
	events := []zkproto.EventType{created, deleted, changed, children}
	// Per kind: the outcome at /a for each of the four events, then at descendants.
	tests := []struct {
		kind      Kind
		at, below [4]want
	}{
		{Data, [4]want{fireGone, fireGone, fireGone, quiet}, [4]want{quiet, quiet, quiet, quiet}},
		{Exist, [4]want{fireGone, fireGone, fireGone, quiet}, [4]want{quiet, quiet, quiet, quiet}},
		{Child, [4]want{quiet, fireGone, quiet, fireGone}, [4]want{quiet, quiet, quiet, quiet}},
		{Persistent, [4]want{fireKept, fireKept, fireKept, fireKept}, [4]want{quiet, quiet, quiet, quiet}},
		{PersistentRecursive, [4]want{fireKept, fireKept, fireKept, quiet}, [4]want{fireKept, fireKept, fireKept, quiet}},
	}
	for _, tt := range tests {
		for i, typ := range events {
			for _, c := range []struct {
				path string
				want want
			}{
				{"/a", tt.at[i]},
				{"/a/b", tt.below[i]},
				{"/a/b/c", tt.below[i]},
				{"/ab", quiet},  // a sibling sharing the prefix
				{"/", quiet},    // an ancestor
				{"/z/a", quiet}, // same last component elsewhere
			} {
				t.Run(fmt.Sprintf("%v/%v@%s", tt.kind, typ, c.path), func(t *testing.T) {
					m := New()
					w := &fakeWatcher{id: 1}
					m.Add(w, "/a", tt.kind)
					m.Trigger(c.path, typ, nil)
					var wantEvs []zkproto.WatcherEvent
					if c.want.fire {
						wantEvs = []zkproto.WatcherEvent{ev(typ, c.path)}
					}
					if got := w.take(); !slices.Equal(got, wantEvs) {
						t.Errorf("events = %v, want %v", got, wantEvs)
					}
					if got, _ := m.Contains(w, "/a", zkproto.WatcherAny); got != c.want.kept {
						t.Errorf("kept = %v, want %v", got, c.want.kept)
					}
					// A second identical change fires again only if the watch was kept.
					m.Trigger(c.path, typ, nil)
					if got := len(w.take()); got != 0 && !c.want.kept {
						t.Errorf("second trigger delivered %d events after a one-shot fired", got)
					}
				})
			}
		}
	}
}

func TestRecursiveOnRoot(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1}
	m.Add(w, "/", PersistentRecursive)
	for _, p := range []string{"/", "/a", "/a/b/c"} {
		for _, typ := range []zkproto.EventType{created, deleted, changed, children} {
			m.Trigger(p, typ, nil)
			var want []zkproto.WatcherEvent
			if typ != children {
				want = []zkproto.WatcherEvent{ev(typ, p)}
			}
			if got := w.take(); !slices.Equal(got, want) {
				t.Errorf("%v@%s: events = %v, want %v", typ, p, got, want)
			}
		}
	}
}

func TestOtherEventTypesIgnored(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1}
	for _, k := range []Kind{Data, Child, Persistent, PersistentRecursive} {
		m.Add(w, "/"+k.String(), k)
	}
	for _, typ := range []zkproto.EventType{zkproto.EventNone, zkproto.EventDataWatchRemoved,
		zkproto.EventChildWatchRemoved, zkproto.EventPersistentWatchRemoved} {
		for _, k := range []Kind{Data, Child, Persistent, PersistentRecursive} {
			m.Trigger("/"+k.String(), typ, nil)
		}
	}
	if got := w.take(); len(got) != 0 {
		t.Errorf("events = %v, want none", got)
	}
}

// TestDedupe: one event per watcher per Trigger, however many ways it watches.
func TestDedupe(t *testing.T) {
	tests := []struct {
		name  string
		kinds map[string][]Kind
		path  string
		typ   zkproto.EventType
	}{
		{"data+child on deleted node", map[string][]Kind{"/a": {Data, Child}}, "/a", deleted},
		{"exist+child on deleted node", map[string][]Kind{"/a": {Exist, Child}}, "/a", deleted},
		{"persistent on deleted node", map[string][]Kind{"/a": {Persistent}}, "/a", deleted},
		{"recursive on deleted node", map[string][]Kind{"/a": {PersistentRecursive}}, "/a", deleted},
		{"persistent + recursive ancestor", map[string][]Kind{"/a": {Persistent}, "/": {PersistentRecursive}}, "/a", changed},
		{"data + two recursive ancestors", map[string][]Kind{"/a/b": {Data}, "/a": {PersistentRecursive}, "/": {PersistentRecursive}}, "/a/b", deleted},
		{"child + recursive ancestor, deleted", map[string][]Kind{"/a/b": {Child}, "/": {PersistentRecursive}}, "/a/b", deleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			w1, w2 := &fakeWatcher{id: 1}, &fakeWatcher{id: 2}
			for p, ks := range tt.kinds {
				for _, k := range ks {
					m.Add(w1, p, k)
					m.Add(w2, p, k)
				}
			}
			m.Trigger(tt.path, tt.typ, nil)
			want := []zkproto.WatcherEvent{ev(tt.typ, tt.path)}
			for _, w := range []*fakeWatcher{w1, w2} {
				if got := w.take(); !slices.Equal(got, want) {
					t.Errorf("session %d: events = %v, want %v", w.id, got, want)
				}
			}
		})
	}
}

// TestDeleteRemovesBothOneShots: a NodeDeleted fires data and child watches once and
// removes both, as the child table is triggered with the data table's watchers suppressed
// but still cleared.
func TestDeleteRemovesBothOneShots(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1}
	m.Add(w, "/a", Data)
	m.Add(w, "/a", Child)
	m.Trigger("/a", deleted, nil)
	if got := len(w.take()); got != 1 {
		t.Fatalf("events = %d, want 1", got)
	}
	if got := m.Stats(); got != (Stats{}) {
		t.Errorf("Stats = %+v, want zero", got)
	}
}

// TestReplaceMode: each table holds one mode per (watcher, path); the latest Add wins
// (3.8's WatcherModeManager).
func TestReplaceMode(t *testing.T) {
	type step struct {
		path string
		typ  zkproto.EventType
		fire bool
	}
	tests := []struct {
		name  string
		kinds []Kind
		steps []step
	}{
		{"persistent then recursive", []Kind{Persistent, PersistentRecursive}, []step{
			{"/a/b", changed, true}, {"/a", children, false}, {"/a", changed, true},
		}},
		{"recursive then persistent", []Kind{PersistentRecursive, Persistent}, []step{
			{"/a/b", changed, false}, {"/a", children, true}, {"/a", changed, true},
		}},
		{"standard then persistent", []Kind{Data, Persistent}, []step{
			{"/a", changed, true}, {"/a", changed, true},
		}},
		// 3.8: a getData watch after addWatch turns the data-table entry one-shot; the
		// child-table half stays persistent.
		{"persistent then data", []Kind{Persistent, Data}, []step{
			{"/a", changed, true}, {"/a", changed, false}, {"/a", children, true}, {"/a", children, true},
		}},
		{"recursive then exist", []Kind{PersistentRecursive, Exist}, []step{
			{"/a/b", changed, false}, {"/a", created, true}, {"/a", created, false}, {"/a", deleted, true},
		}},
		{"persistent then child", []Kind{Persistent, Child}, []step{
			{"/a", children, true}, {"/a", children, false}, {"/a", changed, true}, {"/a", changed, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			w := &fakeWatcher{id: 1}
			for _, k := range tt.kinds {
				m.Add(w, "/a", k)
			}
			for i, s := range tt.steps {
				m.Trigger(s.path, s.typ, nil)
				if got := len(w.take()) == 1; got != s.fire {
					t.Errorf("step %d %v@%s: fired = %v, want %v", i, s.typ, s.path, got, s.fire)
				}
			}
		})
	}
}

func TestRecursiveCounter(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1}
	m.Add(w, "/a", PersistentRecursive)
	m.Add(w, "/a", PersistentRecursive)
	m.Add(w, "/b", PersistentRecursive)
	if m.data.recursive != 2 || m.child.recursive != 2 {
		t.Fatalf("recursive = %d/%d, want 2/2", m.data.recursive, m.child.recursive)
	}
	m.Add(w, "/a", Persistent)
	m.Remove(w, "/b", zkproto.WatcherData)
	if m.data.recursive != 0 || m.child.recursive != 1 {
		t.Fatalf("recursive = %d/%d, want 0/1", m.data.recursive, m.child.recursive)
	}
	m.RemoveWatcher(w)
	if m.data.recursive != 0 || m.child.recursive != 0 {
		t.Fatalf("recursive = %d/%d, want 0/0", m.data.recursive, m.child.recursive)
	}
}

// TestRemoveContains covers every watcher type against every kind of watch.
func TestRemoveContains(t *testing.T) {
	types := []int32{zkproto.WatcherChildren, zkproto.WatcherData, zkproto.WatcherAny}
	// found[kind] = whether Contains/Remove finds it for Children, Data, Any.
	tests := []struct {
		kinds []Kind
		found [3]bool
		// after removing with each type: does each event on /a still fire?
		after [3]map[zkproto.EventType]bool
	}{
		{nil, [3]bool{false, false, false}, [3]map[zkproto.EventType]bool{}},
		{[]Kind{Data}, [3]bool{false, true, true}, [3]map[zkproto.EventType]bool{
			{changed: true}, {changed: false}, {changed: false}}},
		{[]Kind{Exist}, [3]bool{false, true, true}, [3]map[zkproto.EventType]bool{
			{created: true}, {created: false}, {created: false}}},
		{[]Kind{Child}, [3]bool{true, false, true}, [3]map[zkproto.EventType]bool{
			{children: false}, {children: true}, {children: false}}},
		{[]Kind{Data, Child}, [3]bool{true, true, true}, [3]map[zkproto.EventType]bool{
			{changed: true, children: false}, {changed: false, children: true}, {changed: false, children: false}}},
		// 3.8 keeps addWatch in both tables, so Data and Children each remove one half.
		{[]Kind{Persistent}, [3]bool{true, true, true}, [3]map[zkproto.EventType]bool{
			{changed: true, children: false, deleted: true},
			{changed: false, children: true, deleted: true},
			{changed: false, children: false, deleted: false}}},
		{[]Kind{PersistentRecursive}, [3]bool{true, true, true}, [3]map[zkproto.EventType]bool{
			{changed: true, deleted: true},
			{changed: false, deleted: true}, // the child half still reports deletions
			{changed: false, deleted: false}}},
	}
	for _, tt := range tests {
		for i, typ := range types {
			t.Run(fmt.Sprintf("%v/type%d", tt.kinds, typ), func(t *testing.T) {
				m := New()
				w, other := &fakeWatcher{id: 1}, &fakeWatcher{id: 2}
				for _, k := range tt.kinds {
					m.Add(w, "/a", k)
				}
				m.Add(other, "/a", Data)
				m.Add(other, "/a", Child)
				if got, err := m.Contains(w, "/a", typ); err != nil || got != tt.found[i] {
					t.Errorf("Contains = %v, %v; want %v", got, err, tt.found[i])
				}
				if got, _ := m.Contains(w, "/b", typ); got {
					t.Errorf("Contains(/b) = true")
				}
				if got, err := m.Remove(w, "/a", typ); err != nil || got != tt.found[i] {
					t.Errorf("Remove = %v, %v; want %v", got, err, tt.found[i])
				}
				if got, _ := m.Remove(w, "/a", typ); got {
					t.Errorf("second Remove = true")
				}
				if got, _ := m.Contains(w, "/a", typ); got {
					t.Errorf("Contains after Remove = true")
				}
				if got, _ := m.Contains(other, "/a", zkproto.WatcherAny); !got {
					t.Errorf("Remove touched another watcher's watch")
				}
				for typ, fire := range tt.after[i] {
					path := "/a"
					m.Trigger(path, typ, nil)
					if got := len(w.take()) == 1; got != fire {
						t.Errorf("%v: fired = %v, want %v", typ, got, fire)
					}
					if tt.kinds[0] == PersistentRecursive {
						m.Trigger("/a/x", typ, nil)
						if got := len(w.take()) == 1; got != fire {
							t.Errorf("%v below: fired = %v, want %v", typ, got, fire)
						}
					}
				}
			})
		}
	}
}

func TestBadWatcherType(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1}
	m.Add(w, "/a", Persistent)
	for _, typ := range []int32{0, zkproto.WatcherPersistent, zkproto.WatcherPersistentRecursive, 6, -1} {
		if _, err := m.Remove(w, "/a", typ); !errors.Is(err, ErrBadWatcherType) {
			t.Errorf("Remove(type %d) err = %v", typ, err)
		}
		if _, err := m.Contains(w, "/a", typ); !errors.Is(err, ErrBadWatcherType) {
			t.Errorf("Contains(type %d) err = %v", typ, err)
		}
	}
	if got, _ := m.Contains(w, "/a", zkproto.WatcherAny); !got {
		t.Error("a bad type removed the watch")
	}
}

func TestKindOfAddWatchMode(t *testing.T) {
	for mode, want := range map[int32]Kind{zkproto.AddWatchPersistent: Persistent, zkproto.AddWatchPersistentRecursive: PersistentRecursive} {
		if k, ok := KindOfAddWatchMode(mode); !ok || k != want {
			t.Errorf("mode %d = %v, %v", mode, k, ok)
		}
	}
	if _, ok := KindOfAddWatchMode(2); ok {
		t.Error("mode 2 accepted")
	}
}

func TestRemoveWatcher(t *testing.T) {
	m := New()
	w1, w2 := &fakeWatcher{id: 1}, &fakeWatcher{id: 2}
	for _, w := range []*fakeWatcher{w1, w2} {
		m.Add(w, "/a", Data)
		m.Add(w, "/a", Child)
		m.Add(w, "/b", Persistent)
		m.Add(w, "/c", PersistentRecursive)
	}
	m.RemoveWatcher(w1)
	m.RemoveWatcher(w1) // idempotent
	for _, p := range []string{"/a", "/b", "/c", "/c/d"} {
		m.Trigger(p, changed, nil)
		m.Trigger(p, children, nil)
	}
	if got := w1.take(); len(got) != 0 {
		t.Errorf("removed watcher got %v", got)
	}
	if got := len(w2.take()); got != 6 { // /a changed, /a children, /b ×2, /c and /c/d changed
		t.Errorf("remaining watcher got %d events, want 6", got)
	}
	m.RemoveWatcher(w2)
	if len(m.data.byPath)+len(m.data.byWatcher)+len(m.child.byPath)+len(m.child.byWatcher) != 0 {
		t.Errorf("tables not empty: %+v %+v", m.data, m.child)
	}
	if m.data.recursive != 0 || m.child.recursive != 0 {
		t.Errorf("recursive counters = %d/%d", m.data.recursive, m.child.recursive)
	}
}

func TestStaleWatcherIgnored(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1, stale: true}
	m.Add(w, "/a", Data)
	m.Add(w, "/a", PersistentRecursive)
	if got := m.Stats(); got != (Stats{}) {
		t.Errorf("Stats = %+v, want zero", got)
	}
}

func TestStatsAndDumps(t *testing.T) {
	m := New()
	w1, w2, w3 := &fakeWatcher{id: 0x10}, &fakeWatcher{id: 0x2}, &fakeWatcher{id: 0x3}
	m.Add(w1, "/a", Data)
	m.Add(w1, "/a", Exist) // same data-table entry
	m.Add(w1, "/b", Persistent)
	m.Add(w2, "/a", Exist)
	m.Add(w2, "/a", Child)
	m.Add(w3, "/c", Child) // child table only: not in wchs/wchc/wchp, as in 3.8
	want := Stats{Connections: 2, Paths: 2, Watches: 3, WatchCount: 3 + 3}
	if got := m.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	bw := m.ByWatcher()
	if len(bw) != 2 || !slices.Equal(bw[w1], []string{"/a", "/b"}) || !slices.Equal(bw[w2], []string{"/a"}) {
		t.Errorf("ByWatcher = %v", bw)
	}
	bp := m.ByPath()
	if len(bp) != 2 || !slices.Equal(bp["/a"], []Watcher{w2, w1}) || !slices.Equal(bp["/b"], []Watcher{w1}) {
		t.Errorf("ByPath = %v", bp)
	}
	if id, ok := SessionID(w1); !ok || id != 0x10 {
		t.Errorf("SessionID = %v, %v", id, ok)
	}
}

func TestConcurrent(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			w := &fakeWatcher{id: zkproto.SessionID(g)}
			for i := range 500 {
				p := fmt.Sprintf("/n%d", i%10)
				m.Add(w, p, Kind(i%5+1))
				m.Trigger(p, zkproto.EventType(i%4+1), nil)
				m.Trigger(p+"/x", changed, nil)
				m.Contains(w, p, zkproto.WatcherAny)
				if i%7 == 0 {
					m.Remove(w, p, zkproto.WatcherData)
				}
				if i%50 == 0 {
					m.Stats()
					m.ByPath()
					m.ByWatcher()
				}
			}
			m.RemoveWatcher(w)
		})
	}
	wg.Wait()
	if got := m.Stats(); got != (Stats{}) {
		t.Errorf("Stats = %+v, want zero", got)
	}
}

func TestTriggerNoWatchersAllocs(t *testing.T) {
	m := New()
	w := &fakeWatcher{id: 1}
	m.Add(w, "/other", Data)
	if n := testing.AllocsPerRun(100, func() { m.Trigger("/a/b/c", changed, nil) }); n != 0 {
		t.Errorf("allocs without recursive watches = %v", n)
	}
	m.Add(w, "/x", PersistentRecursive)
	if n := testing.AllocsPerRun(100, func() { m.Trigger("/a/b/c", changed, nil) }); n != 0 {
		t.Errorf("allocs walking ancestors = %v", n)
	}
}

func TestParent(t *testing.T) {
	for in, want := range map[string]string{"/": "", "/a": "/", "/a/b": "/a", "/a/b/c": "/a/b"} {
		if got := parent(in); got != want {
			t.Errorf("parent(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkTriggerNoWatchers(b *testing.B) {
	m := New()
	w := &fakeWatcher{id: 1}
	for i := range 1000 {
		m.Add(w, fmt.Sprintf("/n%d", i), Data)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Trigger("/a/b/c", changed, nil)
	}
}

func BenchmarkTriggerNoWatchersRecursiveElsewhere(b *testing.B) {
	m := New()
	w := &fakeWatcher{id: 1}
	m.Add(w, "/x", PersistentRecursive)
	b.ReportAllocs()
	for b.Loop() {
		m.Trigger("/a/b/c/d/e", changed, nil)
	}
}

type nopWatcher struct{ id int }

func (*nopWatcher) Notify(zkproto.WatcherEvent) {}
func (*nopWatcher) MayRead([]zkproto.ACL) bool  { return true }

func BenchmarkTriggerPersistent(b *testing.B) {
	m := New()
	for i := range 10 {
		m.Add(&nopWatcher{i}, "/a", Persistent)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Trigger("/a", changed, nil)
	}
}

func BenchmarkAddTriggerOneShot(b *testing.B) {
	m := New()
	w := &nopWatcher{}
	b.ReportAllocs()
	for b.Loop() {
		m.Add(w, "/a", Data)
		m.Trigger("/a", changed, nil)
	}
}
