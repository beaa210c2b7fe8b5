package ensemble_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// withHTTP turns on the Prometheus endpoint and the AdminServer on free loopback ports.
var withHTTP = ensembletest.WithConfig(func(c *ensemble.Config) {
	c.MetricsAddr = "127.0.0.1:0"
	c.AdminAddr = "127.0.0.1:0"
})

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads a Prometheus text exposition into series → value, a series being
// name{labels} exactly as exposed.
func scrape(t *testing.T, s *ensembletest.Server) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, "http://"+s.MetricsAddr().String()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestPrometheusEnsemble scrapes every member of a 3-member ensemble before and after
// traffic through one follower: ZooKeeper's series move where ZooKeeper's would (the
// leader proposes and commits, followers receive, everyone fsyncs and applies), and
// the Raft, storage and Go runtime series sit beside them.
func TestPrometheusEnsemble(t *testing.T) {
	c := ensembletest.RunCluster(t, 3, withHTTP)
	const writes = 20
	var li, fi int
	var ns string // the last round's namespace
	var before, after []map[string]float64
	// A round of traffic between two scrapes of every member, again (up to three
	// times) when an election on a loaded machine moved leadership in between: the
	// leader's and followers' series would be split between two leaders.
	for round := 0; ; round++ {
		li = c.Leader()
		fi = (li + 1) % 3
		before = make([]map[string]float64, 3)
		for i, m := range c.Members {
			before[i] = scrape(t, m)
		}
		conn := connectTo(t, c.Members[fi].Addr)
		ns = fmt.Sprintf("m%d", round)
		path := "/" + ns
		if _, err := conn.Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		for i := range writes {
			if _, err := conn.Set(path, []byte(strconv.Itoa(i)), -1); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := conn.GetW(path); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := conn.Create(path+"/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		// Every member has applied everything once a sync on each returns.
		for _, m := range c.Members {
			cc := connectTo(t, m.Addr)
			if _, err := cc.Sync("/"); err != nil {
				t.Fatal(err)
			}
			cc.Close()
		}
		after = make([]map[string]float64, 3)
		for i, m := range c.Members {
			after[i] = scrape(t, m)
		}
		stable := after[li][`zkraft_raft_state{state="Leader"}`] == 1
		for i := range 3 {
			stable = stable && before[i]["zkraft_raft_term"] == after[i]["zkraft_raft_term"]
		}
		if stable {
			break
		}
		if round == 2 {
			t.Fatal("leadership moved during each of three rounds")
		}
		// conn stays open: closing it would delete its ephemeral during the next round.
		t.Logf("round %d: leadership moved; again", round)
	}
	moved := func(i int, series string, atLeast float64) {
		t.Helper()
		b, okb := before[i][series]
		a, oka := after[i][series]
		if !okb || !oka {
			t.Errorf("member %d: series %s missing (before %v, after %v)", i+1, series, okb, oka)
			return
		}
		if a-b < atLeast {
			t.Errorf("member %d: %s went from %v to %v, want +%v or more", i+1, series, b, a, atLeast)
		}
	}
	equals := func(i int, series string, want float64) {
		t.Helper()
		if got, ok := after[i][series]; !ok || got != want {
			t.Errorf("member %d: %s = %v (present %v), want %v", i+1, series, got, ok, want)
		}
	}
	txns := float64(writes + 2) // the creates and the sets, plus the session
	for i := range 3 {
		moved(i, "znode_count", 2)
		moved(i, "fsynctime_count", 1)
		moved(i, "fsynctime_sum", 0) // present
		moved(i, "sync_processor_batch_size_count", 1)
		moved(i, "ephemerals_count", 1)
		equals(i, "quorum_size", 3)
		equals(i, "zkraft_raft_term", after[li]["zkraft_raft_term"])
		moved(i, "zkraft_raft_applied_index", txns)
		moved(i, "zkraft_last_zxid", txns)
		if _, ok := after[i]["go_goroutines"]; !ok {
			t.Errorf("member %d: no Go runtime series (go_goroutines)", i+1)
		}
		if _, ok := after[i]["zkraft_storage_log_bytes"]; !ok {
			t.Errorf("member %d: no storage series", i+1)
		}
		if i == li {
			equals(i, `zkraft_raft_state{state="Leader"}`, 1)
			equals(i, "synced_followers", 2)
			equals(i, "learners", 2)
			moved(i, "proposal_count", txns)
			moved(i, "commit_count", txns)
		} else {
			equals(i, `zkraft_raft_state{state="Follower"}`, 1)
			moved(i, "learner_commit_received_count", txns)
			moved(i, "learner_proposal_received_count", txns)
		}
	}
	// The member the client talks to answered it.
	moved(fi, "updatelatency_count", writes+2)
	moved(fi, "readlatency_count", writes)
	moved(fi, `zkraft_request_duration_seconds_count{type="update"}`, writes+2)
	moved(fi, "packets_received", 2*writes)
	moved(fi, "bytes_received_count", 1)
	moved(fi, "response_bytes", 1)
	moved(fi, "node_changed_watch_count_count", writes-1)
	// ZooKeeper's per-namespace summaries: writes on every member, reads where served.
	for i := range 3 {
		if got := after[i][`write_per_namespace_count{key="`+ns+`"}`]; got < writes+2 {
			t.Errorf("member %d: write_per_namespace_count{key=%q} = %v, want %d", i+1, ns, got, writes+2)
		}
	}
	if got := after[fi][`read_per_namespace_count{key="`+ns+`"}`]; got < writes {
		t.Errorf("read_per_namespace_count{key=%q} = %v, want %d", ns, got, writes)
	}
	if after[fi]["num_alive_connections"] < 1 {
		t.Errorf("num_alive_connections %v with a client connected", after[fi]["num_alive_connections"])
	}
	if after[fi][`updatelatency{quantile="0.99"}`] <= 0 {
		t.Errorf("updatelatency p99 is %v after %d writes", after[fi][`updatelatency{quantile="0.99"}`], writes)
	}
	if t.Failed() {
		return
	}
	// srst zeroes the counters and summaries, as ZooKeeper's resetAll does.
	if out := fourLetter(t, c.Members[fi].Addr, "srst"); out != "Server stats reset.\n" {
		t.Fatalf("srst: %q", out)
	}
	reset := scrape(t, c.Members[fi])
	for _, series := range []string{"updatelatency_count", "readlatency_count", "fsynctime_count", "learner_commit_received_count", "packets_received", "bytes_received_count"} {
		if reset[series] > 5 { // a ping or a heartbeat append may land in between
			t.Errorf("after srst %s = %v", series, reset[series])
		}
	}
}

// TestElectionMetrics: a leader change shows as election_time and looking_count on
// the members that waited for it.
func TestElectionMetrics(t *testing.T) {
	c := ensembletest.RunCluster(t, 3, withHTTP)
	li := c.Leader()
	fi := (li + 1) % 3
	before := scrape(t, c.Members[fi])
	if before["election_time_count"] < 1 || before["looking_count"] < 1 {
		t.Errorf("after start: election_time_count %v, looking_count %v; want the first election counted", before["election_time_count"], before["looking_count"])
	}
	c.Stop(li)
	c.Leader() // a new one
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := scrape(t, c.Members[fi])
		if after["election_time_count"] > before["election_time_count"] && after["looking_count"] > before["looking_count"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("election not counted: election_time_count %v→%v, looking_count %v→%v",
				before["election_time_count"], after["election_time_count"], before["looking_count"], after["looking_count"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mntrKeys reads the keys of an mntr reply.
func mntrKeys(text string) []string {
	var keys []string
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		k, _, _ := strings.Cut(line, "\t")
		keys = append(keys, strings.TrimPrefix(k, "zk_"))
	}
	return keys
}

// referenceDir holds what the reference ZooKeeper 3.8.0 answered (admin JSON and
// mntr), as a standalone server and as the leader and a follower of 3 members.
const referenceDir = "admin/testdata/zookeeper-3.8.0"

// dynamicMntrKey tells the reference's keys that depend on its traffic and members:
// summary sets keyed by namespace or learner id.
func dynamicMntrKey(k string) bool {
	return strings.Contains(k, "_per_namespace") || strings.Contains(k, "learner_handler_qp") || strings.Contains(k, "ack_latency") && !strings.Contains(k, "quorum_ack")
}

// zkraftMntrKeys are mntr keys zkraft adds: the Raft term and applied index.
var zkraftMntrKeys = []string{"raft_term", "raft_applied_index"}

// zkraftCounterKeys are zkraft's own counters (metrics' zkraftCounters), printed in
// every role.
var zkraftCounterKeys = []string{"watches_refused"}

// TestMntrKeysMatchZooKeeper: a standalone node, a leader and a follower print every
// key the reference printed in that role, and nothing it does not print but
// zkraft's own Raft lines.
func TestMntrKeysMatchZooKeeper(t *testing.T) {
	sa := ensembletest.RunServer(t)
	c := ensembletest.RunCluster(t, 3)
	li := c.Leader()
	for role, addr := range map[string]string{"standalone": sa.Addr, "leader": c.Members[li].Addr, "follower": c.Members[(li+1)%3].Addr} {
		ref, err := os.ReadFile(filepath.Join(referenceDir, role, "mntr.txt"))
		if err != nil {
			t.Fatal(err)
		}
		want := mntrKeys(string(ref))
		got := mntrKeys(fourLetter(t, addr, "mntr"))
		for _, k := range want {
			if !dynamicMntrKey(k) && !slices.Contains(got, k) {
				t.Errorf("%s: mntr lacks zk_%s", role, k)
			}
		}
		for _, k := range got {
			if !slices.Contains(want, k) && !(role != "standalone" && slices.Contains(zkraftMntrKeys, k)) && !slices.Contains(zkraftCounterKeys, k) {
				t.Errorf("%s: mntr prints zk_%s, which the reference does not", role, k)
			}
		}
		if len(got) != len(slices.Compact(slices.Sorted(slices.Values(got)))) {
			t.Errorf("%s: mntr repeats a key", role)
		}
	}
}

// fieldPaths lists a JSON value's field names as paths ("server_stats.uptime",
// "connections[].session_id"). The members of the objects named in dataKeys are data
// (session ids, paths, server ids), not fields: they become "*".
func fieldPaths(v any, prefix string, out map[string]bool) {
	dataKeys := []string{"expiry_time_to_session_ids", "session_id_to_ephemeral_paths", "session_id_to_watched_paths", "path_to_session_ids", "current_config"}
	switch v := v.(type) {
	case map[string]any:
		last := prefix[strings.LastIndexByte(prefix, '.')+1:]
		for k, x := range v {
			if slices.Contains(dataKeys, last) {
				k = "*"
			}
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			fieldPaths(x, p, out)
		}
	case []any:
		for _, x := range v {
			fieldPaths(x, prefix+"[]", out)
		}
	}
}

// adminDeliberate are fields zkraft prints differently on purpose: there is no JVM
// (java.* environment and properties become go.* ones; envi does the same).
func adminDeliberate(path string) bool {
	return strings.HasPrefix(path, "java.") || strings.HasPrefix(path, "jdk.") || strings.HasPrefix(path, "sun.") ||
		strings.HasPrefix(path, "go.") || strings.HasPrefix(path, "file.") || strings.HasPrefix(path, "line.") ||
		strings.HasPrefix(path, "path.") || strings.HasPrefix(path, "native.") || strings.HasPrefix(path, "stdout.") ||
		strings.HasPrefix(path, "stderr.") || strings.HasPrefix(path, "user.") || strings.HasPrefix(path, "os.") ||
		strings.HasPrefix(path, "zookeeper.") || strings.HasPrefix(path, "org.") || strings.HasPrefix(path, "log4j") ||
		strings.HasPrefix(path, "jetty.") || strings.HasPrefix(path, "4lw.")
}

// TestAdminFieldsMatchZooKeeper: every AdminServer command answers the fields the
// reference answered in the same role (standalone, leader, follower), and no field
// the reference never printed (the monitor command's zkraft Raft lines aside).
func TestAdminFieldsMatchZooKeeper(t *testing.T) {
	sa := ensembletest.RunServer(t, withHTTP)
	c := ensembletest.RunCluster(t, 3, withHTTP)
	li := c.Leader()
	members := map[string]*ensembletest.Server{"standalone": sa, "leader": c.Members[li], "follower": c.Members[(li+1)%3]}
	// A session with an ephemeral and watches on each, so that the lists have members.
	for _, m := range members {
		conn := connectTo(t, m.Addr)
		if _, err := conn.Create("/app", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatal(err)
		}
		if _, err := conn.Create("/app/e-"+m.Addr, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := conn.GetW("/app"); err != nil {
			t.Fatal(err)
		}
	}
	union := map[string]map[string]bool{} // command → every field the reference printed
	roles := []string{"standalone", "leader", "follower"}
	refs := map[string]map[string]map[string]bool{}
	for _, role := range roles {
		files, err := filepath.Glob(filepath.Join(referenceDir, role, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no reference answers for %s: %v", role, err)
		}
		refs[role] = map[string]map[string]bool{}
		for _, f := range files {
			cmd := strings.TrimSuffix(filepath.Base(f), ".json")
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			paths := map[string]bool{}
			fieldPaths(v, "", paths)
			refs[role][cmd] = paths
			if union[cmd] == nil {
				union[cmd] = map[string]bool{}
			}
			for p := range paths {
				union[cmd][p] = true
			}
		}
	}
	for _, role := range roles {
		m := members[role]
		for cmd, want := range refs[role] {
			code, body := httpGet(t, "http://"+m.AdminAddr().String()+"/commands/"+cmd)
			if code != http.StatusOK {
				t.Errorf("%s %s: HTTP %d", role, cmd, code)
				continue
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("%s %s: %v:\n%s", role, cmd, err, body)
				continue
			}
			got := map[string]bool{}
			fieldPaths(v, "", got)
			for p := range want {
				if !got[p] && !adminDeliberate(p) && !(cmd == "monitor" && dynamicMntrKey(p)) {
					t.Errorf("%s %s: lacks field %s", role, cmd, p)
				}
			}
			for p := range got {
				if !union[cmd][p] && !adminDeliberate(p) && !(cmd == "monitor" && (slices.Contains(zkraftMntrKeys, p) || slices.Contains(zkraftCounterKeys, p))) {
					t.Errorf("%s %s: prints field %s, which the reference never did", role, cmd, p)
				}
			}
		}
	}
	// Aliases answer as their command; an unknown command says so.
	for alias, cmd := range map[string]string{"mntr": "monitor", "srvr": "server_stats", "stat": "stats", "conf": "configuration", "cons": "connections", "envi": "environment", "wchs": "watch_summary", "lead": "leader", "isro": "is_read_only", "nonexist": "nonexist"} {
		_, body := httpGet(t, "http://"+members["leader"].AdminAddr().String()+"/commands/"+alias)
		if !strings.Contains(body, fmt.Sprintf(`"command" : %q`, cmd)) {
			t.Errorf("/commands/%s: want command %q:\n%s", alias, cmd, body)
		}
	}
}

// TestReadyAndHealthProbes: /ready is 200 on a serving member and 503 on one without
// a leader; /health stays 200 while the process can go on.
func TestReadyAndHealthProbes(t *testing.T) {
	c := ensembletest.RunCluster(t, 3, withHTTP)
	li := c.Leader()
	for i, m := range c.Members {
		for _, p := range []string{"/ready", "/health"} {
			if code, body := httpGet(t, "http://"+m.AdminAddr().String()+p); code != http.StatusOK {
				t.Errorf("member %d %s: %d %s", i+1, p, code, body)
			}
		}
	}
	fi := (li + 1) % 3
	c.Stop(li)
	c.Stop((li + 2) % 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := httpGet(t, "http://"+c.Members[fi].AdminAddr().String()+"/ready")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a member without quorum is still ready: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := httpGet(t, "http://"+c.Members[fi].AdminAddr().String()+"/health"); code != http.StatusOK {
		t.Errorf("/health of a live member without quorum: %d %s", code, body)
	}
}

// Go's profiles are served on the metrics address only when asked for: they expose
// the process's internals.
func TestPprofOnlyWhenAsked(t *testing.T) {
	off := ensembletest.RunServer(t, withHTTP)
	if code, _ := httpGet(t, "http://"+off.MetricsAddr().String()+"/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Fatalf("without Pprof: /debug/pprof/cmdline answered HTTP %d, want 404", code)
	}
	on := ensembletest.RunServer(t, withHTTP, ensembletest.WithConfig(func(c *ensemble.Config) { c.Pprof = true }))
	base := "http://" + on.MetricsAddr().String()
	if code, body := httpGet(t, base+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("with Pprof: goroutine profile: HTTP %d: %.200s", code, body)
	}
	if code, body := httpGet(t, base+"/debug/pprof/trace?seconds=0.1"); code != http.StatusOK || len(body) == 0 {
		t.Fatalf("with Pprof: trace: HTTP %d, %d bytes", code, len(body))
	}
	if code, _ := httpGet(t, base+"/metrics"); code != http.StatusOK {
		t.Fatalf("with Pprof: /metrics answered HTTP %d", code)
	}
}
