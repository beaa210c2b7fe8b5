package compat

import (
	"fmt"

	"github.com/zkraft/zkraft/zkproto"
)

// createScenarios: every create op × every create mode (and two invalid ones) × the
// situations a create can meet. After the create, the node and its parent are read.
func createScenarios() []Scenario {
	ops := []zkproto.OpCode{zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer, zkproto.OpCreateTTL}
	modes := []zkproto.CreateMode{0, 1, 2, 3, 4, 5, 6, 7, -1}
	type situation struct {
		name    string
		setup   func(r *run)
		path    string // under the namespace
		acl     []zkproto.ACL
		ttl     int64
		onlyTTL bool
	}
	sits := []situation{
		{name: "ok", path: "/p/n"},
		{name: "exists", path: "/p/n", setup: func(r *run) { r.create(1, "/p/n", "old", 0) }},
		{name: "noparent", path: "/p/missing/n"},
		{name: "ephemeral-parent", path: "/e/n", setup: func(r *run) { r.create(1, "/e", "", zkproto.ModeEphemeral) }},
		{name: "empty-acl", path: "/p/n", acl: []zkproto.ACL{}},
		{name: "unknown-scheme", path: "/p/n", acl: []zkproto.ACL{acl(31, "foo", "bar")}},
		{name: "auth-without-ids", path: "/p/n", acl: []zkproto.ACL{acl(31, "auth", "")}},
		{name: "ttl0", path: "/p/n", ttl: 0, onlyTTL: true},
		{name: "ttl-negative", path: "/p/n", ttl: -5, onlyTTL: true},
		{name: "ttl-too-large", path: "/p/n", ttl: zkproto.MaxTTL + 1, onlyTTL: true},
		{name: "ttl-max", path: "/p/n", ttl: zkproto.MaxTTL, onlyTTL: true},
	}
	var out []Scenario
	for _, op := range ops {
		for _, mode := range modes {
			for _, sit := range sits {
				if sit.onlyTTL && op != zkproto.OpCreateTTL {
					continue
				}
				op, mode, sit := op, mode, sit
				if !sit.onlyTTL {
					sit.ttl = 60000
				}
				skip := ""
				if op == zkproto.OpCreateTTL && !mode.IsTTL() && mode.Valid() && sit.ttl < 0 {
					skip = "ZooKeeper 3.8.0 dies on it (SyncThread: IllegalArgumentException in EphemeralType.toEphemeralOwner)"
				}
				out = append(out, Scenario{
					skipRef: skip,
					name:    fmt.Sprintf("create/%s/mode%d/%s", op, mode, sit.name),
					feature: op.String(),
					steps: func(r *run) {
						r.create(1, "/p", "parent", 0)
						if sit.setup != nil {
							sit.setup(r)
						}
						acl := openACL
						if sit.acl != nil {
							acl = sit.acl
						}
						var res result
						if op == zkproto.OpCreateTTL {
							res = r.Do(1, op, &zkproto.CreateTTLRequest{Path: r.P(sit.path), Data: []byte("d"), ACL: acl, Flags: mode, TTL: sit.ttl})
						} else {
							res = r.Do(1, op, &zkproto.CreateRequest{Path: r.P(sit.path), Data: []byte("d"), ACL: acl, Flags: mode})
						}
						p := r.P(sit.path)
						switch cr := res.Resp.(type) {
						case *zkproto.CreateResponse:
							p = cr.Path
						case *zkproto.Create2Response:
							p = cr.Path
						}
						r.Do(1, zkproto.OpGetData, &zkproto.GetDataRequest{Path: p})
						r.Do(1, zkproto.OpGetACL, &zkproto.GetACLRequest{Path: p})
						r.kids2(1, "/p", false)
					},
				})
			}
		}
	}
	return out
}
