package ensemble

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/watch"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// fsm is the Raft state machine: the data tree behind one lock, plus the watch table
// that fires under that lock. Holding the tree's write lock while triggering watches is
// what guarantees that a client sees a watch event before any response that reflects
// the change: a read that could see the change takes the read lock, so it runs after
// the event is already on its connection's queue.
type fsm struct {
	mu      sync.RWMutex
	tree    *datatree.Tree
	watches *watch.Manager

	// zxid mirrors the tree's last zxid for reply headers and stats, which need no
	// consistent view and should not take the tree lock on every request.
	zxid atomic.Int64
	// index is the Raft index of the last command entry applied to the tree (or of
	// the snapshot restored): Raft's own AppliedIndex moves as soon as entries are
	// handed to the FSM, before they are applied.
	index atomic.Uint64

	instance uint64 // this server's origin instance
	waitMu   sync.Mutex
	waiters  map[uint64]*waiter // by origin seq, for entries this server proposed
	// applied is called after each transaction, outside the lock, on the apply
	// goroutine: the server's session bookkeeping hangs off it.
	applied func(*datatree.Txn, *datatree.Result)
	// restored is called after a snapshot replaced the tree (a member that fell far
	// behind is sent the leader's snapshot).
	restored func()
	// fired is told how many watchers each event fired; snapshotTook and
	// restoreTook how long writing and restoring a snapshot took (metrics).
	fired        func(typ zkproto.EventType, n int)
	snapshotTook func(d time.Duration, zxid zkproto.Zxid)
	restoreTook  func(time.Duration)

	// An entry this member cannot decode (written by a newer zkraft, or damaged) halts
	// it: members that can decode it apply it, so skipping it would diverge silently.
	// From then on nothing is applied or snapshotted, and halt (set by the server)
	// stops the member. With ignoreUndecodable (zkraft.ignoreUndecodableEntries) the
	// entry is skipped and reported to skipped instead.
	ignoreUndecodable bool
	// snapshotFormat is the format snapshots are written in (zkraft.snapshotFormat;
	// 0: the newest).
	snapshotFormat uint32

	// digests are this member's tree digest records (see digest.go): digested is
	// called with each new one, mismatch when the leader's record of an index differs.
	digests        digestRing
	digested       func(digestRecord)
	mismatch       func(ours, leaders digestRecord)
	digestCompared atomic.Uint64 // records compared with the leader's
	digestMismatch atomic.Uint64 // of which differed

	halted  atomic.Pointer[undecodableError]
	halt    func(error)
	skipped func(error)
}

// undecodableError is an entry of the Raft log this member cannot decode.
type undecodableError struct {
	index uint64
	err   error
}

func (e *undecodableError) Error() string {
	return fmt.Sprintf("raft index %d: %v. This member cannot apply the ensemble's log and stops rather than diverge from the members that can: "+
		"upgrade it to the zkraft version the other members run and start it again (it applies the entry then), or remove it (reconfig -remove), "+
		"empty its data directory and add it back. To skip such entries instead, knowing this member's state may then differ from the others', "+
		"start it with zkraft.ignoreUndecodableEntries=true", e.index, e.err)
}

func (e *undecodableError) Unwrap() error { return e.err }

// waiter is this server's interest in one of its own entries: the proposer waiting
// for the result, and the reads its client sent after that write, which must see the
// tree as the entry left it, before any later entry (FIFO order of a session).
type waiter struct {
	result chan *applyResult
	after  []func(*datatree.Tree)
}

// applyResult is what raft's ApplyFuture.Response returns for our entries.
type applyResult struct {
	res datatree.Result
	err error
}

func newFSM(w *watch.Manager, instance uint64) *fsm {
	return &fsm{tree: datatree.New(), watches: w, instance: instance, waiters: map[uint64]*waiter{}}
}

func (f *fsm) Apply(l *raft.Log) any {
	if h := f.halted.Load(); h != nil {
		return &applyResult{err: h}
	}
	if len(l.Data) > 0 && l.Data[0] == entryDigest {
		return f.compareDigest(l)
	}
	o, txn, err := decodeTxn(l.Data)
	if err != nil {
		// Not every member fails on it (see halted): stop, unless told to skip it.
		u := &undecodableError{index: l.Index, err: err}
		if f.ignoreUndecodable {
			if f.skipped != nil {
				f.skipped(u)
			}
		} else if f.halted.CompareAndSwap(nil, u) && f.halt != nil {
			f.halt(u)
		}
		r := &applyResult{err: u}
		if w := f.take(o); w != nil {
			w.result <- r
		}
		return r
	}
	f.mu.Lock()
	res := f.tree.Apply(txn)
	f.zxid.Store(int64(f.tree.LastZxid()))
	f.index.Store(l.Index)
	for _, ev := range res.Events {
		if n := f.watches.Trigger(ev.Path, ev.Type, ev.ACL); n > 0 && f.fired != nil {
			f.fired(ev.Type, n)
		}
	}
	w := f.take(o)
	if w != nil {
		for _, read := range w.after {
			read(f.tree)
		}
	}
	var rec *digestRecord
	if f.digests.due(l.Index) {
		rec = &digestRecord{index: l.Index, zxid: f.tree.LastZxid(), digest: f.tree.Digest()}
		f.digests.record(*rec)
	}
	f.mu.Unlock()
	if f.applied != nil {
		f.applied(txn, &res)
	}
	if rec != nil && f.digested != nil {
		f.digested(*rec)
	}
	r := &applyResult{res: res}
	if w != nil {
		w.result <- r
	}
	return r
}

