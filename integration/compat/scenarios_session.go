package compat

import (
	"strconv"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// sessionScenarios: connect-time behaviour: timeout clamps, resume, wrong password,
// lastZxidSeen ahead, old clients, expiry.
func sessionScenarios() []Scenario {
	conn := func(timeout int32) zkproto.ConnectRequest {
		return zkproto.ConnectRequest{TimeOut: timeout, Passwd: make([]byte, 16), HasReadOnly: true}
	}
	m := map[string]func(r *run){
		"resume": func(r *run) {
			r.create(1, "/e", "", zkproto.ModeEphemeral)
			id, pw := r.Session(1)
			r.Close(1)
			r.Connect(2, zkproto.ConnectRequest{TimeOut: 4000, SessionID: id, Passwd: pw, HasReadOnly: true})
			r.Do(2, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("")})
			r.exists(2, "/e", false)
		},
		"resume-while-attached": func(r *run) {
			id, pw := r.Session(1)
			r.Connect(2, zkproto.ConnectRequest{TimeOut: 10000, SessionID: id, Passwd: pw, HasReadOnly: true})
			r.Ping(2)
			r.Expect("c1 after its session moved: %s", r.probeClosed(1))
		},
		"wrong-password": func(r *run) {
			id, _ := r.Session(1)
			bad := make([]byte, 16)
			bad[0] = 1
			r.Connect(2, zkproto.ConnectRequest{TimeOut: 10000, SessionID: id, Passwd: bad, HasReadOnly: true})
			r.Ping(1)
		},
		"unknown-session": func(r *run) {
			r.Connect(2, zkproto.ConnectRequest{TimeOut: 10000, SessionID: 0x0123456789, Passwd: make([]byte, 16), HasReadOnly: true})
		},
		"closed-session-resume": func(r *run) {
			id, pw := r.Session(1)
			r.Do(1, zkproto.OpCloseSession, nil)
			r.Connect(2, zkproto.ConnectRequest{TimeOut: 10000, SessionID: id, Passwd: pw, HasReadOnly: true})
		},
		"last-zxid-ahead": func(r *run) {
			r.Connect(1, zkproto.ConnectRequest{TimeOut: 10000, LastZxidSeen: 1 << 60, Passwd: make([]byte, 16), HasReadOnly: true})
		},
		"last-zxid-seen-current": func(r *run) {
			res := r.create(1, "/x", "", 0)
			_ = res
			r.Connect(2, zkproto.ConnectRequest{TimeOut: 10000, LastZxidSeen: 1, Passwd: make([]byte, 16), HasReadOnly: true})
		},
		"old-client-no-readonly": func(r *run) {
			r.Connect(1, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
			r.Ping(1)
		},
		"readonly-requested": func(r *run) {
			r.Connect(1, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true, ReadOnly: true})
			r.create(1, "/x", "", 0)
		},
		"no-password": func(r *run) {
			r.Connect(1, zkproto.ConnectRequest{TimeOut: 10000, HasReadOnly: true})
			r.Ping(1)
		},
		"protocol-version-1": func(r *run) {
			r.Connect(1, zkproto.ConnectRequest{ProtocolVersion: 1, TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true})
		},
		"expiry-deletes-ephemerals": func(r *run) {
			r.Connect(1, conn(1000))
			r.create(1, "/e", "", zkproto.ModeEphemeral)
			r.exists(2, "/e", true)
			r.Sleep(100 * time.Millisecond)
			r.WaitGone(2, r.P("/e"), 5*time.Second)
			r.Ping(2)
			r.Expect("c1 after expiry: %s", r.probeClosed(1))
		},
		"ping-keeps-session": func(r *run) {
			r.Connect(1, conn(1000))
			r.create(1, "/e", "", zkproto.ModeEphemeral)
			for i := 0; i < 8; i++ {
				r.Sleep(200 * time.Millisecond)
				r.pingQuiet(1, "keepalive")
			}
			r.exists(1, "/e", false)
		},
		"request-after-close": func(r *run) {
			r.Do(1, zkproto.OpCloseSession, nil)
			r.exists(1, "", false)
		},
		"first-frame-not-connect": func(r *run) {
			c, err := rawDial(r)
			if err != nil {
				r.abort(err.Error())
			}
			r.conns[9] = &rconn{c: c}
			c.SendXid(1, zkproto.OpGetData, &zkproto.GetDataRequest{Path: r.P("")})
			r.Expect("c9 request before connect: %s", r.probeClosed(9))
		},
	}
	for _, t := range []int32{0, -1, 1, 999, 1000, 1001, 19999, 20000, 20001, 1 << 30} {
		t := t
		m["timeout/"+itoa(t)] = func(r *run) { r.Connect(1, conn(t)); r.Ping(1) }
	}
	var out []Scenario
	for name, steps := range m {
		out = append(out, Scenario{name: "session/" + name, feature: "sessions", steps: steps})
	}
	return out
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }

