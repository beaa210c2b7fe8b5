package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/integration/testkit"
	"github.com/zkraft/zkraft/zkproto"
)

// TestFsyncEIOStopsProcess fails the real fdatasync of the real binary with EIO
// (strace's syscall fault injection, from the 30th call on, as a failing disk keeps
// failing): the server must exit with an error naming its log (wal/), not retry nor panic,
// and every write it acknowledged must be there after a restart without the fault.
func TestFsyncEIOStopsProcess(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("this test needs strace (listed in .ci/packages; make deps installs it): %v", err)
	}
	bin := testkit.BuildZkraft(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := testkit.FreeAddr(t)
	args := []string{"serve", "--data-dir", data, "--client-addr", addr, "--log-level", "warn"}
	p := testkit.Start(t, exec.Command(strace, append([]string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=fdatasync", "-e", "signal=none",
		"-e", "inject=fdatasync:error=EIO:when=30+", bin}, args...)...))
	waitServing(t, p, addr)
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i := 0; i < 1000; i++ {
		path := fmt.Sprintf("/f%04d", i)
		xid, err := c.Send(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL})
		if err != nil {
			break
		}
		var cr zkproto.CreateResponse
		if h, err := c.Recv(xid, &cr); err != nil || h.Err != zkproto.ErrOK {
			break
		}
		acked = append(acked, path)
	}
	c.Close()
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("zkraft still runs 20s after its fdatasync failed (%d writes acknowledged):\n%s", len(acked), p.Output())
	}
	out := p.Output()
	if p.Cmd.ProcessState.ExitCode() == 0 || !strings.Contains(out, filepath.Join(data, "wal")) || !strings.Contains(out, "input/output error") || strings.Contains(out, "panic") {
		t.Fatalf("exit code %d; want a failure naming the log (wal/) and EIO, no panic:\n%s", p.Cmd.ProcessState.ExitCode(), out)
	}
	t.Logf("%d writes acknowledged before the failed fdatasync; the server said: %s", len(acked), lastLine(out))
	if len(acked) == 0 {
		t.Fatal("no write acknowledged before the fault: inject it later")
	}

	p2 := startZkraft(t, bin, args...)
	waitServing(t, p2, addr)
	r, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, path := range acked {
		var er zkproto.ExistsResponse
		if code := rawCall(t, r, zkproto.OpExists, &zkproto.ExistsRequest{Path: path}, &er); code != zkproto.ErrOK {
			t.Fatalf("acknowledged %s missing after the restart: %v", path, code)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