// compareDigest checks the leader's digest record against this member's own.
func (f *fsm) compareDigest(l *raft.Log) any {
	leaders, err := decodeDigest(l.Data)
	if err != nil {
		// Like any entry this member cannot decode; but it changes no state, so
		// skipping it cannot make this member diverge.
		if f.skipped != nil {
			f.skipped(&undecodableError{index: l.Index, err: err})
		}
		return &applyResult{}
	}
	ours, ok := f.digests.lookup(leaders.index)
	if ok {
		f.digestCompared.Add(1)
	}
	if ok && ours != leaders {
		f.digestMismatch.Add(1)
		if f.mismatch != nil {
			f.mismatch(ours, leaders)
		}
	}
	return &applyResult{}
}

// await registers interest in the result of the entry this server proposes with seq.
func (f *fsm) await(seq uint64) chan *applyResult {
	ch := make(chan *applyResult, 1)
	f.waitMu.Lock()
	f.waiters[seq] = &waiter{result: ch}
	f.waitMu.Unlock()
	return ch
}

// forget drops a waiter whose entry will never be applied, with the reads queued
// behind it (their connection closes: the write's fate is unknown).
func (f *fsm) forget(seq uint64) {
	f.waitMu.Lock()
	delete(f.waiters, seq)
	f.waitMu.Unlock()
}

// take removes and returns the waiter of an entry this server proposed.
func (f *fsm) take(o origin) *waiter {
	if o.Instance != f.instance {
		return nil
	}
	f.waitMu.Lock()
	w := f.waiters[o.Seq]
	delete(f.waiters, o.Seq)
	f.waitMu.Unlock()
	return w
}

// pending tells whether this server's entry seq is still waiting to be applied.
func (f *fsm) pending(seq uint64) bool {
	f.waitMu.Lock()
	_, ok := f.waiters[seq]
	f.waitMu.Unlock()
	return ok
}

// after queues read to run on the tree right after this server's entry seq is
// applied, under the write lock and before the next entry. It reports false, queuing
// nothing, when the entry is no longer pending (applied or forgotten).
func (f *fsm) after(seq uint64, read func(*datatree.Tree)) bool {
	f.waitMu.Lock()
	defer f.waitMu.Unlock()
	w, ok := f.waiters[seq]
	if ok {
		w.after = append(w.after, read)
	}
	return ok
}

// read runs fn with the tree under the read lock.
func (f *fsm) read(fn func(t *datatree.Tree)) {
	f.mu.RLock()
	fn(f.tree)
	f.mu.RUnlock()
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if h := f.halted.Load(); h != nil {
		// The tree lacks an entry Raft counts as applied: a snapshot would make that
		// permanent, where a restart after an upgrade applies it.
		return nil, h
	}
	// Raft never calls Snapshot concurrently with Apply; the lock keeps readers out
	// while the point-in-time view is taken (cheap), not while it is written.
	f.mu.Lock()
	s := f.tree.Snapshot()
	f.mu.Unlock()
	return &fsmSnapshot{s: s, format: f.snapshotFormat, took: f.snapshotTook}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	t, err := f.readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.install(t)
	return nil
}

// readSnapshot reads a tree from a snapshot's state.
func (f *fsm) readSnapshot(r io.Reader) (*datatree.Tree, error) {
	if f.restoreTook != nil {
		defer func(start time.Time) { f.restoreTook(time.Since(start)) }(time.Now())
	}
	return datatree.Restore(r)
}

// install makes t, restored from a snapshot, the tree.
func (f *fsm) install(t *datatree.Tree) {
	f.mu.Lock()
	f.tree = t
	f.zxid.Store(int64(t.LastZxid()))
	f.digests.reset()
	f.mu.Unlock()
	// The entries the snapshot covers are never applied here one by one, so their
	// waiters would wait for ever; which of ours it covers is not known. Every request
	// in flight gets an unknown outcome (its connection closes, as it would on a lost
	// leader), and the reads queued behind it are dropped with it.
	f.waitMu.Lock()
	waiters := f.waiters
	f.waiters = map[uint64]*waiter{}
	f.waitMu.Unlock()
	for _, w := range waiters {
		w.result <- &applyResult{err: &leaderError{kind: kindOutcomeUnknown,
			msg: "this member's state was replaced by the leader's snapshot while the request was in flight: its outcome is unknown"}}
	}
	if f.restored != nil {
		f.restored()
	}
}

type fsmSnapshot struct {
	s      *datatree.Snapshot
	format uint32                            // 0: the newest
	took   func(time.Duration, zkproto.Zxid) // the write's duration (snapshottime)
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if s.took != nil {
		defer func(start time.Time) { s.took(time.Since(start), s.s.Zxid()) }(time.Now())
	}
	if _, err := s.s.WriteFormat(sink, s.format); err != nil {
		sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

// Release lets the tree stop copying what the written snapshot shared.
func (s *fsmSnapshot) Release() { s.s.Release() }
