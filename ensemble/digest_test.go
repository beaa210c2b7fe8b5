package ensemble_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// TestDigestFindsDivergedMember: members compare their tree digests with the leader's
// as they apply the log; agreeing members find no difference, and a member whose tree
// took a write the others did not reports it at the next comparison.
func TestDigestFindsDivergedMember(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3)
	leader := cl.Leader()
	diverged, agreeing := (leader+1)%3, (leader+2)%3
	c := connectTo(t, cl.Members[leader].Addr)

	// Enough writes for several comparisons (one per 512 Raft indexes), pipelined.
	write := func(prefix string, n int) {
		t.Helper()
		results := make([]<-chan error, 0, n)
		for i := range n {
			ch := make(chan error, 1)
			results = append(results, ch)
			go func() {
				// A leader change (a loaded machine) loses the connection: the create
				// may or may not have been made, so it is made again or found made.
				p := fmt.Sprintf("/%s-%d", prefix, i)
				for try := 0; ; try++ {
					_, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
					if errors.Is(err, zk.ErrNodeExists) && try > 0 {
						err = nil
					}
					if (errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, syscall.EPIPE)) && try < 20 {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					ch <- err
					return
				}
			}()
			if len(results) >= 32 {
				if err := <-results[0]; err != nil {
					t.Fatal(err)
				}
				results = results[1:]
			}
		}
		for _, ch := range results {
			if err := <-ch; err != nil {
				t.Fatal(err)
			}
		}
	}
	waitCompared := func(m int, beyond uint64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if n, _ := cl.Members[m].DigestChecks(); n > beyond {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d compared no digest within 30s", m+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	write("a", 1200)
	for _, m := range []int{diverged, agreeing} {
		waitCompared(m, 0)
		if n, bad := cl.Members[m].DigestChecks(); bad != 0 {
			t.Fatalf("member %d: %d of %d digest comparisons differ on an ensemble that agrees", m+1, bad, n)
		}
	}

	cl.Members[diverged].Diverge("/only-here")
	before, _ := cl.Members[diverged].DigestChecks()
	write("b", 1200)
	// The first comparison may be of a record made before the divergence (the leader
	// proposes each record after it applied its index): wait for a second one.
	waitCompared(diverged, before+1)
	if n, bad := cl.Members[diverged].DigestChecks(); bad == 0 {
		t.Fatalf("the diverged member compared %d digests and found no difference", n)
	}
	if n, bad := cl.Members[agreeing].DigestChecks(); bad != 0 {
		t.Fatalf("member %d (agreeing): %d of %d digest comparisons differ", agreeing+1, bad, n)
	}
}
