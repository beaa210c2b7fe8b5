package ensemble

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/config"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// reconfigTimeout bounds a reconfig from the client's request to its answer,
// leadership handovers included.
const reconfigTimeout = 15 * time.Second

// errLeaderMoved ends an attempt at a reconfig that changed nothing (or whose change a
// second attempt reproduces exactly) because leadership moved: the reconfig goes to
// the new leader (errors.Is(err, errNoLeader) holds, here and where it is forwarded).
var errLeaderMoved = &leaderError{kind: kindNoLeader, msg: "ensemble: leadership moved during the reconfig; the next leader makes it"}

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

// reconfigPlan is a validated reconfig: the servers to add (or change) and remove.
type reconfigPlan struct {
	joining []config.Server
	leaving []int64
	voters  map[int64]bool     // the configuration after the change: id → participant
	next    raft.Configuration // the configuration after the change
}

func (p *reconfigPlan) removes(id int64) bool {
	for _, l := range p.leaving {
		if l == id {
			return true
		}
	}
	return false
}

// planReconfig validates req against the configuration cur (version curVersion) in
// ZooKeeper's order (PrepRequestProcessor): BADVERSION for a stale fromConfig,
// BADARGUMENTS for malformed servers or fewer than two voters left, NEWCONFIGNOQUORUM
// when the new voters hold no quorum of members in touch with the leader. The
// caller's permission is checked after all of these, as ZooKeeper does.
func (s *Server) planReconfig(req *zkproto.ReconfigRequest, cur raft.Configuration, curVersion uint64) (*reconfigPlan, error) {
	if req.CurConfigID != -1 && uint64(req.CurConfigID) != curVersion {
		return nil, reconfigFail(zkproto.ErrBadVersion, "config version %x is not the current %x", req.CurConfigID, curVersion)
	}
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
	next := map[int64]raft.Server{} // the configuration after the change
	p := &reconfigPlan{voters: map[int64]bool{}}
	for _, sv := range cur.Servers {
		id, _ := strconv.ParseInt(string(sv.ID), 10, 64)
		next[id] = sv
	}
	if req.NewMembers != "" {
		// Non-incremental: the new list replaces the old one.
		members, err := parseServers(req.NewMembers)
		if err != nil {
			return nil, err
		}
		keep := map[int64]bool{}
		for _, m := range members {
			keep[m.ID] = true
		}
		for id := range next {
			if !keep[id] {
				p.leaving = append(p.leaving, id)
			}
		}
		slices.Sort(p.leaving)
		p.joining = members
		clear(next)
	} else {
		var err error
		if p.joining, err = parseServers(req.JoiningServers); err != nil {
			return nil, err
		}
		for _, sv := range p.joining {
			if sv.ClientAddr == "" {
				return nil, reconfigFail(zkproto.ErrBadArguments, "server.%d has no client address: a joining server is server.N=host:peerPort:electionPort[:role];[clientHost:]clientPort", sv.ID)
			}
			for _, other := range cur.Servers {
				if other.ID != raftID(sv.ID) && string(other.Address) == sv.PeerAddr() {
					return nil, reconfigFail(zkproto.ErrBadArguments, "server.%d would share peer address %s with server %s", sv.ID, other.Address, other.ID)
				}
			}
		}
		for _, l := range splitList(req.LeavingServers) {
			id, err := strconv.ParseInt(l, 10, 64)
			if err != nil {
				// ZooKeeper 3.8 fails on it with a runtime exception: MARSHALLINGERROR.
				return nil, reconfigFail(zkproto.ErrMarshallingError, "leaving server %q is not a server id", l)
			}
			p.leaving = append(p.leaving, id)
		}
		for _, id := range p.leaving {
			delete(next, id)
		}
	}
	if len(p.joining) == 0 && len(p.leaving) == 0 {
		return nil, reconfigFail(zkproto.ErrBadArguments, "reconfig names no change")
	}
	for _, sv := range p.joining {
		next[sv.ID] = raft.Server{ID: raftID(sv.ID), Address: raft.ServerAddress(sv.PeerAddr()), Suffrage: suffrage(sv.Observer)}
	}
	var n, synced int
	for id, sv := range next {
		p.next.Servers = append(p.next.Servers, sv)
		p.voters[id] = sv.Suffrage == raft.Voter
		if sv.Suffrage != raft.Voter {
			continue
		}
		n++
		if s.inTouch(cur, id) {
			synced++
		}
	}
	if n < 2 {
		return nil, reconfigFail(zkproto.ErrBadArguments, "reconfig failed: the new configuration must include at least 2 participants")
	}
	if synced <= n/2 {
		return nil, reconfigFail(zkproto.ErrNewConfigNoQuorum, "reconfig failed: only %d of the new configuration's %d participants are members in touch with the leader; a quorum must be", synced, n)
	}
	return p, nil
}

