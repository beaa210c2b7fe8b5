//go:build clients

package clients

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/internal/recorder"
	"github.com/zkraft/zkraft/integration/testkit"
)

const zkCli = "/usr/share/zookeeper/bin/zkCli.sh"

// A step of a zkCli.sh session: a command line typed on its stdin, or an action of
// the test between commands. Lines are typed ahead of zkCli.sh (it reads them as it
// gets to them, after a slow JVM start on a loaded machine); an action that must
// come after some command's effect waits for the sentinel that awaitLine types.
type cliStep struct {
	line   string
	pause  time.Duration
	await  string // before action: wait until the output holds this
	action func()
}

// sentinelPrefix is a path whose stat prints "Node does not exist: <path>", like a
// mark, without starting a section.
const sentinelPrefix = "/__sentinel__/"

// awaitLine types a sentinel command and runs action once zkCli.sh has printed its
// output, that is, after every command typed before it.
func awaitLine(name string, action func()) []cliStep {
	return []cliStep{
		{line: "stat " + sentinelPrefix + name},
		{await: "Node does not exist: " + sentinelPrefix + name, action: action},
	}
}

// markerLine separates the output of sections: `stat` of a missing path prints
// "Node does not exist: <path>" (an exists that answers NONODE).
const markerPrefix = "/__mark__/"

func mark(name string) cliStep { return cliStep{line: "stat " + markerPrefix + name} }

// runZkCli runs one zkCli.sh session against addr, typing the steps into its stdin
// (JLine is off when stdin is not a terminal, so it reads commands line by line),
// and returns its output (stdout and stderr in one file, so in the order written)
// split into sections by mark.
func runZkCli(t *testing.T, addr string, steps []cliStep) (map[string]string, string) {
	t.Helper()
	return runZkCliFlags(t, addr, "", steps)
}

// runZkCliFlags is runZkCli with extra JVM flags (-D system properties: TLS).
func runZkCliFlags(t *testing.T, addr, jvmFlags string, steps []cliStep) (map[string]string, string) {
	t.Helper()
	if _, err := os.Stat(zkCli); err != nil {
		t.Fatalf("%s missing: install the Debian package zookeeper (see .ci/run)", zkCli)
	}
	out, err := os.CreateTemp(t.TempDir(), "zkcli-*.out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// -timeout 4500: short, so that the idle pause below makes the client ping (every
	// 1.5 s), yet long enough that the session outlives the Java client's random
	// reconnect delay (up to 1 s) after a dropped connection on a loaded machine.
	cmd := exec.Command(zkCli, "-timeout", "4500", "-server", addr)
	cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=WARN,CONSOLE", "CLIENT_JVMFLAGS=-Xshare:auto -XX:TieredStopAtLevel=1 "+jvmFlags)
	cmd.Stdout = out
	cmd.Stderr = out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer stdin.Close()
		for _, s := range steps {
			if s.await != "" && !awaitOutput(out.Name(), s.await, 60*time.Second) {
				return // zkCli.sh is stuck or gone: the checks say what is missing
			}
			if s.action != nil {
				s.action()
			}
			if s.pause > 0 {
				time.Sleep(s.pause)
			}
			if s.line != "" {
				if _, err := fmt.Fprintln(stdin, s.line); err != nil {
					return
				}
				// zkCli.sh runs one command at a time; a short gap keeps the
				// asynchronous watch output near the command that caused it.
				time.Sleep(30 * time.Millisecond)
			}
		}
		fmt.Fprintln(stdin, "quit")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	runErr := testkit.RunGroup(ctx, cmd, nil)
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	// zkCli.sh exits with 1 when a command failed (some are meant to fail here).
	var exit *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("zkCli.sh: %v\n%s", runErr, text)
	}
	sections := map[string]string{}
	cur := ""
	for _, l := range strings.Split(text, "\n") {
		if i := strings.Index(l, "Node does not exist: "+markerPrefix); i >= 0 {
			cur = strings.TrimSpace(l[i+len("Node does not exist: "+markerPrefix):])
			continue
		}
		sections[cur] += l + "\n"
	}
	return sections, text
}

