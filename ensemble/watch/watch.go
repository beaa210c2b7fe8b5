package watch

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/zkraft/zkraft/zkproto"
)

// The model is ZooKeeper 3.8's (server/DataTree.java with two server/watch/WatchManager
// instances, "dataWatches" and "childWatches", and WatcherModeManager):
//
//   - getData and exists register a standard watch in the data table, getChildren one in
//     the child table; addWatch registers its mode in both tables.
//   - Each table holds at most one mode per (watcher, path); the latest registration
//     replaces the previous one (WatcherModeManager.setWatcherMode). So a second addWatch
//     replaces the first's mode, and a getData/exists watch set after addWatch turns the
//     data-table entry back into a one-shot watch (3.8 behaviour; 3.9's ZOOKEEPER-4466
//     lets modes coexist).
//   - Standard and persistent entries fire only for their own path; recursive entries fire
//     for the path and every descendant, never for NodeChildrenChanged. Ancestors are only
//     walked while the table holds a recursive entry.
//   - An event goes only to watchers that may READ it under the ACL the tree passes
//     along (Trigger's acl), as ServerCnxn.process(event, acl) decides since
//     ZOOKEEPER-4799 (CVE-2024-23944, in Debian's 3.8.0 and in 3.8.4): the node's ACL
//     at the event, the deleted node's for NodeDeleted, the parent's for
//     NodeChildrenChanged; recursive watches are checked against the node the event
//     happened to, not the watched ancestor. A one-shot watch whose event is dropped
//     is used up all the same. The events that setWatches replays are not checked.
//     integration/compat's watch-acl scenarios hold the measurements.
//
// Lock order: server tree lock → Manager.mu → connection locks (inside MayRead and
// Notify).

// Watcher is the connection a watch belongs to. Implementations must be comparable (a
// pointer) since they key maps.
type Watcher interface {
	// Notify queues ev on the connection's outbound queue. It must not block and must not
	// call back into the Manager: the Manager calls it with its lock held, while the server
	// holds the tree lock, which is what orders the event before any response that
	// reflects the change.
	Notify(ev zkproto.WatcherEvent)
	// MayRead reports whether the watcher's session may READ a znode with this ACL
	// (non-empty, and not readable by world:anyone) under its identities now. It
	// must not block or call back into the Manager either.
	MayRead(acl []zkproto.ACL) bool
}

// SessionWatcher is a Watcher that knows its session, for the wchc/wchp dumps.
type SessionWatcher interface {
	Watcher
	SessionID() zkproto.SessionID
}

// StaleWatcher is a Watcher that can report its connection closed. Add ignores a stale
// watcher (WatchManager.isDeadWatcher), so a read racing with the close leaks nothing,
// provided the connection marks itself stale before it calls RemoveWatcher.
type StaleWatcher interface {
	Watcher
	Stale() bool
}

// Kind says which request registered a watch.
type Kind uint8

const (
	Data                Kind = iota + 1 // getData
	Exist                               // exists
	Child                               // getChildren
	Persistent                          // addWatch, AddWatchPersistent
	PersistentRecursive                 // addWatch, AddWatchPersistentRecursive
)

// KindOfAddWatchMode maps AddWatchRequest.Mode to a Kind; ok is false for an unknown
// mode (3.8's WatcherMode.fromZooDef throws, and the client sees MARSHALLINGERROR).
func KindOfAddWatchMode(mode int32) (k Kind, ok bool) {
	switch mode {
	case zkproto.AddWatchPersistent:
		return Persistent, true
	case zkproto.AddWatchPersistentRecursive:
		return PersistentRecursive, true
	}
	return 0, false
}

// ErrBadWatcherType is returned by Remove and Contains for a watcher type other than
// WatcherChildren, WatcherData and WatcherAny. ZooKeeper 3.8 knows only those three
// (Watcher.WatcherType.fromInt throws) and answers MARSHALLINGERROR; Persistent (4) and
// PersistentRecursive (5) arrived in 3.9.
var ErrBadWatcherType = errors.New("watch: unknown watcher type")

type mode uint8

const (
	standard mode = iota + 1
	persistent
	recursive
)

// table is one of ZooKeeper's two WatchManagers.
type table struct {
	byPath    map[string]map[Watcher]mode
	byWatcher map[Watcher]map[string]struct{}
	recursive int // entries with mode recursive
}

func newTable() table {
	return table{byPath: map[string]map[Watcher]mode{}, byWatcher: map[Watcher]map[string]struct{}{}}
}

func (t *table) set(w Watcher, path string, md mode) {
	ws := t.byPath[path]
	if ws == nil {
		ws = make(map[Watcher]mode, 1)
		t.byPath[path] = ws
	}
	if old := ws[w]; old == recursive {
		t.recursive--
	}
	if md == recursive {
		t.recursive++
	}
	ws[w] = md
	ps := t.byWatcher[w]
	if ps == nil {
		ps = map[string]struct{}{}
		t.byWatcher[w] = ps
	}
	ps[path] = struct{}{}
}

