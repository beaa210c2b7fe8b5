package datatree

import (
	"reflect"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// TestEventACLs checks the ACL each event carries, which decides who may see it
// (ZooKeeper 3.8's DataTree with ZOOKEEPER-4799): the node's as it is after the
// change, the deleted node's for NodeDeleted, the parent's for NodeChildrenChanged.
func TestEventACLs(t *testing.T) {
	parentACL := []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "digest", ID: "u1:x"}}}
	nodeACL := []zkproto.ACL{{Perms: zkproto.PermWrite | zkproto.PermDelete, ID: zkproto.Id{Scheme: "ip", ID: "10.0.0.1"}}}
	laterACL := []zkproto.ACL{{Perms: zkproto.PermWrite, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	tr := New()
	mustApply(t, tr, sessionTxn(1))
	createOp := func(op zkproto.OpCode, path string, acl []zkproto.ACL, mode zkproto.CreateMode) *Txn {
		x := reqTxn(op, &zkproto.CreateRequest{Path: path, ACL: acl, Flags: mode})
		x.Auth = superAuth
		return x
	}
	create := func(path string, acl []zkproto.ACL, mode zkproto.CreateMode) *Txn {
		return createOp(zkproto.OpCreate, path, acl, mode)
	}
	super := func(x *Txn) *Txn { x.Auth = superAuth; return x }
	ev := func(typ zkproto.EventType, path string, acl []zkproto.ACL) Event {
		return Event{Type: typ, Path: path, ACL: acl}
	}
	steps := []struct {
		name string
		txn  *Txn
		want []Event
	}{
		{"create parent", create("/p", parentACL, 0), []Event{
			ev(zkproto.EventNodeCreated, "/p", parentACL), ev(zkproto.EventNodeChildrenChanged, "/", worldAll)}},
		{"create child", create("/p/n", nodeACL, 0), []Event{
			ev(zkproto.EventNodeCreated, "/p/n", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
		{"setACL", super(reqTxn(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: "/p/n", ACL: laterACL, Version: -1})), nil},
		{"setData after setACL", super(setDataTxn("/p/n", "x", -1)), []Event{
			ev(zkproto.EventNodeDataChanged, "/p/n", laterACL)}},
		{"delete", super(deleteTxn("/p/n", -1)), []Event{
			ev(zkproto.EventNodeDeleted, "/p/n", laterACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
		{"multi", super(reqTxn(zkproto.OpMulti, &zkproto.MultiRequest{Ops: []zkproto.MultiOp{
			{Header: zkproto.MultiHeader{Type: zkproto.OpCreate}, Request: &zkproto.CreateRequest{Path: "/p/m", ACL: nodeACL}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpSetData}, Request: &zkproto.SetDataRequest{Path: "/p/m", Version: -1}},
			{Header: zkproto.MultiHeader{Type: zkproto.OpDelete}, Request: &zkproto.DeleteRequest{Path: "/p/m", Version: -1}},
		}})), []Event{
			ev(zkproto.EventNodeCreated, "/p/m", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL),
			ev(zkproto.EventNodeDataChanged, "/p/m", nodeACL),
			ev(zkproto.EventNodeDeleted, "/p/m", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
		{"ephemeral", create("/p/e", nodeACL, zkproto.ModeEphemeral), []Event{
			ev(zkproto.EventNodeCreated, "/p/e", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
		{"close session", &Txn{Kind: TxnCloseSession, Session: 1}, []Event{
			ev(zkproto.EventNodeDeleted, "/p/e", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
		{"container", createOp(zkproto.OpCreateContainer, "/p/c", nodeACL, zkproto.ModeContainer), []Event{
			ev(zkproto.EventNodeCreated, "/p/c", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
		{"reap container", reqTxn(zkproto.OpDeleteContainer, &zkproto.DeleteRequest{Path: "/p/c", Version: -1}), []Event{
			ev(zkproto.EventNodeDeleted, "/p/c", nodeACL), ev(zkproto.EventNodeChildrenChanged, "/p", parentACL)}},
	}
	for _, s := range steps {
		res := mustApply(t, tr, s.txn)
		if len(res.Events) == 0 && len(s.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(res.Events, s.want) {
			t.Errorf("%s: events\n got %+v\nwant %+v", s.name, res.Events, s.want)
		}
	}
}
