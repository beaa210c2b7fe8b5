package ensemble

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/watch"
	"github.com/zkraft/zkraft/storage/datatree"
)

// An entry written by a newer zkraft: a body layout this version does not know.
func newerEntry() []byte {
	e := encodeTxn(origin{}, &datatree.Txn{Kind: datatree.TxnCloseSession, Session: 1})
	e[1] = entryVersion + 1
	return e
}

func waitDone(t *testing.T, s *Server) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the member kept running after an entry it cannot decode")
	}
}

// A member that cannot decode an entry stops, saying which and what to do, instead
// of skipping it and diverging from the members that can; after a restart it meets
// the entry again (no snapshot covered it). With zkraft.ignoreUndecodableEntries it
// skips the entry and serves.
func TestUndecodableEntryStopsMember(t *testing.T) {
	dir := t.TempDir()
	withDir := func(c *Config) { c.DataDir = dir; c.SnapshotThreshold = 2 }
	s := startTest(t, withDir)
	c := dial(t, s)
	if _, err := c.Create("/before", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	f := s.raft.Apply(newerEntry(), 0)
	// Applying it stops the member, Raft with it: Raft's shutdown may answer the
	// future before the FSM does (patch 4 of the raft copy), once the entry committed.
	if err := f.Error(); err != nil && !errors.Is(err, raft.ErrRaftShutdown) {
		t.Fatalf("the entry did not commit: %v", err)
	}
	waitDone(t, s)
	err := s.Err()
	var u *undecodableError
	if !errors.As(err, &u) || u.index != f.Index() {
		t.Fatalf("Err() = %v, want the undecodable entry at raft index %d", err, f.Index())
	}
	for _, want := range []string{fmt.Sprintf("raft index %d", f.Index()), "upgrade", "zkraft.ignoreUndecodableEntries=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err() lacks %q: %v", want, err)
		}
	}
	c.Close()

	// Restarted as it was, it stops at the same entry.
	again, err := Start(func() Config { cfg := NewConfig(); cfg.ClientAddr = "127.0.0.1:0"; withDir(&cfg); return cfg }())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	waitDone(t, again)
	if !errors.As(again.Err(), &u) || u.index != f.Index() {
		t.Fatalf("after a restart Err() = %v, want the entry at raft index %d again", again.Err(), f.Index())
	}

	// Told to skip it, it serves, with everything before and after the entry.
	skip := startTest(t, func(c *Config) { withDir(c); c.IgnoreUndecodableEntries = true })
	c = dial(t, skip)
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the skipped entry: %v", err)
	}
	if ok, _, err := c.Exists("/before"); err != nil || !ok {
		t.Fatalf("/before after the skipped entry: %v %v", ok, err)
	}
	if err := skip.Err(); err != nil {
		t.Fatalf("Err() = %v after skipping", err)
	}
}

// A transaction that decodes but fails validation is an ordinary result, the same on
// every member: the client gets its error code and the member goes on.
func TestFailingTxnDoesNotStopMember(t *testing.T) {
	s := startTest(t, nil)
	c := dial(t, s)
	if _, err := c.Create("/missing/child", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("create under a missing parent: %v, want %v", err, zk.ErrNoNode)
	}
	if _, err := c.Set("/nope", nil, -1); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("set of a missing node: %v, want %v", err, zk.ErrNoNode)
	}
	if _, err := c.Create("/ok", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after failing ones: %v", err)
	}
	select {
	case <-s.Done():
		t.Fatalf("the member stopped: %v", s.Err())
	default:
	}
}

// A member that installs the leader's snapshot never applies the entries it covers
// one by one. The requests it proposed among them still get an answer (outcome
// unknown): without one, their connections' processors waited for ever, holding
// their outstanding slots, and the reads queued behind them never ran.
func TestRestoreAnswersRequestsInFlight(t *testing.T) {
	f := newFSM(watch.New(), 1)
	result := f.await(7)
	ran := false
	if !f.after(7, func(*datatree.Tree) { ran = true }) {
		t.Fatal("after: the entry is not pending")
	}
	var snap bytes.Buffer
	if _, err := datatree.New().Snapshot().WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(io.NopCloser(&snap)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-result:
		if !errors.Is(r.err, errOutcomeUnknown) {
			t.Fatalf("result after the snapshot: %+v, want an unknown outcome", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a request in flight got no answer after the snapshot replaced the tree")
	}
	if f.pending(7) || ran {
		t.Fatalf("after the snapshot: pending %v, read ran %v; want neither", f.pending(7), ran)
	}
}
