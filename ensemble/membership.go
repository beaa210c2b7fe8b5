package ensemble

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// configPath is where ZooKeeper publishes the ensemble's membership; Curator's
// EnsembleTracker reads it, so its client addresses must be reachable ones.
const configPath = "/zookeeper/config"

// superAuth lets the server itself write what clients may not (/zookeeper/config).
var superAuth = []zkproto.Id{{Scheme: "super"}}

// membershipState is this member's side of reconfig.
type membershipState struct {
	reconfigMu    sync.Mutex    // one reconfig at a time on the leader
	reconfiguring atomic.Int32  // reconfigs being answered here
	removed       atomic.Bool   // out of the configuration: serving no client
	removedAt     atomic.Uint64 // an index past this member's removal, which a reconfig through it made
	configIndex   atomic.Uint64 // of the latest committed configuration entry (configFSM)
	recording     atomic.Bool   // recordIncarnation runs for a member added back
}

// configFSM is the FSM as Raft sees it: it also notes the index of every committed
// configuration entry, the version /zookeeper/config shows and a conditional
// reconfig names. (Raft's GetConfiguration does not say it: its Index is always 0.)
type configFSM struct {
	*fsm
	s *Server
}

// StoreConfiguration implements raft.ConfigurationStore. A configuration without a
// member closes that member's Raft connections (dropRemovedPeers).
func (c configFSM) StoreConfiguration(index uint64, _ raft.Configuration) {
	c.s.noteConfigIndex(index)
	if c.s.peerGate != nil && c.s.ctx.Err() == nil {
		c.s.peerGate.forget()
		c.s.goAttach(c.s.dropRemovedPeers)
	}
}

// Restore also takes the configuration index of the snapshot restored: the entries
// before it are not applied again.
func (c configFSM) Restore(rc io.ReadCloser) error {
	if t, ok := c.s.stores.Preloaded().(*datatree.Tree); ok {
		rc.Close() // the snapshot raft opened, restored while the log was checked
		c.fsm.install(t)
	} else if err := c.fsm.Restore(rc); err != nil {
		return err
	}
	if metas, err := c.s.stores.Snapshot.List(); err == nil && len(metas) > 0 {
		c.s.noteConfigIndex(metas[0].ConfigurationIndex)
		c.fsm.index.Store(metas[0].Index)
	}
	return nil
}

func (s *Server) noteConfigIndex(index uint64) {
	for {
		cur := s.members.configIndex.Load()
		if index <= cur || s.members.configIndex.CompareAndSwap(cur, index) {
			return
		}
	}
}

// configVersion is the configuration's version: the Raft index of its entry.
func (s *Server) configVersion() uint64 { return s.members.configIndex.Load() }

// inConfiguration reports whether this member is in the ensemble's configuration as
// its Raft log has it (the latest entry, committed or not).
func (s *Server) inConfiguration() bool {
	if at := s.members.removedAt.Load(); at != 0 {
		// A reconfig through this member removed it: until it has applied the log
		// past that (it was added back), what its own log says is out of date.
		if s.fsm.index.Load() < at {
			return false
		}
		s.members.removedAt.CompareAndSwap(at, 0)
	}
	f := s.raft.GetConfiguration()
	return f.Error() != nil || inConfig(f.Configuration(), s.cfg.ServerID)
}

// followMembership notices when a reconfig removes this member, and when one adds it
// back. A member outside the configuration serves no client, as a ZooKeeper server
// outside it serves none: its clients move on to the members (it is not told of
// later changes, and without a leader it could not make their writes). Called from
// runLeadership only.
func (s *Server) followMembership() {
	in := s.inConfiguration()
	if in {
		if s.members.removed.Swap(false) {
			s.log.Info("this member is in the ensemble's configuration again: serving clients")
		}
		// Its removal forgot its incarnation: record it again once it is back.
		var have string
		s.fsm.read(func(t *datatree.Tree) { have = t.Incarnation(s.cfg.ServerID) })
		if have == "" && s.members.recording.CompareAndSwap(false, true) {
			s.goAttach(func() {
				defer s.members.recording.Store(false)
				s.recordIncarnation()
			})
		}
		return
	}
	if s.members.removed.Load() {
		return
	}
	if s.members.reconfiguring.Load() > 0 {
		return // the reconfig that removed it is answered first
	}
	s.members.removed.Store(true)
	s.log.Warn("a reconfig removed this member from the ensemble: its clients move to the members; add it back with reconfig, or stop it")
	s.closeConns(func(c *conn) bool { return !c.roSession })
}

// followerHealth tracks which followers the leader cannot reach, from Raft's
// heartbeat observations, for mntr's synced-follower counts.
type followerHealth struct {
	mu      sync.Mutex
	failing map[raft.ServerID]bool
}

