package ensemble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/watch"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/storage/raftstore"
	"github.com/zkraft/zkraft/zkproto"
)

// ErrClosed is returned for work submitted to a server that is shutting down.
var ErrClosed = errors.New("ensemble: server closed")

// Server is one zkraft node.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ln      net.Listener // the plaintext client port, or the secure one when it is the only one
	plainLn net.Listener // the plaintext client port; nil when TLS clients only
	// secureLn is the secure client port (TLS.SecureClientAddr); nil when none.
	secureLn net.Listener
	raft     *raft.Raft
	raftUp   chan struct{} // closed once raft is set (the peer port accepts earlier)
	stores   *raftstore.Stores
	fsm      *fsm
	watches  *watch.Manager
	started  time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server starts

	ready     chan struct{}
	startDone chan struct{} // closed when Start returns
	done      chan struct{}
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error

	leader       atomic.Bool
	leaderAt     atomic.Int64 // when this node last became leader, unix ns
	leaderNotify chan bool
	sessions     *sessionTracker
	nextSID      atomic.Int64

	instance   uint64        // origin of the entries this run proposes
	seq        atomic.Uint64 // their sequence
	forwarder  *forwarder
	linking    atomic.Bool // linkLeader's dial is under way
	peerLn     net.Listener
	peerTLS    *peerTLS    // nil: plaintext peer port
	peerSrc    *peerSource // where this member dials the others from
	peerGate   *peerGate   // nil: the peer port admits any address
	raftStream *raftStream
	transport  *raft.NetworkTransport
	health     *followerHealth
	readOnly   atomic.Bool // lost quorum and serving read-only sessions
	noLeader   time.Time   // since when no leader is known (runLeadership's own)
	// leaderlessClosed: the client connections were closed in this leaderless spell
	// (runLeadership's own).
	leaderlessClosed bool
	hadState         atomic.Bool       // Raft state existed at start, or this member bootstrapped
	incarnation      string            // of this member's data directory
	snapJitter       float64           // in [0, 1): where in its range this member's snapshot gap lies (snapshotpolicy.go)
	digests          chan digestRecord // the leader's digest records to propose (digest.go)
	quiet            quietLog          // rate limit for messages a persistent fault repeats
	raftLog          *slogWriter       // where the Raft library's logs go
	peersMu          sync.Mutex
	dynPeers         map[int64]Peer // members added by reconfig since start
	members          membershipState

	// outstanding bounds requests in flight across all connections
	// (globalOutstandingLimit): a connection stops reading while it is full.
	outstanding chan struct{}

	connMu sync.Mutex
	conns  map[*conn]struct{}
	perIP  map[string]int
	bySess map[zkproto.SessionID]*conn
	// peerConns are followers' forwarding connections to this node.
	peerConns map[net.Conn]struct{}
	stats     serverStats
	obs       observability
}

