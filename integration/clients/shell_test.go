//go:build clients

package clients

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
)

// shellSession exercises zkCli.sh's commands, their flags and their errors.
var shellSession = []string{
	`create /s ""`,
	`create /s/a "hello world"`,
	`create -e /s/eph "e"`,
	`create -s /s/seq- ""`,
	`create -s /s/seq- ""`,
	`create -c /s/cont ""`,
	`create -t 5000 /s/ttl ""`,
	`create /s/a ""`,
	`create /nope/x ""`,
	`create bad`,
	`create /s/ ""`,
	`ls /s`,
	`ls -s /s`,
	`ls -R /s`,
	`ls`,
	`get /s/a`,
	`get -s /s/a`,
	`get /nope`,
	`get /s/cont`,
	`set /s/a "v2"`,
	`set -s /s/a "v3"`,
	`set -v 99 /s/a "x"`,
	`stat /s/a`,
	`stat /nope`,
	`getAcl /s/a`,
	`getAcl -s /s`,
	`setAcl /s/a world:anyone:r`,
	`getAcl /s/a`,
	`set /s/a "denied"`,
	`addauth digest u:p`,
	`create /s/d "" auth::cdrwa`,
	`getAcl /s/d`,
	`whoami`,
	`sync /s`,
	`getEphemerals /s`,
	`getAllChildrenNumber /s`,
	`delete /s`,
	`delete -v 5 /s/seq-0000000001`,
	`deleteall /s/d`,
	`ls /s`,
	`config`,
	`addWatch -m PERSISTENT /s`,
	`removewatches /s`,
	`removewatches /s`,
	`history`,
	`redo 1`,
	`setquota -n 2 /s`,
	`listquota /s`,
	`delquota /s`,
	`listquota /s`,
	`get /s/eph`,
	`create -c -e /s/x ""`,
	`set /s/a`,
	`bogus`,
	`getAcl /nope`,
	`ls /`,
}

// shellNoise is what differs between two sessions whatever the client: zkCli.sh's
// banner and logs, times and session ids.
var shellNoise = regexp.MustCompile(`(?m)^(SLF4J|.*\bINFO\b|\s+at |Connecting to |Welcome to ZooKeeper|JLine support|$).*\n`)

func normalizeShell(s string) string {
	s = shellNoise.ReplaceAllString(s, "")
	// zkCli.sh prints the connection's event from its event thread, which may come
	// after the first command's output: put it where it comes when it wins the race,
	// right after "WATCHER::" (a shell that never prints it still differs).
	const connected = "WatchedEvent state:SyncConnected type:None path:null\n"
	if w := strings.Index(s, "WATCHER::\n"); w >= 0 {
		if i := strings.Index(s[w:], "\n"+connected); i >= 0 {
			i += w + 1
			s = s[:i] + s[i+len(connected):]
			at := w + len("WATCHER::\n")
			s = s[:at] + connected + s[at:]
		}
	}
	s = regexp.MustCompile(`(?m)^(ctime|mtime) = .*$`).ReplaceAllString(s, "$1 = <date>")
	return regexp.MustCompile(`ephemeralOwner = 0x[0-9a-f]{6,}`).ReplaceAllString(s, "ephemeralOwner = <session>")
}

// TestShellMatchesZkCli types one session into zkCli.sh and into zkraft shell, each
// against a fresh server, and requires the same output: what the commands print,
// their errors and usage lines, history and redo, the watch events the client makes
// up for removewatches.
func TestShellMatchesZkCli(t *testing.T) {
	bin := testkit.BuildZkraft(t)
	steps := make([]cliStep, len(shellSession))
	for i, l := range shellSession {
		steps[i] = cliStep{line: l}
	}
	_, want := runZkCli(t, ensembletest.RunServer(t, extendedTypes).Addr, steps)

	addr := ensembletest.RunServer(t, extendedTypes).Addr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(bin, "shell", "-server", addr, "-timeout", "4500")
	cmd.Stdin = strings.NewReader(strings.Join(shellSession, "\n") + "\nquit\n")
	got, err := testkit.CombinedOutput(ctx, cmd)
	if err != nil {
		t.Fatalf("zkraft shell: %v\n%s", err, got)
	}
	w, g := normalizeShell(want), normalizeShell(got)
	if w != g {
		wl, gl := strings.Split(w, "\n"), strings.Split(g, "\n")
		for i := range max(len(wl), len(gl)) {
			var a, b string
			if i < len(wl) {
				a = wl[i]
			}
			if i < len(gl) {
				b = gl[i]
			}
			if a != b {
				t.Fatalf("output differs from zkCli.sh's at line %d:\nzkCli.sh: %q\nzkraft:   %q\n--- zkCli.sh\n%s\n--- zkraft shell\n%s", i+1, a, b, w, g)
			}
		}
	}
	for _, line := range []string{"Created /s/seq-0000000003", "Created /s/d", "Node not empty: /s", "WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/s"} {
		if !strings.Contains(g, line) {
			t.Errorf("the session did not reach %q:\n%s", line, g)
		}
	}

	// One command from the command line, for scripts; a failed one exits non-zero.
	out, err := testkit.CombinedOutput(ctx, exec.Command(bin, "shell", "-server", addr, "ls", "/s"))
	if err != nil || !strings.Contains(out, "[a, cont, seq-0000000002, seq-0000000003, ttl]\n") {
		t.Errorf("one-shot ls: %v\n%s", err, out)
	}
	out, err = testkit.CombinedOutput(ctx, exec.Command(bin, "shell", "-server", addr, "get", "/nope"))
	if err == nil || !strings.Contains(out, "Node does not exist: /nope") {
		t.Errorf("one-shot get of a missing node: %v\n%s", err, out)
	}
}