func (t *table) has(w Watcher, path string) bool {
	_, ok := t.byPath[path][w]
	return ok
}

func (t *table) remove(w Watcher, path string) bool {
	ws := t.byPath[path]
	md, ok := ws[w]
	if !ok {
		return false
	}
	if md == recursive {
		t.recursive--
	}
	delete(ws, w)
	if len(ws) == 0 {
		delete(t.byPath, path)
	}
	ps := t.byWatcher[w]
	delete(ps, path)
	if len(ps) == 0 {
		delete(t.byWatcher, w)
	}
	return true
}

func (t *table) removeWatcher(w Watcher) {
	for path := range t.byWatcher[w] {
		ws := t.byPath[path]
		if ws[w] == recursive {
			t.recursive--
		}
		delete(ws, w)
		if len(ws) == 0 {
			delete(t.byPath, path)
		}
	}
	delete(t.byWatcher, w)
}

func (t *table) size() int {
	n := 0
	for _, ps := range t.byWatcher {
		n += len(ps)
	}
	return n
}

// Manager is the watch table of one server. It is safe for concurrent use.
type Manager struct {
	mu    sync.Mutex
	data  table                // getData, exists, addWatch
	child table                // getChildren, addWatch
	fired map[Watcher]struct{} // scratch set for one Trigger, under mu
}

// New returns an empty Manager.
func New() *Manager {
	return &Manager{data: newTable(), child: newTable(), fired: map[Watcher]struct{}{}}
}

// Add registers a watch of kind k by w on path, replacing w's previous mode on path in
// the tables k uses (see the package comment). A stale watcher is ignored.
func (m *Manager) Add(w Watcher, path string, k Kind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := w.(StaleWatcher); ok && s.Stale() {
		return
	}
	switch k {
	case Data, Exist:
		m.data.set(w, path, standard)
	case Child:
		m.child.set(w, path, standard)
	case Persistent:
		m.data.set(w, path, persistent)
		m.child.set(w, path, persistent)
	case PersistentRecursive:
		m.data.set(w, path, recursive)
		m.child.set(w, path, recursive)
	default:
		panic("watch: bad Kind")
	}
}

// Trigger delivers one change to path, as DataTree does, to the watchers that may
// READ it under acl (nil: everyone):
//
//	NodeCreated, NodeDataChanged  data table at path (and recursive watches above it)
//	NodeDeleted                   data table, then child table, at path (and above)
//	NodeChildrenChanged           child table at path, recursive watches excluded
//
// The server calls Trigger(parent, NodeChildrenChanged) itself after a create or delete.
// Each watcher gets at most one event per call, with State SyncConnected and Path path.
// One-shot watches that fire are removed, delivered or not; persistent ones stay.
// Other event types are ignored. It returns how many watchers the event fired.
func (m *Manager) Trigger(path string, typ zkproto.EventType, acl []zkproto.ACL) (fired int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if worldReadable(acl) {
		acl = nil // no watcher needs asking: the common case costs nothing more
	}
	ev := zkproto.WatcherEvent{Type: typ, State: zkproto.StateSyncConnected, Path: path}
	switch typ {
	case zkproto.EventNodeCreated, zkproto.EventNodeDataChanged:
		m.trigger(&m.data, ev, acl)
	case zkproto.EventNodeDeleted:
		m.trigger(&m.data, ev, acl)
		m.trigger(&m.child, ev, acl)
	case zkproto.EventNodeChildrenChanged:
		m.trigger(&m.child, ev, acl)
	default:
		return 0
	}
	fired = len(m.fired)
	if fired > 0 {
		clear(m.fired)
	}
	return fired
}

// worldReadable reports whether anyone may READ a znode with acl: an empty ACL
// allows everything (ZooKeeperServer.checkACL), and so does a world:anyone entry
// with READ.
func worldReadable(acl []zkproto.ACL) bool {
	if len(acl) == 0 {
		return true
	}
	for _, a := range acl {
		if a.Perms&zkproto.PermRead != 0 && a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
	}
	return false
}

// trigger is WatchManager.triggerWatch with the suppress set kept in m.fired.
// A non-nil acl is asked of each watcher (MayRead).
func (m *Manager) trigger(t *table, ev zkproto.WatcherEvent, acl []zkproto.ACL) {
	path := ev.Path
	if ws := t.byPath[path]; ws != nil {
		for w, md := range ws {
			if md == recursive && ev.Type == zkproto.EventNodeChildrenChanged {
				continue
			}
			if md == standard {
				delete(ws, w)
				ps := t.byWatcher[w]
				delete(ps, path)
				if len(ps) == 0 {
					delete(t.byWatcher, w)
				}
			}
			m.notify(w, ev, acl)
		}
		if len(ws) == 0 {
			delete(t.byPath, path)
		}
	}
	if t.recursive == 0 || ev.Type == zkproto.EventNodeChildrenChanged {
		return
	}
	for p := parent(path); p != ""; p = parent(p) {
		for w, md := range t.byPath[p] {
			if md == recursive {
				m.notify(w, ev, acl)
			}
		}
	}
}

