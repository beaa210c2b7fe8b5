//go:build clients

package clients

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// TestGoZookeeper sends, through the recording proxy, every op go-zookeeper v1.0.4
// can send; the integration package tests their semantics in depth.
func TestGoZookeeper(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.ExtendedTypesEnabled = true
	}))
	p := startProxy(t, "go-zookeeper", srv.Addr)
	// A 4 s session: go-zookeeper pings every third of it.
	c, ev, err := zk.Connect([]string{p.Addr()}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitState(t, ev, zk.StateHasSession)
	open := zk.WorldACL(zk.PermAll)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	path, err := c.Create("/g", []byte("d"), 0, open)
	must("create", err)
	if path != "/g" {
		t.Fatalf("create: %q", path)
	}
	_, err = c.Create("/g/s-", nil, zk.FlagSequence|zk.FlagEphemeral, open)
	must("create ephemeral sequential", err)
	ok, st, err := c.Exists("/g")
	must("exists", err)
	if !ok || st.NumChildren != 1 {
		t.Fatalf("exists: %v %+v", ok, st)
	}
	data, _, err := c.Get("/g")
	must("get", err)
	if string(data) != "d" {
		t.Fatalf("get: %q", data)
	}
	st, err = c.Set("/g", []byte("e"), 0)
	must("set", err)
	if st.Version != 1 {
		t.Fatalf("set: %+v", st)
	}
	kids, _, err := c.Children("/g")
	must("children", err)
	if len(kids) != 1 {
		t.Fatalf("children: %v", kids)
	}
	must("addauth", c.AddAuth("digest", []byte("u:p")))
	acl := zk.DigestACL(zk.PermAll, "u", "p")
	_, err = c.SetACL("/g", acl, -1)
	must("setACL", err)
	got, _, err := c.GetACL("/g")
	must("getACL", err)
	if len(got) != 1 || got[0].Scheme != "digest" {
		t.Fatalf("getACL: %+v", got)
	}
	_, err = c.Sync("/g")
	must("sync", err)

	res, err := c.Multi(
		&zk.CheckVersionRequest{Path: "/g", Version: 1},
		&zk.CreateRequest{Path: "/g/m", Data: []byte("m"), Acl: open},
		&zk.SetDataRequest{Path: "/g/m", Data: []byte("n"), Version: 0},
		&zk.DeleteRequest{Path: "/g/m", Version: 1},
	)
	must("multi", err)
	if len(res) != 4 {
		t.Fatalf("multi: %+v", res)
	}
	// A failed multi: go-zookeeper reports the first failure.
	res, err = c.Multi(
		&zk.CreateRequest{Path: "/g/never", Acl: open},
		&zk.CheckVersionRequest{Path: "/g", Version: 9},
	)
	if !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("failed multi: %v %+v", err, res)
	}
	if ok, _, _ := c.Exists("/g/never"); ok {
		t.Fatal("failed multi was applied")
	}

	_, err = c.CreateContainer("/g/box", nil, zk.FlagContainer, open)
	must("createContainer", err)
	_, err = c.CreateTTL("/g/ttl", nil, zk.FlagTTL, open, time.Minute)
	must("createTTL", err)
	_, st, err = c.Exists("/g/ttl")
	must("exists ttl", err)
	if st.EphemeralOwner != 0 { // internal TTL marker, hidden from clients as on 3.8.0
		t.Errorf("TTL node ephemeralOwner %#x", st.EphemeralOwner)
	}

	if _, err := c.IncrementalReconfig([]string{"server.9=127.0.0.1:1:2;3"}, nil, -1); !errors.Is(err, zk.ErrReconfigDisabled) {
		t.Errorf("reconfig: %v, want ErrReconfigDisabled", err)
	}

	// Watches survive a dropped connection: go-zookeeper re-arms them with setWatches.
	_, _, wch, err := c.GetW("/g")
	must("getW", err)
	time.Sleep(1600 * time.Millisecond) // idle: pings
	p.DropConns()
	waitState(t, ev, zk.StateDisconnected)
	waitState(t, ev, zk.StateHasSession)
	other, _, err := zk.Connect([]string{srv.Addr}, 10*time.Second, zk.WithLogInfo(false))
	must("connect other", err)
	defer other.Close()
	must("other addauth", other.AddAuth("digest", []byte("u:p")))
	_, err = other.Set("/g", []byte("f"), -1)
	must("other set", err)
	select {
	case e := <-wch:
		if e.Type != zk.EventNodeDataChanged || e.Path != "/g" {
			t.Fatalf("watch after reconnect: %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event after reconnect")
	}

	must("delete", c.Delete("/g/box", -1))
	c.Close() // closeSession
	for _, op := range []int32{1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 19, 21, 100, 101, -11} {
		if !seenOK("go-zookeeper", opCode(op)) {
			t.Errorf("op %d was not seen answered OK", op)
		}
	}
}

func waitState(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %v within 10s", want)
		}
	}
}
