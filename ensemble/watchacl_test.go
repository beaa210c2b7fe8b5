package ensemble_test

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// aclClient is a raw session for the watch ACL tests: every call must succeed.
type aclClient struct {
	t *testing.T
	c *rawzk.Conn
}

func newACLClient(t *testing.T, addr string, creds ...string) *aclClient {
	t.Helper()
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, cred := range creds {
		if err := c.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte(cred)}); err != nil {
			t.Fatal(err)
		}
		if h, err := c.Recv(zkproto.XidAuth, nil); err != nil || h.Err != zkproto.ErrOK {
			t.Fatalf("auth %s: %v %v", cred, h.Err, err)
		}
	}
	return &aclClient{t: t, c: c}
}

func (a *aclClient) do(op zkproto.OpCode, req, resp zkproto.Record) {
	a.t.Helper()
	if err := a.c.Call(op, req, resp); err != nil {
		a.t.Fatalf("%v %+v: %v", op, req, err)
	}
}

func (a *aclClient) create(path string, acl []zkproto.ACL, mode zkproto.CreateMode) {
	a.t.Helper()
	a.do(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: acl, Flags: mode}, &zkproto.CreateResponse{})
}

func (a *aclClient) setACL(path string, acl []zkproto.ACL) {
	a.t.Helper()
	a.do(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: path, ACL: acl, Version: -1}, &zkproto.SetACLResponse{})
}

func (a *aclClient) set(path string) {
	a.t.Helper()
	a.do(zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: []byte("x"), Version: -1}, &zkproto.SetDataResponse{})
}

func (a *aclClient) del(path string) {
	a.t.Helper()
	a.do(zkproto.OpDelete, &zkproto.DeleteRequest{Path: path, Version: -1}, nil)
}

// events pings and returns the watch events that arrived since the last call, as
// "Type path" with prefix cut from the path. Events are queued before any later
// reply, so the ping's reply comes after every event of the writes before it.
func (a *aclClient) events(prefix string) []string {
	a.t.Helper()
	if err := a.c.SendXid(zkproto.XidPing, zkproto.OpPing, nil); err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.c.Recv(zkproto.XidPing, nil); err != nil {
		a.t.Fatal(err)
	}
	var out []string
	for _, ev := range a.c.Events {
		out = append(out, eventNames[ev.Type]+" "+ev.Path[len(prefix):])
	}
	a.c.Events = nil
	return out
}

var eventNames = map[zkproto.EventType]string{
	zkproto.EventNodeCreated: "NodeCreated", zkproto.EventNodeDeleted: "NodeDeleted",
	zkproto.EventNodeDataChanged: "NodeDataChanged", zkproto.EventNodeChildrenChanged: "NodeChildrenChanged",
}

func digestOf(user, password string) string {
	h := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(h[:])
}

