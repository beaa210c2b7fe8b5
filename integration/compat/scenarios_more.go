package compat

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// multiScenarios: a failure of each kind at each position of a three-op multi, the
// successful multis of every create op, multiRead, empty and mixed multis.
func multiScenarios() []Scenario {
	type failing struct {
		name string
		op   func(r *run) zkproto.MultiOp
	}
	fails := []failing{
		{"create-exists", func(r *run) zkproto.MultiOp { return r.mCreate("/a", 0) }},
		{"create-noparent", func(r *run) zkproto.MultiOp { return r.mCreate("/none/x", 0) }},
		{"create-badpath", func(r *run) zkproto.MultiOp { return r.mCreate("/a/", 0) }},
		{"create-badacl", func(r *run) zkproto.MultiOp {
			op := r.mCreate("/acl", 0)
			op.Request.(*zkproto.CreateRequest).ACL = nil
			return op
		}},
		{"delete-nonode", func(r *run) zkproto.MultiOp { return r.mDelete("/none", -1) }},
		{"delete-notempty", func(r *run) zkproto.MultiOp { return r.mDelete("/a", -1) }},
		{"delete-badversion", func(r *run) zkproto.MultiOp { return r.mDelete("/a/c", 9) }},
		{"set-badversion", func(r *run) zkproto.MultiOp { return r.mSet("/a", "x", 9) }},
		{"set-nonode", func(r *run) zkproto.MultiOp { return r.mSet("/none", "x", -1) }},
		{"check-badversion", func(r *run) zkproto.MultiOp { return r.mCheck("/a", 9) }},
		{"check-nonode", func(r *run) zkproto.MultiOp { return r.mCheck("/none", 0) }},
		{"ttl-bad", func(r *run) zkproto.MultiOp { return r.mCreateTTL("/t", zkproto.ModePersistentWithTTL, 0) }},
	}
	base := func(r *run) {
		r.create(1, "/a", "A", 0)
		r.create(1, "/a/c", "C", 0)
	}
	var out []Scenario
	for _, f := range fails {
		for pos := 0; pos < 3; pos++ {
			f, pos := f, pos
			out = append(out, Scenario{
				name: fmt.Sprintf("multi/fail/%s/at%d", f.name, pos), feature: "multi",
				steps: func(r *run) {
					base(r)
					r.exists(2, "/n1", true)
					ok := []zkproto.MultiOp{r.mCreate("/n1", 0), r.mSet("/a", "changed", -1), r.mCheck("/a/c", 0)}
					ops := append(append(append([]zkproto.MultiOp{}, ok[:pos]...), f.op(r)), ok[pos:]...)
					r.multi(1, ops...)
					r.get(1, "/a", false)
					r.exists(1, "/n1", false)
					r.kids2(1, "", false)
					r.Ping(2)
				},
			})
		}
	}
	ok := map[string]func(r *run){
		"all-creates": func(r *run) {
			r.multi(1, r.mCreateOp(zkproto.OpCreate, "/x", 0), r.mCreateOp(zkproto.OpCreate2, "/y", 0),
				r.mCreateOp(zkproto.OpCreateContainer, "/z", zkproto.ModeContainer), r.mCreateTTL("/t", zkproto.ModePersistentWithTTL, 60000),
				r.mCreate("/s-", zkproto.ModePersistentSequential), r.mCreate("/e", zkproto.ModeEphemeral))
			r.kids2(1, "", false)
		},
		"create-then-delete": func(r *run) {
			r.multi(1, r.mCreate("/x", 0), r.mCreate("/x/y", 0), r.mDelete("/x/y", 0), r.mSet("/x", "v", 0), r.mCheck("/x", 1))
			r.get(1, "/x", false)
			r.kids2(1, "", false)
		},
		"sequential-in-multi": func(r *run) {
			r.multi(1, r.mCreate("/s-", zkproto.ModePersistentSequential), r.mCreate("/s-", zkproto.ModePersistentSequential), r.mDelete("/a/c", -1))
			r.kids2(1, "", false)
		},
		"empty": func(r *run) { r.multi(1) },
		"watches-fire-once": func(r *run) {
			r.get(2, "/a", true)
			r.kids(2, "/a", true)
			r.multi(1, r.mSet("/a", "1", -1), r.mSet("/a", "2", -1), r.mCreate("/a/d", 0))
			r.Ping(2)
		},
		"ephemeral-parent": func(r *run) {
			r.multi(1, r.mCreate("/e", zkproto.ModeEphemeral), r.mCreate("/e/x", 0))
		},
		"read-ops-in-write-multi": func(r *run) {
			r.Do(1, zkproto.OpMulti, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{r.mGet("/a")}})
			r.get(1, "/a", false)
		},
		"mixed": func(r *run) {
			r.Do(1, zkproto.OpMulti, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{r.mCreate("/x", 0), r.mGet("/a")}})
			r.get(1, "/a", false)
		},
		"multiRead/ok": func(r *run) { r.multiRead(1, r.mGet("/a"), r.mKids("/a"), r.mGet("/a/c")) },
		"multiRead/errors": func(r *run) {
			r.multiRead(1, r.mGet("/none"), r.mKids("/a"), r.mKids("/none"), r.mGet("/a"))
		},
		"multiRead/empty": func(r *run) { r.multiRead(1) },
		"multiRead/noauth": func(r *run) {
			r.createACL(1, "/secret", world(zkproto.PermWrite), 0)
			r.multiRead(1, r.mGet("/secret"), r.mKids("/secret"), r.mGet("/a"))
		},
		"multiRead/write-op": func(r *run) {
			r.Do(1, zkproto.OpMultiRead, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{r.mCreate("/x", 0)}})
			r.exists(1, "/x", false)
		},
		"multiRead/watch": func(r *run) {
			op := r.mGet("/a")
			op.Request.(*zkproto.GetDataRequest).Watch = true
			r.multiRead(2, op)
			r.set(1, "/a", "x", -1)
			r.Ping(2)
		},
		"noauth-in-multi": func(r *run) {
			r.createACL(1, "/ro", world(zkproto.PermRead), 0)
			r.multi(1, r.mCreate("/x", 0), r.mSet("/ro", "x", -1))
			r.multi(1, r.mCreate("/ro/x", 0))
		},
	}
	for name, steps := range ok {
		steps := steps
		feature := "multi"
		if strings.HasPrefix(name, "multiRead") {
			feature = "multiRead"
		}
		out = append(out, Scenario{name: "multi/" + name, feature: feature, steps: func(r *run) { base(r); steps(r) }})
	}
	return out
}

