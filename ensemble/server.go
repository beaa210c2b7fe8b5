package ensemble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
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
	ln      net.Listener
	raft    *raft.Raft
	stores  *raftstore.Stores
	fsm     *fsm
	watches *watch.Manager
	started time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server starts

	ready     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error

	leader       atomic.Bool
	leaderNotify chan bool
	sessions     *sessionTracker
	nextSID      atomic.Int64

	// outstanding bounds requests in flight across all connections
	// (globalOutstandingLimit): a connection stops reading while it is full.
	outstanding chan struct{}

	connMu sync.Mutex
	conns  map[*conn]struct{}
	perIP  map[string]int
	bySess map[zkproto.SessionID]*conn
	stats  serverStats
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
		done:        make(chan struct{}),
		sessions:    newSessionTracker(),
		outstanding: make(chan struct{}, cfg.GlobalOutstandingLimit),
		conns:       map[*conn]struct{}{},
		perIP:       map[string]int{},
		bySess:      map[zkproto.SessionID]*conn{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.fsm = newFSM(s.watches)
	s.fsm.applied = s.onApplied
	// Session ids as ZooKeeper makes them: server id in the top byte, time below.
	// The shift is unsigned (Java's >>>): the top byte must be the server id, never the
	// sign-extended 0xFF that would make an ephemeralOwner look like a TTL marker.
	s.nextSID.Store(int64(uint64(time.Now().UnixMilli())<<24>>8) | cfg.ServerID<<56)

	if err := s.startRaft(); err != nil {
		s.teardown()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.ClientAddr)
	if err != nil {
		s.teardown()
		return nil, fmt.Errorf("listen on client address %s: %w", cfg.ClientAddr, err)
	}
	s.ln = ln
	s.goAttach(s.runLeadership)
	return s, nil
}

func (s *Server) startRaft() error {
	var err error
	if s.cfg.DataDir == "" {
		s.stores = raftstore.InMemory()
	} else if s.stores, err = raftstore.Open(s.cfg.DataDir, s.cfg.DataLogDir, &slogWriter{s.cfg.Logger.With("component", "raft")}); err != nil {
		return err
	}
	id := raft.ServerID(strconv.FormatInt(s.cfg.ServerID, 10))
	addr, trans := raft.NewInmemTransport(raft.ServerAddress("zkraft-" + string(id)))

	rc := raft.DefaultConfig()
	rc.LocalID = id
	// One voter: nobody else can win an election, so there is no reason to wait long
	// before becoming leader. Multi-node timing comes from zoo.cfg's tick settings.
	rc.HeartbeatTimeout = 50 * time.Millisecond
	rc.ElectionTimeout = 50 * time.Millisecond
	rc.LeaderLeaseTimeout = 50 * time.Millisecond
	rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	notify := make(chan bool, 8)
	rc.NotifyCh = notify
	rc.Logger = hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Error,
		Output: &slogWriter{s.cfg.Logger.With("component", "raft")},
	})
	existing, err := raft.HasExistingState(s.stores.Log, s.stores.Stable, s.stores.Snapshot)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	if !existing {
		boot := raft.Configuration{Servers: []raft.Server{{ID: id, Address: addr}}}
		if err := raft.BootstrapCluster(rc, s.stores.Log, s.stores.Stable, s.stores.Snapshot, trans, boot); err != nil {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, s.fsm, s.stores.Log, s.stores.Stable, s.stores.Snapshot, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	s.leaderNotify = notify
	return nil
}

// goAttach runs fn in a goroutine the server owns and waits for at Close.
func (s *Server) goAttach(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// runLeadership follows this node's Raft leadership. On becoming leader it waits until
// every earlier entry is applied, gives every session a fresh timeout (a new leader must
// not mass-expire sessions), then serves.
func (s *Server) runLeadership() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case isLeader := <-s.leaderNotify:
			if !isLeader {
				s.leader.Store(false)
				continue
			}
			if err := s.raft.Barrier(0).Error(); err != nil {
				s.log.Warn("leader barrier failed", "err", err)
				continue
			}
			s.fsm.read(func(t *datatree.Tree) {
				s.sessions.reset(t.Sessions(), time.Now())
			})
			s.leader.Store(true)
			select {
			case <-s.ready:
			default:
				close(s.ready)
				s.goAttach(s.acceptLoop)
				s.goAttach(s.expireLoop)
				s.goAttach(s.reapLoop)
				s.log.Info("serving", "client_addr", s.ln.Addr().String(), "zxid", s.lastZxid())
			}
		}
	}
}

// Ready is closed once the node serves clients.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Done is closed when the server has stopped.
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
		s.teardown()
	})
	<-s.done
	return s.Err()
}

func (s *Server) teardown() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	s.connMu.Lock()
	for c := range s.conns {
		c.close()
	}
	s.connMu.Unlock()
	s.wg.Wait()
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			s.setErr(fmt.Errorf("shut down raft: %w", err))
		}
	}
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

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *Server) lastZxid() (z zkproto.Zxid) {
	s.fsm.read(func(t *datatree.Tree) { z = t.LastZxid() })
	return z
}

// propose replicates txn and waits until it is applied on this node.
func (s *Server) propose(ctx context.Context, txn *datatree.Txn) (*datatree.Result, error) {
	f := s.proposeAsync(txn)
	return f.wait(ctx)
}

// proposal is a write in flight.
type proposal struct{ f raft.ApplyFuture }

func (s *Server) proposeAsync(txn *datatree.Txn) proposal {
	return proposal{f: s.raft.Apply(encodeTxn(txn), 0)}
}

func (p proposal) wait(ctx context.Context) (*datatree.Result, error) {
	if err := p.f.Error(); err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	r, ok := p.f.Response().(*applyResult)
	if !ok {
		return nil, fmt.Errorf("replicate: unexpected apply response %T", p.f.Response())
	}
	if r.err != nil {
		return nil, r.err
	}
	return &r.res, nil
}

// onApplied keeps node-local session state in step with the replicated table.
func (s *Server) onApplied(txn *datatree.Txn, res *datatree.Result) {
	if res.Err != zkproto.ErrOK {
		return
	}
	switch txn.Kind {
	case datatree.TxnCreateSession:
		if s.leader.Load() {
			s.sessions.add(txn.Session, time.Duration(txn.Timeout)*time.Millisecond, time.Now())
		}
	case datatree.TxnCloseSession:
		s.sessions.remove(txn.Session)
		s.connMu.Lock()
		c := s.bySess[txn.Session]
		s.connMu.Unlock()
		if c != nil {
			c.sessionClosed()
		}
	}
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

// slogWriter turns hclog's text lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
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