// Start opens storage, starts Raft and binds the client port. It returns without
// waiting for the node to be ready: select on Ready, Done and Err.
func Start(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "server"),
		watches:     watch.New(),
		started:     time.Now(),
		ready:       make(chan struct{}),
		startDone:   make(chan struct{}),
		done:        make(chan struct{}),
		sessions:    newSessionTracker(cfg.TickTime),
		outstanding: make(chan struct{}, cfg.GlobalOutstandingLimit),
		conns:       map[*conn]struct{}{},
		perIP:       map[string]int{},
		bySess:      map[zkproto.SessionID]*conn{},
		peerConns:   map[net.Conn]struct{}{},
		instance:    randomUint64(),
		health:      &followerHealth{failing: map[raft.ServerID]bool{}},
		dynPeers:    map[int64]Peer{},
		digests:     make(chan digestRecord, 4),
		raftUp:      make(chan struct{}),
	}
	defer close(s.startDone)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.forwarder = newForwarder(s)
	s.fsm = newFSM(s.watches, s.instance)
	s.fsm.applied = s.onApplied
	s.fsm.restored = s.onRestored
	s.fsm.ignoreUndecodable = cfg.IgnoreUndecodableEntries
	s.fsm.snapshotFormat = cfg.SnapshotFormat
	s.fsm.halt = s.fail
	s.fsm.digested = s.onDigest
	s.fsm.mismatch = s.onDigestMismatch
	s.initObservability()
	s.fsm.skipped = func(err error) {
		s.log.Error("skipped a Raft log entry this member cannot decode (zkraft.ignoreUndecodableEntries=true): its state may differ from the other members' from here on", "err", err)
	}
	// Session ids as ZooKeeper makes them: server id in the top byte, time below.
	// The shift is unsigned (Java's >>>): the top byte must be the server id, never the
	// sign-extended 0xFF that would make an ephemeralOwner look like a TTL marker.
	s.nextSID.Store(int64(uint64(time.Now().UnixMilli())<<24>>8) | cfg.ServerID<<56)

	if err := s.startRaft(); err != nil {
		s.teardown()
		return nil, err
	}
	if err := s.listenClients(); err != nil {
		s.teardown()
		return nil, err
	}
	if err := s.startHTTP(); err != nil {
		s.teardown()
		return nil, err
	}
	s.goAttach(s.runLeadership)
	s.goAttach(s.watchStorage)
	s.goAttach(s.proposeDigests)
	s.goAttach(s.tuneSnapshots)
	return s, nil
}

