//go:build clients

package clients

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
)

// TestKazoo runs test_kazoo.py against a single node (behind the recording proxy
// of the matrix) and against a 3-member ensemble (the connect string lists every
// member; kazoo picks one at random per client, so clients of one test are
// usually on different members). The tests that must run on each kind of member
// (FIFO order) get the leader and a follower by name in ZK_MEMBERS.
func TestKazoo(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		srv := ensembletest.RunServer(t)
		p := startProxy(t, "kazoo", srv.Addr)
		runKazoo(t, p.Addr(), "")
	})
	t.Run("ensemble", func(t *testing.T) {
		t.Parallel()
		cl := ensembletest.RunCluster(t, 3)
		addrs, leader := cl.Addrs(), cl.Leader()
		runKazoo(t, strings.Join(addrs, ","), "leader="+addrs[leader]+",follower="+addrs[(leader+1)%3])
	})
}

func runKazoo(t *testing.T, hosts, members string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t0 := time.Now()
	out, err := testkit.RunPytest(ctx, t, "test_kazoo.py", "ZK_HOSTS="+hosts, "ZK_MEMBERS="+members)
	if err != nil {
		t.Fatalf("pytest test_kazoo.py (ZK_HOSTS=%s): %v\n%s", hosts, err, out)
	}
	t.Logf("pytest (%v):\n%s", time.Since(t0).Round(time.Millisecond), out)
}
