package ensemble

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/config"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// reconfigError carries the ZooKeeper code a failed reconfig answers with.
type reconfigError struct {
	code zkproto.ErrCode
	msg  string
}

func (e *reconfigError) Error() string { return e.msg }

// Unwrap lets errors.As find the code, here and on a follower the leader forwarded it to.
func (e *reconfigError) Unwrap() error { return e.code }

func reconfigFail(code zkproto.ErrCode, format string, args ...any) error {
	return &reconfigError{code: code, msg: fmt.Sprintf(format, args...)}
}

// reconfigure applies a reconfig request on the leader, one server at a time
// (Raft's AddVoter, AddNonvoter, RemoveServer), then republishes /zookeeper/config.
// It returns an index that covers the change.
func (s *Server) reconfigure(req *zkproto.ReconfigRequest) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, errNoLeader
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, err
	}
	current := f.Configuration()
	if req.CurConfigID != -1 && uint64(req.CurConfigID) != f.Index() {
		return 0, reconfigFail(zkproto.ErrBadVersion, "config version %x is not the current %x", req.CurConfigID, f.Index())
	}
	var joining []config.Server
	var leaving []int64
	parseServers := func(list string) ([]config.Server, error) {
		var out []config.Server
		for _, line := range splitList(list) {
			sv, err := config.ParseServerLine(line)
			if err != nil {
				return nil, reconfigFail(zkproto.ErrBadArguments, "%v", err)
			}
			out = append(out, sv)
		}
		return out, nil
	}
	if req.NewMembers != "" {
		// Non-incremental: the new list replaces the old one.
		members, err := parseServers(req.NewMembers)
		if err != nil {
			return 0, err
		}
		keep := map[int64]bool{}
		for _, m := range members {
			keep[m.ID] = true
			joining = append(joining, m)
		}
		for _, sv := range current.Servers {
			id, _ := strconv.ParseInt(string(sv.ID), 10, 64)
			if !keep[id] {
				leaving = append(leaving, id)
			}
		}
	} else {
		var err error
		if joining, err = parseServers(req.JoiningServers); err != nil {
			return 0, err
		}
		for _, l := range splitList(req.LeavingServers) {
			id, err := strconv.ParseInt(strings.TrimPrefix(l, "server."), 10, 64)
			if err != nil {
				return 0, reconfigFail(zkproto.ErrBadArguments, "leaving server %q is not a server id", l)
			}
			leaving = append(leaving, id)
		}
	}
	if len(joining) == 0 && len(leaving) == 0 {
		return 0, reconfigFail(zkproto.ErrBadArguments, "reconfig names no change")
	}
	for _, id := range leaving {
		if id == s.cfg.ServerID {
			// Raft lets a leader remove itself; it steps down after committing.
			s.log.Info("reconfig removes the leader itself")
		}
		if err := s.raft.RemoveServer(raftID(id), 0, 0).Error(); err != nil {
			return 0, reconfigFail(zkproto.ErrNewConfigNoQuorum, "remove server %d: %v", id, err)
		}
		// A removed member may come back with a new data directory.
		if err := s.forgetIncarnation(id); err != nil {
			return 0, reconfigFail(zkproto.ErrNewConfigNoQuorum, "forget server %d's incarnation: %v", id, err)
		}
		s.log.Info("reconfig: server removed", "server_id", id)
	}
	for _, sv := range joining {
		p := Peer{ID: sv.ID, PeerAddr: sv.PeerAddr(), ClientAddr: sv.ClientAddr, ElectionPort: sv.ElectionPort, Observer: sv.Observer}
		s.learnPeer(p)
		add := s.raft.AddVoter
		if sv.Observer {
			add = s.raft.AddNonvoter
		}
		if err := add(raftID(sv.ID), raft.ServerAddress(p.PeerAddr), 0, 0).Error(); err != nil {
			return 0, reconfigFail(zkproto.ErrNewConfigNoQuorum, "add server %d: %v", sv.ID, err)
		}
		s.log.Info("reconfig: server added", "server_id", sv.ID, "peer_addr", p.PeerAddr, "observer", sv.Observer)
	}
	if s.raft.State() == raft.Leader {
		s.publishConfig()
	}
	return s.raft.AppliedIndex(), nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// learnPeer remembers a member added at run time, for /zookeeper/config.
