package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkraft/zkraft/integration/testkit"
)

// The deployment files live in docs/deploy (the top level of the repository is fixed
// by DESIGN.md); they are tested here, beside the binary they run.
const deployDir = "../../docs/deploy"

// unitFile is a systemd unit as systemd reads it: section -> key -> values (a key may
// repeat).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && l[len(l)-1] == ']':
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		case strings.HasSuffix(l, `\`):
			t.Fatalf("%s:%d: continuation lines are not expected", path, n)
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value inside a section", path, n, l)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// one is the single value of section.key, failing the test if it is absent or repeated.
func (u unitFile) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: %q, want exactly one value", section, key, v)
	}
	return v[0]
}

// wantCommand is what both the unit and the image run: a drop-in for zkServer.sh
// start-foreground reading the ZooKeeper server's own zoo.cfg.
var wantCommand = []string{"/usr/local/bin/zkraft", "serve", "--config", "/etc/zookeeper/zoo.cfg"}

// TestSystemdUnit checks docs/deploy/zkraft.service: systemd-analyze verify accepts it
// without a warning (when systemd-analyze is installed: package systemd), it runs
// `zkraft serve --config /etc/zookeeper/zoo.cfg` as the dedicated user that
// zkraft.sysusers creates, never root, with its state directory writable and the
// system read-only, restarts on failure and stops with SIGTERM; and its command
// line, run with a test zoo.cfg in place of /etc/zookeeper/zoo.cfg, serves and exits
// 0 on SIGTERM well within TimeoutStopSec.
func TestSystemdUnit(t *testing.T) {
	unitPath := filepath.Join(deployDir, "zkraft.service")
	u := parseUnit(t, unitPath)

	exec0 := strings.Fields(u.one(t, "Service", "ExecStart"))
	if strings.Join(exec0, " ") != strings.Join(wantCommand, " ") {
		t.Errorf("ExecStart=%q, want %q", strings.Join(exec0, " "), strings.Join(wantCommand, " "))
	}
	user, group := u.one(t, "Service", "User"), u.one(t, "Service", "Group")
	if user == "" || user == "root" || user == "0" || u["Service"]["DynamicUser"] != nil {
		t.Errorf("User=%q: the service must run as a dedicated static user", user)
	}
	if group != user {
		t.Errorf("Group=%q, want the user's own group %q", group, user)
	}
	sysusers, err := os.ReadFile(filepath.Join(deployDir, "zkraft.sysusers"))
	if err != nil {
		t.Fatal(err)
	}
	declared := false
	for _, l := range strings.Split(string(sysusers), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "u" && f[1] == user {
			declared = true
		}
	}
	if !declared {
		t.Errorf("zkraft.sysusers does not create the user %q:\n%s", user, sysusers)
	}
	for key, want := range map[string]string{
		"Type": "exec", "KillSignal": "SIGTERM", "Restart": "on-failure", "StateDirectory": "zkraft",
		"ProtectSystem": "strict", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
	} {
		if got := u.one(t, "Service", key); got != want {
			t.Errorf("[Service] %s=%q, want %q", key, got, want)
		}
	}
	if got := u.one(t, "Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("WantedBy=%q", got)
	}
	stopTimeout, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}

	if analyze, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze not installed (Debian package systemd): the unit was only parsed")
	} else {
		// verify insists that ExecStart's binary exists: point it at the one built
		// for the tests, in a copy of the unit.
		unit, err := os.ReadFile(unitPath)
		if err != nil {
			t.Fatal(err)
		}
		copyPath := filepath.Join(t.TempDir(), "zkraft.service")
		fixed := strings.Replace(string(unit), "ExecStart="+wantCommand[0]+" ", "ExecStart="+binary+" ", 1)
		if err := os.WriteFile(copyPath, []byte(fixed), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("systemd-analyze verify zkraft.service: %v\n%s", err, out)
		}
	}

	// The unit's own command line, with a test zoo.cfg for /etc/zookeeper/zoo.cfg.
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeCfg(t, dir, fmt.Sprintf("tickTime=2000\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n", dir, port))
	args := append([]string(nil), exec0[1:]...)
	for i, a := range args {
		if a == "/etc/zookeeper/zoo.cfg" {
			args[i] = cfg
		}
	}
	p := startServe(t, args[1:]...) // args[0] is "serve"
	waitServing(t, p, addr)
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Fatalf("exit after SIGTERM: %v (systemd would count a failure)\n%s", err, p.Output())
		}
	case <-time.After(stopTimeout):
		t.Fatalf("no exit within TimeoutStopSec=%v of SIGTERM\n%s", stopTimeout, p.Output())
	}
}

// containerfile is a Dockerfile's instructions, in order, continuation lines joined.
type instruction struct{ op, args string }

func parseContainerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || (l == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`) + " ")
			continue
		}
		cur.WriteString(l)
		op, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestContainerfile checks docs/deploy/Containerfile (no container engine runs here):
