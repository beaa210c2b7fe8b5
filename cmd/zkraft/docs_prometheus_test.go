package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/testkit"
)

// docYAML returns the ```yaml blocks of docs/operations.md: the scrape config, then
// the alert rules.
func docYAML(t *testing.T) (scrape, rules string) {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) != 2 {
		t.Fatalf("docs/operations.md has %d yaml blocks, want the scrape config and the rules", len(blocks))
	}
	return blocks[0][1], blocks[1][1]
}

// promQuery runs an instant query against Prometheus' HTTP API and returns the
// result's samples as instance (or "") -> value.
func promQuery(t *testing.T, base, q string) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil // not up yet
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		return nil
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		out[s.Metric["instance"]] = v
	}
	return out
}

// TestOperationsDocPrometheus: promtool accepts docs/operations.md's scrape config
// and alert rules as written, and a real Prometheus with that scrape job (its targets
// pointed at the members' loopback ports) and those rules scrapes a 3-member
// ensemble: every member up, one leader, the leader's synced_followers 2, quorum_size
// 3, the same Raft term and znode_count on all three, and none of the doc's alerts
// pending or firing.
func TestOperationsDocPrometheus(t *testing.T) {
	promtool, err1 := exec.LookPath("promtool")
	prometheus, err2 := exec.LookPath("prometheus")
	if err1 != nil || err2 != nil {
		t.Fatalf("promtool or prometheus missing: apt-get install prometheus (see .ci/packages)")
	}
	scrape, rules := docYAML(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out, err := exec.Command(promtool, "check", "config", write("doc-scrape.yml", scrape)).CombinedOutput(); err != nil {
		t.Errorf("promtool check config (the doc's scrape config): %v\n%s", err, out)
	}
	rulesPath := write("rules.yml", rules)
	if out, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules (the doc's alert rules): %v\n%s", err, out)
	}

	c := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) { c.MetricsAddr = "127.0.0.1:0" }))
	c.Leader()
	var targets []string
	for _, m := range c.Members {
		targets = append(targets, "'"+m.MetricsAddr().String()+"'")
	}
	docTargets := regexp.MustCompile(`targets: \[[^\]]*\]`)
	if !docTargets.MatchString(scrape) {
		t.Fatalf("no targets: [...] line in the doc's scrape config:\n%s", scrape)
	}
	cfg := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [" + rulesPath + "]\n" +
		strings.Replace(docTargets.ReplaceAllString(scrape, "targets: ["+strings.Join(targets, ", ")+"]"),
			"scrape_interval: 15s", "scrape_interval: 1s", 1)
	// Prometheus takes its listen address as a flag, not a socket: the free port can
	// be taken by another process before it binds (seen in make test, where packages
	// run at once). Then it exits at once, and it gets another port.
	var p *testkit.Process
	var base string
	for attempt := 1; ; attempt++ {
		web := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		p = testkit.Start(t, exec.Command(prometheus, "--config.file="+write("prometheus.yml", cfg),
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("tsdb%d", attempt)), "--web.listen-address="+web, "--log.level=warn"))
		base = "http://" + web
		if !lostPort(p, base) || attempt == 3 {
			break
		}
		t.Logf("prometheus could not bind %s (attempt %d); trying another port", web, attempt)
	}

	// Poll until the scrape shows the healthy ensemble (a member's first scrape, a
	// rule evaluation from before it, or a leader change on a loaded machine can make
	// one query early); fail with the last answers after 60 s.
	var up, leaders, synced, quorum, term, znodes, alerts map[string]float64
	healthy := func() string {
		up = promQuery(t, base, `up{job="zkraft"} == 1`)
		leaders = promQuery(t, base, `sum(zkraft_raft_state{state="Leader"})`)
		synced = promQuery(t, base, `synced_followers`)
		quorum = promQuery(t, base, `quorum_size`)
		term = promQuery(t, base, `zkraft_raft_term`)
		znodes = promQuery(t, base, `znode_count`)
		alerts = promQuery(t, base, `ALERTS`)
		switch {
		case len(up) != 3:
			return "not every member up"
		case leaders[""] != 1:
			return "not one leader"
		case len(synced) != 1 || sum(synced) != 2:
			return "synced_followers is not 2 on one member"
		case len(quorum) != 3 || !same(quorum) || sum(quorum) != 9:
			return "quorum_size is not 3 on every member"
		case len(term) != 3 || !same(term):
			return "members in different terms"
		case len(znodes) != 3 || !same(znodes):
			return "znode_count differs between members"
		case len(alerts) != 0:
			return "the doc's alerts are pending or firing on a healthy ensemble"
		}
		return ""
	}
	deadline := time.Now().Add(60 * time.Second)
	for why := healthy(); why != ""; why = healthy() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %s: up %v, leaders %v, synced_followers %v, quorum_size %v, zkraft_raft_term %v, znode_count %v, ALERTS %v\n%s",
				why, up, leaders, synced, quorum, term, znodes, alerts, p.Output())
		}
		select {
		case <-p.Done():
			t.Fatalf("prometheus exited: %v\n%s", p.Err(), p.Output())
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("Prometheus scrape of 3 members: up %v, leaders %v, synced_followers %v, quorum_size %v, zkraft_raft_term %v, znode_count %v",
		up, leaders, synced, quorum, term, znodes)
}

// lostPort reports whether Prometheus exited because its listen port was taken,
// waiting until it serves or exits (up to 30 s).
func lostPort(p *testkit.Process, base string) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			return false
		}
		select {
		case <-p.Done():
			return strings.Contains(p.Output(), "address already in use")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// same reports whether every value of m is the same.
func same(m map[string]float64) bool {
	for _, v := range m {
		for _, w := range m {
			if v != w {
				return false
			}
		}
	}
	return true
}
