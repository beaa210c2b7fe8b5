package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// TestStatusServers: zkraft status shows one leader and two followers of a
// 3-member ensemble in the same term, each with its lag, sessions and znodes, and
// names a server it cannot reach (exiting non-zero).
func TestStatusServers(t *testing.T) {
	c := ensembletest.RunCluster(t, 3)
	c.Leader()
	out, err := exec.Command(binary, "status", "--servers", strings.Join(c.Addrs(), ",")).CombinedOutput()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	t.Logf("zkraft status:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SERVER") {
		t.Fatalf("status output:\n%s", out)
	}
	roles := map[string]int{}
	terms := map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 9 {
			t.Fatalf("short line %q", l)
		}
		roles[f[1]]++
		terms[f[2]] = true
		if f[3] == "-" || f[7] == "0" {
			t.Errorf("line %q: no lag or no znodes", l)
		}
	}
	if roles["leader"] != 1 || roles["follower"] != 2 || len(terms) != 1 {
		t.Errorf("roles %v, terms %v:\n%s", roles, terms, out)
	}

	down := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out, err = exec.Command(binary, "status", "--servers", c.Addrs()[0]+","+down, "--timeout", "1s").CombinedOutput()
	if err == nil || !strings.Contains(string(out), down+"  unreachable") {
		t.Errorf("status with a server down: %v\n%s", err, out)
	}
}