func (s *Server) startRaft() error {
	var err error
	// One writer for everything Raft logs, so that its repeat filter sees it all.
	s.raftLog = &slogWriter{log: s.cfg.Logger.With("component", "raft")}
	if s.cfg.DataDir == "" {
		s.stores = raftstore.InMemory()
	} else if s.stores, err = raftstore.Open(s.cfg.DataDir, raftstore.Options{LogDir: s.cfg.DataLogDir, LogOutput: s.raftLog, WriteHook: s.cfg.StorageWriteHook, SegmentSize: s.cfg.StorageSegmentSize,
		Preload: func(r io.Reader) (any, error) { return s.fsm.readSnapshot(r) }}); err != nil {
		return err
	}
	id := raftID(s.cfg.ServerID)
	rc := raft.DefaultConfig()
	rc.LocalID = id
	// As ZooKeeper's snapCount: snapshot soon after that many entries, or a share of
	// the tree when that is more (snapshotpolicy.go; tuneSnapshots follows the tree),
	// and keep that many entries behind a snapshot, so that a member further behind
	// is sent the snapshot.
	rc.SnapshotInterval = snapshotCheck
	// No snapshot while the log left at start is replayed (it would compete with the
	// replay for the tree); tuneSnapshots sets the gap once the member is ready.
	s.snapJitter = rand.Float64()
	rc.SnapshotThreshold = math.MaxUint64
	rc.TrailingLogs = jittered(s.cfg.SnapshotThreshold, s.snapJitter)
	// Group commit, as ZooKeeper's SyncRequestProcessor does (up to 1,000 txns per
	// fsync): every connection's reader proposes its writes one at a time, and with an
	// unbuffered apply channel a log append could carry no more writes than there are
	// connections. Buffered, the leader takes all that queued while it last synced.
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 1024
	notify := make(chan bool, 8)
	rc.NotifyCh = notify
	s.leaderNotify = notify
	rc.Logger = s.hclogger("raft")
	// A removed member keeps its Raft running, so that a reconfig can add it back
	// (ZooKeeper's removed servers wait likewise).
	rc.ShutdownOnRemove = false

	var trans raft.Transport
	if s.standalone() {
		// One voter: it elects itself at once (patch 5 of the raft copy); short
		// timeouts keep an election after a stall as quick.
		rc.HeartbeatTimeout = 50 * time.Millisecond
		rc.ElectionTimeout = 50 * time.Millisecond
		rc.LeaderLeaseTimeout = 50 * time.Millisecond
		_, trans = raft.NewInmemTransport(standaloneAddr(id))
	} else {
		// zoo.cfg's tick drives Raft: a follower that hears nothing for one tick starts
		// an election, and a leader that cannot reach a quorum for a tick steps down.
		rc.HeartbeatTimeout = max(s.cfg.TickTime, 50*time.Millisecond)
		rc.ElectionTimeout = rc.HeartbeatTimeout
		// The longest lease Raft allows: a leader that merely stalls (GC, a busy
		// machine) must not step down and drop every client.
		rc.LeaderLeaseTimeout = rc.HeartbeatTimeout
		// CommitTimeout stays at Raft's 50 ms: shortening it costs an idle leader a
		// tenth of a core in empty RPCs; the leader tells followers of a commit at
		// once (raft copy patch 11).

		if s.incarnation, err = loadIncarnation(s.cfg.DataDir); err != nil {
			return err
		}
		if trans, err = s.startPeers(); err != nil {
			return err
		}
	}
	boot := s.cfg.bootConfiguration()
	existing, err := raft.HasExistingState(s.stores.Log, s.stores.Stable, s.stores.Snapshot)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	s.hadState.Store(existing)
	joining := false
	if !existing && !s.standalone() {
		exists, recorded := s.probePeers()
		for _, inc := range recorded {
			if inc != s.incarnation {
				return fmt.Errorf("member %d: this data directory is new, but the ensemble knows member %d by an earlier data directory (incarnation %s): its data was wiped or replaced and it may have lost writes it acknowledged. Remove it (reconfig -remove %d), add it back (reconfig -add server.%d=...), then start it again",
					s.cfg.ServerID, s.cfg.ServerID, inc, s.cfg.ServerID, s.cfg.ServerID)
			}
		}
		joining = exists
	}
	if joining {
		// Members already hold state: this one starts late or joins. It must not
		// bootstrap a configuration of its own; the leader replicates to it once it
		// is a member (from the start, or after reconfig adds it).
		s.log.Info("the ensemble already exists: this member joins when the leader replicates to it (a member that is not yet in the ensemble's configuration must be added with reconfig)")
	} else if !existing {
		// Every member of a new ensemble bootstraps with the same configuration, so
		// no manual step is needed; Raft accepts identical bootstraps.
		if err := raft.BootstrapCluster(rc, s.stores.Log, s.stores.Stable, s.stores.Snapshot, trans, boot); err != nil {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
		s.hadState.Store(true)
	}
	s.stores.RaftStarting()
	initStart := time.Now()
	r, err := raft.NewRaft(rc, configFSM{s.fsm, s}, timedLogStore{s.stores.Log, s}, s.stores.Stable, s.stores.Snapshot, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.obs.metrics.DBInitTime.Observe(time.Since(initStart).Microseconds())
	s.raft = r
	s.stores.RaftStarted()
	close(s.raftUp)
	r.RegisterObserver(raft.NewObserver(nil, false, s.health.observe))
	if !s.standalone() {
		r.RegisterObserver(raft.NewObserver(nil, false, s.observeLeader))
	}
	return nil
}

func raftID(id int64) raft.ServerID { return raft.ServerID(strconv.FormatInt(id, 10)) }

// standalone reports whether this node is an ensemble of one.
func (s *Server) standalone() bool { return len(s.cfg.Peers) <= 1 }

// startPeers binds the peer port and returns the Raft transport over it.
func (s *Server) startPeers() (raft.Transport, error) {
	self, ok := s.cfg.peer(s.cfg.ServerID)
	if !ok {
		return nil, fmt.Errorf("server id %d is not among the ensemble's servers: check myid and the server.N lines", s.cfg.ServerID)
	}
	ln := s.cfg.PeerListener
	if ln == nil {
		var err error
		if ln, err = listenPeers(self.PeerAddr); err != nil {
			return nil, err
		}
	}
	s.peerLn = ln
	// Raft tells the others its own address in every RPC (a follower forwards writes
	// to the leader's): that is the server line's, which the others dial, even when
	// the listener is elsewhere (a proxy or NAT in between).
	s.peerTLS = newPeerTLS(s.cfg.TLS, s.memberHosts, s.log, &s.quiet)
	if s.peerTLS != nil {
		s.peerTLS.failed = s.obs.metrics.EnsembleAuthFail
	}
	s.peerSrc = newPeerSource(self.PeerAddr)
	s.raftStream = &raftStream{addr: peerAddr(self.PeerAddr), accept: make(chan net.Conn), done: make(chan struct{}), quit: s.ctx.Done(), tls: s.peerTLS, src: s.peerSrc}
	mux := &peerMux{ln: ln, raft: s.raftStream, forward: s.trackForward, probe: s.probeAnswer, wg: &s.wg, done: s.ctx.Done(),
		fail: s.fail, quiet: &s.quiet, log: s.log, tls: s.peerTLS, ctx: s.ctx, memberAddrs: s.peerMemberAddrs}
	if !s.cfg.AllowAnyPeerAddress {
		s.peerGate = &peerGate{members: s.peerMemberAddrs, ask: s.askMembers, log: s.log, quiet: &s.quiet, refused: s.obs.metrics.EnsembleAuthFail}
		mux.gate = s.peerGate
	}
	s.goAttach(mux.serve)
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.raftStream,
		MaxPool: 3,
		// 1: no pipelined replication. hashicorp/raft 1.8's pipeline can deadlock when a
		// follower answers an AppendEntries with Success=false (pipelineDecode returns,
		// leaving decodeResponses blocked on doneCh and the sender on inprogressCh):
		// the follower then gets heartbeats but never another entry, and Shutdown
		// waits for ever. Seen here in reconfig tests under load; grafana/pyroscope
		// #5518 turned it off for the same reason. hashicorp/raft #541 measured little
		// benefit from pipelining.
		MaxRPCsInFlight: 1,
		Timeout:         10 * time.Second,
		Logger:          s.hclogger("raft-net"),
	})
	guard := newRPCGuard(noPipeline{s.transport}, s.log, &s.quiet)
	s.goAttach(func() { guard.run(s.ctx.Done()) })
	return guard, nil
}

