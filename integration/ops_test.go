package integration

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/zkproto"
)

var worldAll = zk.WorldACL(zk.PermAll)

var seqSuffix = regexp.MustCompile(`^[0-9]{10}$`)

// TestCreateModes creates one node in every mode go-zookeeper speaks and checks the
// returned path and the Stat the server reports for it.
func TestCreateModes(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	if _, err := c.Create("/m", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	// Session ids are ZooKeeper's: the server id (1) in the top byte.
	sid := c.SessionID()
	if sid>>56 != 1 {
		t.Fatalf("session id %#x: top byte is not the server id 1", sid)
	}
	tests := []struct {
		name      string
		create    func(string) (string, error)
		path      string
		seq       bool
		ephemeral bool
	}{
		{"persistent", func(p string) (string, error) { return c.Create(p, []byte("d"), zk.FlagPersistent, worldAll) }, "/m/p", false, false},
		{"ephemeral", func(p string) (string, error) { return c.Create(p, []byte("d"), zk.FlagEphemeral, worldAll) }, "/m/e", false, true},
		{"sequential", func(p string) (string, error) { return c.Create(p, []byte("d"), zk.FlagSequence, worldAll) }, "/m/s-", true, false},
		{"ephemeral-sequential", func(p string) (string, error) { return c.Create(p, []byte("d"), zk.FlagEphemeralSequential, worldAll) }, "/m/es-", true, true},
		{"container", func(p string) (string, error) { return c.CreateContainer(p, []byte("d"), zk.FlagContainer, worldAll) }, "/m/c", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.create(tc.path)
			if err != nil {
				t.Fatalf("create %s: %v", tc.path, err)
			}
			if tc.seq {
				if !strings.HasPrefix(got, tc.path) || !seqSuffix.MatchString(got[len(tc.path):]) {
					t.Fatalf("sequential create returned %q, want %s + 10 digits", got, tc.path)
				}
			} else if got != tc.path {
				t.Fatalf("create returned %q, want %q", got, tc.path)
			}
			data, st, err := c.Get(got)
			if err != nil || string(data) != "d" {
				t.Fatalf("get %s: %q %v", got, data, err)
			}
			want := int64(0)
			if tc.ephemeral {
				want = sid
			}
			if st.EphemeralOwner != want {
				t.Fatalf("ephemeralOwner = %#x, want %#x", st.EphemeralOwner, want)
			}
			if st.Version != 0 || st.DataLength != 1 || st.Czxid != st.Mzxid || st.Czxid != st.Pzxid || st.NumChildren != 0 {
				t.Fatalf("fresh node stat %+v", st)
			}
		})
	}

	t.Run("protected-ephemeral-sequential", func(t *testing.T) {
		got, err := c.CreateProtectedEphemeralSequential("/m/lock-", []byte("x"), worldAll)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^/m/_c_[0-9a-f]{32}-lock-[0-9]{10}$`).MatchString(got) {
			t.Fatalf("protected path %q", got)
		}
		_, st, err := c.Get(got)
		if err != nil || st.EphemeralOwner != sid {
			t.Fatalf("get %s: %+v %v", got, st, err)
		}
	})

	// The ephemerals die with the session; the others stay.
	c.Close()
	c2 := connect(t, srv.Addr)
	kids, _, err := c2.Children("/m")
	if err != nil {
		t.Fatal(err)
	}
	var persistent []string
	for _, k := range kids {
		if strings.HasPrefix(k, "e") || strings.HasPrefix(k, "_c_") {
			t.Errorf("ephemeral %s survived its session's close", k)
		}
		persistent = append(persistent, k)
	}
	if len(persistent) != 3 {
		t.Fatalf("children after close: %v, want p, s-…, c", kids)
	}
}

// TestCreate2Stat checks the Stat of a create2 reply (go-zookeeper only sends create):
// czxid = mzxid = pzxid = the reply's zxid, version 0, data length and times.
func TestCreate2Stat(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := rawConnect(t, srv.Addr, 10000)
	before := time.Now().UnixMilli()
	var resp zkproto.Create2Response
	xid, err := c.Send(zkproto.OpCreate2, &zkproto.CreateRequest{Path: "/c2", Data: []byte("hello"), ACL: openACL})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Recv(xid, &resp)
	if err != nil || h.Err != zkproto.ErrOK {
		t.Fatalf("create2: %v %v", h.Err, err)
	}
	st := resp.Stat
	if resp.Path != "/c2" || st.Czxid != h.Zxid || st.Mzxid != h.Zxid || st.Pzxid != h.Zxid ||
		st.Version != 0 || st.Cversion != 0 || st.Aversion != 0 || st.DataLength != 5 ||
		st.NumChildren != 0 || st.EphemeralOwner != 0 || st.Ctime != st.Mtime ||
		st.Ctime < before-1000 || st.Ctime > time.Now().UnixMilli()+1000 {
		t.Fatalf("create2 reply zxid %#x: %+v", h.Zxid, resp)
	}
	// The same Stat comes back from exists.
	var ex zkproto.ExistsResponse
	if code := rawCall(t, c, zkproto.OpExists, &zkproto.ExistsRequest{Path: "/c2"}, &ex); code != zkproto.ErrOK || ex.Stat != st {
		t.Fatalf("exists: %v %+v, want %+v", code, ex.Stat, st)
	}
	// createContainer answers with a create2 response too.
	var cr zkproto.Create2Response
	if code := rawCall(t, c, zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: "/c2/box", ACL: openACL, Flags: zkproto.ModeContainer}, &cr); code != zkproto.ErrOK {
		t.Fatalf("createContainer: %v", code)
	}
	if cr.Path != "/c2/box" || cr.Stat.EphemeralOwner != 0 {
		t.Fatalf("createContainer reply %+v (a container shows ephemeralOwner 0)", cr)
	}
}

// TestTTLAndContainerReaping runs with extended types and a short reaper interval:
// a TTL node goes after its TTL, a container after its last child goes, an empty
// container that never had a child stays.
func TestTTLAndContainerReaping(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.ExtendedTypesEnabled = true
		c.ContainerCheckInterval = 50 * time.Millisecond
	}))
	c := connect(t, srv.Addr)
	p, err := c.CreateTTL("/ttl", []byte("x"), zk.FlagTTL, worldAll, 300*time.Millisecond)
	if err != nil || p != "/ttl" {
		t.Fatalf("createTTL: %q %v", p, err)
	}
	sp, err := c.CreateTTL("/ttlseq-", nil, zk.FlagPersistentSequentialWithTTL, worldAll, 300*time.Millisecond)
	if err != nil || !seqSuffix.MatchString(strings.TrimPrefix(sp, "/ttlseq-")) {
		t.Fatalf("createTTL sequential: %q %v", sp, err)
	}
	_, st, err := c.Get("/ttl")
	if err != nil || st.EphemeralOwner != 0 && st.EphemeralOwner&zkproto.TTLEphemeralOwnerMask != zkproto.TTLEphemeralOwnerMask {
		t.Fatalf("get ttl node: %+v %v", st, err)
	}
	if _, err := c.CreateContainer("/box", nil, zk.FlagContainer, worldAll); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer("/never", nil, zk.FlagContainer, worldAll); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/box/kid", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/box/kid", -1); err != nil {
		t.Fatal(err)
	}
	gone := func(p string) func() error {
		return func() error {
			ok, _, err := c.Exists(p)
			if err != nil {
				return err
			}
			if ok {
				return fmt.Errorf("%s still exists", p)
			}
			return nil
		}
	}
	eventually(t, 5*time.Second, gone("/ttl"))
	eventually(t, 5*time.Second, gone(sp))
	eventually(t, 5*time.Second, gone("/box"))
	if ok, _, err := c.Exists("/never"); !ok || err != nil {
		t.Fatalf("a container that never had a child was reaped: %v %v", ok, err)
	}
}

// TestTTLKeptWhileModifiedOrParent: a TTL node with a child is not reaped.
func TestTTLKeptWithChild(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.ExtendedTypesEnabled = true
		c.ContainerCheckInterval = 50 * time.Millisecond
	}))
	c := connect(t, srv.Addr)
	if _, err := c.CreateTTL("/t", nil, zk.FlagTTL, worldAll, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/t/kid", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // several reaper runs past the TTL
	if ok, _, err := c.Exists("/t"); !ok || err != nil {
		t.Fatalf("TTL node with a child was reaped: %v %v", ok, err)
	}
}

// TestCreateTTLDisabled: without extendedTypesEnabled create-TTL is UNIMPLEMENTED,
// both as createTTL and as a TTL mode inside a multi.
func TestCreateTTLDisabled(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	_, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, worldAll, time.Second)
	if err == nil || err.Error() != "unknown error: -6" {
		t.Fatalf("createTTL without extended types: %v, want UNIMPLEMENTED (-6)", err)
	}
	if ok, _, _ := c.Exists("/ttl"); ok {
		t.Fatal("TTL node created anyway")
	}
	rc := rawConnect(t, srv.Addr, 10000)
	var resp zkproto.Create2Response
	code := rawCall(t, rc, zkproto.OpCreateTTL, &zkproto.CreateTTLRequest{Path: "/ttl2", ACL: openACL, Flags: zkproto.ModePersistentWithTTL, TTL: 1000}, &resp)
	if code != zkproto.ErrUnimplemented {
		t.Fatalf("raw createTTL: %v", code)
	}
	checkServes(t, c, "/after")
}

// TestDataOps covers get/set/exists/delete and the Stat bookkeeping around them.
func TestDataOps(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	if _, err := c.Create("/d", []byte("v0"), 0, worldAll); err != nil {
		t.Fatal(err)
	}
	_, st0, _ := c.Get("/d")
	st1, err := c.Set("/d", []byte("value-1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if st1.Version != 1 || st1.DataLength != 7 || st1.Mzxid <= st0.Mzxid || st1.Czxid != st0.Czxid || st1.Mtime < st0.Mtime {
		t.Fatalf("stat after set %+v (before %+v)", st1, st0)
	}
	st2, err := c.Set("/d", nil, -1)
	if err != nil || st2.Version != 2 || st2.DataLength != 0 {
		t.Fatalf("set any version: %+v %v", st2, err)
	}
	if _, err := c.Set("/d", nil, 1); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("set stale version: %v", err)
	}
	ok, est, err := c.Exists("/d")
	if !ok || err != nil || *est != *st2 {
		t.Fatalf("exists: %v %+v %v (want %+v)", ok, est, err, st2)
	}
	if err := c.Delete("/d", 1); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("delete stale version: %v", err)
	}
	if err := c.Delete("/d", 2); err != nil {
		t.Fatalf("delete exact version: %v", err)
	}
	for _, fn := range []func() error{
		func() error { _, _, err := c.Get("/d"); return err },
		func() error { _, err := c.Set("/d", nil, -1); return err },
		func() error { return c.Delete("/d", -1) },
		func() error { _, _, err := c.Children("/d"); return err },
		func() error { _, _, err := c.GetACL("/d"); return err },
		func() error { _, err := c.SetACL("/d", worldAll, -1); return err },
		func() error { _, err := c.Create("/d/kid", nil, 0, worldAll); return err },
	} {
		if err := fn(); !errors.Is(err, zk.ErrNoNode) {
			t.Errorf("op on a missing node: %v, want NONODE", err)
		}
	}
	if ok, _, err := c.Exists("/d"); ok || err != nil {
		t.Fatalf("exists after delete: %v %v", ok, err)
	}
	// The data round-trips byte for byte, including a 1000 KB value.
	big := make([]byte, 1000*1024)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if _, err := c.Create("/big", big, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	got, st, err := c.Get("/big")
	if err != nil || string(got) != string(big) || st.DataLength != int32(len(big)) {
		t.Fatalf("big get: %d bytes %v", len(got), err)
	}
}

// TestErrors checks each error code a client can provoke through go-zookeeper.
func TestErrors(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	if _, err := c.Create("/e", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/e/kid", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, worldAll); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"create under missing parent", func() error { _, err := c.Create("/nope/x", nil, 0, worldAll); return err }, zk.ErrNoNode},
		{"create existing", func() error { _, err := c.Create("/e", nil, 0, worldAll); return err }, zk.ErrNodeExists},
		{"create root", func() error { _, err := c.Create("/zookeeper", nil, 0, worldAll); return err }, zk.ErrNodeExists},
		{"delete with children", func() error { return c.Delete("/e", -1) }, zk.ErrNotEmpty},
		{"child of ephemeral", func() error { _, err := c.Create("/eph/x", nil, 0, worldAll); return err }, zk.ErrNoChildrenForEphemerals},
		{"sequential child of ephemeral", func() error { _, err := c.Create("/eph/x", nil, zk.FlagSequence, worldAll); return err }, zk.ErrNoChildrenForEphemerals},
		{"empty ACL", func() error { _, err := c.Create("/acl1", nil, 0, []zk.ACL{}); return err }, zk.ErrInvalidACL},
		{"unknown scheme", func() error {
			_, err := c.Create("/acl2", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "bogus", ID: "x"}})
			return err
		}, zk.ErrInvalidACL},
		{"malformed digest id", func() error {
			_, err := c.Create("/acl3", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "no-colon"}})
			return err
		}, zk.ErrInvalidACL},
		{"malformed ip id", func() error {
			_, err := c.Create("/acl4", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "300.1.1.1"}})
			return err
		}, zk.ErrInvalidACL},
		{"auth scheme without identity", func() error { _, err := c.Create("/acl5", nil, 0, zk.AuthACL(zk.PermAll)); return err }, zk.ErrInvalidACL},
		{"setACL empty", func() error { _, err := c.SetACL("/e", []zk.ACL{}, -1); return err }, zk.ErrInvalidACL},
		{"setACL bad version", func() error { _, err := c.SetACL("/e", worldAll, 7); return err }, zk.ErrBadVersion},
		{"check bad version in multi", func() error {
			_, err := c.Multi(&zk.CheckVersionRequest{Path: "/e", Version: 3})
			return err
		}, zk.ErrBadVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	for _, p := range []string{"/acl1", "/acl2", "/acl3", "/acl4", "/acl5"} {
		if ok, _, _ := c.Exists(p); ok {
			t.Errorf("%s created despite its invalid ACL", p)
		}
	}
}

// TestChildren covers getChildren and getChildren2 and the parent's Stat.
func TestChildren(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	if _, err := c.Create("/k", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b", "a", "c"} {
		if _, err := c.Create("/k/"+n, nil, 0, worldAll); err != nil {
			t.Fatal(err)
		}
	}
	kids, st, err := c.Children("/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 3 || st.NumChildren != 3 || st.Cversion != 3 {
		t.Fatalf("children %v stat %+v", kids, st)
	}
	_, kst, _ := c.Get("/k/c")
	if st.Pzxid != kst.Czxid {
		t.Fatalf("pzxid %#x, want the last child's czxid %#x", st.Pzxid, kst.Czxid)
	}
	// Changing a child's data changes neither cversion nor pzxid.
	if _, err := c.Set("/k/a", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	_, st2, _ := c.Children("/k")
	if st2.Cversion != st.Cversion || st2.Pzxid != st.Pzxid {
		t.Fatalf("data change moved the parent's child stat: %+v -> %+v", st, st2)
	}
	root, _, err := c.Children("/")
	if err != nil || !contains(root, "zookeeper") || !contains(root, "k") {
		t.Fatalf("root children %v %v", root, err)
	}
	zkKids, _, err := c.Children("/zookeeper")
	if err != nil || !contains(zkKids, "quota") || !contains(zkKids, "config") {
		t.Fatalf("/zookeeper children %v %v", zkKids, err)
	}
	// raw getChildren (op 8) has no Stat and the same list.
	rc := rawConnect(t, srv.Addr, 10000)
	var gc zkproto.GetChildrenResponse
	if code := rawCall(t, rc, zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/k"}, &gc); code != zkproto.ErrOK || len(gc.Children) != 3 {
		t.Fatalf("getChildren: %v %v", code, gc.Children)
	}
}

// digestID is DigestAuthenticationProvider's id, computed here independently of
// the server: user:base64(sha1("user:password")).
func digestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSequenceAndCversion replays the observation of SEMANTICS.md on the reference
// server: the sequence counter counts child creates, cversion = creates + deletes.
func TestSequenceAndCversion(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	if _, err := c.Create("/q", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	cversion := func() int32 {
		t.Helper()
		_, st, err := c.Exists("/q")
		if err != nil {
			t.Fatal(err)
		}
		return st.Cversion
	}
	step := func(what string, do func() (string, error), wantPath string, wantCv int32) {
		t.Helper()
		p, err := do()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if wantPath != "" && p != wantPath {
			t.Fatalf("%s returned %q, want %q", what, p, wantPath)
		}
		if cv := cversion(); cv != wantCv {
			t.Fatalf("after %s cversion = %d, want %d", what, cv, wantCv)
		}
	}
	create := func(p string, flags int32) func() (string, error) {
		return func() (string, error) { return c.Create(p, nil, flags, worldAll) }
	}
	del := func(p string) func() (string, error) { return func() (string, error) { return "", c.Delete(p, -1) } }
	step("create a", create("/q/a", 0), "/q/a", 1)
	step("create b", create("/q/b", 0), "/q/b", 2)
	step("delete a", del("/q/a"), "", 3)
	step("delete b", del("/q/b"), "", 4)
	step("create s-", create("/q/s-", zk.FlagSequence), "/q/s-0000000002", 5)
	step("create s- again", create("/q/s-", zk.FlagSequence), "/q/s-0000000003", 6)
	step("delete s-3", del("/q/s-0000000003"), "", 7)
	step("create s- third", create("/q/s-", zk.FlagSequence), "/q/s-0000000004", 8)
	// A failed create counts nothing.
	if _, err := c.Create("/q/s-0000000002", nil, 0, worldAll); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
	if cv := cversion(); cv != 8 {
		t.Fatalf("failed create moved cversion to %d", cv)
	}
	// A sequential create of "/q/" (empty name) is legal: the suffix is the name.
	step("create /q/", create("/q/", zk.FlagSequence), "/q/0000000005", 9)
}

// TestACLs: setACL/getACL with aversion, digest ACLs and NOAUTH for another client,
// per-permission checks, and the super digest.
func TestACLs(t *testing.T) {
	superDigest := digestID("super", "secret")
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.SuperDigest = superDigest }))
	owner := connect(t, srv.Addr)
	if err := owner.AddAuth("digest", []byte("alice:pw")); err != nil {
		t.Fatal(err)
	}
	other := connect(t, srv.Addr)

	if _, err := owner.Create("/sec", []byte("s"), 0, zk.AuthACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	acl, st, err := owner.GetACL("/sec")
	wantID := digestID("alice", "pw")
	if err != nil || len(acl) != 1 || acl[0].Scheme != "digest" || acl[0].ID != wantID || acl[0].Perms != zk.PermAll || st.Aversion != 0 {
		t.Fatalf("getACL of an auth-ACL node: %+v %+v %v (want digest %s)", acl, st, err, wantID)
	}
	for name, do := range map[string]func() error{
		"get":      func() error { _, _, err := other.Get("/sec"); return err },
		"set":      func() error { _, err := other.Set("/sec", nil, -1); return err },
		"children": func() error { _, _, err := other.Children("/sec"); return err },
		"create":   func() error { _, err := other.Create("/sec/x", nil, 0, worldAll); return err },
		"setACL":   func() error { _, err := other.SetACL("/sec", worldAll, -1); return err },
		"getACL":   func() error { _, _, err := other.GetACL("/sec"); return err },
	} {
		if err := do(); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s by another client: %v, want NOAUTH", name, err)
		}
	}
	// exists needs no permission.
	if ok, _, err := other.Exists("/sec"); !ok || err != nil {
		t.Fatalf("exists on a protected node: %v %v", ok, err)
	}
	// The same identity on another connection is let in.
	if err := other.AddAuth("digest", []byte("alice:pw")); err != nil {
		t.Fatal(err)
	}
	if d, _, err := other.Get("/sec"); err != nil || string(d) != "s" {
		t.Fatalf("get after addauth: %q %v", d, err)
	}

	// Per-permission checks: read-only for world, everything for alice.
	ro := []zk.ACL{{Perms: zk.PermRead, Scheme: "world", ID: "anyone"}, {Perms: zk.PermAll, Scheme: "digest", ID: wantID}}
	st, err = owner.SetACL("/sec", ro, 0)
	if err != nil || st.Aversion != 1 {
		t.Fatalf("setACL: %+v %v", st, err)
	}
	if _, err := owner.SetACL("/sec", ro, 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("setACL with a stale aversion: %v", err)
	}
	anon := connect(t, srv.Addr)
	if _, _, err := anon.Get("/sec"); err != nil {
		t.Fatalf("read with world:READ: %v", err)
	}
	if _, err := anon.Set("/sec", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("write with only world:READ: %v", err)
	}
	if _, _, err := anon.GetACL("/sec"); err != nil {
		t.Fatalf("getACL with READ: %v", err)
	}
	// ACLs are not inherited; delete needs DELETE on the parent.
	if _, err := owner.Create("/sec/kid", nil, 0, worldAll); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Set("/sec/kid", []byte("k"), -1); err != nil {
		t.Fatalf("write to an open child of a protected node: %v", err)
	}
	if err := anon.Delete("/sec/kid", -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("delete without DELETE on the parent: %v", err)
	}

	// An id-less node (digest for bob) cannot be touched by alice, but super can.
	bobACL := zk.DigestACL(zk.PermAll, "bob", "bobpw")
	if _, err := owner.Create("/bob", []byte("b"), 0, bobACL); err != nil {
		t.Fatal(err)
	}
	if _, _, err := owner.Get("/bob"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("alice reads bob's node: %v", err)
	}
	su := connect(t, srv.Addr)
	if err := su.AddAuth("digest", []byte("super:secret")); err != nil {
		t.Fatal(err)
	}
	if d, _, err := su.Get("/bob"); err != nil || string(d) != "b" {
		t.Fatalf("super get: %q %v", d, err)
	}
	if _, err := su.SetACL("/bob", worldAll, -1); err != nil {
		t.Fatalf("super setACL: %v", err)
	}
	if _, _, err := anon.Get("/bob"); err != nil {
		t.Fatalf("get after super opened the ACL: %v", err)
	}
	// A wrong super password is an ordinary digest identity.
	notSu := connect(t, srv.Addr)
	if err := notSu.AddAuth("digest", []byte("super:wrong")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := notSu.Get("/sec"); err != nil {
		t.Fatal(err) // world:READ
	}
	if _, err := notSu.Set("/sec", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("super with a wrong password wrote: %v", err)
	}
}

// TestAddAuthUnknownScheme: AUTHFAILED and the connection is closed.
func TestAddAuthUnknownScheme(t *testing.T) {
	srv := ensembletest.RunServer(t)
	rc := rawConnect(t, srv.Addr, 10000)
	if err := rc.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "kerberos-ish", Auth: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	h, err := rc.Recv(zkproto.XidAuth, nil)
	if err != nil || h.Err != zkproto.ErrAuthFailed {
		t.Fatalf("addauth unknown scheme: %v %v", h.Err, err)
	}
	expectClosed(t, rc)
}

// TestSync: sync answers with its path, and a read after it sees every write
// acknowledged to another client.
func TestSync(t *testing.T) {
	srv := ensembletest.RunServer(t)
	a, b := connect(t, srv.Addr), connect(t, srv.Addr)
	for i := range 20 {
		if _, err := a.Create(fmt.Sprintf("/s%d", i), nil, 0, worldAll); err != nil {
			t.Fatal(err)
		}
		p, err := b.Sync(fmt.Sprintf("/s%d", i))
		if err != nil || p != fmt.Sprintf("/s%d", i) {
			t.Fatalf("sync: %q %v", p, err)
		}
		if ok, _, err := b.Exists(fmt.Sprintf("/s%d", i)); !ok || err != nil {
			t.Fatalf("read after sync misses an acknowledged write: %v %v", ok, err)
		}
	}
}

// TestMulti: a successful multi applies everything at one zxid; a failing op at each
// position fails the whole multi with ZooKeeper's per-op results and changes nothing.
func TestMulti(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := connect(t, srv.Addr)
	if _, err := c.Create("/mu", []byte("0"), 0, worldAll); err != nil {
		t.Fatal(err)
	}
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/mu/a", Data: []byte("a"), Acl: worldAll},
		&zk.CreateRequest{Path: "/mu/s-", Acl: worldAll, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: "/mu", Data: []byte("1"), Version: 0},
		&zk.CheckVersionRequest{Path: "/mu", Version: 1},
		&zk.DeleteRequest{Path: "/mu/a", Version: 0},
	)
	if err != nil {
		t.Fatalf("multi: %v %+v", err, res)
	}
	if len(res) != 5 || res[0].String != "/mu/a" || res[1].String != "/mu/s-0000000001" || res[2].Stat == nil || res[2].Stat.Version != 1 {
		t.Fatalf("multi results %+v", res)
	}
	for i, r := range res {
		if r.Error != nil {
			t.Fatalf("result %d: %v", i, r.Error)
		}
	}
	_, st, _ := c.Get("/mu")
	if st.Mzxid != st.Pzxid {
		t.Fatalf("a multi's changes carry different zxids: mzxid %#x pzxid %#x", st.Mzxid, st.Pzxid)
	}
	if ok, _, _ := c.Exists("/mu/a"); ok {
		t.Fatal("/mu/a exists after create+delete in one multi")
	}

	// Four ops that would succeed; replace the one at position i by a failing op.
	good := func() []any {
		return []any{
			&zk.CreateRequest{Path: "/mu/x", Acl: worldAll},
			&zk.SetDataRequest{Path: "/mu", Data: []byte("2"), Version: 1},
			&zk.CheckVersionRequest{Path: "/mu", Version: 2},
			&zk.DeleteRequest{Path: "/mu/x", Version: -1},
		}
	}
	bad := []struct {
		op   any
		want error
	}{
		{&zk.CreateRequest{Path: "/mu/s-0000000001", Acl: worldAll}, zk.ErrNodeExists},
		{&zk.SetDataRequest{Path: "/mu", Data: []byte("2"), Version: 9}, zk.ErrBadVersion},
		{&zk.CheckVersionRequest{Path: "/missing", Version: -1}, zk.ErrNoNode},
		{&zk.DeleteRequest{Path: "/mu", Version: -1}, zk.ErrNotEmpty},
	}
	for pos := range 4 {
		for _, b := range bad {
			ops := good()
			ops[pos] = b.op
			t.Run(fmt.Sprintf("fail-at-%d-%T", pos, b.op), func(t *testing.T) {
				_, before, _ := c.Get("/mu")
				res, err := c.Multi(ops...)
				if !errors.Is(err, b.want) {
					t.Fatalf("multi error %v, want %v", err, b.want)
				}
				if len(res) != 4 {
					t.Fatalf("%d results, want 4: %+v", len(res), res)
				}
				for i, r := range res {
					switch {
					case i < pos && r.Error != nil:
						t.Errorf("result %d before the failure: %v, want OK", i, r.Error)
					case i == pos && !errors.Is(r.Error, b.want):
						t.Errorf("result %d (the failure): %v, want %v", i, r.Error, b.want)
					case i > pos && (r.Error == nil || r.Error.Error() != "unknown error: -2"):
						t.Errorf("result %d after the failure: %v, want RUNTIMEINCONSISTENCY (-2)", i, r.Error)
					}
				}
				d, after, _ := c.Get("/mu")
				if string(d) != "1" || *after != *before {
					t.Fatalf("failed multi changed /mu: %q %+v -> %+v", d, before, after)
				}
				if ok, _, _ := c.Exists("/mu/x"); ok {
					t.Fatal("failed multi created /mu/x")
				}
			})
		}
	}
	// The sequence counter did not move for the failed multis.
	res, err = c.Multi(&zk.CreateRequest{Path: "/mu/s-", Acl: worldAll, Flags: zk.FlagSequence})
	// Two child creates were applied (/mu/a and /mu/s-0000000001), so the suffix is 2.
	if err != nil || res[0].String != "/mu/s-0000000002" {
		t.Fatalf("sequential create after failed multis: %+v %v, want /mu/s-0000000002", res, err)
	}
}
