package raft

// Regression tests for the changes zkraft makes to hashicorp/raft v1.8.0 (see
// ZKRAFT-PATCHES.md). Each sends a follower the RPC a leader may send and checks the
// rule of the Raft paper (Figure 2 / Figure 13) that v1.8.0 does not keep.

import (
	"bytes"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// staleFollower starts a follower whose log holds entries 1..last of term 1 and that
// knows no configuration (it never campaigns), and a transport to play its leader.
func staleFollower(t *testing.T, last uint64) (*Raft, *MockFSM, *InmemStore, *InmemTransport, ServerAddress) {
	return followerOn(t, last, nil)
}

// followerOn is staleFollower with its log store wrapped by wrap (if not nil).
func followerOn(t *testing.T, last uint64, wrap func(*InmemStore, *MockFSM) LogStore) (*Raft, *MockFSM, *InmemStore, *InmemTransport, ServerAddress) {
	t.Helper()
	store := NewInmemStore()
	for i := uint64(1); i <= last; i++ {
		if err := store.StoreLog(&Log{Index: i, Term: 1, Type: LogCommand, Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetUint64(keyCurrentTerm, 1); err != nil {
		t.Fatal(err)
	}
	conf := inmemConfig(t)
	conf.LocalID = "follower"
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = time.Hour, time.Hour, time.Hour
	addr, trans := NewInmemTransport("")
	fsm := &MockFSM{}
	var logs LogStore = store
	if wrap != nil {
		logs = wrap(store, fsm)
	}
	r, err := NewRaft(conf, fsm, logs, store, NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown().Error() })
	laddr, leader := NewInmemTransport("")
	leader.Connect(addr, trans)
	trans.Connect(laddr, leader)
	return r, fsm, store, leader, addr
}

func header(leader *InmemTransport) RPCHeader {
	return RPCHeader{ProtocolVersion: ProtocolVersionMax, ID: []byte("leader"), Addr: leader.EncodePeer("leader", leader.LocalAddr())}
}

func entries(term uint64, from, to uint64) []*Log {
	var out []*Log
	for i := from; i <= to; i++ {
		out = append(out, &Log{Index: i, Term: term, Type: LogCommand, Data: []byte(fmt.Sprint(i))})
	}
	return out
}

// TestZkraftCommitIndexBoundedByVerifiedEntries: a follower may commit only what an
// AppendEntries proved it shares with the leader — up to the last entry the request
// carried (or its PrevLogEntry) — never entries past them that the leader did not
// vouch for: min(leaderCommit, index of last new entry) (Figure 2). v1.8.0 took
// min(leaderCommit, its own last index), so a follower that kept entries of an old
// term beyond a batch capped at MaxAppendEntries applied them as committed.
func TestZkraftCommitIndexBoundedByVerifiedEntries(t *testing.T) {
	r, _, _, leader, addr := staleFollower(t, 20)
	req := &AppendEntriesRequest{RPCHeader: header(leader), Term: 2, PrevLogEntry: 5, PrevLogTerm: 1,
		Entries: entries(1, 6, 8), LeaderCommitIndex: 20}
	var resp AppendEntriesResponse
	if err := leader.AppendEntries("follower", addr, req, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Success {
		t.Fatalf("append refused: %+v", resp)
	}
	if got := r.getCommitIndex(); got != 8 {
		t.Fatalf("commit index %d after an append that verified entries up to 8; want 8", got)
	}
	// An empty append verifies its PrevLogEntry only.
	req = &AppendEntriesRequest{RPCHeader: header(leader), Term: 2, PrevLogEntry: 10, PrevLogTerm: 1, LeaderCommitIndex: 20}
	if err := leader.AppendEntries("follower", addr, req, &resp); err != nil {
		t.Fatal(err)
	}
	if got := r.getCommitIndex(); !resp.Success || got != 10 {
		t.Fatalf("commit index %d (success %v) after an empty append at 10; want 10", got, resp.Success)
	}
}

// TestZkraftInstallSnapshotDiscardsConflictingLog: a follower that installs a
// snapshot whose last entry it holds with another term discards its whole log
// (Figure 13, rule 7), so that the leader's next append, right after the snapshot,
// succeeds. v1.8.0 kept the conflicting entries: every append failed and the leader
// sent the snapshot again, for ever (hashicorp/raft#697).
func TestZkraftInstallSnapshotDiscardsConflictingLog(t *testing.T) {
	r, fsm, store, leader, addr := staleFollower(t, 20)
	installSnapshot(t, leader, addr, 15, 2)

	if last, _ := store.LastIndex(); last != 0 {
		first, _ := store.FirstIndex()
		t.Fatalf("log holds %d..%d after a snapshot that conflicts with it; want it empty", first, last)
	}
	req := &AppendEntriesRequest{RPCHeader: header(leader), Term: 2, PrevLogEntry: 15, PrevLogTerm: 2,
		Entries: entries(2, 16, 17), LeaderCommitIndex: 17}
	var resp AppendEntriesResponse
	if err := leader.AppendEntries("follower", addr, req, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Success {
		t.Fatalf("the append after the snapshot was refused: %+v", resp)
	}
	// The FSM holds the snapshot's one entry, then 16 and 17.
	deadline := time.Now().Add(5 * time.Second)
	for len(fsm.Logs()) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fsm holds %q, want the snapshot's entry, 16 and 17 (applied index %d)", fsm.Logs(), r.AppliedIndex())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := string(fsm.Logs()[2]); got != "17" {
		t.Fatalf("last entry applied %q, want 17", got)
	}
}

// TestZkraftInstallSnapshotKeepsMatchingLog: when the follower holds the snapshot's
// last entry with the same term, the entries after it are kept (Figure 13, rule 6).
func TestZkraftInstallSnapshotKeepsMatchingLog(t *testing.T) {
	_, _, store, leader, addr := staleFollower(t, 20)
	installSnapshot(t, leader, addr, 15, 1)
	if last, _ := store.LastIndex(); last != 20 {
		t.Fatalf("last index %d after a snapshot that agrees with the log; want 20", last)
	}
}

func installSnapshot(t *testing.T, leader *InmemTransport, addr ServerAddress, index, term uint64) {
	t.Helper()
	var data bytes.Buffer
	if err := codec.NewEncoder(&data, &codec.MsgpackHandle{}).Encode([][]byte{[]byte("snapshot")}); err != nil {
		t.Fatal(err)
	}
	conf := Configuration{Servers: []Server{{Suffrage: Voter, ID: "leader", Address: leader.LocalAddr()}}}
	req := &InstallSnapshotRequest{RPCHeader: header(leader), SnapshotVersion: SnapshotVersionMax, Term: 2,
		LastLogIndex: index, LastLogTerm: term, Configuration: EncodeConfiguration(conf), ConfigurationIndex: 1, Size: int64(data.Len())}
	var resp InstallSnapshotResponse
	if err := leader.InstallSnapshot("follower", addr, req, &resp, &data); err != nil {
		t.Fatal(err)
	}
	if !resp.Success {
		t.Fatalf("snapshot refused: %+v", resp)
	}
}

// TestZkraftHeartbeatLeavesLeaderAlone: a heartbeat of a newer term, handled on the
// transport's fast path beside the main loop, changes neither a leader's state nor
// its term, and is answered unsuccessful; v1.8.0 made the leader a follower of the
// newer term there, while its main loop could still append entries — in the newer
// term (hashicorp/raft#695). A follower of the heartbeat's term takes it as before.
func TestZkraftHeartbeatLeavesLeaderAlone(t *testing.T) {
	c := MakeCluster(3, t, nil)
	defer c.Close()
	leader := c.Leader()
	term := leader.getCurrentTerm()
	heartbeat := func(r *Raft, term uint64) *AppendEntriesResponse {
		respCh := make(chan RPCResponse, 1)
		r.processHeartbeat(RPC{
			Command:  &AppendEntriesRequest{RPCHeader: RPCHeader{ProtocolVersion: ProtocolVersionMax, ID: []byte("elsewhere"), Addr: []byte("elsewhere")}, Term: term},
			RespChan: respCh,
		})
		resp := <-respCh
		if resp.Error != nil {
			t.Fatal(resp.Error)
		}
		return resp.Response.(*AppendEntriesResponse)
	}
	resp := heartbeat(leader, term+1)
	if resp.Success || resp.Term != term {
		t.Fatalf("leader answered a newer term's heartbeat %+v; want unsuccessful, term %d", resp, term)
	}
	if st, got := leader.getState(), leader.getCurrentTerm(); st != Leader || got != term {
		t.Fatalf("leader of term %d is %v in term %d after a newer term's heartbeat; want leader, term %d", term, st, got, term)
	}
	if err := leader.Apply([]byte("after"), time.Second).Error(); err != nil {
		t.Fatalf("apply after the heartbeat: %v", err)
	}
	var last Log
	idx := leader.getLastIndex()
	if err := leader.logs.GetLog(idx, &last); err != nil || last.Term != term {
		t.Fatalf("entry %d appended in term %d (err %v); want the leader's term %d", idx, last.Term, err, term)
	}

	follower := c.Followers()[0]
	if resp := heartbeat(follower, term); !resp.Success {
		t.Fatalf("follower refused its leader's term's heartbeat: %+v", resp)
	}
	if resp := heartbeat(follower, term+1); resp.Success || follower.getCurrentTerm() != term {
		t.Fatalf("follower took a newer term's heartbeat on the fast path (%+v, term %d); want it left to the main loop", resp, follower.getCurrentTerm())
	}
}

// gatedStore blocks StoreLogs, once blocked is set, until release is closed: the
// leader loop stays busy with one append.
type gatedStore struct {
	*InmemStore
	blocked atomic.Bool
	release chan struct{}
}

func (g *gatedStore) StoreLogs(logs []*Log) error {
	if g.blocked.Load() {
		<-g.release
	}
	return g.InmemStore.StoreLogs(logs)
}

// TestZkraftQueuedApplyAnsweredAtShutdown: with BatchApplyCh the apply channel is
// buffered, and a future still in it when Raft shuts down was never answered: its
// Error blocked for ever (and so did whoever waited for it, zkraft's Close among
// them). Log futures now end with ErrRaftShutdown like Raft's other futures.
func TestZkraftQueuedApplyAnsweredAtShutdown(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "solo"
	conf.BatchApplyCh = true
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	store := &gatedStore{InmemStore: NewInmemStore(), release: make(chan struct{})}
	r := startNode(t, conf, store)
	awaitLeader(t, r)
	store.blocked.Store(true) // the next append blocks the leader loop
	var futures []Future
	for i := range 10 {
		futures = append(futures, r.Apply([]byte(fmt.Sprint(i)), 0))
	}
	futures = append(futures, r.Barrier(0))
	shut := r.Shutdown()
	time.Sleep(50 * time.Millisecond) // shutdown has begun; now let the blocked append finish
	close(store.release)
	if err := shut.Error(); err != nil {
		t.Fatal(err)
	}
	for i, f := range futures {
		errc := make(chan error, 1)
		go func() { errc <- f.Error() }()
		select {
		case <-errc: // answered: applied, failed or ErrRaftShutdown
		case <-time.After(5 * time.Second):
			t.Fatalf("future %d of %d never answered after shutdown", i+1, len(futures))
		}
	}
}

// TestZkraftSoleVoterElectsItselfAtOnce: a node that is the only voter becomes
// leader without first waiting out a heartbeat timeout (here 10 s; v1.8.0 waits 10–20 s).
func TestZkraftSoleVoterElectsItselfAtOnce(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "solo"
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	r := startNode(t, conf, NewInmemStore())
	defer r.Shutdown()
	select {
	case <-r.LeaderCh():
	case <-time.After(5 * time.Second):
		t.Fatal("the sole voter was not leader within 5s (half its heartbeat timeout)")
	}
}

// TestZkraftVoterOfTwoWaits: with another voter in the configuration, a node waits
// for a leader's heartbeat as before (the patch is for the sole voter only).
func TestZkraftVoterOfTwoWaits(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "a"
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	r := startNode(t, conf, NewInmemStore(), "b")
	defer r.Shutdown()
	time.Sleep(500 * time.Millisecond)
	if st := r.State(); st != Follower {
		t.Fatalf("state %v after 0.5s of a 10s heartbeat timeout, want Follower", st)
	}
}

// TestZkraftLeaderGoneStandsAtOnce: followers told that their leader is gone elect a
// new one well before their heartbeat timeout (10 s here: v1.8.0 waits that long or
// longer); word about another address than the leader's changes nothing.
func TestZkraftLeaderGoneStandsAtOnce(t *testing.T) {
	c := MakeCluster(3, t, inmemConfig(t))
	defer c.Close()
	leader := c.Leader()
	followers := c.Followers()
	for _, f := range followers {
		rc := f.ReloadableConfig()
		rc.HeartbeatTimeout, rc.ElectionTimeout = 10*time.Second, 10*time.Second
		if err := f.ReloadConfig(rc); err != nil {
			t.Fatal(err)
		}
	}
	// Word about another address is ignored.
	followers[0].LeaderGone(followers[1].localAddr)
	time.Sleep(300 * time.Millisecond)
	if leader.State() != Leader || followers[0].State() != Follower {
		t.Fatalf("after LeaderGone of a non-leader: leader %v, follower %v", leader.State(), followers[0].State())
	}
	// The leader goes; the followers are told.
	c.Disconnect(leader.localAddr)
	if err := leader.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, f := range followers {
		f.LeaderGone(leader.localAddr)
	}
	for {
		for _, f := range followers {
			if f.State() == Leader {
				t.Logf("new leader %s %v after LeaderGone", f.localID, time.Since(start).Round(time.Millisecond))
				return
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("no new leader within 5s of LeaderGone (half the heartbeat timeout)")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startNode bootstraps and starts conf.LocalID on store, in a configuration of it and
// the voters others (never reached: their addresses are their ids).
func startNode(t *testing.T, conf *Config, store interface {
	LogStore
	StableStore
}, others ...ServerID) *Raft {
	t.Helper()
	addr, trans := NewInmemTransport(ServerAddress(conf.LocalID))
	snaps := NewInmemSnapshotStore()
	cfg := Configuration{Servers: []Server{{ID: conf.LocalID, Address: addr}}}
	for _, id := range others {
		cfg.Servers = append(cfg.Servers, Server{ID: id, Address: ServerAddress(id)})
	}
	if err := BootstrapCluster(conf, store, store, snaps, trans, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := NewRaft(conf, &MockFSM{}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// orderedStore fails the test's round when the leader appends the second write of a
// round ("b…") before its FSM was handed the first ("a…"), already committed; it
// holds the first write's append until release is closed, so that the second is
// queued by then.
type orderedStore struct {
	*InmemStore
	fsm      *MockFSM
	appendsA chan struct{} // an append of an "a" write began
	release  chan struct{} // lets an "a" append go on
	late     atomic.Int32  // "b" appends that came before "a" was applied
}

func (o *orderedStore) StoreLogs(logs []*Log) error {
	for _, l := range logs {
		if l.Type != LogCommand || len(l.Data) == 0 {
			continue
		}
		switch l.Data[0] {
		case 'a':
			o.appendsA <- struct{}{}
			<-o.release
		case 'b':
			want := "a" + string(l.Data[1:])
			deadline := time.Now().Add(500 * time.Millisecond)
			for !slices.ContainsFunc(o.fsm.Logs(), func(d []byte) bool { return string(d) == want }) {
				if time.Now().After(deadline) {
					o.late.Add(1) // waits behind this append: it would never come
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	return o.InmemStore.StoreLogs(logs)
}

// TestZkraftCommittedAppliedBeforeNextAppend: when an append returns with its entries
// committed and more writes wait, the leader hands the committed entries to the FSM
// before it appends (and fsyncs) the next batch. v1.8.0's leader loop chose between
// the two at random, so a write's reply waited for the next batch's fsync half the
// time under load.
func TestZkraftCommittedAppliedBeforeNextAppend(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "solo"
	conf.BatchApplyCh = true
	store := &orderedStore{InmemStore: NewInmemStore(), appendsA: make(chan struct{}), release: make(chan struct{})}
	r := startNode(t, conf, store)
	defer r.Shutdown()
	store.fsm = r.fsm.(*MockFSM)
	select {
	case <-r.LeaderCh():
	case <-time.After(5 * time.Second):
		t.Fatal("no leader")
	}
	const rounds = 16
	for i := range rounds {
		fa := r.Apply([]byte(fmt.Sprintf("a%d", i)), 5*time.Second)
		<-store.appendsA // the leader loop is in a's append
		fb := r.Apply([]byte(fmt.Sprintf("b%d", i)), 5*time.Second)
		store.release <- struct{}{} // b is queued: let a's append return
		for _, f := range []ApplyFuture{fa, fb} {
			if err := f.Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if late := store.late.Load(); late > 0 {
		t.Fatalf("in %d of %d rounds the leader appended the next write before handing the committed one to the FSM", late, rounds)
	}
}

// appliedFirstStore records whether the FSM had applied entry want when the follower
// began to store the entries after it.
type appliedFirstStore struct {
	*InmemStore
	fsm  *MockFSM
	want string
	late atomic.Bool
}

func (s *appliedFirstStore) StoreLogs(logs []*Log) error {
	deadline := time.Now().Add(time.Second)
	for !slices.ContainsFunc(s.fsm.Logs(), func(d []byte) bool { return string(d) == s.want }) {
		if time.Now().After(deadline) {
			s.late.Store(true) // it is applied after this store, if ever
			break
		}
		time.Sleep(time.Millisecond)
	}
	return s.InmemStore.StoreLogs(logs)
}

// TestZkraftFollowerAppliesCommittedBeforeStoring: an AppendEntries whose
// PrevLogEntry the leader has committed hands the follower's entries up to it to the
// FSM before the new entries are stored (and fsynced). v1.8.0 applied them only
// after the store, so a write forwarded by a follower's client waited for the
// follower's fsync of the next batch before its reply.
func TestZkraftFollowerAppliesCommittedBeforeStoring(t *testing.T) {
	var store *appliedFirstStore
	r, _, _, leader, addr := followerOn(t, 10, func(s *InmemStore, fsm *MockFSM) LogStore {
		store = &appliedFirstStore{InmemStore: s, fsm: fsm, want: "10"}
		return store
	})
	req := &AppendEntriesRequest{RPCHeader: header(leader), Term: 1, PrevLogEntry: 10, PrevLogTerm: 1,
		Entries: entries(1, 11, 12), LeaderCommitIndex: 10}
	var resp AppendEntriesResponse
	if err := leader.AppendEntries("follower", addr, req, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Success {
		t.Fatalf("append refused: %+v", resp)
	}
	if store.late.Load() {
		t.Fatal("entries 11-12 were stored before the committed entry 10 went to the FSM")
	}
	if got := r.getCommitIndex(); got != 10 {
		t.Fatalf("commit index %d; want 10 (the leader's)", got)
	}
}

// TestZkraftApplyErrorChannel: a log future's error can be received from its channel
// (patch 10), so a caller waiting for it beside other events needs no goroutine;
// the channel carries the same answer Error would give.
func TestZkraftApplyErrorChannel(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "solo"
	r := startNode(t, conf, NewInmemStore())
	defer r.Shutdown()
	awaitLeader(t, r)
	f := r.Apply([]byte("x"), 0)
	lf, ok := f.(interface{ ErrorCh() <-chan error })
	if !ok {
		t.Fatalf("%T has no ErrorCh", f)
	}
	select {
	case err := <-lf.ErrorCh():
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the future's channel never answered")
	}
	if f.Index() == 0 {
		t.Fatal("an applied future with index 0")
	}
	r.Shutdown().Error()
	refused := r.Apply([]byte("y"), 0) // after shutdown: answered at once
	if err := refused.Error(); err != ErrRaftShutdown {
		t.Fatalf("apply after shutdown: %v, want ErrRaftShutdown", err)
	}
}

// TestZkraftFollowersLearnCommitAtOnce: once a write commits, the leader tells the
// followers (patch 11), as ZooKeeper's leader sends COMMIT. v1.8.0 waited for the
// next AppendEntries: with no write after it, CommitTimeout later (2-4 s here).
func TestZkraftFollowersLearnCommitAtOnce(t *testing.T) {
	conf := inmemConfig(t)
	conf.CommitTimeout = 2 * time.Second
	c := MakeCluster(3, t, conf)
	defer c.Close()
	leader, followers := c.Leader(), c.Followers() // each waits for a stable state
	if err := leader.Apply([]byte("x"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, f := range followers {
		fsm := getMockFSM(f.fsm)
		for !slices.ContainsFunc(fsm.Logs(), func(d []byte) bool { return string(d) == "x" }) {
			if time.Since(start) > time.Second {
				t.Fatalf("follower %s had not applied the committed write 1s after the leader did (CommitTimeout 2s)", f.localID)
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Logf("followers applied it %v after the leader", time.Since(start).Round(time.Millisecond))
}

// awaitLeader waits until the single node r leads.
func awaitLeader(t *testing.T, r *Raft) {
	t.Helper()
	select {
	case <-r.LeaderCh():
	case <-time.After(5 * time.Second):
		t.Fatal("no leader")
	}
	for r.State() != Leader {
		time.Sleep(time.Millisecond)
	}
}

// heldLogStore holds or fails the next StoreLogs of a log store when told to.
type heldLogStore struct {
	LogStore
	gate atomic.Pointer[logGate]
}

type logGate struct {
	release chan struct{}
	fail    error
}

func (s *heldLogStore) StoreLogs(logs []*Log) error {
	if g := s.gate.Swap(nil); g != nil {
		<-g.release
		if g.fail != nil {
			return g.fail
		}
	}
	return s.LogStore.StoreLogs(logs)
}

func (s *heldLogStore) StoreLog(l *Log) error { return s.StoreLogs([]*Log{l}) }

// heldCluster is a 3-member cluster whose log stores can be held.
func heldCluster(t *testing.T) (*cluster, []*heldLogStore) {
	stores := make([]*heldLogStore, 3)
	c, _ := makeCluster(t, &MakeClusterOpts{Peers: 3, Bootstrap: true, Conf: inmemConfig(t),
		WrapLogStore: func(i int, s LogStore) LogStore {
			stores[i] = &heldLogStore{LogStore: s}
			return stores[i]
		}})
	return c, stores
}

func (c *cluster) indexOf(r *Raft) int { return slices.Index(c.rafts, r) }

// Patch 12: the followers receive an entry while the leader is still writing it to
// its own log, so that their fsyncs run beside the leader's; v1.8.0 sent nothing
// until the leader's write returned.
func TestZkraftFollowersWriteBesideLeader(t *testing.T) {
	c, stores := heldCluster(t)
	defer c.Close()
	leader := c.Leader()
	want := leader.LastIndex() + 1
	g := &logGate{release: make(chan struct{})}
	stores[c.indexOf(leader)].gate.Store(g)
	f := leader.Apply([]byte("x"), 5*time.Second)
	start := time.Now()
	for _, fo := range c.Followers() {
		for fo.LastIndex() < want {
			if time.Since(start) > 2*time.Second {
				close(g.release)
				t.Fatalf("follower %s did not receive entry %d while the leader's write of it was under way", fo.localID, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if leader.LastIndex() >= want {
		t.Fatalf("the leader's last index is %d, past what it has written", leader.LastIndex())
	}
	close(g.release)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	c.EnsureSame(t)
}

// Patch 12: when the leader's own write of a batch it already sent fails, it stands
// down; the ensemble goes on, with every member's state the same whether the entry
// committed or not (its client was told it failed, which zkraft reports as an
// outcome unknown), and no member is sent a snapshot for it.
func TestZkraftLeaderWriteFailureAfterSending(t *testing.T) {
	c, stores := heldCluster(t)
	defer c.Close()
	leader := c.Leader()
	g := &logGate{release: make(chan struct{}), fail: fmt.Errorf("injected write failure")}
	stores[c.indexOf(leader)].gate.Store(g)
	f := leader.Apply([]byte("x"), 5*time.Second)
	time.Sleep(50 * time.Millisecond) // the followers receive it meanwhile
	close(g.release)
	if err := f.Error(); err == nil {
		t.Fatal("the write succeeded though the leader's log write failed")
	}
	var err error
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		l := c.Leader()
		if err = l.Apply([]byte("y"), time.Second).Error(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no write after the failure: %v", err)
	}
	c.EnsureSame(t)
	for _, r := range c.rafts {
		if n := r.Stats()["last_snapshot_index"]; n != "0" {
			t.Fatalf("member %s installed or took a snapshot (last_snapshot_index %s)", r.localID, n)
		}
	}
}