// noPipeline is the Raft transport without pipelined AppendEntries. hashicorp/raft's
// pipeline replication deadlocks once a follower answers Success=false, as one whose
// disk failed or is full does: pipelineDecode returns, the send loop may then block
// for good on the full in-flight channel, so that the leader never replicates to that
// follower again and its Shutdown never returns (grafana/pyroscope#5518 describes
// it; the power-loss test hit it). Without the pipeline Raft sends one AppendEntries
// at a time per follower, each carrying up to MaxAppendEntries entries.
type noPipeline struct{ *raft.NetworkTransport }

func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// trackForward serves a follower's forwarding connection, closed at shutdown. The
// peer port is open before Raft runs (Raft's transport lives on it), and followers
// still forward to a leader that has just restarted: its requests wait for Raft.
func (s *Server) trackForward(nc net.Conn) {
	select {
	case <-s.raftUp:
	case <-s.ctx.Done():
		nc.Close()
		return
	}
	s.connMu.Lock()
	if s.ctx.Err() != nil {
		s.connMu.Unlock()
		nc.Close()
		return
	}
	s.peerConns[nc] = struct{}{}
	s.connMu.Unlock()
	s.serveForward(nc)
	s.connMu.Lock()
	delete(s.peerConns, nc)
	s.connMu.Unlock()
}