func (h *followerHealth) observe(o *raft.Observation) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		h.failing[d.PeerID] = true
	case raft.ResumedHeartbeatObservation:
		delete(h.failing, d.PeerID)
	}
	return false // nothing is queued: the filter only records
}

// reset forgets every failure: a new term has new heartbeat goroutines.
func (h *followerHealth) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.failing)
}

func (h *followerHealth) isFailing(id raft.ServerID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing[id]
}

// configText renders a Raft configuration as ZooKeeper's dynamic config file.
func (s *Server) configText(c raft.Configuration, index uint64) []byte {
	servers := slices.Clone(c.Servers)
	slices.SortFunc(servers, func(a, b raft.Server) int {
		x, _ := strconv.ParseInt(string(a.ID), 10, 64)
		y, _ := strconv.ParseInt(string(b.ID), 10, 64)
		return int(x - y)
	})
	var b strings.Builder
	for _, sv := range servers {
		id, _ := strconv.ParseInt(string(sv.ID), 10, 64)
		p := s.peerInfo(id)
		host, port, _ := net.SplitHostPort(string(sv.Address))
		role := "participant"
		if sv.Suffrage != raft.Voter {
			role = "observer"
		}
		election := p.ElectionPort
		if election == 0 {
			election, _ = strconv.Atoi(port)
		}
		fmt.Fprintf(&b, "server.%d=%s:%s:%d:%s", id, host, port, election, role)
		if client := reachable(p.ClientAddr, host); client != "" {
			b.WriteString(";" + client)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "version=%x", index)
	return []byte(b.String())
}

// reachable replaces a wildcard client host with the member's peer host: a
// "0.0.0.0:2181" in /zookeeper/config has crashed Druid coordinators.
func reachable(clientAddr, peerHost string) string {
	if clientAddr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(clientAddr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = peerHost
	}
	return net.JoinHostPort(host, port)
}

// publishConfig brings /zookeeper/config in line with the Raft configuration.
// Only the leader calls it.
func (s *Server) publishConfig() error {
	if s.standalone() {
		return nil
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read raft configuration: %w", err)
	}
	text := s.configText(f.Configuration(), s.configVersion())
	var cur []byte
	s.fsm.read(func(t *datatree.Tree) { cur, _, _ = t.GetData(configPath, superAuth) })
	if string(cur) == string(text) {
		return nil
	}
	txn := &datatree.Txn{Kind: datatree.TxnRequest, Time: time.Now().UnixMilli(), Op: zkproto.OpSetData,
		Request: &zkproto.SetDataRequest{Path: configPath, Data: text, Version: -1}, Auth: superAuth}
	res, err := s.propose(s.ctx, txn)
	if err == nil && res.Err != zkproto.ErrOK {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", configPath, err)
	}
	return nil
}

// quorumStats fills mntr's ensemble fields.
func (s *Server) quorumStats() (peerState string, quorumSize, learners, synced, syncedObservers int64) {
	if s.standalone() {
		return "", 0, 0, 0, 0
	}
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return "", 0, 0, 0, 0
	}
	self := raftID(s.cfg.ServerID)
	for _, sv := range f.Configuration().Servers {
		if sv.Suffrage == raft.Voter {
			quorumSize++
		}
		if sv.ID == self {
			continue
		}
		learners++
		if !s.health.isFailing(sv.ID) {
			if sv.Suffrage == raft.Voter {
				synced++
			} else {
				syncedObservers++
			}
		}
	}
	switch s.mode() {
	case "leader":
		peerState = "leading - broadcast"
	case "observer":
		peerState = "observing - broadcast"
	default:
		peerState = "following - broadcast"
	}
	return peerState, quorumSize, learners, synced, syncedObservers
}

// handOverLeadership moves leadership away before a clean shutdown, so the ensemble
// does not wait out an election timeout.
func (s *Server) handOverLeadership() {
	if s.raft == nil || s.standalone() || s.raft.State() != raft.Leader {
		return
	}
	if s.stores.Err() != nil {
		return // writing stopped: Raft's loop may be gone and could never answer
	}
	if err := s.raft.LeadershipTransfer().Error(); err != nil {
		s.log.Warn("leadership transfer before shutdown failed; the ensemble will elect after a timeout", "err", err)
		return
	}
	s.log.Info("leadership transferred before shutdown")
}

