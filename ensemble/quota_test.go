package ensemble_test

import (
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// TestQuotaReplicated: with enforceQuota, a write past a hard quota sent through a
// follower is refused with QUOTAEXCEEDED, and every member keeps the same stats.
func TestQuotaReplicated(t *testing.T) {
	c := ensembletest.RunCluster(t, 3, withHTTP, ensembletest.WithConfig(func(c *ensemble.Config) { c.EnforceQuota = true }))
	li := c.Leader()
	conn := connectTo(t, c.Members[(li+1)%3].Addr)
	acl := zk.WorldACL(zk.PermAll)
	for _, n := range []struct{ path, data string }{
		{"/q", ""}, {"/q/a", "abc"},
		{"/zookeeper/quota/q", ""},
		{"/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3"},
		{"/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"},
		{"/q/b", "12"},
	} {
		if _, err := conn.Create(n.path, []byte(n.data), 0, acl); err != nil {
			t.Fatalf("create %s: %v", n.path, err)
		}
	}
	if _, err := conn.Create("/q/c", nil, 0, acl); !isQuotaExceeded(err) {
		t.Fatalf("create past countHardLimit: %v, want QUOTAEXCEEDED", err)
	}
	if _, err := conn.Set("/q/b", []byte("123456789"), -1); !isQuotaExceeded(err) {
		t.Fatalf("setData past byteHardLimit: %v, want QUOTAEXCEEDED", err)
	}
	if _, err := conn.Set("/q/b", []byte("1234567"), -1); err != nil {
		t.Fatalf("setData up to byteHardLimit: %v", err)
	}
	for i, m := range c.Members {
		mc := connectTo(t, m.Addr)
		if _, err := mc.Sync("/"); err != nil {
			t.Fatal(err)
		}
		b, _, err := mc.Get("/zookeeper/quota/q/zookeeper_stats")
		if err != nil || string(b) != "count=3,bytes=10" {
			t.Errorf("member %d: stats %q (%v), want count=3,bytes=10", i+1, b, err)
		}
	}
	if got := scrape(t, c.Members[li])["zkraft_quota_exceeded_total"]; got < 2 {
		t.Errorf("leader: zkraft_quota_exceeded_total %v, want the two refusals", got)
	}
}

// isQuotaExceeded: go-zookeeper has no name for QUOTAEXCEEDED (-125).
func isQuotaExceeded(err error) bool { return err != nil && err.Error() == "unknown error: -125" }