// goAttach runs fn in a goroutine the server owns and waits for at Close.
func (s *Server) goAttach(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// runLeadership follows this node's Raft role. On becoming leader it waits until
// every earlier entry is applied and gives every session a fresh timeout (a new leader
// must not mass-expire sessions). A follower is ready once it has caught up with the
// leader's commit point; from then on it keeps its clients' sessions alive at the
// leader.
func (s *Server) runLeadership() {
	tick := time.NewTicker(max(s.cfg.TickTime/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case isLeader := <-s.leaderNotify:
			// A heartbeat goroutine of raft's reports a follower's failures and its
			// recovery; one of a past term that ended mid-failure reports no
			// recovery, so each term starts with every follower in touch.
			s.health.reset()
			if !isLeader {
				s.leader.Store(false)
				if ok, n := s.quiet.allow("lost leadership", time.Now()); ok {
					s.log.Info("lost leadership", "repeats", n)
				}
				continue
			}
			if err := s.raft.Barrier(0).Error(); err != nil {
				if ok, n := s.quiet.allow("barrier", time.Now()); ok {
					s.log.Warn("could not write the Raft log as leader; writes are refused until it can (is the disk full?)", "err", err, "repeats", n)
				}
				continue
			}
			s.fsm.read(func(t *datatree.Tree) {
				s.sessions.reset(t.Sessions(), time.Now())
			})
			s.leaderAt.Store(time.Now().UnixNano())
			s.leader.Store(true)
			if !s.standalone() {
				s.log.Info("leading", "term", s.raft.CurrentTerm())
				s.goAttach(func() {
					if err := s.publishConfig(); err != nil && s.ctx.Err() == nil {
						s.log.Warn("could not publish the configuration; the next reconfig or leader does", "err", err)
					}
				})
			}
			s.markReady()
		case <-tick.C:
			if s.standalone() {
				continue
			}
			s.followQuorum()
			if s.isReady() {
				s.followMembership()
			}
			if s.leader.Load() {
				continue
			}
			s.linkLeader()
			if !s.isReady() {
				if err := s.followerSync(s.ctx); err == nil {
					s.markReady()
				}
				continue
			}
			s.touchLocalSessions()
		}
	}
}

func (s *Server) isReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

func (s *Server) markReady() {
	if s.isReady() {
		return
	}
	close(s.ready)
	if !s.standalone() && !s.leader.Load() {
		s.obs.metrics.FollowerSyncTime.Observe(time.Since(s.started).Microseconds())
	}
	s.goAttach(s.recordIncarnation)
	if s.plainLn != nil {
		s.goAttach(func() { s.acceptLoop(s.plainLn, false) })
	}
	if s.secureLn != nil {
		s.goAttach(func() { s.acceptLoop(s.secureLn, true) })
	}
	s.goAttach(s.expireLoop)
	s.goAttach(s.reapLoop)
	s.log.Info("serving", "client_addr", s.ln.Addr().String(), "zxid", s.lastZxid(), "mode", s.mode())
}

// followerSync waits until this follower has applied everything the leader had
// committed when asked, after the leader confirmed its leadership with a quorum.
func (s *Server) followerSync(ctx context.Context) error {
	ch, err := s.forwarder.send(ctx, fwdSync, nil)
	if err != nil {
		return err
	}
	var rep fwdReply
	select {
	case rep = <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	if rep.err != nil {
		return rep.err
	}
	return s.waitApplied(ctx, rep.index)
}

// sync makes this node catch up with the leader's commit point (a quorum-confirmed
// read barrier, so that sync followed by a read is linearizable). It rides out a
// leader change for up to leaderWait.
func (s *Server) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.leaderWait())
	defer cancel()
	return s.rideOutLeaderChange(ctx, func() error {
		if s.raft.State() == raft.Leader {
			_, err := s.leaderSync()
			return err
		}
		return s.followerSync(ctx)
	})
}

// touchLocalSessions tells the leader that the sessions connected here are alive.
func (s *Server) touchLocalSessions() {
	s.connMu.Lock()
	if len(s.bySess) == 0 {
		s.connMu.Unlock()
		return
	}
	e := zkproto.Encoder{Buf: make([]byte, 0, 8*len(s.bySess))}
	for id := range s.bySess {
		e.Long(int64(id))
	}
	s.connMu.Unlock()
	s.forwarder.send(s.ctx, fwdTouch, e.Buf)
}