// followQuorum acts on a member that has known no leader for max(2 s, tickTime), as
// ZooKeeper's QuorumPeer waits: it closes its read-write clients, as a ZooKeeper
// follower that lost its leader does, so that they move to a member that has one
// before their sessions expire there (this member cannot renew them), and it serves
// read-only sessions (when enabled). Once a leader is back, the read-only sessions
// are closed so that their clients reconnect read-write. Called from runLeadership
// only.
func (s *Server) followQuorum() {
	addr, _ := s.raft.LeaderWithID()
	now := time.Now()
	switch {
	case addr != "":
		s.noLeader, s.leaderlessClosed = time.Time{}, false
		if s.readOnly.Swap(false) {
			s.log.Info("quorum regained: leaving read-only mode")
			s.closeConns(func(c *conn) bool { return c.roSession })
		}
	case s.noLeader.IsZero():
		s.noLeader = now
	case !s.leaderlessClosed && now.Sub(s.noLeader) > max(2*time.Second, s.cfg.TickTime):
		s.leaderlessClosed = true
		s.log.Warn("no leader: closing client connections so that they move to a member that has one")
		s.closeConns(func(c *conn) bool { return !c.roSession })
		if s.cfg.ReadOnlyModeEnabled && !s.readOnly.Load() {
			s.log.Warn("no quorum: serving read-only sessions")
			s.readOnly.Store(true)
			s.markReady()
		}
	}
}

// closeConns closes the client connections that match.
func (s *Server) closeConns(match func(*conn) bool) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.conns {
		if match(c) {
			c.close()
		}
	}
}

// loadIncarnation reads this member's incarnation from its data directory, drawing
// one when the directory is new. In-memory members draw one per run.
func loadIncarnation(dataDir string) (string, error) {
	fresh := fmt.Sprintf("%016x", randomUint64())
	if dataDir == "" {
		return fresh, nil
	}
	p := filepath.Join(dataDir, "zkraft-member")
	b, err := os.ReadFile(p)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read member incarnation %s: %w", p, err)
	}
	if err := os.WriteFile(p, []byte(fresh+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("write member incarnation %s: %w", p, err)
	}
	return fresh, nil
}

// recordIncarnation records this member's incarnation in the replicated state once
// it has joined (a txn like any write, so it goes through the leader from anywhere).
// Called when the member becomes ready.
func (s *Server) recordIncarnation() {
	if s.standalone() {
		return
	}
	for attempt := 0; attempt < 50 && s.ctx.Err() == nil; attempt++ {
		var have string
		s.fsm.read(func(t *datatree.Tree) { have = t.Incarnation(s.cfg.ServerID) })
		if have == s.incarnation {
			return
		}
		txn := &datatree.Txn{Kind: datatree.TxnMemberIncarnation, Time: time.Now().UnixMilli(), Server: s.cfg.ServerID, Incarnation: s.incarnation}
		res, err := s.propose(s.ctx, txn)
		if err == nil && res.Err != zkproto.ErrOK {
			s.log.Error("the ensemble records another incarnation for this member", "server_id", s.cfg.ServerID, "recorded", have, "err", res.Err)
			return
		}
		if err == nil {
			continue // confirm on the next round
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// forgetIncarnation drops a removed member's incarnation, so that it can be added
// back with a new data directory. Leader only.
func (s *Server) forgetIncarnation(id int64) error {
	txn := &datatree.Txn{Kind: datatree.TxnMemberIncarnation, Time: time.Now().UnixMilli(), Server: id}
	_, err := s.propose(s.ctx, txn)
	return err
}

// Member is one member of the ensemble as the Raft configuration records it.
type Member struct {
	ID          int64
	PeerAddr    string
	Voter       bool   // participant; false for an observer
	Incarnation string // of its data directory; "" until it has joined
}

// Members lists the ensemble's members as this node's Raft configuration has them.
func (s *Server) Members() ([]Member, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []Member
	s.fsm.read(func(t *datatree.Tree) {
		for _, sv := range f.Configuration().Servers {
			id, _ := strconv.ParseInt(string(sv.ID), 10, 64)
			out = append(out, Member{ID: id, PeerAddr: string(sv.Address), Voter: sv.Suffrage == raft.Voter, Incarnation: t.Incarnation(id)})
		}
	})
	slices.SortFunc(out, func(a, b Member) int { return int(a.ID - b.ID) })
	return out, nil
}

// TransferLeadership asks the leader (this node) to hand leadership to member id, or
// to the most up-to-date member when id is 0, and waits for the handover.
func (s *Server) TransferLeadership(id int64) error {
	if s.standalone() {
		return errors.New("ensemble: a standalone server has no one to hand leadership to")
	}
	if s.raft.State() != raft.Leader {
		return fmt.Errorf("ensemble: member %d is not the leader; ask the leader", s.cfg.ServerID)
	}
	if id == 0 {
		return s.raft.LeadershipTransfer().Error()
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	for _, sv := range f.Configuration().Servers {
		if sv.ID == raftID(id) {
			return s.raft.LeadershipTransferToServer(sv.ID, sv.Address).Error()
		}
	}
	return fmt.Errorf("ensemble: member %d is not in the ensemble", id)
}
