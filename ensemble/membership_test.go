package ensemble_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// When the leader crashes, its clients reconnect to the followers at once, while the
// followers still take the dead member for the leader. A resume that moves a session
// to another member, and a new session, wait for the next leader instead of being
// refused (issue 8, finding 4).
func TestClusterHandshakeRidesOutLeaderCrash(t *testing.T) {
	// A long tick keeps the followers unaware of the crash for a while.
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) { c.TickTime = 500 * time.Millisecond }))
	leader := cl.Leader()
	f1, f2 := cl.Addrs()[(leader+1)%3], cl.Addrs()[(leader+2)%3]
	// A session of member f1 that f2 knows too (f2 has synced past its creation).
	a, err := rawzk.Connect(f1, zkproto.ConnectRequest{TimeOut: 8000, Passwd: make([]byte, zkproto.PasswordLen)})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	s2, err := rawzk.Connect(f2, zkproto.ConnectRequest{TimeOut: 8000, Passwd: make([]byte, zkproto.PasswordLen)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Call(zkproto.OpSync, &zkproto.SyncRequest{Path: "/"}, &zkproto.SyncResponse{}); err != nil {
		t.Fatal(err)
	}
	s2.Close()

	ensemble.Crash(cl.Members[leader].Server)
	cl.Members[leader] = nil
	crashed := time.Now()
	var wg sync.WaitGroup
	var resumeErr, createErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		b, err := rawzk.Connect(f2, zkproto.ConnectRequest{TimeOut: 8000, SessionID: a.Session.SessionID, Passwd: a.Session.Passwd})
		if err == nil {
			defer b.Close()
			if b.Session.SessionID != a.Session.SessionID || b.Session.TimeOut == 0 {
				err = fmt.Errorf("answered %+v", b.Session)
			}
		}
		resumeErr = err
	}()
	go func() {
		defer wg.Done()
		b, err := rawzk.Connect(f1, zkproto.ConnectRequest{TimeOut: 8000, Passwd: make([]byte, zkproto.PasswordLen)})
		if err == nil {
			defer b.Close()
			if b.Session.SessionID == 0 {
				err = fmt.Errorf("answered %+v", b.Session)
			}
		}
		createErr = err
	}()
	wg.Wait()
	if resumeErr != nil {
		t.Errorf("resume (moving the session) on a follower after the leader crashed: %v", resumeErr)
	}
	if createErr != nil {
		t.Errorf("new session on a follower after the leader crashed: %v", createErr)
	}
	t.Logf("handshakes answered %v after the crash", time.Since(crashed).Round(time.Millisecond))
}