// inTouch reports whether member id is in configuration cur and answering the leader
// (this node, when it leads): a member a new configuration can count on.
func (s *Server) inTouch(cur raft.Configuration, id int64) bool {
	if id == s.cfg.ServerID {
		return true
	}
	for _, sv := range cur.Servers {
		if sv.ID == raftID(id) {
			return !s.health.isFailing(sv.ID)
		}
	}
	return false
}

// reconfigAtLeader has the leader make a reconfig, wherever it is: here, or through
// the forwarder. It rides out leader changes: an election, and the handover that a
// reconfig removing the leader starts (Raft lets a leader remove itself, but it then
// steps down before the change is complete and answered, so the leader hands over
// first and the next leader makes the whole change).
func (s *Server) reconfigAtLeader(ctx context.Context, req *zkproto.ReconfigRequest) (uint64, error) {
	return s.atLeader(ctx, fwdReconfig, req, func() (uint64, error) { return s.reconfigure(req) })
}

// checkReconfigAtLeader validates a reconfig at the leader without making it.
func (s *Server) checkReconfigAtLeader(ctx context.Context, req *zkproto.ReconfigRequest) error {
	_, err := s.atLeader(ctx, fwdReconfigCheck, req, func() (uint64, error) { return 0, s.checkReconfig(req) })
	return err
}

// checkReconfig validates a reconfig on the leader without making it.
func (s *Server) checkReconfig(req *zkproto.ReconfigRequest) error {
	if !s.leader.Load() {
		return errNoLeader
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	_, err := s.planReconfig(req, f.Configuration(), s.configVersion())
	return err
}

// reconfigForwarded makes (or checks) a reconfig that a follower forwarded here. A
// member that does not lead refuses it, and the follower asks the next leader; a
// leader sees it through, at the next leader when leadership moves during the change
// (the handover of a reconfig that removes the leader): the follower's answer is then
// the change's outcome.
func (s *Server) reconfigForwarded(ctx context.Context, kind byte, req *zkproto.ReconfigRequest) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, errNoLeader
	}
	if kind == fwdReconfigCheck {
		return 0, s.checkReconfig(req)
	}
	// A leader that the reconfig removes hands over and answers errLeaderMoved: the
	// follower sends it again, to the next leader.
	return s.reconfigure(req)
}

func (s *Server) atLeader(ctx context.Context, kind byte, req *zkproto.ReconfigRequest, here func() (uint64, error)) (uint64, error) {
	body := zkproto.Marshal(req)
	var index uint64
	err := s.rideOutLeaderChange(ctx, func() error {
		if err := ctx.Err(); err != nil {
			return err // its client went away: not made by a leader elected since
		}
		var err error
		switch _, id := s.raft.LeaderWithID(); {
		case s.raft.State() == raft.Leader:
			index, err = here()
			return err
		case id == raftID(s.cfg.ServerID):
			return errNoLeader // stepping down: a moment until the next leader is known
		}
		ch, err := s.forwarder.send(ctx, kind, body)
		if err != nil {
			return err
		}
		select {
		case rep := <-ch:
			index, err = rep.index, rep.err
		case <-ctx.Done():
			return ctx.Err()
		}
		if errors.Is(err, errOutcomeUnknown) && kind == fwdReconfig && req.CurConfigID != -1 {
			// Another attempt would find the version changed if this one was made
			// (a handover, which changes nothing, also lands here when this member
			// learns of the new leader before the old one's answer): learn which.
			return s.reconfigOutcome(ctx, req, err)
		}
		return err
	})
	return index, err
}

// reconfigOutcome settles a conditional reconfig whose leader went away with it: from
// the configuration once this member has caught up with the next leader, it was
// not made (the version is still the one named: send it again), made (the
// configuration is what it asked for), or overtaken by another change.
func (s *Server) reconfigOutcome(ctx context.Context, req *zkproto.ReconfigRequest, cause error) error {
	if err := s.sync(ctx); err != nil {
		return reconfigFail(zkproto.ErrNewConfigNoQuorum, "the leader went away during the reconfig, and no leader since tells whether it was made: %v", cause)
	}
	if s.configVersion() == uint64(req.CurConfigID) {
		return errLeaderMoved // not made: again
	}
	f := s.raft.GetConfiguration()
	if p, err := s.planReconfig(&zkproto.ReconfigRequest{NewMembers: req.NewMembers, JoiningServers: req.JoiningServers, LeavingServers: req.LeavingServers, CurConfigID: -1}, f.Configuration(), 0); err == nil && sameServers(p.next, f.Configuration()) {
		return nil // made: asking for it again would change nothing
	}
	return reconfigFail(zkproto.ErrBadVersion, "the configuration changed during the reconfig (the leader went away with it: %v)", cause)
}

