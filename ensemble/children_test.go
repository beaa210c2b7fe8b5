package ensemble_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/zkproto"
)

// TestChildrenSorted: the tree lists children in no order and the server sorts them
// outside the tree's lock; getChildren, getChildren2 and a multiRead all answer
// sorted names (as zkraft always has), and a failed read still answers its error.
func TestChildrenSorted(t *testing.T) {
	srv := ensembletest.RunServer(t)
	c := rawSession(t, srv.Addr)
	names := []string{"b", "a-1", "a", "c.x", "A", "a0", "zz", "m"}
	for _, p := range append([]string{"/p"}, prefixed("/p/", names)...) {
		if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	// A delete moves the last child into the hole in the tree's list.
	if err := c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: "/p/a-1", Version: -1}, nil); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == "a-1" })))

	var r1 zkproto.GetChildrenResponse
	if err := c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/p"}, &r1); err != nil || !slices.Equal(r1.Children, want) {
		t.Fatalf("getChildren: %v %v, want %v", err, r1.Children, want)
	}
	var r2 zkproto.GetChildren2Response
	if err := c.Call(zkproto.OpGetChildren2, &zkproto.GetChildren2Request{Path: "/p"}, &r2); err != nil || !slices.Equal(r2.Children, want) || r2.Stat.NumChildren != int32(len(want)) {
		t.Fatalf("getChildren2: %v %v %+v, want %v", err, r2.Children, r2.Stat, want)
	}
	var mr zkproto.MultiResponse
	err := c.Call(zkproto.OpMultiRead, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
		{Header: zkproto.MultiHeader{Type: zkproto.OpGetChildren}, Request: &zkproto.GetChildrenRequest{Path: "/p"}},
		{Header: zkproto.MultiHeader{Type: zkproto.OpGetChildren}, Request: &zkproto.GetChildrenRequest{Path: "/missing"}},
		{Header: zkproto.MultiHeader{Type: zkproto.OpGetChildren}, Request: &zkproto.GetChildrenRequest{Path: "/"}},
	}}, &mr)
	if err != nil || len(mr.Results) != 3 {
		t.Fatalf("multiRead: %v, %d results", err, len(mr.Results))
	}
	if got, ok := mr.Results[0].Response.(*zkproto.GetChildrenResponse); !ok || !slices.Equal(got.Children, want) {
		t.Fatalf("multiRead /p: %+v, want %v", mr.Results[0].Response, want)
	}
	if mr.Results[1].Header.Err != zkproto.ErrNoNode {
		t.Fatalf("multiRead /missing: %+v", mr.Results[1].Header)
	}
	if got, ok := mr.Results[2].Response.(*zkproto.GetChildrenResponse); !ok || !slices.Equal(got.Children, []string{"p", "zookeeper"}) {
		t.Fatalf("multiRead /: %+v", mr.Results[2].Response)
	}
	if err := c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: "/missing"}, &r1); !errors.Is(err, zkproto.ErrNoNode) {
		t.Fatalf("getChildren of a missing node: %v", err)
	}
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}
