package ensemble

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/fourletter"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// sessionTracker is the leader's view of when each session expires. It is node-local
// and rebuilt with fresh deadlines whenever this node becomes leader.
type sessionTracker struct {
	tick     time.Duration // expiry granularity (tickTime)
	mu       sync.Mutex
	timeout  map[zkproto.SessionID]time.Duration
	deadline map[zkproto.SessionID]time.Time
}

func newSessionTracker(tick time.Duration) *sessionTracker {
	return &sessionTracker{tick: tick, timeout: map[zkproto.SessionID]time.Duration{}, deadline: map[zkproto.SessionID]time.Time{}}
}

// expiry is when a session touched at now with timeout d expires: rounded up to the
// next tick, as ZooKeeper's SessionTrackerImpl.roundToNextInterval does.
func (t *sessionTracker) expiry(now time.Time, d time.Duration) time.Time {
	at := now.Add(d)
	if t.tick <= 0 {
		return at
	}
	return at.Truncate(t.tick).Add(t.tick)
}

func (t *sessionTracker) reset(sessions []datatree.SessionInfo, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.timeout)
	clear(t.deadline)
	for _, si := range sessions {
		d := time.Duration(si.Timeout) * time.Millisecond
		t.timeout[si.ID] = d
		t.deadline[si.ID] = t.expiry(now, d)
	}
}

func (t *sessionTracker) add(id zkproto.SessionID, timeout time.Duration, now time.Time) {
	t.mu.Lock()
	t.timeout[id] = timeout
	t.deadline[id] = t.expiry(now, timeout)
	t.mu.Unlock()
}

// touch extends a session's life by its timeout; it reports false for a session that
// is unknown or already being expired.
func (t *sessionTracker) touch(id zkproto.SessionID, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.timeout[id]
	if ok {
		t.deadline[id] = t.expiry(now, d)
	}
	return ok
}

func (t *sessionTracker) remove(id zkproto.SessionID) {
	t.mu.Lock()
	delete(t.timeout, id)
	delete(t.deadline, id)
	t.mu.Unlock()
}

// expired removes and returns the sessions whose deadline has passed.
func (t *sessionTracker) expired(now time.Time) []zkproto.SessionID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []zkproto.SessionID
	for id, dl := range t.deadline {
		if now.After(dl) {
			ids = append(ids, id)
			delete(t.deadline, id)
			delete(t.timeout, id)
		}
	}
	return ids
}

func (t *sessionTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.timeout)
}

// expireLoop turns passed deadlines into CloseSession transactions. ZooKeeper checks
// at tick granularity; half a tick keeps expiry within a tick of the deadline.
func (s *Server) expireLoop() {
	tick := time.NewTicker(max(s.cfg.TickTime/2, 10*time.Millisecond))
	defer tick.Stop()
	// closing holds the expired sessions whose close has not applied yet: the
	// tracker forgot them, so a failed proposal is retried at every tick while this
	// member leads. A new leadership drops them: it gives every session in the
	// tree a fresh timeout (runLeadership), as does any other member that takes over.
	closing := map[zkproto.SessionID]bool{}
	var term int64 // the leadership (leaderAt) closing belongs to
	for {
		var now time.Time
		select {
		case <-s.ctx.Done():
			return
		case now = <-tick.C:
		}
		if at := s.leaderAt.Load(); !s.leader.Load() || at != term {
			clear(closing)
			term = at
			if !s.leader.Load() {
				continue
			}
		}
		for _, id := range s.sessions.expired(now) {
			s.log.Info("expiring session", "session_id", sessionHex(id))
			s.obs.metrics.StaleSessionsExpired.Inc()
			closing[id] = true
		}
		for id := range closing {
			if s.raft.State() != raft.Leader {
				break // leadership is going: the next tick drops them
			}
			txn := &datatree.Txn{Kind: datatree.TxnCloseSession, Session: id, Time: now.UnixMilli()}
			_, err := s.propose(s.ctx, txn)
			switch {
			case err == nil:
				delete(closing, id)
			case s.ctx.Err() != nil:
				return
			default:
				if ok, n := s.quiet.allow("expire session", time.Now()); ok {
					s.log.Warn("could not close an expired session; retrying while this member leads", "session_id", sessionHex(id), "err", err, "repeats", n)
				}
			}
		}
	}
}

// reapLoop deletes empty containers and expired TTL nodes with conditional
// deleteContainer transactions, as ZooKeeper's ContainerManager does.
func (s *Server) reapLoop() {
	tick := time.NewTicker(s.cfg.ContainerCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			if !s.leader.Load() {
				continue
			}
			var paths []string
			s.fsm.read(func(t *datatree.Tree) { paths = t.ReapCandidates(now.UnixMilli()) })
			for _, p := range paths {
				txn := &datatree.Txn{Kind: datatree.TxnRequest, Time: now.UnixMilli(), Op: zkproto.OpDeleteContainer,
					Request: &zkproto.DeleteRequest{Path: p, Version: -1}}
				if _, err := s.propose(s.ctx, txn); err != nil {
					if s.ctx.Err() != nil {
						return
					}
					s.log.Warn("reap", "path", p, "err", err)
				}
			}
		}
	}
}

// newPassword draws a session password (crypto/rand.Read never fails).
func newPassword() []byte {
	b := make([]byte, zkproto.PasswordLen)
	rand.Read(b)
	return b
}

// randomUint64 draws a server instance id or a data directory's incarnation.
func randomUint64() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// buckets groups sessions by expiry time rounded up to a tick, as ZooKeeper's
// ExpiryQueue prints them in dump.
func (t *sessionTracker) buckets(tick time.Duration) []fourletter.Bucket {
	t.mu.Lock()
	defer t.mu.Unlock()
	by := map[int64][]int64{}
	for id, dl := range t.deadline {
		ms := dl.UnixMilli()
		if tms := tick.Milliseconds(); tms > 0 {
			ms = (ms/tms + 1) * tms
		}
		by[ms] = append(by[ms], int64(id))
	}
	out := make([]fourletter.Bucket, 0, len(by))
	for ms, ids := range by {
		slices.Sort(ids)
		out = append(out, fourletter.Bucket{Expire: time.UnixMilli(ms), Sessions: ids})
	}
	slices.SortFunc(out, func(a, b fourletter.Bucket) int { return a.Expire.Compare(b.Expire) })
	return out
}

// touchSession keeps a session alive on a resume: at once on the leader, which also
// tells whether it is already being expired; a follower's next touch round carries it.
func (s *Server) touchSession(id zkproto.SessionID) bool {
	if s.leader.Load() {
		return s.sessions.touch(id, time.Now())
	}
	return true
}

// awaitLeader waits, up to max, until a leader is known: a client that connects
// during an election or just after a leadership transfer waits a moment rather than
// being turned away.
func (s *Server) awaitLeader(ctx context.Context, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		if addr, _ := s.raft.LeaderWithID(); addr != "" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-s.ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}