// awaitOutput polls file until it holds want, up to limit.
func awaitOutput(file, want string, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.Contains(string(b), want) {
			return true
		}
	}
	return false
}

// expect checks that section name of the output contains each want: a plain
// substring, or a regexp when it starts with "~".
func expect(t *testing.T, sections map[string]string, name string, wants ...string) {
	t.Helper()
	got, ok := sections[name]
	if !ok {
		t.Errorf("section %q: no output (marker missing)", name)
		return
	}
	for _, w := range wants {
		if strings.HasPrefix(w, "~") {
			if !regexp.MustCompile(w[1:]).MatchString(got) {
				t.Errorf("section %q: no match for /%s/ in:\n%s", name, w[1:], got)
			}
		} else if !strings.Contains(got, w) {
			t.Errorf("section %q: missing %q in:\n%s", name, w, got)
		}
	}
}

// expectInOrder checks that text contains each of wants, each after the previous.
func expectInOrder(t *testing.T, text string, wants ...string) {
	t.Helper()
	rest := text
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("output: missing %q (in order after the previous ones) in:\n%s", w, text)
			return
		}
		rest = rest[i+len(w):]
	}
}

func reject(t *testing.T, sections map[string]string, name string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(sections[name], b) {
			t.Errorf("section %q: unexpected %q in:\n%s", name, b, sections[name])
		}
	}
}

var extendedTypes = ensembletest.WithConfig(func(c *ensemble.Config) { c.ExtendedTypesEnabled = true })

// TestZkCli runs one zkCli.sh session against a single node and one against a
// 3-member ensemble (its connect string lists every member, each behind a proxy
// that can drop its connections).
func TestZkCli(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		srv := ensembletest.RunServer(t, extendedTypes)
		zkCliSession(t, []string{srv.Addr}, []*recorder.Proxy{startProxy(t, "zkCli.sh", srv.Addr)})
		for _, op := range []int32{11, 105, -11} {
			if !seenOK("zkCli.sh", opCode(op)) {
				t.Errorf("zkCli.sh: op %d was not seen answered OK", op)
			}
		}
	})
	t.Run("ensemble", func(t *testing.T) {
		t.Parallel()
		cl := ensembletest.RunCluster(t, 3, extendedTypes)
		var proxies []*recorder.Proxy
		for _, a := range cl.Addrs() {
			// Not a column of MATRIX.md (which shows the single node).
			proxies = append(proxies, recorder.StartProxy(t, rec, "zkCli.sh ensemble", a))
		}
		zkCliSession(t, cl.Addrs(), proxies)
	})
}

