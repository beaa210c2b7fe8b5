package integration

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// lockedBuffer collects the server's log lines for the test to count.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A full disk loses nothing: writes fail (their connections close) while the Raft
// log cannot grow, a connection that only reads keeps being served, the log says so
// a few times rather than hundreds while clients keep retrying, and once there is space again the server takes
// writes by itself and every acknowledged write is there, also after a restart.
// It mounts a 2 MiB tmpfs, so it runs as root (as CI does).
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s (this test needs root, as CI runs): %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })

	var logs lockedBuffer
	srv := ensembletest.RunServer(t, ensembletest.WithDataDir(dir+"/data"), ensembletest.WithConfig(func(c *ensemble.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}))
	reader := connect(t, srv.Addr)
	if _, err := reader.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	writer := connect(t, srv.Addr)
	data := make([]byte, 8<<10)
	var acked []string
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		p := fmt.Sprintf("/fill-%05d", i)
		if _, err := writer.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Logf("write %d failed once the disk was full: %v", i, err)
			break
		}
		acked = append(acked, p)
		if time.Now().After(deadline) || i > 10000 {
			t.Fatalf("the disk never filled after %d writes", i)
		}
	}
	if len(acked) < 10 {
		t.Fatalf("only %d writes before the disk was full", len(acked))
	}
	// Clients keep trying to write for a while, as applications do (a try may still
	// fit now and then, in pages bbolt freed; those count as acknowledged too).
	for i, end := 0, time.Now().Add(2*time.Second); time.Now().Before(end); i++ {
		p := fmt.Sprintf("/retry-%04d", i)
		if _, err := writer.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err == nil {
			acked = append(acked, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Reads are still served while the disk stays full.
	if d, _, err := reader.Get("/kept"); err != nil || string(d) != "v" {
		t.Fatalf("read while the disk is full: %q %v", d, err)
	}
	n := strings.Count(logs.String(), "level=WARN") + strings.Count(logs.String(), "level=ERROR")
	t.Logf("%d warning/error lines while the disk was full", n)
	if n > 15 {
		t.Fatalf("%d warning/error lines in two seconds of a full disk: the log is flooded", n)
	}

	// Room again: the server takes writes by itself.
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatalf("grow the tmpfs: %v", err)
	}
	eventually(t, 20*time.Second, func() error {
		_, err := writer.Create("/after", nil, 0, zk.WorldACL(zk.PermAll))
		if err == zk.ErrNodeExists {
			return nil
		}
		return err
	})
	check := func(c *zk.Conn, when string) {
		for _, p := range acked {
			if ok, _, err := c.Exists(p); !ok || err != nil {
				t.Fatalf("acknowledged %s missing %s: %v %v", p, when, ok, err)
			}
		}
	}
	check(writer, "after the disk had room again")
	srv = srv.Restart()
	check(connect(t, srv.Addr), "after a restart")
}
