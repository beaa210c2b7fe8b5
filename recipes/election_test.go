package recipes_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zkraft/zkraft/recipes"
)

// Three candidates: exactly one leads at a time; when the leader resigns or its
// session expires, the next one leads; observers follow the leader.
func TestLeaderElectionFailover(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		p := root(t) + "/election"
		ctx := ctxT(t, 30*time.Second)
		px := newProxy(t, addr)
		es := []*recipes.LeaderElection{
			recipes.NewLeaderElection(session(t, px.Addr(), 600*time.Millisecond), p, "a"),
			recipes.NewLeaderElection(session(t, addr, 5*time.Second), p, "b", recipes.WithLayout(recipes.LayoutCurator)),
			recipes.NewLeaderElection(session(t, addr, 5*time.Second), p, "c"),
		}
		obsCtx, stopObs := context.WithCancel(ctx)
		defer stopObs()
		observed := es[2].Observe(obsCtx)
		if err := es[0].Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		won := make(chan int, 2)
		for i := 1; i < 3; i++ {
			go func() {
				if err := es[i].Campaign(ctx); err != nil {
					t.Error(err)
					return
				}
				won <- i
			}()
		}
		waitLeader := func(want string) {
			t.Helper()
			eventually(t, 10*time.Second, func() error {
				id, ok, err := es[1].Leader(ctx)
				if err != nil || !ok || id != want {
					return fmt.Errorf("leader %q %v %v, want %q", id, ok, err, want)
				}
				return nil
			})
			for {
				select {
				case id, ok := <-observed:
					if !ok {
						t.Fatal("observer stopped")
					}
					if id == want {
						return
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("observer never saw %q", want)
				}
			}
		}
		waitLeader("a")
		// Give b and c time to queue behind a, in that order.
		eventually(t, 5*time.Second, func() error {
			if n := len(children(t, rawConn(t, addr), p)); n != 3 {
				return fmt.Errorf("%d candidates", n)
			}
			return nil
		})
		select {
		case i := <-won:
			t.Fatalf("candidate %d leads while a does", i)
		case <-time.After(200 * time.Millisecond):
		}

		// a's session expires: a is told, and exactly one other leads.
		px.setCut(true)
		waitClosed(t, es[0].Lost(), 5*time.Second, "a's Lost after session expiry")
		if es[0].IsLeader() {
			t.Fatal("a still claims leadership")
		}
		var next int
		select {
		case next = <-won:
		case <-time.After(10 * time.Second):
			t.Fatal("nobody took over")
		}
		select {
		case i := <-won:
			t.Fatalf("two leaders: %d and %d", next, i)
		case <-time.After(300 * time.Millisecond):
		}
		waitLeader(es[next].ID())
		if closed(es[next].Lost()) {
			t.Fatal("new leader reports loss")
		}
		// The leader resigns: the last one takes over.
		if err := es[next].Resign(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-won:
		case <-time.After(10 * time.Second):
			t.Fatal("no takeover after resign")
		}
		waitLeader(es[3-next].ID())
		if err := es[3-next].Resign(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() error {
			if _, ok, _ := es[1].Leader(ctx); ok {
				return errors.New("still a leader")
			}
			return nil
		})
	})
}

// Deleting the election path (with the leader's node) ends leadership: Lost
// closes, and campaigning again recreates the path.
func TestLeaderElectionPathDeleted(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		p := root(t) + "/election"
		ctx := ctxT(t, 20*time.Second)
		e := recipes.NewLeaderElection(session(t, addr, 5*time.Second), p, "a")
		if err := e.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		if err := deleteAll(rawConn(t, addr), p); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, e.Lost(), 5*time.Second, "Lost after the election path was deleted")
		if e.IsLeader() {
			t.Fatal("still claims leadership")
		}
		if err := e.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		if id, ok, err := e.Leader(ctx); err != nil || !ok || id != "a" {
			t.Fatalf("leader %q %v %v", id, ok, err)
		}
		e.Resign(ctx)
	})
}
