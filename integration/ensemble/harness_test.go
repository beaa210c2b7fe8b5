// Package ensemble_it runs replicated zkraft ensembles as separate processes
// (integration/ensembleproc: zkraft serve --config zoo.cfg, one per member, on
// loopback ports) and checks them from go-zookeeper clients: replication, leader
// failover under write load (kill -9), session and watch survival, catch-up of a
// restarted member, also through a snapshot install.
package ensemble_it

import (
	"os"
	"testing"

	"github.com/zkraft/zkraft/integration/ensembleproc"
	"github.com/zkraft/zkraft/integration/testkit"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testkit.RunWithZkraft(m, &binary)) }

type (
	ensemble = ensembleproc.Ensemble
	member   = ensembleproc.Member
	options  = ensembleproc.Options
)

const (
	clientPortKey    = ensembleproc.ClientPortKey
	clientPortSuffix = ensembleproc.ClientPortSuffix
)

var (
	connect = ensembleproc.Connect
	srvr    = ensembleproc.Srvr
	tail    = ensembleproc.Tail
	openACL = ensembleproc.OpenACL
)

func startEnsemble(t testing.TB, o options) *ensemble { return ensembleproc.Start(t, binary, o) }