// aclScenarios: op × permission × scheme. The node /n carries one ACL entry granting
// a single permission (or all but one) to an identity; connection 2 is that
// identity (or not) and tries each op.
func aclScenarios() []Scenario {
	type ident struct {
		name  string
		entry zkproto.ACL // perms filled in per case
		login func(r *run)
	}
	idents := []ident{
		{"world", acl(0, "world", "anyone"), func(r *run) {}},
		{"digest", acl(0, "digest", DigestID("u1", "p1")), func(r *run) { r.auth(2, "digest", "u1:p1") }},
		{"digest-other-user", acl(0, "digest", DigestID("u1", "p1")), func(r *run) { r.auth(2, "digest", "u2:p2") }},
		{"auth", acl(0, "auth", ""), func(r *run) { r.auth(2, "digest", "u1:p1") }},
		{"ip", acl(0, "ip", "127.0.0.1"), func(r *run) {}},
		{"ip-cidr", acl(0, "ip", "127.0.0.0/8"), func(r *run) {}},
		{"ip-other", acl(0, "ip", "10.1.2.3"), func(r *run) {}},
		{"super", acl(0, "digest", DigestID("u1", "p1")), func(r *run) { r.auth(2, "digest", "super:"+r.super) }},
	}
	type op struct {
		name string
		do   func(r *run)
	}
	ops := []op{
		{"getData", func(r *run) { r.get(2, "/n", false) }},
		{"exists", func(r *run) { r.exists(2, "/n", false) }},
		{"getChildren", func(r *run) { r.kids(2, "/n", false) }},
		{"getChildren2", func(r *run) { r.kids2(2, "/n", false) }},
		{"setData", func(r *run) { r.set(2, "/n", "w", -1) }},
		// /n's children are ephemeral so that they go with the sessions: without
		// super nobody may delete them from /n once its ACL is set.
		{"create", func(r *run) { r.create(2, "/n/new", "", zkproto.ModeEphemeral) }},
		{"delete", func(r *run) { r.del(2, "/n/c", -1) }},
		{"getACL", func(r *run) { r.getACL(2, "/n") }},
		{"setACL", func(r *run) { r.setACL(2, "/n", openACL, -1) }},
		{"getAllChildrenNumber", func(r *run) {
			r.Do(2, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: r.P("/n")})
		}},
		{"addWatch", func(r *run) { r.addWatch(2, "/n", zkproto.AddWatchPersistent) }},
		{"multi-check", func(r *run) { r.multi(2, r.mCheck("/n", 0)) }},
		{"sync", func(r *run) { r.Do(2, zkproto.OpSync, &zkproto.SyncRequest{Path: r.P("/n")}) }},
	}
	perms := []struct {
		name  string
		perms int32
	}{
		{"read", zkproto.PermRead}, {"write", zkproto.PermWrite}, {"create", zkproto.PermCreate},
		{"delete", zkproto.PermDelete}, {"admin", zkproto.PermAdmin}, {"none", 0},
	}
	var out []Scenario
	for _, id := range idents {
		for _, o := range ops {
			for _, p := range perms {
				if id.name != "world" && id.name != "digest" && p.name != "read" && p.name != "none" && p.name != "admin" {
					// The other identities: the permission checks are the same code;
					// read, admin and none are enough to show the identity matches.
					continue
				}
				id, o, p := id, o, p
				out = append(out, Scenario{
					name: fmt.Sprintf("acl/%s/%s/%s", id.name, o.name, p.name), feature: "ACL " + id.name,
					steps: func(r *run) {
						owner := id.entry
						owner.Perms = p.perms
						r.create(1, "/n", "N", 0)
						r.create(1, "/n/c", "", zkproto.ModeEphemeral)
						if id.name == "auth" {
							r.auth(1, "digest", "u1:p1")
						}
						r.setACL(1, "/n", []zkproto.ACL{owner}, -1)
						id.login(r)
						o.do(r)
					},
				})
			}
		}
	}
	return out
}

