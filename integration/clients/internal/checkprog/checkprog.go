// Package checkprog runs the check programs of integration/clients (curator's
// CuratorCheck.java, cclient's testdata/zkcheck.c) and judges their report, so the
// two packages share one reading of the protocol the programs speak on stdout:
//
//	OK <check>[: detail]    a check passed
//	FAIL <check>: <why>     a check failed
//	DROP <addr>             cut me off from the server at addr (the test does it)
//	DONE <n> passed, 0 failed
package checkprog

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
)

// Run runs cmd (named name in failures) in its own process group, killed after
// timeout, calling onDrop for each DROP line. It fails t for a failed run, for each
// FAIL line, for each check of want that did not pass and unless the last line is
// the DONE of all of want. It returns the output lines.
func Run(t *testing.T, name string, cmd *exec.Cmd, timeout time.Duration, want []string, onDrop func(addr string)) []string {
	t.Helper()
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err = testkit.RunGroup(ctx, cmd, func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text()
			lines = append(lines, l)
			t.Log(l)
			if addr, ok := strings.CutPrefix(l, "DROP "); ok {
				onDrop(addr)
			}
		}
	})
	if err != nil {
		t.Errorf("%s: %v\nstderr (client log):\n%s", name, err, stderr.String())
	}
	ok := map[string]bool{}
	for _, l := range lines {
		if strings.HasPrefix(l, "FAIL ") {
			t.Errorf("%s", l)
		}
		if name, found := strings.CutPrefix(l, "OK "); found {
			ok[strings.SplitN(name, ": ", 2)[0]] = true
		}
	}
	for _, w := range want {
		if !ok[w] {
			t.Errorf("check %q did not pass", w)
		}
	}
	if n := len(lines); n == 0 || lines[n-1] != fmt.Sprintf("DONE %d passed, 0 failed", len(want)) {
		t.Errorf("%s did not finish cleanly; stderr:\n%s", name, stderr.String())
	}
	return lines
}

// StopMember is the onDrop of a run against cl: it stops the member the client is
// connected to, which must be one of cl's.
func StopMember(t *testing.T, cl *ensembletest.Cluster) func(addr string) {
	addrs := cl.Addrs()
	return func(addr string) {
		for i, a := range addrs {
			if a == addr {
				t.Logf("stopping member %d (%s), which the client is connected to", i+1, addr)
				cl.Stop(i)
				return
			}
		}
		t.Errorf("client connected to %s, not a member of %v", addr, addrs)
	}
}
