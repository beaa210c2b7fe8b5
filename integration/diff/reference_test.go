package diff

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/compat"
	"github.com/zkraft/zkraft/integration/testkit"
)

// The settings both servers run with. ZooKeeper clamps a requested session timeout to
// [minSessionTimeout, maxSessionTimeout]; both are set explicitly so that the clamps
// do not depend on tickTime defaults.
const (
	tickTime          = 100 * time.Millisecond
	minSessionTimeout = 1000 * time.Millisecond
	maxSessionTimeout = 20000 * time.Millisecond
	containerInterval = 100 * time.Millisecond
)

// superDigest is "super:base64(sha1(super:<password>))", as DigestAuthenticationProvider wants.
var superDigest = compat.DigestID("super", compat.DefaultSuperPassword)

// ref is the one reference Apache ZooKeeper of this test binary, started by TestMain.
var ref *testkit.ZooKeeper

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	r, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{
		Config: map[string]string{
			"tickTime":          fmt.Sprint(tickTime.Milliseconds()),
			"minSessionTimeout": fmt.Sprint(minSessionTimeout.Milliseconds()),
			"maxSessionTimeout": fmt.Sprint(maxSessionTimeout.Milliseconds()),
		},
		Props: map[string]string{
			"zookeeper.extendedTypesEnabled":                     "true",
			"zookeeper.DigestAuthenticationProvider.superDigest": superDigest,
			"znode.container.checkIntervalMs":                    fmt.Sprint(containerInterval.Milliseconds()),
			"zookeeper.forceSync":                                "no",
		},
		Keep: os.Getenv("ZKDIFF_KEEP") != "",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration/diff: cannot start the reference Apache ZooKeeper: %v\n"+
			"These tests need java (17) and Debian's zookeeper 3.8.0 package (apt-get install zookeeper).\n", err)
		return 1
	}
	ref = r
	defer r.Stop()
	defer r.StopOnSignal()()
	return m.Run()
}

// zkraftConfig configures zkraft as the reference is configured.
func zkraftConfig(c *ensemble.Config) {
	c.TickTime = tickTime
	c.MinSessionTimeout = minSessionTimeout
	c.MaxSessionTimeout = maxSessionTimeout
	c.MaxClientCnxns = 0
	c.FourLetterWhitelist = []string{"*"}
	c.ExtendedTypesEnabled = true
	c.SuperDigest = superDigest
	c.ContainerCheckInterval = containerInterval
}

// servers gives the two targets of a test: the reference and a fresh in-process zkraft.
func servers(t *testing.T) (refAddr, zkraftAddr string) {
	t.Helper()
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(zkraftConfig))
	return ref.Addr, srv.Addr
}