// TestWatchEventsNeedRead: a watch event reaches a session only if it may READ the
// znode under the ACL of the event (the node's at the time, the deleted node's, the
// parent's for NodeChildrenChanged); the events setWatches replays are not checked.
// Measured on ZooKeeper 3.8.0 (Debian, with the CVE-2024-23944 fix): the watch-acl
// scenarios of integration/compat, whose table is in docs/compatibility.md.
func TestWatchEventsNeedRead(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.SuperDigest = digestOf("super", "pw")
	}))
	u1 := digestOf("u1", "p1")
	entry := func(perms int32, scheme, id string) zkproto.ACL {
		return zkproto.ACL{Perms: perms, ID: zkproto.Id{Scheme: scheme, ID: id}}
	}
	all, noRead := zkproto.PermAll, zkproto.PermAll&^zkproto.PermRead
	open := []zkproto.ACL{entry(all, "world", "anyone")}
	variants := []struct {
		name  string
		acl   []zkproto.ACL
		creds []string // the watcher's
		read  bool
	}{
		{"world", open, nil, true},
		{"world-noread", []zkproto.ACL{entry(noRead, "world", "anyone")}, nil, false},
		{"digest", []zkproto.ACL{entry(all, "digest", u1)}, []string{"u1:p1"}, true},
		{"digest-unauth", []zkproto.ACL{entry(all, "digest", u1)}, nil, false},
		{"digest-other", []zkproto.ACL{entry(all, "digest", u1)}, []string{"u2:p2"}, false},
		{"digest-noread", []zkproto.ACL{entry(noRead, "digest", u1)}, []string{"u1:p1"}, false},
		{"ip", []zkproto.ACL{entry(all, "ip", "127.0.0.1")}, nil, true},
		{"ip-cidr", []zkproto.ACL{entry(zkproto.PermRead, "ip", "127.0.0.0/8")}, nil, true},
		{"ip-noread", []zkproto.ACL{entry(noRead, "ip", "127.0.0.1")}, nil, false},
		{"ip-other", []zkproto.ACL{entry(all, "ip", "10.1.2.3")}, nil, false},
		{"super", []zkproto.ACL{entry(noRead, "digest", u1)}, []string{"super:pw"}, true},
	}
	// Each case runs under p, an open node of its own. w watches; x writes as super.
	// readable are the events w sees when it may read; unreadable when it may not.
	cases := []struct {
		name                 string
		run                  func(w, x *aclClient, p string, acl []zkproto.ACL)
		readable, unreadable []string
	}{
		{"data/changed", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/n", open, 0)
			w.do(zkproto.OpGetData, &zkproto.GetDataRequest{Path: p + "/n", Watch: true}, &zkproto.GetDataResponse{})
			x.setACL(p+"/n", acl)
			x.set(p + "/n")
		}, []string{"NodeDataChanged /n"}, nil},
		{"data/deleted", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/n", open, 0)
			w.do(zkproto.OpGetData, &zkproto.GetDataRequest{Path: p + "/n", Watch: true}, &zkproto.GetDataResponse{})
			x.setACL(p+"/n", acl)
			x.del(p + "/n")
		}, []string{"NodeDeleted /n"}, nil},
		// The dropped event uses up the watch: nothing once the node is readable again.
		{"data/dropped-watch-is-gone", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/n", open, 0)
			w.do(zkproto.OpGetData, &zkproto.GetDataRequest{Path: p + "/n", Watch: true}, &zkproto.GetDataResponse{})
			x.setACL(p+"/n", acl)
			x.set(p + "/n")
			x.setACL(p+"/n", open)
			x.set(p + "/n")
		}, []string{"NodeDataChanged /n"}, nil},
		{"exist/created", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			w.c.Call(zkproto.OpExists, &zkproto.ExistsRequest{Path: p + "/n", Watch: true}, &zkproto.ExistsResponse{})
			x.create(p+"/n", acl, 0)
		}, []string{"NodeCreated /n"}, nil},
		{"exist/changed-deleted", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/n", acl, 0)
			w.do(zkproto.OpExists, &zkproto.ExistsRequest{Path: p + "/n", Watch: true}, &zkproto.ExistsResponse{})
			x.set(p + "/n")
			w.do(zkproto.OpExists, &zkproto.ExistsRequest{Path: p + "/n", Watch: true}, &zkproto.ExistsResponse{})
			x.del(p + "/n")
		}, []string{"NodeDataChanged /n", "NodeDeleted /n"}, nil},
		{"exist/session-closed", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			o := newACLClient(w.t, srv.Addr, "super:pw")
			o.create(p+"/n", acl, zkproto.ModeEphemeral)
			w.do(zkproto.OpExists, &zkproto.ExistsRequest{Path: p + "/n", Watch: true}, &zkproto.ExistsResponse{})
			o.do(zkproto.OpCloseSession, nil, nil)
		}, []string{"NodeDeleted /n"}, nil},
		{"child/parent-acl", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/q", open, 0)
			w.do(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p + "/q", Watch: true}, &zkproto.GetChildrenResponse{})
			x.setACL(p+"/q", acl)
			x.create(p+"/q/k", open, 0)
			w.do(zkproto.OpExists, &zkproto.ExistsRequest{Path: p + "/q", Watch: true}, &zkproto.ExistsResponse{})
			x.del(p + "/q/k")
			x.del(p + "/q")
		}, []string{"NodeChildrenChanged /q", "NodeDeleted /q"}, nil},
		{"child/child-acl", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/q", open, 0)
			w.do(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p + "/q", Watch: true}, &zkproto.GetChildrenResponse{})
			x.create(p+"/q/k", acl, 0)
		}, []string{"NodeChildrenChanged /q"}, []string{"NodeChildrenChanged /q"}},
		{"persistent", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/n", acl, 0)
			w.do(zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: p + "/n", Mode: zkproto.AddWatchPersistent}, nil)
			x.set(p + "/n")
			x.create(p+"/n/k", open, 0)
			x.del(p + "/n/k")
			x.del(p + "/n")
			x.create(p+"/n", acl, 0)
		}, []string{"NodeDataChanged /n", "NodeChildrenChanged /n", "NodeChildrenChanged /n",
			"NodeDeleted /n", "NodeCreated /n"}, nil},
		// Recursive watches: the node the event happens to decides, not the watched one.
		{"recursive", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			w.do(zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: p, Mode: zkproto.AddWatchPersistentRecursive}, nil)
			x.create(p+"/k", acl, 0)
			x.set(p + "/k")
			x.create(p+"/k/g", open, 0)
			x.del(p + "/k/g")
			x.del(p + "/k")
		}, []string{"NodeCreated /k", "NodeDataChanged /k", "NodeCreated /k/g", "NodeDeleted /k/g", "NodeDeleted /k"},
			[]string{"NodeCreated /k/g", "NodeDeleted /k/g"}},
		// setWatches replays what was missed unchecked; the watches it re-arms are checked.
		{"setWatches", func(w, x *aclClient, p string, acl []zkproto.ACL) {
			x.create(p+"/n", acl, 0)
			var st zkproto.ExistsResponse
			x.do(zkproto.OpExists, &zkproto.ExistsRequest{Path: p + "/n"}, &st)
			x.set(p + "/n")
			if err := w.c.SendXid(zkproto.XidSetWatches, zkproto.OpSetWatches, &zkproto.SetWatches{RelativeZxid: st.Stat.Mzxid,
				DataWatches: []string{p + "/n"}, ExistWatches: []string{p + "/e"}, ChildWatches: []string{}}); err != nil {
				w.t.Fatal(err)
			}
			if h, err := w.c.Recv(zkproto.XidSetWatches, nil); err != nil || h.Err != zkproto.ErrOK {
				w.t.Fatalf("setWatches: %v %v", h.Err, err)
			}
			x.create(p+"/e", acl, 0)
		}, []string{"NodeDataChanged /n", "NodeCreated /e"}, []string{"NodeDataChanged /n"}},
	}
	x := newACLClient(t, srv.Addr, "super:pw")
	i := 0
	for _, c := range cases {
		for _, v := range variants {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				i++
				p := fmt.Sprintf("/t%d", i)
				x.t = t
				x.create(p, open, 0)
				w := newACLClient(t, srv.Addr, v.creds...)
				c.run(w, x, p, v.acl)
				want := c.unreadable
				if v.read {
					want = c.readable
				}
				if got := w.events(p); !slices.Equal(got, want) {
					t.Errorf("events %q, want %q", got, want)
				}
			})
		}
	}
}
