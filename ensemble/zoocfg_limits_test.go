package ensemble_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
)

// zoo.cfg's limit keys reach the server's Config, and without them the limits are on.
func TestZooConfigLimits(t *testing.T) {
	load := func(lines ...string) ensemble.Config {
		t.Helper()
		path := filepath.Join(t.TempDir(), "zoo.cfg")
		os.WriteFile(path, []byte(strings.Join(append([]string{"tickTime=200", "dataDir=" + t.TempDir()}, lines...), "\n")+"\n"), 0o600)
		cfg, err := ensemble.LoadZooConfig(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	def := load()
	if def.MaxClientCnxns != 60 || def.MaxCnxns != 20000 || def.SessionlessCnxnTimeout != 10*time.Second ||
		def.MaxWatchesPerSession != 100000 || def.AllowAnyPeerAddress {
		t.Errorf("defaults: maxClientCnxns %d, maxCnxns %d, sessionless %v, watches %d, any peer address %v",
			def.MaxClientCnxns, def.MaxCnxns, def.SessionlessCnxnTimeout, def.MaxWatchesPerSession, def.AllowAnyPeerAddress)
	}
	set := load("maxCnxns=0", "nio.sessionlessCnxnTimeout=1500", "zkraft.maxWatchesPerSession=7", "zkraft.peerAddressCheck=false")
	if set.MaxCnxns != 0 || set.SessionlessCnxnTimeout != 1500*time.Millisecond || set.MaxWatchesPerSession != 7 || !set.AllowAnyPeerAddress {
		t.Errorf("set: maxCnxns %d, sessionless %v, watches %d, any peer address %v",
			set.MaxCnxns, set.SessionlessCnxnTimeout, set.MaxWatchesPerSession, set.AllowAnyPeerAddress)
	}
}
