package compat

import "github.com/zkraft/zkraft/zkproto"

// watchACLScenarios: which watch events reach a session that may not READ the znode.
// Every watch kind (getData, exists on a node and on a missing one, getChildren,
// persistent and recursive addWatch, setWatches replay) × ACLs that grant or deny
// READ to the watcher (world, digest, ip; authenticated or not; super). Connection 1
// writes, authenticated as u1; connection 2 watches. Nodes that outlive connection 1
// sit under open parents, so that cleanup can delete them.
//
// The reference is Debian's 3.8.0, which carries the fix of CVE-2024-23944
// (ZOOKEEPER-4799): an event is dropped for a connection that lacks READ under the
// ACL its DataTree passes along (the node's at the time of the event, the deleted
// node's for NodeDeleted, the parent's for NodeChildrenChanged), for recursive
// watches too; a one-shot watch whose event was dropped is gone all the same.
func watchACLScenarios() []Scenario {
	u1 := DigestID("u1", "p1")
	type variant struct {
		name  string
		acl   []zkproto.ACL
		login func(r *run) // connection 2's identity
	}
	none := func(r *run) {}
	variants := []variant{
		{"world", world(zkproto.PermAll), none},
		{"world-noread", world(zkproto.PermAll &^ zkproto.PermRead), none},
		{"digest", []zkproto.ACL{acl(zkproto.PermAll, "digest", u1)}, func(r *run) { r.auth(2, "digest", "u1:p1") }},
		{"digest-unauth", []zkproto.ACL{acl(zkproto.PermAll, "digest", u1)}, none},
		{"digest-other", []zkproto.ACL{acl(zkproto.PermAll, "digest", u1)}, func(r *run) { r.auth(2, "digest", "u2:p2") }},
		{"digest-noread", []zkproto.ACL{acl(zkproto.PermAll&^zkproto.PermRead, "digest", u1)}, func(r *run) { r.auth(2, "digest", "u1:p1") }},
		{"ip", []zkproto.ACL{acl(zkproto.PermAll, "ip", "127.0.0.1")}, none},
		{"ip-noread", []zkproto.ACL{acl(zkproto.PermAll&^zkproto.PermRead, "ip", "127.0.0.1")}, none},
		{"ip-other", []zkproto.ACL{acl(zkproto.PermAll, "ip", "10.1.2.3"), acl(zkproto.PermAll, "digest", u1)}, none},
		{"super", []zkproto.ACL{acl(zkproto.PermAll&^zkproto.PermRead, "digest", u1)}, func(r *run) { r.auth(2, "digest", "super:"+r.super) }},
	}
	eph := zkproto.ModeEphemeral
	kinds := map[string]func(r *run, a []zkproto.ACL){
		// getData needs READ, so the watch is set on an open node whose ACL then changes.
		"data/changed": func(r *run, a []zkproto.ACL) {
			r.create(1, "/n", "", 0)
			r.get(2, "/n", true)
			r.setACL(1, "/n", a, -1)
			r.set(1, "/n", "1", -1)
			r.Ping(2)
		},
		"data/deleted": func(r *run, a []zkproto.ACL) {
			r.create(1, "/n", "", 0)
			r.get(2, "/n", true)
			r.setACL(1, "/n", a, -1)
			r.del(1, "/n", -1)
			r.Ping(2)
		},
		// A dropped event still uses up the one-shot watch.
		"data/dropped-then-readable": func(r *run, a []zkproto.ACL) {
			r.create(1, "/n", "", 0)
			r.get(2, "/n", true)
			r.setACL(1, "/n", a, -1)
			r.set(1, "/n", "1", -1)
			r.setACL(1, "/n", openACL, -1)
			r.set(1, "/n", "2", -1)
			r.Ping(2)
		},
		// exists checks no ACL: the watch is set on the restricted node itself.
		"exist/changed": func(r *run, a []zkproto.ACL) {
			r.createACL(1, "/n", a, 0)
			r.exists(2, "/n", true)
			r.set(1, "/n", "1", -1)
			r.Ping(2)
		},
		"exist/deleted": func(r *run, a []zkproto.ACL) {
			r.createACL(1, "/n", a, 0)
			r.exists(2, "/n", true)
			r.del(1, "/n", -1)
			r.Ping(2)
		},
		"exist/created": func(r *run, a []zkproto.ACL) {
			r.exists(2, "/n", true)
			r.createACL(1, "/n", a, 0)
			r.Ping(2)
		},
		// The ephemeral goes with its session's close.
		"exist/session-closed": func(r *run, a []zkproto.ACL) {
			r.auth(3, "digest", "u1:p1")
			r.createACL(3, "/n", a, eph)
			r.exists(2, "/n", true)
			r.Do(3, zkproto.OpCloseSession, nil)
			r.Ping(2)
		},
		// NodeChildrenChanged is checked against the parent's ACL...
		"child/parent-acl-create": func(r *run, a []zkproto.ACL) {
			r.create(1, "/p", "", 0)
			r.kids(2, "/p", true)
			r.setACL(1, "/p", a, -1)
			r.create(1, "/p/k", "", eph)
			r.Ping(2)
		},
		"child/parent-acl-delete": func(r *run, a []zkproto.ACL) {
			r.create(1, "/p", "", 0)
			r.create(1, "/p/k", "", eph)
			r.kids(2, "/p", true)
			r.setACL(1, "/p", a, -1)
			r.del(1, "/p/k", -1)
			r.Ping(2)
		},
		// ...not the child's.
		"child/child-acl": func(r *run, a []zkproto.ACL) {
			r.create(1, "/p", "", 0)
			r.kids(2, "/p", true)
			r.createACL(1, "/p/k", a, eph)
			r.Ping(2)
		},
		// NodeDeleted of the watched node itself: the node's ACL.
		"child/deleted": func(r *run, a []zkproto.ACL) {
			r.create(1, "/p", "", 0)
			r.kids(2, "/p", true)
			r.setACL(1, "/p", a, -1)
			r.del(1, "/p", -1)
			r.Ping(2)
		},
		// addWatch checks no ACL; every event type on the watched node.
		"persistent/events": func(r *run, a []zkproto.ACL) {
			r.createACL(1, "/n", a, 0)
			r.addWatch(2, "/n", zkproto.AddWatchPersistent)
			r.set(1, "/n", "1", -1)
			r.create(1, "/n/k", "", eph)
			r.del(1, "/n/k", -1)
			r.del(1, "/n", -1)
			r.createACL(1, "/n", a, 0)
			r.Ping(2)
		},
		// A recursive watch on an open node: events below it are checked against
		// the ACL of the node they happen to.
		"recursive/child-acl": func(r *run, a []zkproto.ACL) {
			r.create(1, "/r", "", 0)
			r.addWatch(2, "/r", zkproto.AddWatchPersistentRecursive)
			r.createACL(1, "/r/k", a, 0)
			r.set(1, "/r/k", "1", -1)
			r.create(1, "/r/k/g", "", 0)
			r.set(1, "/r/k/g", "1", -1)
			r.del(1, "/r/k/g", -1)
			r.del(1, "/r/k", -1)
			r.Ping(2)
		},
		// A recursive watch on a restricted node: its open descendants still report.
		"recursive/root-acl": func(r *run, a []zkproto.ACL) {
			r.createACL(1, "/r", a, 0)
			r.addWatch(2, "/r", zkproto.AddWatchPersistentRecursive)
			r.create(1, "/r/k", "", eph)
			r.set(1, "/r/k", "1", -1)
			r.set(1, "/r", "1", -1)
			r.del(1, "/r/k", -1)
			r.Ping(2)
		},
		// setWatches: what a reconnecting client missed, then a re-armed exist watch.
		"setWatches/replay": func(r *run, a []zkproto.ACL) {
			r.createACL(1, "/n", a, 0)
			r.createACL(1, "/d", a, 0)
			r.createACL(1, "/p", a, 0)
			var z zkproto.Zxid
			if e, ok := r.exists(1, "/p", false).Resp.(*zkproto.ExistsResponse); ok {
				z = e.Stat.Mzxid
			}
			r.set(1, "/n", "1", -1)
			r.del(1, "/d", -1)
			r.create(1, "/p/k", "", eph)
			r.Do(2, zkproto.OpSetWatches, &zkproto.SetWatches{RelativeZxid: z,
				DataWatches:  []string{r.P("/n"), r.P("/d")},
				ExistWatches: []string{r.P("/n"), r.P("/e")},
				ChildWatches: []string{r.P("/p"), r.P("/d")}})
			r.Ping(2)
			r.createACL(1, "/e", a, 0)
			r.Ping(2)
		},
	}
	var out []Scenario
	// The identities that count are the watcher's when the event happens, not when
	// it set the watch.
	out = append(out, Scenario{name: "watch-acl/auth-after-watch", feature: "watches and ACLs", steps: func(r *run) {
		r.auth(1, "digest", "u1:p1")
		r.exists(2, "/n", true)
		r.auth(2, "digest", "u1:p1")
		r.createACL(1, "/n", []zkproto.ACL{acl(zkproto.PermAll, "digest", u1)}, 0)
		r.Ping(2)
	}})
	for kind, steps := range kinds {
		for _, v := range variants {
			out = append(out, Scenario{name: "watch-acl/" + kind + "/" + v.name, feature: "watches and ACLs", steps: func(r *run) {
				r.auth(1, "digest", "u1:p1")
				v.login(r)
				steps(r, v.acl)
			}})
		}
	}
	return out
}
