package compat

import (
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// Short request helpers: rel paths are inside the namespace (r.P(rel)).

func (r *run) create(i int, rel, d string, mode zkproto.CreateMode) result {
	return r.Do(i, zkproto.OpCreate, &zkproto.CreateRequest{Path: r.P(rel), Data: []byte(d), ACL: openACL, Flags: mode})
}

func (r *run) create2(i int, rel, d string, mode zkproto.CreateMode) result {
	return r.Do(i, zkproto.OpCreate2, &zkproto.CreateRequest{Path: r.P(rel), Data: []byte(d), ACL: openACL, Flags: mode})
}

func (r *run) createACL(i int, rel string, acl []zkproto.ACL, mode zkproto.CreateMode) result {
	return r.Do(i, zkproto.OpCreate, &zkproto.CreateRequest{Path: r.P(rel), Data: []byte("x"), ACL: acl, Flags: mode})
}

func (r *run) createTTL(i int, rel string, mode zkproto.CreateMode, ttl int64) result {
	return r.Do(i, zkproto.OpCreateTTL, &zkproto.CreateTTLRequest{Path: r.P(rel), Data: []byte("t"), ACL: openACL, Flags: mode, TTL: ttl})
}

func (r *run) container(i int, rel string) result {
	return r.Do(i, zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: r.P(rel), ACL: openACL, Flags: zkproto.ModeContainer})
}

func (r *run) del(i int, rel string, v int32) result {
	return r.Do(i, zkproto.OpDelete, &zkproto.DeleteRequest{Path: r.P(rel), Version: v})
}

func (r *run) exists(i int, rel string, w bool) result {
	return r.Do(i, zkproto.OpExists, &zkproto.ExistsRequest{Path: r.P(rel), Watch: w})
}

func (r *run) get(i int, rel string, w bool) result {
	return r.Do(i, zkproto.OpGetData, &zkproto.GetDataRequest{Path: r.P(rel), Watch: w})
}

func (r *run) set(i int, rel, d string, v int32) result {
	return r.Do(i, zkproto.OpSetData, &zkproto.SetDataRequest{Path: r.P(rel), Data: []byte(d), Version: v})
}

func (r *run) getACL(i int, rel string) result {
	return r.Do(i, zkproto.OpGetACL, &zkproto.GetACLRequest{Path: r.P(rel)})
}

func (r *run) setACL(i int, rel string, acl []zkproto.ACL, v int32) result {
	return r.Do(i, zkproto.OpSetACL, &zkproto.SetACLRequest{Path: r.P(rel), ACL: acl, Version: v})
}

func (r *run) kids(i int, rel string, w bool) result {
	return r.Do(i, zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: r.P(rel), Watch: w})
}

func (r *run) kids2(i int, rel string, w bool) result {
	return r.Do(i, zkproto.OpGetChildren2, &zkproto.GetChildren2Request{Path: r.P(rel), Watch: w})
}

func (r *run) check(i int, rel string, v int32) result {
	return r.Do(i, zkproto.OpCheck, &zkproto.CheckVersionRequest{Path: r.P(rel), Version: v})
}

func (r *run) addWatch(i int, rel string, mode int32) result {
	return r.Do(i, zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: r.P(rel), Mode: mode})
}

func (r *run) removeWatches(i int, rel string, typ int32) result {
	return r.Do(i, zkproto.OpRemoveWatches, &zkproto.RemoveWatchesRequest{Path: r.P(rel), Type: typ})
}

func (r *run) checkWatches(i int, rel string, typ int32) result {
	return r.Do(i, zkproto.OpCheckWatches, &zkproto.CheckWatchesRequest{Path: r.P(rel), Type: typ})
}

func (r *run) auth(i int, scheme, cred string) result {
	return r.DoXid(i, zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: scheme, Auth: []byte(cred)})
}

func (r *run) whoAmI(i int) result { return r.Do(i, zkproto.OpWhoAmI, nil) }

func (r *run) multi(i int, ops ...zkproto.MultiOp) result {
	return r.Do(i, zkproto.OpMulti, &zkproto.MultiRequest{Ops: ops})
}

func (r *run) multiRead(i int, ops ...zkproto.MultiOp) result {
	return r.Do(i, zkproto.OpMultiRead, &zkproto.MultiRequest{Ops: ops})
}

// Multi ops (paths inside the namespace).
func (r *run) mCreate(rel string, mode zkproto.CreateMode) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpCreate}, Request: &zkproto.CreateRequest{Path: r.P(rel), Data: []byte("m"), ACL: openACL, Flags: mode}}
}
func (r *run) mCreateOp(op zkproto.OpCode, rel string, mode zkproto.CreateMode) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: op}, Request: &zkproto.CreateRequest{Path: r.P(rel), Data: []byte("m"), ACL: openACL, Flags: mode}}
}
func (r *run) mCreateTTL(rel string, mode zkproto.CreateMode, ttl int64) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpCreateTTL}, Request: &zkproto.CreateTTLRequest{Path: r.P(rel), Data: []byte("m"), ACL: openACL, Flags: mode, TTL: ttl}}
}
func (r *run) mDelete(rel string, v int32) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpDelete}, Request: &zkproto.DeleteRequest{Path: r.P(rel), Version: v}}
}
func (r *run) mSet(rel, d string, v int32) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpSetData}, Request: &zkproto.SetDataRequest{Path: r.P(rel), Data: []byte(d), Version: v}}
}
func (r *run) mCheck(rel string, v int32) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpCheck}, Request: &zkproto.CheckVersionRequest{Path: r.P(rel), Version: v}}
}
func (r *run) mGet(rel string) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpGetData}, Request: &zkproto.GetDataRequest{Path: r.P(rel)}}
}
func (r *run) mKids(rel string) zkproto.MultiOp {
	return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpGetChildren}, Request: &zkproto.GetChildrenRequest{Path: r.P(rel)}}
}

func world(perms int32) []zkproto.ACL {
	return []zkproto.ACL{{Perms: perms, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
}

func acl(perms int32, scheme, id string) zkproto.ACL {
	return zkproto.ACL{Perms: perms, ID: zkproto.Id{Scheme: scheme, ID: id}}
}

func rawDial(r *run) (*rawzk.Conn, error) { return rawzk.Dial(r.addr) }