func sameServers(a, b raft.Configuration) bool {
	if len(a.Servers) != len(b.Servers) {
		return false
	}
	for _, sv := range a.Servers {
		if !hasServer(b, sv) {
			return false
		}
	}
	return true
}

// reconfigure makes a reconfig on the leader, one server at a time (Raft's AddVoter,
// AddNonvoter, RemoveServer), then republishes /zookeeper/config. It returns an index
// that covers the change.
func (s *Server) reconfigure(req *zkproto.ReconfigRequest) (uint64, error) {
	// One at a time; a second waits and is planned against the configuration the
	// first made (a stale fromConfig then gets BADVERSION). The follower whose
	// forwarded reconfig was cut short by a handover sends it again while the old
	// leader's own forward of it may still run: it must wait, not fail.
	s.members.reconfigMu.Lock()
	defer s.members.reconfigMu.Unlock()
	if s.raft.State() != raft.Leader || !s.leader.Load() {
		// Not the leader, or not yet caught up as one (the configuration version
		// comes from the entries it applied).
		return 0, errNoLeader
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, err
	}
	cur := f.Configuration()
	p, err := s.planReconfig(req, cur, s.configVersion())
	if err != nil {
		return 0, err
	}
	if p.removes(s.cfg.ServerID) {
		if err := s.handOverFor(p, cur); err != nil {
			// Nothing changed; the plan found participants in touch, so the handover
			// is tried again (here, or by the next leader) while the client waits.
			return 0, &leaderError{kind: kindNoLeader, msg: fmt.Sprintf("reconfig removes the leader, and %v", err), cause: err}
		}
		s.log.Info("reconfig removes the leader: leadership handed over; the new leader makes the change")
		return 0, errLeaderMoved
	}
	changed := false
	stepFailed := func(step string, err error) error {
		if errors.Is(leaderErr(err), errNoLeader) && (!changed || req.CurConfigID == -1) {
			return &leaderError{kind: kindNoLeader, msg: fmt.Sprintf("%s: %v; the next leader makes the reconfig", step, err), cause: err}
		}
		return reconfigFail(zkproto.ErrNewConfigNoQuorum, "%s: %v", step, err)
	}
	for _, id := range p.leaving {
		if inConfig(cur, id) {
			f := s.raft.RemoveServer(raftID(id), 0, 0)
			if err := f.Error(); err != nil {
				return 0, stepFailed(fmt.Sprintf("remove server %d", id), err)
			}
			changed = true
			s.noteConfigIndex(f.Index()) // committed; the FSM may note it a moment later
			s.log.Info("reconfig: server removed", "server_id", id)
		}
		// A removed member may come back with a new data directory.
		if err := s.forgetIncarnation(id); err != nil {
			return 0, stepFailed(fmt.Sprintf("forget server %d's incarnation", id), err)
		}
	}
	for _, sv := range p.joining {
		p := Peer{ID: sv.ID, PeerAddr: sv.PeerAddr(), ClientAddr: sv.ClientAddr, ElectionPort: sv.ElectionPort, Observer: sv.Observer}
		s.learnPeer(p)
		if hasServer(cur, raft.Server{ID: raftID(sv.ID), Address: raft.ServerAddress(p.PeerAddr), Suffrage: suffrage(sv.Observer)}) {
			continue // already so: a non-incremental reconfig lists the members that stay
		}
		add := s.raft.AddVoter
		if sv.Observer {
			add = s.raft.AddNonvoter
		}
		f := add(raftID(sv.ID), raft.ServerAddress(p.PeerAddr), 0, 0)
		if err := f.Error(); err != nil {
			return 0, stepFailed(fmt.Sprintf("add server %d", sv.ID), err)
		}
		changed = true
		s.noteConfigIndex(f.Index())
		s.log.Info("reconfig: server added", "server_id", sv.ID, "peer_addr", p.PeerAddr, "observer", sv.Observer)
	}
	if err := s.publishConfig(); err != nil {
		return 0, stepFailed("publish the new configuration", err)
	}
	return s.fsm.index.Load(), nil
}

// handOverFor hands leadership to a participant that the reconfig keeps and that is in
// touch with this leader.
func (s *Server) handOverFor(p *reconfigPlan, cur raft.Configuration) error {
	err := errors.New("no participant of the new configuration is in touch with the leader")
	for _, sv := range cur.Servers {
		id, _ := strconv.ParseInt(string(sv.ID), 10, 64)
		if id == s.cfg.ServerID || sv.Suffrage != raft.Voter || !p.voters[id] || s.health.isFailing(sv.ID) {
			continue
		}
		if err = s.raft.LeadershipTransferToServer(sv.ID, sv.Address).Error(); err == nil {
			return nil
		}
		err = fmt.Errorf("leadership transfer to server %d: %w", id, err)
	}
	return err
}