// mode is what srvr reports.
func (s *Server) mode() string {
	switch {
	case s.standalone():
		return "standalone"
	case s.readOnly.Load():
		return "read-only"
	case s.raft.State() == raft.Leader:
		return "leader"
	case s.isObserver():
		return "observer"
	default:
		return "follower"
	}
}

func (s *Server) isObserver() bool {
	p, ok := s.cfg.peer(s.cfg.ServerID)
	return ok && p.Observer
}

// Ready is closed once the node serves clients.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Done is closed when the server has stopped: after Close, or when it stopped itself
// because it could not go on safely (a Raft log entry it cannot decode, a client or
// peer listener that fails for good); Err then says why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the error that stopped the server, if any.
func (s *Server) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Addr is the client port's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server: connections are closed, goroutines stopped, Raft shut down
// and storage closed. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.log.Info("shutting down")
		s.handOverLeadership()
		s.teardown()
	})
	<-s.done
	return s.Err()
}

func (s *Server) teardown() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.plainLn != nil {
		s.plainLn.Close()
	} else if s.cfg.ClientListener != nil {
		s.cfg.ClientListener.Close() // Start failed before taking it over
	}
	for _, ln := range []net.Listener{s.cfg.MetricsListener, s.cfg.AdminListener} {
		if ln != nil {
			ln.Close() // closed by their HTTP server too, if it started; twice is harmless
		}
	}
	if s.secureLn != nil {
		s.secureLn.Close()
	} else if s.cfg.TLS.SecureClientListener != nil {
		s.cfg.TLS.SecureClientListener.Close()
	}
	if s.peerLn == nil && s.cfg.PeerListener != nil {
		s.cfg.PeerListener.Close()
	}
	if s.peerLn != nil {
		s.peerLn.Close()
	}
	s.connMu.Lock()
	for c := range s.conns {
		c.close()
	}
	for nc := range s.peerConns {
		nc.Close()
	}
	s.connMu.Unlock()
	if s.forwarder != nil {
		s.forwarder.close()
	}
	if s.raft != nil {
		// Raft first: its transport goroutines use the peer stream.
		if err := s.raft.Shutdown().Error(); err != nil {
			s.setErr(fmt.Errorf("shut down raft: %w", err))
		}
	}
	if s.transport != nil {
		s.transport.Close() // closes the stream, and so every inbound Raft connection
	}
	s.wg.Wait()
	if s.stores != nil {
		if err := s.stores.Close(); err != nil {
			s.setErr(fmt.Errorf("close raft log: %w", err))
		}
	}
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// fail stops the server because of err: Err reports it and Done closes once the
// server has stopped. It returns at once (it may run on a goroutine Close waits for).
func (s *Server) fail(err error) {
	s.setErr(fmt.Errorf("member %d stopped: %w", s.cfg.ServerID, err))
	s.obs.metrics.UnrecoverableErrors.Inc()
	s.log.Error("stopping", "err", err)
	go func() { // ends when the server has stopped
		<-s.startDone
		select {
		case <-s.done: // Start failed and tore down
		default:
			s.Close()
		}
	}()
}

// watchStorage stops the server once the stores refuse to write (a failed fsync or
// write) or found a damaged log entry: Raft would otherwise go on retrying, a leader stepping down and being
// elected again, on a disk that may have dropped what it accepted.
func (s *Server) watchStorage() {
	select {
	case <-s.ctx.Done():
		return
	case <-s.stores.Failed():
	}
	err := s.stores.Err()
	s.fail(fmt.Errorf("storage: %w", err))
}

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *Server) lastZxid() zkproto.Zxid { return zkproto.Zxid(s.fsm.zxid.Load()) }

// propose replicates txn and waits until it is applied on this node.
func (s *Server) propose(ctx context.Context, txn *datatree.Txn) (*datatree.Result, error) {
	return s.proposeAsync(txn).wait(ctx)
}