func (m *Manager) notify(w Watcher, ev zkproto.WatcherEvent, acl []zkproto.ACL) {
	if _, done := m.fired[w]; done {
		return
	}
	m.fired[w] = struct{}{}
	if acl != nil && !w.MayRead(acl) {
		return
	}
	w.Notify(ev)
}

// parent returns the parent of a validated absolute path, and "" for "/".
func parent(p string) string {
	if p == "/" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Remove serves removeWatches: WatcherData removes w's data-table entry on path (a
// getData/exists watch, or the data half of a persistent one), WatcherChildren its
// child-table entry, WatcherAny both. It reports whether anything was removed; the server
// answers NOWATCHER when not. The server sends no event: the client library generates
// DataWatchRemoved/ChildWatchRemoved itself.
func (m *Manager) Remove(w Watcher, path string, watcherType int32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch watcherType {
	case zkproto.WatcherChildren:
		return m.child.remove(w, path), nil
	case zkproto.WatcherData:
		return m.data.remove(w, path), nil
	case zkproto.WatcherAny:
		c := m.child.remove(w, path)
		d := m.data.remove(w, path)
		return c || d, nil
	}
	return false, ErrBadWatcherType
}

// Contains serves checkWatches: whether w has an entry on path in the table(s)
// watcherType names, as Remove would find it.
//
// ZooKeeper 3.8's WatchManager.containsWatcher answers true when any connection watches
// path; this checks w's own watches, as 3.5 and 3.9 do.
func (m *Manager) Contains(w Watcher, path string, watcherType int32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch watcherType {
	case zkproto.WatcherChildren:
		return m.child.has(w, path), nil
	case zkproto.WatcherData:
		return m.data.has(w, path), nil
	case zkproto.WatcherAny:
		return m.child.has(w, path) || m.data.has(w, path), nil
	}
	return false, ErrBadWatcherType
}

// Count is how many entries w holds in both tables (a persistent watch holds two),
// as mntr's zk_watch_count counts them.
func (m *Manager) Count(w Watcher) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data.byWatcher[w]) + len(m.child.byWatcher[w])
}

// Watching reports whether w has an entry on path in either table.
func (m *Manager) Watching(w Watcher, path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data.has(w, path) || m.child.has(w, path)
}

// RemoveWatcher drops every watch of w, whose connection closed. It costs O(watches of w).
func (m *Manager) RemoveWatcher(w Watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data.removeWatcher(w)
	m.child.removeWatcher(w)
}

// Stats are watch counts for the four-letter words. Like ZooKeeper 3.8, wchs counts the
// data table only (getData, exists, addWatch), while mntr's zk_watch_count adds the child
// table.
type Stats struct {
	Connections int // wchs "N connections watching"
	Paths       int // wchs "M paths"
	Watches     int // wchs "Total watches:"
	WatchCount  int // mntr zk_watch_count: data plus child entries
}

// Stats returns the current counts.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.data.size()
	return Stats{
		Connections: len(m.data.byWatcher),
		Paths:       len(m.data.byPath),
		Watches:     n,
		WatchCount:  n + m.child.size(),
	}
}

// ByWatcher returns each watcher's watched paths, sorted, for wchc. Like 3.8 it lists the
// data table only.
func (m *Manager) ByWatcher() map[Watcher][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[Watcher][]string, len(m.data.byWatcher))
	for w, ps := range m.data.byWatcher {
		list := make([]string, 0, len(ps))
		for p := range ps {
			list = append(list, p)
		}
		slices.Sort(list)
		out[w] = list
	}
	return out
}

// ByPath returns each watched path's watchers for wchp (data table only, as in 3.8).
// Watchers that are SessionWatchers come sorted by session id.
func (m *Manager) ByPath() map[string][]Watcher {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]Watcher, len(m.data.byPath))
	for p, ws := range m.data.byPath {
		list := make([]Watcher, 0, len(ws))
		for w := range ws {
			list = append(list, w)
		}
		slices.SortFunc(list, func(a, b Watcher) int {
			ai, _ := SessionID(a)
			bi, _ := SessionID(b)
			switch {
			case ai < bi:
				return -1
			case ai > bi:
				return 1
			}
			return 0
		})
		out[p] = list
	}
	return out
}

// SessionID returns w's session id if w is a SessionWatcher.
func SessionID(w Watcher) (zkproto.SessionID, bool) {
	if s, ok := w.(SessionWatcher); ok {
		return s.SessionID(), true
	}
	return 0, false
}
