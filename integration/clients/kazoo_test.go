//go:build clients

package clients

import (
	"context"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
)

func TestKazoo(t *testing.T) {
	srv := ensembletest.RunServer(t)
	p := startProxy(t, "kazoo", srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := testkit.RunPytest(ctx, t, "test_kazoo.py", "ZK_HOSTS="+p.Addr())
	if err != nil {
		t.Fatalf("pytest test_kazoo.py: %v\n%s", err, out)
	}
	t.Logf("pytest:\n%s", out)
}