// pathScenarios: ZooKeeper's PathUtils cases against each kind of op.
func pathScenarios() []Scenario {
	bad := map[string]string{
		"empty": "", "relative": "a", "trailing-slash": "/x/", "double-slash": "/x//y", "dot": "/x/.",
		"dotdot": "/x/..", "dot-middle": "/x/./y", "nul": "/x\x00y", "ctl-01": "/x\x01", "ctl-1f": "/x\x1f",
		"del-7f": "/x\x7f", "c1-9f": "/x\u009f", "surrogate-area": "/x\ue000", "fff0": "/x\ufff0",
		"invalid-utf8": "/x\xff", "emoji": "/x\U0001F600",
	}
	good := map[string]string{"dots-in-name": "/x/..a", "three-dots": "/x/...", "unicode": "/x/é", "space": "/x/ a"}
	ops := map[string]func(r *run, p string){
		"create": func(r *run, p string) { r.Do(1, zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL}) },
		"create-seq": func(r *run, p string) {
			r.Do(1, zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL, Flags: 2})
		},
		"delete":      func(r *run, p string) { r.Do(1, zkproto.OpDelete, &zkproto.DeleteRequest{Path: p, Version: -1}) },
		"getData":     func(r *run, p string) { r.Do(1, zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}) },
		"setData":     func(r *run, p string) { r.Do(1, zkproto.OpSetData, &zkproto.SetDataRequest{Path: p, Version: -1}) },
		"exists":      func(r *run, p string) { r.Do(1, zkproto.OpExists, &zkproto.ExistsRequest{Path: p}) },
		"getChildren": func(r *run, p string) { r.Do(1, zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p}) },
		"setACL": func(r *run, p string) {
			r.Do(1, zkproto.OpSetACL, &zkproto.SetACLRequest{Path: p, ACL: openACL, Version: -1})
		},
		"addWatch": func(r *run, p string) { r.Do(1, zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: p}) },
	}
	var out []Scenario
	for name, rel := range bad {
		for opName, do := range ops {
			if opName != "create" && opName != "getData" && opName != "delete" && opName != "setData" {
				if name != "trailing-slash" && name != "double-slash" && name != "relative" && name != "nul" {
					continue
				}
			}
			name, rel, do := name, rel, do
			out = append(out, Scenario{
				name: fmt.Sprintf("path/invalid/%s/%s", name, opName), feature: "invalid paths",
				steps: func(r *run) {
					r.create(1, "/x", "", 0)
					p := r.P(rel)
					if rel == "" || rel == "a" {
						p = rel
					}
					do(r, p)
					r.Ping(1)
				},
			})
		}
	}
	for name, rel := range good {
		name, rel := name, rel
		out = append(out, Scenario{
			name: "path/valid/" + name, feature: "invalid paths",
			steps: func(r *run) {
				r.create(1, "/x", "", 0)
				r.Do(1, zkproto.OpCreate2, &zkproto.CreateRequest{Path: r.P(rel), ACL: openACL})
				r.kids(1, "/x", false)
			},
		})
	}
	out = append(out, Scenario{name: "path/sequential-trailing-slash", feature: "invalid paths", steps: func(r *run) {
		r.create(1, "/q", "", 0)
		r.create(1, "/q/", "", zkproto.ModePersistentSequential)
		r.kids(1, "/q", false)
	}})
	return out
}