// proposal is a write in flight. Its result comes from this node's FSM when it applies
// the entry; leaderErr reports a failure to get it committed at all.
type proposal struct {
	s       *Server
	seq     uint64
	result  chan *applyResult
	future  raft.ApplyFuture // set on the leader
	forward <-chan fwdReply  // set on a follower
	err     error            // failed before it was sent
}

// proposeAsync sends txn on its way: straight into Raft on the leader, forwarded to
// the leader elsewhere. It does not wait.
func (s *Server) proposeAsync(txn *datatree.Txn) proposal {
	seq := s.seq.Add(1)
	p := proposal{s: s, seq: seq, result: s.fsm.await(seq)}
	if f := s.cfg.failProposal; f != nil {
		if p.err = f(txn); p.err != nil {
			return p
		}
	}
	entry := encodeTxn(origin{Instance: s.instance, Seq: seq}, txn)
	// A write whose stream has writes on their way through the forwarder (sent to a
	// lost leader, to be sent again) follows them, even when this member leads now:
	// straight into Raft it would overtake them.
	if s.raft.State() == raft.Leader && (txn.Stream == 0 || !s.forwarder.isCarrying(txn.Stream)) {
		stampTime(entry, time.Now().UnixMilli())
		entry = s.leaderFlags(entry)
		s.recordProposal(entry)
		p.future = s.raft.Apply(entry, 0)
	} else if txn.Stream != 0 {
		p.forward, p.err = s.forwarder.sendWrite(entry, seq, txn.Stream)
	} else {
		p.forward, p.err = s.forwarder.send(s.ctx, fwdTxn, entry)
	}
	return p
}

func (p proposal) wait(ctx context.Context) (*datatree.Result, error) {
	fail := func(err error) (*datatree.Result, error) {
		p.s.fsm.forget(p.seq)
		return nil, fmt.Errorf("replicate: %w", leaderErr(err))
	}
	switch {
	case p.err != nil:
		return fail(p.err)
	case p.future != nil:
		// hashicorp/raft can drop a future it committed when it shuts down (its FSM
		// loop returns with batches still queued), and the future's channel does not
		// end at shutdown: wait for whichever of the apply, the future, the caller's
		// context and the server's end comes first. (A dropped future was seen once
		// in 400 simulated power losses.)
		select {
		case err := <-errorChan(p.future):
			if err != nil {
				return fail(err)
			}
		case r := <-p.result:
			return r.get()
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-p.s.ctx.Done():
			return fail(ErrClosed)
		}
	case p.forward != nil:
		select {
		case rep := <-p.forward:
			if rep.err != nil {
				return fail(rep.err)
			}
		case r := <-p.result:
			return r.get()
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	// Committed: this node applies it soon (at once on the leader).
	select {
	case r := <-p.result:
		return r.get()
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// errorChan is where a log future's error comes (our raft copy's patch 10), so that
// a write in flight costs no goroutine of its own; a future Raft answered at once
// (refused, shut down) has its error ready.
func errorChan(f raft.ApplyFuture) <-chan error {
	if lf, ok := f.(interface{ ErrorCh() <-chan error }); ok {
		return lf.ErrorCh()
	}
	c := make(chan error, 1)
	c <- f.Error()
	return c
}

func (r *applyResult) get() (*datatree.Result, error) {
	if r.err != nil {
		return nil, r.err
	}
	return &r.res, nil
}

// onApplied keeps node-local session state in step with the replicated table.
func (s *Server) onApplied(txn *datatree.Txn, res *datatree.Result) {
	s.recordApplied()
	s.noteQuota(res)
	s.writeStats(txn, res)
	if res.Err != zkproto.ErrOK {
		return
	}
	switch txn.Kind {
	case datatree.TxnCreateSession, datatree.TxnRenewSession:
		if s.leader.Load() {
			s.sessions.add(txn.Session, time.Duration(txn.Timeout)*time.Millisecond, time.Now())
		}
		if txn.Kind == datatree.TxnRenewSession && txn.Server != s.cfg.ServerID {
			if c := s.sessionConn(txn.Session); c != nil {
				c.log.Info("session moved to another server; closing its connection here", "session_id", sessionHex(txn.Session), "server_id", txn.Server)
				c.close()
			}
		}
	case datatree.TxnCloseSession:
		s.sessions.remove(txn.Session)
		if c := s.sessionConn(txn.Session); c != nil {
			c.sessionClosed()
		}
	}
}

// sessionConn is the connection of a session on this member, if any.
func (s *Server) sessionConn(id zkproto.SessionID) *conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.bySess[id]
}

// newSessionID draws the next session id; the leader decides it and carries it in the
// CreateSession transaction.
func (s *Server) newSessionID() zkproto.SessionID {
	for {
		id := s.nextSID.Add(1)
		if id != zkproto.ContainerEphemeralOwner && id != 0 {
			return zkproto.SessionID(id)
		}
	}
}

// hclogger is an hclog.Logger for the Raft library, writing into the server's log
// (errors only: Raft's warnings are routine, such as the election at every start).
func (s *Server) hclogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Error, Output: s.raftLog})
}