// a build stage compiles ./cmd/zkraft with CGO_ENABLED=0, a command line the go
// command accepts as written (go build -n), into a binary that is static (the test
// binary, built the same way, has no interpreter and no shared libraries); the run
// stage copies only that binary onto a static base, runs as a non-root user, keeps
// the data in a volume, and starts the same command, with the same environment, as
// the systemd unit.
func TestContainerfile(t *testing.T) {
	ins := parseContainerfile(t, filepath.Join(deployDir, "Containerfile"))
	var stages [][]instruction
	for _, in := range ins {
		if in.op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s before the first FROM", in.op)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(stages))
	}
	build, run := stages[0], stages[1]
	if f := strings.Fields(build[0].args); len(f) != 3 || !strings.Contains(f[0], "golang:") || !strings.EqualFold(f[1], "AS") {
		t.Errorf("build stage: FROM %s, want golang:<version> AS <name>", build[0].args)
	}
	buildName := strings.Fields(build[0].args)[2]

	var goBuild string
	for _, in := range build {
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	f := strings.Fields(goBuild)
	if len(f) < 4 || f[0] != "CGO_ENABLED=0" || f[1] != "go" || f[2] != "build" || f[len(f)-1] != "./cmd/zkraft" {
		t.Fatalf("build stage: RUN %q, want CGO_ENABLED=0 go build ... ./cmd/zkraft", goBuild)
	}
	var out string
	for i, a := range f {
		if a == "-o" && i+1 < len(f) {
			out = f[i+1]
		}
	}
	// The same shell command as a dry run, from the module root, with the output in
	// a temp dir.
	dryRun := strings.Replace(strings.Replace(goBuild, "go build ", "go build -n ", 1), " -o "+out+" ", " -o "+filepath.Join(t.TempDir(), "zkraft")+" ", 1)
	cmd := exec.Command("sh", "-c", dryRun)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: %v\n%.2000s", dryRun, err, b)
	}

	ef, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	libs, _ := ef.ImportedLibraries()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("a CGO_ENABLED=0 build is dynamically linked (program header %v, libraries %v)", p.Type, libs)
		}
	}

	base := strings.Fields(run[0].args)[0]
	if base != "scratch" && !strings.Contains(base, "distroless/static") {
		t.Errorf("run stage FROM %s: want scratch or a distroless static base (no libc, no shell)", base)
	}
	var copied, user, volume, entry, cmdArgs string
	var env []string
	for _, in := range run {
		switch in.op {
		case "ENV":
			env = append(env, strings.Fields(in.args)...)
		case "COPY":
			if strings.Contains(in.args, "--from="+buildName+" "+out+" ") {
				copied = in.args
			}
		case "USER":
			user = in.args
		case "VOLUME":
			volume = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "CMD":
			cmdArgs = in.args
		case "RUN":
			t.Errorf("run stage: RUN %s (the base has no shell)", in.args)
		}
	}
	if !strings.HasSuffix(copied, " "+wantCommand[0]) {
		t.Errorf("run stage does not COPY --from=%s %s %s", buildName, out, wantCommand[0])
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: the image must not run as root", user)
	}
	if !strings.Contains(volume, "/var/lib/zkraft") {
		t.Errorf("VOLUME %s: the data directory /var/lib/zkraft must be a volume", volume)
	}
	var e, c []string
	if json.Unmarshal([]byte(entry), &e) != nil || json.Unmarshal([]byte(cmdArgs), &c) != nil {
		t.Fatalf("ENTRYPOINT %s / CMD %s: want the exec (JSON) form, so SIGTERM reaches zkraft", entry, cmdArgs)
	}
	if got := strings.Join(append(e, c...), " "); got != strings.Join(wantCommand, " ") {
		t.Errorf("the image runs %q, want %q", got, strings.Join(wantCommand, " "))
	}
	unitEnv, err := testkit.UnitEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(unitEnv) == 0 || !slices.Equal(env, unitEnv) {
		t.Errorf("the image's ENV %q, the unit's Environment= %q: want the same, and not none (the sysmon setting of docs/operations.md)", env, unitEnv)
	}
}
