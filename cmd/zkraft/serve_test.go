package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/testkit"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testkit.RunWithZkraft(m, &binary)) }

func freePort(t *testing.T) int {
	t.Helper()
	return testkit.FreePorts(t, 1)[0]
}

// startServe runs zkraft serve with args; the test's cleanup kills and reaps it.
func startServe(t *testing.T, args ...string) *testkit.Process {
	t.Helper()
	return testkit.Start(t, exec.Command(binary, append([]string{"serve"}, args...)...))
}

func fourLetter(addr, word string) (string, error) {
	return testkit.FourLetter(addr, word, 2*time.Second)
}

func waitServing(t *testing.T, p *testkit.Process, addr string) {
	t.Helper()
	if err := testkit.WaitFourLetter(addr, "srvr", "Mode: standalone", 10*time.Second, p.Done()); err != nil {
		t.Fatalf("zkraft not serving: %v\n%s", err, p.Output())
	}
}

func writeCfg(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeBadConfigNamesKeyAndLine(t *testing.T) {
	dir := t.TempDir()
	cfg := writeCfg(t, dir, "dataDir="+dir+"\ntickTime=abc\n")
	out, err := exec.Command(binary, "serve", "--config", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("serve accepted a bad tickTime:\n%s", out)
	}
	if !strings.Contains(string(out), "zoo.cfg:2") || !strings.Contains(string(out), "tickTime") {
		t.Fatalf("error does not name the file:line and key:\n%s", out)
	}
}

// A zoo.cfg node serves, shuts down cleanly on SIGTERM, and the same command on the
// same config recovers its data.
func TestServeZooCfgSIGTERMAndRestart(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeCfg(t, dir, fmt.Sprintf(`# a standalone zoo.cfg
tickTime=2000
dataDir=%s/data
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=60
4lw.commands.whitelist=srvr,ruok
someUnknownKey=1
`, dir, port))

	p := startServe(t, "--config", cfg)
	waitServing(t, p, addr)
	if out, _ := fourLetter(addr, "ruok"); out != "imok" {
		t.Fatalf("ruok = %q", out)
	}
	if out, _ := fourLetter(addr, "envi"); !strings.Contains(out, "not in the whitelist") {
		t.Fatalf("envi not refused by the whitelist: %q", out)
	}
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM\n%s", p.Output())
	}
	if !strings.Contains(p.Output(), "someUnknownKey") {
		t.Errorf("unknown key was not logged:\n%s", p.Output())
	}

	p2 := startServe(t, "--config", cfg)
	waitServing(t, p2, addr)
	c2, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	data, _, err := c2.Get("/kept")
	if err != nil || string(data) != "v" {
		t.Fatalf("after restart /kept = %q, %v", data, err)
	}
}

// With no flags but a data directory, a development node is ready well under a second.
func TestServeDevelopmentNodeStartsFast(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start := time.Now()
	p := startServe(t, "--data-dir", t.TempDir(), "--client-addr", addr)
	waitServing(t, p, addr)
	t.Logf("serving after %v", time.Since(start))
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Output(), "zkraft ready"); {
		if time.Now().After(deadline) {
			t.Fatalf("no ready log line:\n%s", p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeDevelopmentNodeAnswersEveryWord: a development node (no zoo.cfg, loopback)
// answers every four-letter word, so kazoo's server_version() (envi) works; its
// --metrics-addr and --admin-addr serve Prometheus and the AdminServer.
func TestServeDevelopmentNodeAnswersEveryWord(t *testing.T) {
	ports := testkit.FreePorts(t, 3)
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	metricsAddr, adminAddr := fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	p := startServe(t, "--data-dir", t.TempDir(), "--client-addr", addr, "--metrics-addr", metricsAddr, "--admin-addr", adminAddr)
	waitServing(t, p, addr)
	for word, want := range map[string]string{
		"ruok": "imok", "stat": "Mode: standalone", "mntr": "zk_server_state\tstandalone", "envi": "zookeeper.version=3.8.0",
		"conf": "tickTime=", "cons": "", "wchs": "Total watches:0", "dirs": "datadir_size", "isro": "rw", "srst": "Server stats reset.",
	} {
		out, err := fourLetter(addr, word)
		if err != nil || !strings.Contains(out, want) || strings.Contains(out, "not in the whitelist") {
			t.Errorf("%s: %q (%v), want it to contain %q", word, out, err, want)
		}
	}
	script := fmt.Sprintf(`from kazoo.client import KazooClient
c = KazooClient(hosts=%q); c.start(timeout=10)
print(c.server_version()); c.stop()`, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(testkit.Python, "-c", script)
	cmd.Env = testkit.PythonEnv()
	out, err := testkit.CombinedOutput(ctx, cmd)
	if err != nil || !strings.Contains(out, "(3, 8, 0)") {
		t.Errorf("kazoo server_version(): %v\n%s", err, out)
	}
	for url, want := range map[string]string{
		"http://" + metricsAddr + "/metrics":        "\nznode_count ",
		"http://" + adminAddr + "/commands/monitor": `"server_state" : "standalone"`,
		"http://" + adminAddr + "/ready":            "ok",
	} {
		resp, err := http.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, want %q in:\n%.2000s", url, resp.StatusCode, want, b)
		}
	}
}
