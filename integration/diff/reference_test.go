package diff

import (
	"fmt"
	"os"
	"testing"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/compat"
	"github.com/zkraft/zkraft/integration/testkit"
)

// ref is the one reference Apache ZooKeeper of this test binary, started by TestMain.
var ref *testkit.ZooKeeper

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	cfg, props := compat.DiffSettings.ZooKeeperConfig()
	r, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{Config: cfg, Props: props, Keep: os.Getenv("ZKDIFF_KEEP") != ""})
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

// servers gives the two targets of a test: the reference and a fresh in-process zkraft.
func servers(t *testing.T) (refAddr, zkraftAddr string) {
	t.Helper()
	srv := ensembletest.RunServer(t, ensembletest.WithConfig(compat.DiffSettings.Configure))
	return ref.Addr, srv.Addr
}
