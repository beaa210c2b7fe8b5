//go:build clients

package clients

import (
	"regexp"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
)

// quotaSession is a zkCli.sh session of quota commands: soft limits (setquota -n -b),
// hard limits (-N -B) refused with QUOTAEXCEEDED under enforceQuota, listquota as the
// stats move, delquota of one limit and of all, and zkCli's own refusals (a parent or
// child with a quota, a missing path).
var quotaSession = []string{
	`create /q1 ""`,
	`create /q1/a "12345"`,
	`setquota -n 3 /q1`,
	`listquota /q1`,
	`create /q1/b "x"`,
	`create /q1/c "y"`,
	`listquota /q1`,
	`get /zookeeper/quota/q1/zookeeper_stats`,
	`get /zookeeper/quota/q1/zookeeper_limits`,
	`setquota -b 10 /q1`,
	`listquota /q1`,
	`set /q1/a "1234567890123"`,
	`listquota /q1`,
	`delete /q1/c`,
	`listquota /q1`,
	`setquota -n 5 /q1/a`,
	`delquota -n /q1`,
	`listquota /q1`,
	`delquota /q1`,
	`listquota /q1`,
	`setquota -n 5 /q1/a`,
	`listquota /q1/a`,
	`setquota -n 5 /q1`,
	`setquota -n 5 /nonexist`,
	`create /q3 ""`,
	`setquota -N 2 /q3`,
	`create /q3/a "x"`,
	`create /q3/b "y"`,
	`create -s /q3/s ""`,
	`listquota /q3`,
	`setquota -B 4 /q3`,
	`listquota /q3`,
	`set /q3/a "12345"`,
	`set /q3/a "123"`,
	`listquota /q3`,
	`delquota -N /q3`,
	`create /q3/b "y"`,
	`listquota /q3`,
	`delquota -B /q3`,
	`listquota /q3`,
	`ls /zookeeper/quota`,
	`ls -R /zookeeper/quota`,
}

// cliNoise drops what differs between two runs of zkCli.sh whatever the server: the
// JVM's and the client library's log lines, stack frames, and the server address.
var cliNoise = regexp.MustCompile(`(?m)^(SLF4J|.*\bINFO\b|.*\bWARN\b|\s+at |Connecting to |WATCHER::|WatchedEvent |$).*\n`)

func normalizeCli(out string) string { return cliNoise.ReplaceAllString(out, "") }

// TestZkCliQuota runs the same zkCli.sh quota session against the reference ZooKeeper
// 3.8.0 and against zkraft, both with enforceQuota=true, and requires the same
// output line for line: setquota/listquota/delquota read and write the
// /zookeeper/quota nodes whose stats the server keeps, and the hard limits refuse
// writes with the same error.
func TestZkCliQuota(t *testing.T) {
	steps := make([]cliStep, len(quotaSession))
	for i, l := range quotaSession {
		steps[i] = cliStep{line: l}
	}
	ref, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{Props: map[string]string{"zookeeper.enforceQuota": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Stop()
	_, want := runZkCli(t, ref.Addr, steps)
	t.Logf("ZooKeeper 3.8.0's output:\n%s", normalizeCli(want))
	for _, w := range []string{"Quota has exceeded", "Output stat for /q1 count=4,bytes=7"} {
		if !strings.Contains(want, w) {
			t.Errorf("the reference's output lacks %q: the session does not test what it means to", w)
		}
	}

	for _, tc := range []struct {
		name  string
		addrs func(t *testing.T) string
	}{
		{"single", func(t *testing.T) string {
			return ensembletest.RunServer(t, ensembletest.WithConfig(func(c *ensemble.Config) { c.EnforceQuota = true })).Addr
		}},
		{"ensemble follower", func(t *testing.T) string {
			cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) { c.EnforceQuota = true }))
			return cl.Members[(cl.Leader()+1)%3].Addr
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := runZkCli(t, tc.addrs(t), steps)
			w, g := normalizeCli(want), normalizeCli(got)
			if w != g {
				wl, gl := strings.Split(w, "\n"), strings.Split(g, "\n")
				for i := 0; i < max(len(wl), len(gl)); i++ {
					var a, b string
					if i < len(wl) {
						a = wl[i]
					}
					if i < len(gl) {
						b = gl[i]
					}
					if a != b {
						t.Errorf("zkCli.sh output differs from ZooKeeper's at line %d:\nZooKeeper: %q\nzkraft:    %q\n--- ZooKeeper\n%s\n--- zkraft\n%s", i+1, a, b, w, g)
						break
					}
				}
			}
			if !strings.Contains(g, "Output stat for /q1 count=4,bytes=7") {
				t.Errorf("the session did not reach the stats it checks:\n%s", g)
			}
		})
	}
}