func inConfig(c raft.Configuration, id int64) bool {
	for _, sv := range c.Servers {
		if sv.ID == raftID(id) {
			return true
		}
	}
	return false
}

func hasServer(c raft.Configuration, want raft.Server) bool {
	for _, sv := range c.Servers {
		if sv == want {
			return true
		}
	}
	return false
}

func suffrage(observer bool) raft.ServerSuffrage {
	if observer {
		return raft.Nonvoter
	}
	return raft.Voter
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

// execReconfig answers a client's reconfig. allowed says whether the caller may
// reconfig; ZooKeeper checks that last, so a caller without permission still learns
// of a malformed or stale request. The reply is /zookeeper/config as it stands after
// the change; removed reports that the change took this member out of the ensemble.
func (c *conn) execReconfig(hdr zkproto.RequestHeader, req *zkproto.ReconfigRequest, allowed bool) (reply []byte, removed bool) {
	s := c.srv
	// The connection's context: once the connection is closed (by this member
	// without a leader, or by the server), the client has given up on the change and
	// may make another (add back the member this removes), so the change is not sent
	// to a leader again; it rides out leader changes while the connection stands. (A
	// client's own close is seen only after the answer: the reader waits for a serial
	// request.)
	ctx, cancel := context.WithTimeout(c.ctx, reconfigTimeout)
	defer cancel()
	// What the change will be, as this member sees it now: the answer of a member
	// that the change removes (it will apply nothing after its removal, and may not
	// even receive the entry that removes it).
	f := s.raft.GetConfiguration()
	plan, _ := s.planReconfig(req, f.Configuration(), s.configVersion())
	removed = plan != nil && plan.removes(s.cfg.ServerID)
	var index uint64
	var err error
	switch {
	case !allowed:
		if err = s.checkReconfigAtLeader(ctx, req); err == nil {
			err = reconfigFail(zkproto.ErrNoAuth, "reconfig needs WRITE permission on %s (or super)", configPath)
		}
	default:
		if index, err = s.reconfigAtLeader(ctx, req); err == nil && !removed {
			err = s.waitApplied(ctx, index)
		}
	}
	if err != nil {
		removed = false
		c.log.Info("reconfig failed", "err", err)
		code := zkproto.ErrNewConfigNoQuorum
		errors.As(err, &code) // the leader's code, when it answered with one
		return c.header(hdr.Xid, code), false
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
	if removed {
		// The leader replicates nothing more to this member: it answers with the
		// configuration the change made, lets its clients go, and serves none until
		// a reconfig adds it back and it has caught up past its removal.
		s.members.removedAt.Store(index)
		for _, sv := range plan.joining {
			s.learnPeer(Peer{ID: sv.ID, PeerAddr: sv.PeerAddr(), ClientAddr: sv.ClientAddr, ElectionPort: sv.ElectionPort, Observer: sv.Observer})
		}
		data = s.configText(plan.next, s.configVersion())
	}
	return c.reply(hdr.Xid, zxid, zkproto.ErrOK, &zkproto.GetDataResponse{Data: data, Stat: stat}), removed
}

// waitApplied waits until this node's tree has applied the Raft log up to index
// (an index of a command entry, as leaderSync and reconfigure return).
func (s *Server) waitApplied(ctx context.Context, index uint64) error {
	for s.fsm.index.Load() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// prepareReconfig checks that reconfig is enabled and possible, as ZooKeeper does
// first, and queues it in the pipeline; the caller's permission (super, or WRITE on
// /zookeeper/config) is weighed after the request itself.
func (c *conn) prepareReconfig(r *request, req *zkproto.ReconfigRequest) *request {
	s := c.srv
	code := zkproto.ErrOK
	switch {
	case !s.cfg.ReconfigEnabled:
		code = zkproto.ErrReconfigDisabled
	case s.standalone():
		// ZooKeeper refuses reconfig in standalone mode.
		code = zkproto.ErrUnimplemented
	}
	if code != zkproto.ErrOK {
		r.exec = func() []byte { return c.header(r.hdr.Xid, code) }
		return r
	}
	auth := c.identities()
	allowed := true
	s.fsm.read(func(t *datatree.Tree) {
		acl, _ := t.NodeACL(configPath)
		allowed = datatree.CheckPerm(acl, zkproto.PermWrite, auth)
	})
	r.exec = func() []byte {
		s.members.reconfiguring.Add(1)
		reply, removed := c.execReconfig(r.hdr, req, allowed)
		r.after = func() {
			if removed {
				c.flushAndClose() // the answer first; then the client moves on
			}
			s.members.reconfiguring.Add(-1)
		}
		return reply
	}
	r.serial = true
	return r
}