// watchScenarios: one-shot, persistent, recursive watches; event-before-response;
// removeWatches/checkWatches; setWatches on reconnect.
func watchScenarios() []Scenario {
	m := map[string]func(r *run){
		"data-one-shot": func(r *run) {
			r.get(2, "/a", true)
			r.set(1, "/a", "1", -1)
			r.set(1, "/a", "2", -1)
			r.Ping(2)
		},
		"exist-created": func(r *run) {
			r.exists(2, "/new", true)
			r.create(1, "/new", "", 0)
			r.Ping(2)
		},
		"exist-deleted": func(r *run) { r.exists(2, "/a/c", true); r.del(1, "/a/c", -1); r.Ping(2) },
		"child-one-shot": func(r *run) {
			r.kids(2, "/a", true)
			r.create(1, "/a/d", "", 0)
			r.create(1, "/a/e", "", 0)
			r.Ping(2)
		},
		"child-on-delete-of-parent": func(r *run) {
			r.kids(2, "/a/c", true)
			r.get(2, "/a/c", true)
			r.del(1, "/a/c", -1)
			r.Ping(2)
		},
		"data-and-exist-same-path": func(r *run) {
			r.get(2, "/a", true)
			r.exists(2, "/a", true)
			r.set(1, "/a", "x", -1)
			r.Ping(2)
		},
		"event-before-own-response": func(r *run) {
			r.get(1, "/a", true)
			r.set(1, "/a", "x", -1)
		},
		"event-before-response-of-later-read": func(r *run) {
			r.get(2, "/a", true)
			r.set(1, "/a", "x", -1)
			r.get(2, "/a", false)
		},
		"setACL-no-event": func(r *run) {
			r.get(2, "/a", true)
			r.setACL(1, "/a", openACL, -1)
			r.Ping(2)
		},
		"persistent": func(r *run) {
			r.addWatch(2, "/a", zkproto.AddWatchPersistent)
			r.set(1, "/a", "1", -1)
			r.set(1, "/a", "2", -1)
			r.create(1, "/a/d", "", 0)
			r.set(1, "/a/c", "x", -1)
			r.del(1, "/a/d", -1)
			r.Ping(2)
		},
		"persistent-recursive": func(r *run) {
			r.addWatch(2, "/a", zkproto.AddWatchPersistentRecursive)
			r.set(1, "/a", "1", -1)
			r.create(1, "/a/d", "", 0)
			r.create(1, "/a/d/e", "", 0)
			r.set(1, "/a/c", "x", -1)
			r.del(1, "/a/d/e", -1)
			r.Ping(2)
		},
		"persistent-on-missing-node": func(r *run) {
			r.addWatch(2, "/m", zkproto.AddWatchPersistent)
			r.create(1, "/m", "", 0)
			r.del(1, "/m", -1)
			r.create(1, "/m", "", 0)
			r.Ping(2)
		},
		"persistent-mode-replaced": func(r *run) {
			r.addWatch(2, "/a", zkproto.AddWatchPersistentRecursive)
			r.addWatch(2, "/a", zkproto.AddWatchPersistent)
			r.set(1, "/a/c", "x", -1)
			r.create(1, "/a/d", "", 0)
			r.Ping(2)
		},
		"persistent-plus-one-shot": func(r *run) {
			r.addWatch(2, "/a", zkproto.AddWatchPersistent)
			r.get(2, "/a", true)
			r.set(1, "/a", "x", -1)
			r.Ping(2)
		},
		"addWatch-bad-mode": func(r *run) { r.addWatch(2, "/a", 2); r.Ping(2) },
		"remove-persistent": func(r *run) {
			r.addWatch(2, "/a", zkproto.AddWatchPersistent)
			r.removeWatches(2, "/a", zkproto.WatcherAny)
			r.set(1, "/a", "x", -1)
			r.Ping(2)
		},
		"remove-recursive": func(r *run) {
			r.addWatch(2, "/a", zkproto.AddWatchPersistentRecursive)
			r.removeWatches(2, "/a", zkproto.WatcherPersistentRecursive)
			r.removeWatches(2, "/a", zkproto.WatcherPersistentRecursive)
			r.Ping(2)
		},
		"set-watches2-null-lists": func(r *run) {
			r.DoXid(2, zkproto.XidSetWatches, zkproto.OpSetWatches2, &zkproto.SetWatches2{RelativeZxid: 1,
				PersistentWatches: []string{r.P("/a")}})
			r.set(1, "/a", "x", -1)
			r.Ping(2)
		},
		"set-watches-relative": func(r *run) {
			// c2 claims watches as a reconnecting client with relativeZxid = /a's mzxid.
			res := r.get(1, "/a", false)
			var z zkproto.Zxid
			if g, ok := res.Resp.(*zkproto.GetDataResponse); ok {
				z = g.Stat.Mzxid
			}
			r.set(1, "/l", "changed", -1)
			r.create(1, "/a/new", "", 0)
			r.del(1, "/gone", -1)
			r.Do(2, zkproto.OpSetWatches, &zkproto.SetWatches{RelativeZxid: z,
				DataWatches:  []string{r.P("/a"), r.P("/l"), r.P("/gone")},
				ExistWatches: []string{r.P("/l"), r.P("/none")},
				ChildWatches: []string{r.P("/a"), r.P("/gone"), r.P("/l")}})
			r.Ping(2)
			r.set(1, "/a", "after", -1)
			r.create(1, "/none", "", 0)
			r.Ping(2)
		},
		"set-watches2-persistent": func(r *run) {
			r.DoXid(2, zkproto.XidSetWatches, zkproto.OpSetWatches2, &zkproto.SetWatches2{RelativeZxid: 1,
				DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
				PersistentWatches:          []string{r.P("/a")},
				PersistentRecursiveWatches: []string{r.P("/l")}})
			r.set(1, "/a", "x", -1)
			r.set(1, "/a", "y", -1)
			r.create(1, "/l/k", "", 0)
			r.Ping(2)
		},
	}
	types := []int32{zkproto.WatcherChildren, zkproto.WatcherData, zkproto.WatcherAny, zkproto.WatcherPersistent, zkproto.WatcherPersistentRecursive, 9}
	for _, typ := range types {
		typ := typ
		m["checkWatches/none/"+itoa(typ)] = func(r *run) { r.checkWatches(2, "/a", typ) }
		m["checkWatches/data-set/"+itoa(typ)] = func(r *run) { r.get(2, "/a", true); r.checkWatches(2, "/a", typ) }
		// Another session's watches are not this one's (ZooKeeper 3.8.0 says they are: allow-list).
		m["checkWatches/other-session/"+itoa(typ)] = func(r *run) {
			r.get(1, "/a", true)
			r.kids(1, "/a", true)
			r.checkWatches(2, "/a", typ)
		}
		m["removeWatches/child-set/"+itoa(typ)] = func(r *run) {
			r.kids(2, "/a", true)
			r.removeWatches(2, "/a", typ)
			r.create(1, "/a/z", "", 0)
			r.Ping(2)
		}
		m["removeWatches/data-set/"+itoa(typ)] = func(r *run) {
			r.get(2, "/a", true)
			r.removeWatches(2, "/a", typ)
			r.set(1, "/a", "z", -1)
			r.Ping(2)
		}
	}
	var out []Scenario
	for name, steps := range m {
		steps := steps
		out = append(out, Scenario{name: "watch/" + name, feature: "watches", steps: func(r *run) {
			r.create(1, "/a", "A", 0)
			r.create(1, "/a/c", "", 0)
			r.create(1, "/l", "L", 0)
			r.create(1, "/gone", "", 0)
			steps(r)
		}})
	}
	return out
}
