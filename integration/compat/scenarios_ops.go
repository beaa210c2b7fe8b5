package compat

import (
	"fmt"

	"github.com/zkraft/zkraft/zkproto"
)

// opScenarios: each op in success and in each error it can return.
func opScenarios() []Scenario {
	type tc struct {
		name  string
		steps func(r *run)
	}
	// setup: /a (data "A", one child /a/c), /e ephemeral, /l leaf.
	base := func(r *run) {
		r.create(1, "/a", "A", 0)
		r.create(1, "/a/c", "C", 0)
		r.create(1, "/l", "L", 0)
		r.create(1, "/e", "E", zkproto.ModeEphemeral)
	}
	table := map[string][]tc{
		"delete": {
			{"ok", func(r *run) { r.del(1, "/l", -1); r.exists(1, "/l", false); r.kids2(1, "", false) }},
			{"version-match", func(r *run) { r.set(1, "/l", "x", -1); r.del(1, "/l", 1) }},
			{"bad-version", func(r *run) { r.del(1, "/l", 3); r.exists(1, "/l", false) }},
			{"no-node", func(r *run) { r.del(1, "/missing", -1) }},
			{"not-empty", func(r *run) { r.del(1, "/a", -1); r.del(1, "/a/c", -1); r.del(1, "/a", -1) }},
			{"ephemeral", func(r *run) {
				r.del(1, "/e", -1)
				r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("")})
			}},
			{"ephemeral-other-session", func(r *run) { r.del(2, "/e", -1) }},
			{"root", func(r *run) { r.Do(1, zkproto.OpDelete, &zkproto.DeleteRequest{Path: "/", Version: -1}) }},
			{"zookeeper", func(r *run) { r.Do(1, zkproto.OpDelete, &zkproto.DeleteRequest{Path: "/zookeeper", Version: -1}) }},
			{"version-minus-2", func(r *run) { r.del(1, "/l", -2) }},
		},
		"exists": {
			{"ok", func(r *run) { r.exists(1, "/a", false) }},
			{"no-node", func(r *run) { r.exists(1, "/missing", false) }},
			{"watch-no-node", func(r *run) { r.exists(1, "/missing", true); r.create(2, "/missing", "", 0); r.Ping(1) }},
			{"ephemeral-owner", func(r *run) { r.exists(2, "/e", false) }},
			{"zookeeper-quota", func(r *run) { r.Do(1, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/zookeeper/quota"}) }},
		},
		"getData": {
			{"ok", func(r *run) { r.get(1, "/a", false) }},
			{"no-node", func(r *run) { r.get(1, "/missing", true); r.create(2, "/missing", "", 0); r.Ping(1) }},
			{"empty-data", func(r *run) { r.create(1, "/z", "", 0); r.get(1, "/z", false) }},
			{"nil-data", func(r *run) {
				r.Do(1, zkproto.OpCreate, &zkproto.CreateRequest{Path: r.P("/n"), Data: nil, ACL: openACL})
				r.get(1, "/n", false)
			}},
			{"zookeeper", func(r *run) { r.Do(1, zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/zookeeper"}) }},
			{"binary", func(r *run) {
				r.Do(1, zkproto.OpCreate, &zkproto.CreateRequest{Path: r.P("/b"), Data: []byte{0, 1, 2, 255}, ACL: openACL})
				r.get(1, "/b", false)
			}},
		},
		"setData": {
			{"ok", func(r *run) { r.set(1, "/a", "new", -1); r.set(1, "/a", "newer", 1); r.get(1, "/a", false) }},
			{"bad-version", func(r *run) { r.set(1, "/a", "new", 5); r.get(1, "/a", false) }},
			{"no-node", func(r *run) { r.set(1, "/missing", "x", -1) }},
			{"same-data", func(r *run) { r.set(1, "/a", "A", -1); r.get(1, "/a", false) }},
			{"nil-data", func(r *run) {
				r.Do(1, zkproto.OpSetData, &zkproto.SetDataRequest{Path: r.P("/a"), Data: nil, Version: -1})
				r.get(1, "/a", false)
			}},
			{"zookeeper-config", func(r *run) {
				r.Do(1, zkproto.OpSetData, &zkproto.SetDataRequest{Path: "/zookeeper/config", Data: []byte("x"), Version: 12345})
			}},
			{"ephemeral", func(r *run) { r.set(2, "/e", "by-other", -1); r.get(1, "/e", false) }},
		},
		"getACL": {
			{"ok", func(r *run) { r.getACL(1, "/a") }},
			{"no-node", func(r *run) { r.getACL(1, "/missing") }},
			{"zookeeper", func(r *run) { r.Do(1, zkproto.OpGetACL, &zkproto.GetACLRequest{Path: "/zookeeper"}) }},
		},
		"setACL": {
			{"ok", func(r *run) {
				r.setACL(1, "/l", world(zkproto.PermRead), -1)
				r.getACL(1, "/l")
				r.setACL(1, "/l", openACL, 1)
			}},
			{"bad-version", func(r *run) { r.setACL(1, "/a", world(1), 4); r.getACL(1, "/a") }},
			{"no-node", func(r *run) { r.setACL(1, "/missing", openACL, -1) }},
			{"empty", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{}, -1) }},
			{"unknown-scheme", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "foo", "x")}, -1) }},
			{"world-not-anyone", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "world", "me")}, -1) }},
			{"auth-unauthenticated", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "auth", "")}, -1) }},
			{"auth-expands", func(r *run) {
				r.auth(1, "digest", "u1:p1")
				r.setACL(1, "/a", []zkproto.ACL{acl(31, "auth", "")}, -1)
				r.getACL(1, "/a")
			}},
			{"digest-malformed", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "digest", "nocolon")}, -1) }},
			{"ip-cidr", func(r *run) {
				r.setACL(1, "/l", []zkproto.ACL{acl(31, "ip", "10.0.0.0/8"), acl(1, "ip", "127.0.0.1")}, -1)
				r.getACL(1, "/l")
			}},
			{"ip-bad", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "ip", "10.0.0/8")}, -1) }},
			{"ip-bad-bits", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "ip", "10.0.0.0/33")}, -1) }},
			{"super-scheme", func(r *run) { r.setACL(1, "/a", []zkproto.ACL{acl(31, "super", "")}, -1) }},
			{"duplicate-entries", func(r *run) { r.setACL(1, "/a", append(world(1), world(31)...), -1); r.getACL(1, "/a") }},
			// on the leaf /l: a node nobody may change keeps no children behind
			{"perms-zero", func(r *run) { r.setACL(1, "/l", world(0), -1); r.getACL(1, "/l"); r.get(1, "/l", false) }},
			{"perms-extra-bits", func(r *run) { r.setACL(1, "/a", world(0x7f), -1); r.getACL(1, "/a") }},
		},
		"getChildren": {
			{"ok", func(r *run) { r.kids(1, "/a", false); r.kids(1, "", false) }},
			{"no-node", func(r *run) { r.kids(1, "/missing", true) }},
			{"leaf", func(r *run) { r.kids(1, "/l", false) }},
			{"ephemeral", func(r *run) { r.kids(1, "/e", false) }},
		},
		"getChildren2": {
			{"ok", func(r *run) { r.kids2(1, "/a", false); r.kids2(1, "", false) }},
			{"no-node", func(r *run) { r.kids2(1, "/missing", true) }},
			{"after-delete", func(r *run) { r.del(1, "/a/c", -1); r.kids2(1, "/a", false) }},
		},
		"check": {
			{"ok", func(r *run) { r.check(1, "/a", 0); r.check(1, "/a", -1) }},
			{"bad-version", func(r *run) { r.check(1, "/a", 1) }},
			{"no-node", func(r *run) { r.check(1, "/missing", 0) }},
		},
		"sync": {
			{"ok", func(r *run) { r.Do(1, zkproto.OpSync, &zkproto.SyncRequest{Path: r.P("/a")}) }},
			{"no-node", func(r *run) { r.Do(1, zkproto.OpSync, &zkproto.SyncRequest{Path: r.P("/missing")}) }},
			{"root", func(r *run) { r.Do(1, zkproto.OpSync, &zkproto.SyncRequest{Path: "/"}) }},
			{"invalid", func(r *run) { r.Do(1, zkproto.OpSync, &zkproto.SyncRequest{Path: "bad"}) }},
		},
		"getAllChildrenNumber": {
			{"ok", func(r *run) {
				r.Do(1, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: r.P("")})
				r.Do(1, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: r.P("/a")})
			}},
			{"leaf", func(r *run) {
				r.Do(1, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: r.P("/l")})
			}},
			{"no-node", func(r *run) {
				r.Do(1, zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: r.P("/missing")})
			}},
		},
		"getEphemerals": {
			{"ok", func(r *run) {
				r.create(1, "/a/e2", "", zkproto.ModeEphemeral)
				r.create(2, "/a/e3", "", zkproto.ModeEphemeral)
				r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("")})
				r.Do(2, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("")})
			}},
			{"prefix", func(r *run) {
				r.create(1, "/a/e2", "", zkproto.ModeEphemeral)
				r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("/a")})
				r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("/e")})
				r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("/x")})
			}},
			{"none", func(r *run) { r.Do(2, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("")}) }},
			{"string-prefix", func(r *run) {
				r.create(1, "/ex", "", zkproto.ModeEphemeral)
				r.Do(1, zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: r.P("/e")})
			}},
		},
		"whoAmI": {
			{"anonymous", func(r *run) { r.whoAmI(1) }},
			{"digest", func(r *run) { r.auth(1, "digest", "u1:p1"); r.whoAmI(1) }},
			{"two-digests", func(r *run) { r.auth(1, "digest", "u1:p1"); r.auth(1, "digest", "u2:p2"); r.whoAmI(1) }},
			{"super", func(r *run) { r.auth(1, "digest", "super:"+r.super); r.whoAmI(1) }},
		},
		"auth": {
			{"digest", func(r *run) { r.auth(1, "digest", "u1:p1"); r.get(1, "/a", false) }},
			{"digest-twice", func(r *run) { r.auth(1, "digest", "u1:p1"); r.auth(1, "digest", "u1:p1"); r.whoAmI(1) }},
			{"unknown-scheme", func(r *run) { r.auth(1, "foo", "bar"); r.get(1, "/a", false) }},
			{"ip-scheme", func(r *run) { r.auth(1, "ip", "127.0.0.1"); r.get(1, "/a", false) }},
			{"world-scheme", func(r *run) { r.auth(1, "world", "anyone"); r.get(1, "/a", false) }},
			{"super-wrong-password", func(r *run) { r.auth(1, "digest", "super:wrong"); r.whoAmI(1) }},
			{"digest-no-colon", func(r *run) { r.auth(1, "digest", "nocolon"); r.whoAmI(1) }},
			{"normal-xid", func(r *run) {
				r.Do(1, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte("u1:p1")})
				r.whoAmI(1)
			}},
		},
		"ping": {
			{"ok", func(r *run) { r.Ping(1); r.Ping(1) }},
			{"normal-xid", func(r *run) { r.Do(1, zkproto.OpPing, nil) }},
		},
		"closeSession": {
			{"ok", func(r *run) { r.Do(2, zkproto.OpCloseSession, nil); r.get(2, "/a", false); r.exists(1, "/e", false) }},
			{"ephemerals-deleted", func(r *run) {
				r.create(2, "/a/x", "", zkproto.ModeEphemeral)
				r.exists(1, "/a/x", true)
				r.Do(2, zkproto.OpCloseSession, nil)
				r.Ping(1)
				r.kids2(1, "/a", false)
			}},
		},
		"unknown-op": {
			{"op-99", func(r *run) { r.Do(1, zkproto.OpCode(99), nil); r.get(1, "/a", false) }},
			{"op-10", func(r *run) { r.Do(1, zkproto.OpCode(10), nil); r.get(1, "/a", false) }},
			{"deleteContainer", func(r *run) {
				r.Do(1, zkproto.OpDeleteContainer, &zkproto.DeleteRequest{Path: r.P("/l"), Version: -1})
				r.exists(2, "/l", false)
			}},
			{"reconfig", func(r *run) {
				r.Do(1, zkproto.OpReconfig, &zkproto.ReconfigRequest{CurConfigID: -1})
			}},
			{"createSession-op", func(r *run) { r.Do(1, zkproto.OpCreateSession, nil) }},
			// Server-internal op codes (ZooDefs.OpCode): error (-1) and notification (0)
			// are not valid requests (Request.isValid), and a multi takes only its own op
			// types; none may reach the log. The session's later requests show it.
			{"error-op", func(r *run) { r.Do(1, zkproto.OpError, nil); r.get(1, "/a", false) }},
			{"notification-op", func(r *run) { r.Do(1, zkproto.OpNotification, nil); r.get(1, "/a", false) }},
			{"multi-deleteContainer", func(r *run) {
				r.Do(1, zkproto.OpMulti, rawMulti(r, zkproto.OpDeleteContainer, &zkproto.DeleteRequest{Path: r.P("/l"), Version: -1}))
				r.exists(2, "/l", false)
				r.exists(2, "/a/c", false)
			}},
			{"multi-createSession", func(r *run) {
				r.Do(1, zkproto.OpMulti, rawMulti(r, zkproto.OpCreateSession, nil))
				r.exists(2, "/a/c", false)
				r.exists(1, "/e", false)
			}},
			{"multi-error", func(r *run) {
				r.Do(1, zkproto.OpMulti, rawMulti(r, zkproto.OpError, &zkproto.ErrorResponse{Err: zkproto.ErrOK}))
				r.exists(2, "/a/c", false)
				r.exists(1, "/e", false)
			}},
			{"multi-closeSession", func(r *run) {
				r.Do(1, zkproto.OpMulti, rawMulti(r, zkproto.OpCloseSession, nil))
				r.exists(2, "/a/c", false)
				r.exists(1, "/e", false)
			}},
			{"truncated-body", func(r *run) { r.Do(1, zkproto.OpGetData, &rawRecord{b: []byte{0, 0}}) }},
			{"trailing-garbage", func(r *run) {
				body := zkproto.Marshal(&zkproto.GetDataRequest{Path: r.P("/a")})
				r.Do(1, zkproto.OpGetData, &rawRecord{b: append(body, 1, 2, 3), desc: "getData(/R/a) + 3 bytes"})
			}},
		},
	}
	var out []Scenario
	for op, cases := range table {
		for _, c := range cases {
			c := c
			out = append(out, Scenario{
				name:    fmt.Sprintf("op/%s/%s", op, c.name),
				feature: op,
				steps:   func(r *run) { base(r); c.steps(r) },
			})
		}
	}
	return out
}

// rawMulti is a multi of a delete of /a/c, then one op of type op (with body, if
// any), as a client could send it: /a/c's absence would show a multi that ran.
func rawMulti(r *run, op zkproto.OpCode, body zkproto.Record) *rawRecord {
	e := zkproto.Encoder{}
	(&zkproto.MultiHeader{Type: zkproto.OpDelete, Err: -1}).Encode(&e)
	(&zkproto.DeleteRequest{Path: r.P("/a/c"), Version: -1}).Encode(&e)
	(&zkproto.MultiHeader{Type: op, Err: -1}).Encode(&e)
	if body != nil {
		body.Encode(&e)
	}
	(&zkproto.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(&e)
	return &rawRecord{b: e.Buf, desc: fmt.Sprintf("multi[delete(/R/a/c), op %d]", op)}
}