func zkCliSession(t *testing.T, addrs []string, proxies []*recorder.Proxy) {
	var connect []string
	for _, p := range proxies {
		connect = append(connect, p.Addr())
	}
	dropConns := func() {
		for _, p := range proxies {
			p.DropConns()
		}
	}
	// A second client, straight to the servers, changes things under zkCli.sh's watches.
	other, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherDo := func(f func() error) func() {
		return func() {
			if err := f(); err != nil {
				t.Errorf("other client: %v", err)
			}
		}
	}

	steps := []cliStep{
		mark("create"),
		{line: "create /zc hello"},
		{line: "create -s /zc/s- x"},
		{line: "create -e /zc/e eph"},
		{line: "create -c /zc/c"},
		{line: "create -t 60000 /zc/t ttl"},
		{line: "create /zc/s- dup"},
		{line: "create /zc"},
		{line: "create /nope/child"},
		mark("create-ttl-stat"),
		{line: "stat /zc/t"},
		mark("get"),
		{line: "get /zc"},
		mark("get-s"),
		{line: "get -s /zc"},
		mark("set"),
		{line: "set /zc v2"},
		{line: "get /zc"},
		mark("set-v-ok"),
		{line: "set -v 1 /zc v3"},
		{line: "get /zc"},
		mark("set-v-bad"),
		{line: "set -v 7 /zc v4"},
		{line: "get /zc"},
		mark("stat"),
		{line: "stat /zc"},
		mark("stat-eph"),
		{line: "stat /zc/e"},
		mark("stat-container"),
		{line: "stat /zc/c"},
		mark("ls"),
		{line: "ls /zc"},
		mark("ls-s"),
		{line: "ls -s /zc"},
		mark("ls-R"),
		{line: "ls -R /zc"},
		mark("count"),
		{line: "getAllChildrenNumber /zc"},
		{line: "getAllChildrenNumber /"},
		mark("ephemerals"),
		{line: "getEphemerals /zc"},
		{line: "getEphemerals"},
		mark("whoami-before"),
		{line: "whoami"},
		mark("addauth"),
		{line: "addauth digest u:p"},
		{line: "whoami"},
		mark("acl"),
		{line: "create /zc/a"},
		{line: "setAcl /zc/a auth:u:p:cdrwa"},
		{line: "getAcl /zc/a"},
		{line: "getAcl -s /zc/a"},
		mark("acl-readonly"),
		{line: "create /zc/ro data"},
		{line: "setAcl /zc/ro world:anyone:r"},
		{line: "set /zc/ro x"},
		{line: "get /zc/ro"},
		{line: "getAcl /zc/ro"},
		mark("acl-digest"),
		{line: "create /zc/dg"},
		{line: "setAcl /zc/dg digest:someone:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=:r"},
		{line: "get /zc/dg"},
		{line: "ls /zc/dg"},
		// deleting needs DELETE on the parent only
		{line: "delete /zc/dg"},
		{line: "stat /zc/dg"},
		mark("sync"),
		{line: "sync /zc"},
		mark("addWatch"),
		{line: "create /zc/r"},
		{line: "addWatch /zc/r"},
		{line: "create /zc/r/x"},
		{line: "set /zc/r/x changed"},
		{line: "addWatch -m PERSISTENT /zc/p"},
		{line: "create /zc/p"},
		mark("removewatches"),
		{line: "removewatches /zc/r"},
		{line: "removewatches /zc/r"},
		mark("reconnect"),
		// A data watch and the persistent one on /zc/p survive a dropped connection:
		// the client re-arms them with setWatches2 when it reconnects.
		{line: "get -w /zc"},
	}
	// The drop must come after the watch is set, not when the lines are typed:
	// on a loaded machine zkCli.sh may still be at an earlier command (a sync).
	steps = append(steps, awaitLine("watch-armed", dropConns)...)
	steps = append(steps, []cliStep{
		// Idle long enough to reconnect, then to ping (session timeout 4.5 s).
		{pause: 3 * time.Second},
		{action: otherDo(func() error { _, err := other.Set("/zc", []byte("from-other"), -1); return err })},
		{action: otherDo(func() error { _, err := other.Set("/zc/p", []byte("p2"), -1); return err })},
		{pause: 500 * time.Millisecond},
		// zkCli.sh's member may not have applied the other client's write yet
		// (reads are local, as in ZooKeeper): sync first.
		{line: "sync /zc"},
		{line: "get /zc"},
		mark("delete"),
		{line: "delete /zc/e"},
		{line: "delete /zc"},
		{line: "delete -v 5 /zc/s-0000000000"},
		{line: "ls /zc"},
		mark("deleteall"),
		{line: "deleteall /zc"},
		{line: "ls /"},
		mark("end"),
	}...)
	start := time.Now()
	sec, all := runZkCli(t, strings.Join(connect, ","), steps)
	t.Logf("zkCli.sh session took %v", time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		t.Logf("output:\n%s", all)
	}

	expect(t, sec, "create", "Created /zc\n", "Created /zc/s-0000000000\n", "Created /zc/e\n",
		"Created /zc/c\n", "Created /zc/t\n", "Created /zc/s-\n",
		"Node already exists: /zc\n", "Node does not exist: /nope/child")
	// TTL nodes are marked internally in ephemeralOwner, but clients see 0 (as on 3.8.0).
	expect(t, sec, "create-ttl-stat", "ephemeralOwner = 0x0\n", "dataLength = 3\n")
	expect(t, sec, "get", "hello\n")
	expect(t, sec, "get-s", "hello\n", "dataVersion = 0\n", "numChildren = 5\n", "aclVersion = 0\n",
		"ephemeralOwner = 0x0\n", "dataLength = 5\n", "~cZxid = 0x[0-9a-f]+\n", "~ctime = \\w{3} \\w{3} ")
	expect(t, sec, "set", "v2\n")
	expect(t, sec, "set-v-ok", "v3\n")
	expect(t, sec, "set-v-bad", "version No is not valid : /zc", "v3\n")
	expect(t, sec, "stat", "dataVersion = 2\n", "dataLength = 2\n", "numChildren = 5\n")
	expect(t, sec, "stat-eph", "~ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*\n", "dataLength = 3\n")
	expect(t, sec, "stat-container", "ephemeralOwner = 0x0\n")
	expect(t, sec, "ls", "[c, e, s-, s-0000000000, t]\n")
	expect(t, sec, "ls-s", "[c, e, s-, s-0000000000, t]\n", "numChildren = 5\n", "cversion = 5\n")
	expect(t, sec, "ls-R", "/zc\n/zc/c\n/zc/e\n/zc/s-\n/zc/s-0000000000\n/zc/t\n")
	// /zc's 5 children; the whole tree: /zc's 5, /zc itself, /zookeeper and its 2.
	expect(t, sec, "count", "5\n9\n")
	expect(t, sec, "ephemerals", "[/zc/e]\n[/zc/e]\n")
	expect(t, sec, "whoami-before", "Auth scheme: User\n", "ip: 127.0.0.1\n")
	reject(t, sec, "whoami-before", "digest")
	expect(t, sec, "addauth", "ip: 127.0.0.1\n", "digest: u\n")
	expect(t, sec, "acl", "'digest,'u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=\n: cdrwa\n", "aclVersion = 1\n")
	expect(t, sec, "acl-readonly", "Insufficient permission : /zc/ro", "data\n", "'world,'anyone\n: r\n")
	expect(t, sec, "acl-digest", "Insufficient permission : /zc/dg", "Node does not exist: /zc/dg")
	expect(t, sec, "sync", "Sync is OK")
	// Watch events are printed by zkCli.sh's event thread, asynchronously: look for
	// them in the whole output, in order.
	expectInOrder(t, all,
		"WatchedEvent state:SyncConnected type:NodeCreated path:/zc/r/x",
		"WatchedEvent state:SyncConnected type:NodeDataChanged path:/zc/r/x",
		"WatchedEvent state:SyncConnected type:NodeCreated path:/zc/p\n",
		"WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/zc/r\n",
		// the connection drop: Disconnected, then SyncConnected again
		"WatchedEvent state:Disconnected type:None path:null",
		"WatchedEvent state:SyncConnected type:None path:null",
	)
	// After the reconnect, both re-armed watches fire (in either order).
	expectInOrder(t, all, "state:SyncConnected type:None path:null", "WatchedEvent state:SyncConnected type:NodeDataChanged path:/zc\n")
	expectInOrder(t, all, "state:SyncConnected type:None path:null", "WatchedEvent state:SyncConnected type:NodeDataChanged path:/zc/p\n")
	// The second removewatches finds none: NOWATCHER.
	expect(t, sec, "removewatches", "KeeperErrorCode = No such watcher for /zc/r")
	expect(t, sec, "reconnect", "from-other\n")
	expect(t, sec, "delete", "Node not empty: /zc", "version No is not valid : /zc/s-0000000000",
		"[a, c, p, r, ro, s-, s-0000000000, t]\n")
	reject(t, sec, "delete", ", e,")
	expect(t, sec, "deleteall", "[zookeeper]\n")
}
