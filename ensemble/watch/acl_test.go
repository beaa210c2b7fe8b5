package watch

import (
	"slices"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

var (
	worldAll    = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	worldNoRead = []zkproto.ACL{{Perms: zkproto.PermAll &^ zkproto.PermRead, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	digestU1    = []zkproto.ACL{
		{Perms: zkproto.PermWrite, ID: zkproto.Id{Scheme: "world", ID: "anyone"}},
		{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "digest", ID: "u1:x"}},
	}
)

// TestTriggerACL: every kind × event, for a watcher that may READ the ACL Trigger is
// given and one that may not. A dropped event still uses up a one-shot watch
// (measured on ZooKeeper 3.8.0: integration/compat watch-acl/data/dropped-then-readable);
// persistent watches stay.
func TestTriggerACL(t *testing.T) {
	kinds := []Kind{Data, Exist, Child, Persistent, PersistentRecursive}
	types := []zkproto.EventType{created, deleted, changed, children}
	for _, k := range kinds {
		for _, typ := range types {
			for _, path := range []string{"/a", "/a/x"} {
				if path == "/a/x" && k != PersistentRecursive {
					continue
				}
				m := New()
				reader := &fakeWatcher{id: 1}
				other := &fakeWatcher{id: 2, noRead: true}
				m.Add(reader, "/a", k)
				m.Add(other, "/a", k)
				m.Trigger(path, typ, digestU1)
				got := reader.take()
				if len(got) > 0 && !slices.Equal(got, []zkproto.WatcherEvent{ev(typ, path)}) {
					t.Errorf("%v %v %s: reader got %v", k, typ, path, got)
				}
				if evs := other.take(); len(evs) != 0 {
					t.Errorf("%v %v %s: a watcher without READ got %v", k, typ, path, evs)
				}
				if len(got) > 0 && !slices.EqualFunc(other.asked, [][]zkproto.ACL{digestU1}, slices.Equal) {
					t.Errorf("%v %v %s: MayRead asked %v, want the event's ACL once", k, typ, path, other.asked)
				}
				// The watcher without READ was treated as the reader was: a one-shot
				// watch is gone for both, a persistent one kept for both.
				for _, wt := range []int32{zkproto.WatcherData, zkproto.WatcherChildren} {
					r, _ := m.Contains(reader, "/a", wt)
					o, _ := m.Contains(other, "/a", wt)
					if r != o {
						t.Errorf("%v %v %s: watcher type %d kept for the reader %v, for the other %v", k, typ, path, wt, r, o)
					}
				}
			}
		}
	}
}

// TestTriggerWorldReadable: no watcher is asked about an ACL that world:anyone may
// read (or an empty one), and a watcher that may not read anything still gets it.
func TestTriggerWorldReadable(t *testing.T) {
	for _, acl := range [][]zkproto.ACL{nil, {}, worldAll, append(slices.Clone(digestU1), worldAll...)} {
		m := New()
		w := &fakeWatcher{id: 1, noRead: true}
		m.Add(w, "/a", Persistent)
		m.Trigger("/a", changed, acl)
		if got := w.take(); !slices.Equal(got, []zkproto.WatcherEvent{ev(changed, "/a")}) {
			t.Errorf("ACL %v: got %v", acl, got)
		}
		if len(w.asked) != 0 {
			t.Errorf("ACL %v: MayRead asked %v", acl, w.asked)
		}
	}
	m := New()
	w := &fakeWatcher{id: 1, noRead: true}
	m.Add(w, "/a", Persistent)
	m.Trigger("/a", changed, worldNoRead)
	if got := w.take(); len(got) != 0 {
		t.Errorf("world without READ: got %v", got)
	}
}

func TestTriggerWorldReadableAllocs(t *testing.T) {
	m := New()
	w := &nopWatcher{}
	m.Add(w, "/a", Persistent)
	if n := testing.AllocsPerRun(100, func() { m.Trigger("/a", changed, worldAll) }); n != 0 {
		t.Errorf("allocs = %v", n)
	}
}

func BenchmarkTriggerACL(b *testing.B) {
	for _, bc := range []struct {
		name string
		acl  []zkproto.ACL
	}{{"world", worldAll}, {"digest", digestU1}} {
		b.Run(bc.name, func(b *testing.B) {
			m := New()
			for i := range 10 {
				m.Add(&nopWatcher{i}, "/a", Persistent)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.Trigger("/a", changed, bc.acl)
			}
		})
	}
}
