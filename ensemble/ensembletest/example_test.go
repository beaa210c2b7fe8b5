package ensembletest_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// TestExample is the pattern for a Go test of code that uses ZooKeeper: an in-process
// server, no Java, cleaned up with the test. It also shows a durable restart.
func TestExample(t *testing.T) {
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(t.TempDir()))

	conn, _, err := zk.Connect([]string{srv.Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/config", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	srv = srv.Restart() // same address and data directory
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _, err := conn.Get("/config") // the client reconnects by itself
		if err == nil {
			if string(data) != "v1" {
				t.Fatalf("after restart /config = %q, want v1", data)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
