package datatree

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// A tree rebuilt from its records and sessions writes the same snapshot bytes.
func TestBuildFromRecordsRoundTrip(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(1))
	mustApply(t, tr, createTxn("/a", "x", 0))
	mustApply(t, tr, createTxn("/a/s-", "y", zkproto.CreateMode(2)))
	mustApply(t, tr, createTxn("/a/e", "z", zkproto.CreateMode(1)))
	mustApply(t, tr, reqTxn(zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: "/c", ACL: worldAll, Flags: 0}))
	mustApply(t, tr, reqTxn(zkproto.OpCreateTTL, &zkproto.CreateTTLRequest{Path: "/t", ACL: worldAll, Flags: zkproto.CreateMode(5), TTL: 1234}))
	mustApply(t, tr, setDataTxn("/a", "x2", -1))
	snap := tr.Snapshot()
	var kinds []string
	for r := range snap.Nodes() {
		k, ttl := OwnerKind(r.EphemeralOwner)
		if k != "persistent" {
			kinds = append(kinds, r.Path+"="+k)
		}
		if k == "ttl" && ttl != 1234 {
			t.Errorf("ttl %d", ttl)
		}
	}
	if want := []string{"/a/e=ephemeral", "/c=container", "/t=ttl"}; !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	back, err := Build(snap.Zxid(), snap.Sessions(), snap.Nodes())
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	snap.WriteTo(&a)
	back.Snapshot().WriteTo(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the rebuilt tree writes another snapshot")
	}
}

func TestBuildRefusesBadRecords(t *testing.T) {
	root := NodeRecord{Path: "/", ACL: worldAll}
	for _, c := range []struct {
		name  string
		nodes []NodeRecord
		want  string
	}{
		{"orphan", []NodeRecord{root, {Path: "/a/b"}}, "parent missing"},
		{"duplicate", []NodeRecord{root, {Path: "/a"}, {Path: "/a"}}, "duplicate"},
		{"unknown session", []NodeRecord{root, {Path: "/e", EphemeralOwner: 99}}, "session"},
		{"child of ephemeral", []NodeRecord{root, {Path: "/e", EphemeralOwner: 7}, {Path: "/e/x"}}, "ephemeral"},
		{"bad path", []NodeRecord{root, {Path: "/a/"}}, "invalid path"},
	} {
		_, err := Build(1, []SessionInfo{{ID: 7}}, slices.Values(c.nodes))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