// slogWriter turns hclog's text lines into slog records, letting the same message
// through at most once per quietInterval.
type slogWriter struct {
	log   *slog.Logger
	quiet quietLog
}

func (w *slogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	// hclog starts a line with its own timestamp; the rest identifies the message.
	key := line
	if i := strings.IndexByte(line, ' '); i > 0 {
		key = line[i+1:]
	}
	ok, repeats := w.quiet.allow(key, time.Now())
	if !ok {
		return len(p), nil
	}
	if repeats > 0 {
		line = fmt.Sprintf("%s (and %d times more since it was last logged)", line, repeats)
	}
	level := slog.LevelInfo
	switch {
	case bytes.Contains(p, []byte("[ERROR]")):
		level = slog.LevelError
	case bytes.Contains(p, []byte("[WARN]")):
		level = slog.LevelWarn
	case bytes.Contains(p, []byte("[DEBUG]")), bytes.Contains(p, []byte("[TRACE]")):
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, line)
	return len(p), nil
}

// Mode is the node's role as srvr reports it: standalone, leader, follower or observer.
func (s *Server) Mode() string { return s.mode() }

func (s *Server) leaderSince() time.Time { return time.Unix(0, s.leaderAt.Load()) }

// onRestored runs after a snapshot replaced this member's tree while it serves. The
// changes it carried fired no watches, so the clients are disconnected, as ZooKeeper
// does when a follower resynchronises: they reconnect and setWatches delivers what
// they missed.
func (s *Server) onRestored() {
	if !s.isReady() {
		return
	}
	s.log.Info("state replaced by the leader's snapshot; reconnecting clients so they re-register their watches")
	s.closeConns(func(*conn) bool { return true })
}

// quietInterval is how often a repeating log message gets through.
const quietInterval = 10 * time.Second

// quietLog lets a message through once per quietInterval and counts the repeats in
// between, so that a persistent fault (a full disk failing every election) logs a
// line every few seconds rather than a hundred.
type quietLog struct {
	mu      sync.Mutex
	last    map[string]time.Time
	repeats map[string]int
}

func (q *quietLog) allow(key string, now time.Time) (ok bool, repeats int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		q.last, q.repeats = map[string]time.Time{}, map[string]int{}
	}
	if t, seen := q.last[key]; seen && now.Sub(t) < quietInterval {
		q.repeats[key]++
		return false, 0
	}
	if len(q.last) > 1000 { // bounded: forget everything rather than grow
		clear(q.last)
		clear(q.repeats)
	}
	repeats = q.repeats[key]
	q.last[key], q.repeats[key] = now, 0
	return true, repeats
}