// sizeScenarios: data and frames around jute.maxbuffer.
func sizeScenarios() []Scenario {
	sizes := map[string]int{"1000000": 1000000, "maxbuffer-100": zkproto.DefaultMaxBuffer - 100, "maxbuffer+1": zkproto.DefaultMaxBuffer + 1, "2MiB": 2 << 20}
	var out []Scenario
	for name, n := range sizes {
		n := n
		out = append(out, Scenario{name: "size/setData/" + name, feature: "jute.maxbuffer", steps: func(r *run) {
			r.create(1, "/big", "", 0)
			r.Do(1, zkproto.OpSetData, &zkproto.SetDataRequest{Path: r.P("/big"), Data: make([]byte, n), Version: -1})
			r.exists(2, "/big", false)
		}})
		out = append(out, Scenario{name: "size/create/" + name, feature: "jute.maxbuffer", steps: func(r *run) {
			r.Do(1, zkproto.OpCreate, &zkproto.CreateRequest{Path: r.P("/big"), Data: make([]byte, n), ACL: openACL})
			r.exists(2, "/big", false)
		}})
	}
	frames := map[string][]byte{
		"length-2GiB":     {0x7f, 0xff, 0xff, 0xff},
		"length-negative": {0xff, 0xff, 0xff, 0xff},
		"length-max+1":    {0x00, 0x10, 0x00, 0x00},
	}
	for name, hdr := range frames {
		hdr := hdr
		out = append(out, Scenario{name: "size/frame/" + name, feature: "jute.maxbuffer", steps: func(r *run) {
			c := r.C(1)
			c.Raw().Write(hdr)
			r.Expect("c1 after a frame header %x: %s", hdr, r.probeClosed(1))
		}})
	}
	out = append(out, Scenario{name: "size/connect-frame-too-large", feature: "jute.maxbuffer", steps: func(r *run) {
		c, err := rawDial(r)
		if err != nil {
			r.abort(err.Error())
		}
		defer c.Close()
		c.Raw().Write([]byte{0x00, 0x20, 0x00, 0x00})
		r.conns[9] = &rconn{c: c}
		r.Expect("c9 oversized connect: %s", r.probeClosed(9))
	}})
	return out
}

// sequenceScenarios: sequential counters through creates and deletes, and cversion.
func sequenceScenarios() []Scenario {
	seqs := map[string]func(r *run){
		"semantics-md": func(r *run) {
			r.create(1, "/q", "", 0)
			r.create(1, "/q/a", "", 0)
			r.create(1, "/q/b", "", 0)
			r.del(1, "/q/a", -1)
			r.del(1, "/q/b", -1)
			r.create2(1, "/q/s-", "", zkproto.ModePersistentSequential)
			r.create2(1, "/q/s-", "", zkproto.ModePersistentSequential)
			r.del(1, "/q/s-0000000003", -1)
			r.create2(1, "/q/s-", "", zkproto.ModePersistentSequential)
			r.kids2(1, "/q", false)
		},
		"ephemeral-sequential": func(r *run) {
			r.create(1, "/q", "", 0)
			for i := 0; i < 3; i++ {
				r.create2(1+i%2, "/q/lock-", "", zkproto.ModeEphemeralSequential)
			}
			r.Do(1, zkproto.OpCloseSession, nil)
			r.kids2(2, "/q", false)
			r.create2(2, "/q/lock-", "", zkproto.ModeEphemeralSequential)
		},
		"failed-create-does-not-count": func(r *run) {
			r.create(1, "/q", "", 0)
			r.create(1, "/q/x", "", 0)
			r.create(1, "/q/x", "", 0)
			r.create2(1, "/q/s", "", zkproto.ModePersistentSequential)
		},
		"failed-multi-does-not-count": func(r *run) {
			r.create(1, "/q", "", 0)
			r.multi(1, r.mCreate("/q/s", zkproto.ModePersistentSequential), r.mCheck("/q", 5))
			r.create2(1, "/q/s", "", zkproto.ModePersistentSequential)
		},
		"setACL-and-setData-do-not-count": func(r *run) {
			r.create(1, "/q", "", 0)
			r.set(1, "/q", "x", -1)
			r.setACL(1, "/q", openACL, -1)
			r.create2(1, "/q/s", "", zkproto.ModePersistentSequential)
		},
		"container-and-ttl-count": func(r *run) {
			r.create(1, "/q", "", 0)
			r.container(1, "/q/c")
			r.createTTL(1, "/q/t", zkproto.ModePersistentWithTTL, 60000)
			r.createTTL(1, "/q/ts", zkproto.ModePersistentSequentialWithTTL, 60000)
			r.create2(1, "/q/s", "", zkproto.ModePersistentSequential)
		},
		"namespace-root-counter": func(r *run) {
			r.create2(1, "/s", "", zkproto.ModePersistentSequential)
			r.create2(1, "/s", "", zkproto.ModePersistentSequential)
		},
	}
	var out []Scenario
	for name, steps := range seqs {
		out = append(out, Scenario{name: "sequence/" + name, feature: "sequential nodes, cversion", steps: steps})
	}
	return out
}