func (s *Server) learnPeer(p Peer) {
	s.peersMu.Lock()
	s.dynPeers[p.ID] = p
	s.peersMu.Unlock()
}

// peerInfo finds what is known of a member: the static config, members added at run
// time here, or the replicated /zookeeper/config (so any leader can republish it).
func (s *Server) peerInfo(id int64) Peer {
	if p, ok := s.cfg.peer(id); ok {
		return p
	}
	s.peersMu.Lock()
	p, ok := s.dynPeers[id]
	s.peersMu.Unlock()
	if ok {
		return p
	}
	var data []byte
	s.fsm.read(func(t *datatree.Tree) { data, _, _ = t.GetData(configPath, superAuth) })
	for _, line := range strings.Split(string(data), "\n") {
		if sv, err := config.ParseServerLine(line); err == nil && sv.ID == id {
			return Peer{ID: id, PeerAddr: sv.PeerAddr(), ClientAddr: sv.ClientAddr, ElectionPort: sv.ElectionPort, Observer: sv.Observer}
		}
	}
	return Peer{ID: id}
}

// execReconfig answers a client's reconfig: on the leader directly, elsewhere
// through the leader; the reply is /zookeeper/config as it stands after the change.
func (c *conn) execReconfig(hdr zkproto.RequestHeader, req *zkproto.ReconfigRequest) []byte {
	s := c.srv
	var err error
	var index uint64
	if s.raft.State() == raft.Leader {
		index, err = s.reconfigure(req)
	} else {
		var ch <-chan fwdReply
		if ch, err = s.forwarder.send(fwdReconfig, zkproto.Marshal(req)); err == nil {
			rep := <-ch
			index, err = rep.index, rep.err
		}
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		err = s.waitApplied(ctx, index)
		cancel()
	}
	if err != nil {
		c.log.Info("reconfig failed", "err", err)
		code := zkproto.ErrNewConfigNoQuorum
		errors.As(err, &code) // the leader's code, when it answered with one
		return c.header(hdr.Xid, code)
	}
	var (
		data []byte
		stat zkproto.Stat
		zxid zkproto.Zxid
	)
	s.fsm.read(func(t *datatree.Tree) {
		data, stat, _ = t.GetData(configPath, superAuth)
		zxid = t.LastZxid()
	})
	return c.reply(hdr.Xid, zxid, zkproto.ErrOK, &zkproto.GetDataResponse{Data: data, Stat: stat})
}

// waitApplied waits until this node has applied the Raft log up to index.
func (s *Server) waitApplied(ctx context.Context, index uint64) error {
	for s.raft.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// prepareReconfig checks that reconfig is enabled and allowed, as ZooKeeper does
// (super, or WRITE on /zookeeper/config), and queues it in the pipeline.
func (c *conn) prepareReconfig(r *request, req *zkproto.ReconfigRequest) *request {
	s := c.srv
	code := zkproto.ErrOK
	switch {
	case !s.cfg.ReconfigEnabled:
		code = zkproto.ErrReconfigDisabled
	case s.standalone():
		// ZooKeeper refuses reconfig in standalone mode.
		code = zkproto.ErrUnimplemented
	default:
		auth := c.identities()
		s.fsm.read(func(t *datatree.Tree) {
			acl, _ := t.NodeACL(configPath)
			if !datatree.CheckPerm(acl, zkproto.PermWrite, auth) {
				code = zkproto.ErrNoAuth
			}
		})
	}
	if code != zkproto.ErrOK {
		r.exec = func() []byte { return c.header(r.hdr.Xid, code) }
		return r
	}
	r.exec = func() []byte { return c.execReconfig(r.hdr, req) }
	r.serial = true
	return r
}