// ttlScenarios: container and TTL nodes, including reaping.
func ttlScenarios() []Scenario {
	wait := 3 * time.Second
	m := map[string]func(r *run){
		"container-reaped-after-last-child": func(r *run) {
			r.container(1, "/c")
			r.create(1, "/c/x", "", 0)
			r.exists(2, "/c", true)
			r.del(1, "/c/x", -1)
			r.WaitGone(1, r.P("/c"), wait)
			r.Ping(2)
		},
		"container-never-used-kept": func(r *run) {
			r.container(1, "/c")
			r.Sleep(600 * time.Millisecond)
			r.exists(1, "/c", false)
		},
		"container-with-child-kept": func(r *run) {
			r.container(1, "/c")
			r.create(1, "/c/x", "", 0)
			r.Sleep(600 * time.Millisecond)
			r.kids2(1, "/c", false)
		},
		"container-op-plain-flags-reaped": func(r *run) {
			r.Do(1, zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: r.P("/c"), ACL: openACL, Flags: 0})
			r.create(1, "/c/x", "", 0)
			r.del(1, "/c/x", -1)
			r.WaitGone(1, r.P("/c"), wait)
		},
		"container-ephemeral-child-session-closed": func(r *run) {
			r.container(1, "/c")
			r.create(2, "/c/e", "", zkproto.ModeEphemeral)
			r.Do(2, zkproto.OpCloseSession, nil)
			r.WaitGone(1, r.P("/c"), wait)
		},
		"container-stat": func(r *run) {
			r.container(1, "/c")
			r.exists(1, "/c", false)
			r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("")})
		},
		"ttl-reaped": func(r *run) {
			r.createTTL(1, "/t", zkproto.ModePersistentWithTTL, 200)
			r.exists(2, "/t", true)
			r.WaitGone(1, r.P("/t"), wait)
			r.Ping(2)
		},
		"ttl-with-child-kept": func(r *run) {
			r.createTTL(1, "/t", zkproto.ModePersistentWithTTL, 200)
			r.create(1, "/t/x", "", 0)
			r.Sleep(800 * time.Millisecond)
			r.kids2(1, "/t", false)
		},
		"ttl-stat": func(r *run) {
			r.createTTL(1, "/t", zkproto.ModePersistentWithTTL, 60000)
			r.createTTL(1, "/ts-", zkproto.ModePersistentSequentialWithTTL, 60000)
			r.exists(1, "/t", false)
			r.get(1, "/ts-0000000001", false)
		},
		"ttl-long-kept": func(r *run) {
			r.createTTL(1, "/t", zkproto.ModePersistentWithTTL, 60000)
			r.Sleep(500 * time.Millisecond)
			r.exists(1, "/t", false)
		},
		"ttl-in-multi-reaped": func(r *run) {
			r.multi(1, r.mCreateTTL("/t", zkproto.ModePersistentWithTTL, 200))
			r.WaitGone(1, r.P("/t"), wait)
		},
	}
	var out []Scenario
	for name, steps := range m {
		out = append(out, Scenario{name: "ttl-container/" + name, feature: "containers and TTL nodes", steps: steps})
	}
	return out
}
