package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/ensemble/fourletter"
)

// TestVersionCommand builds the binary as `make build` and the Containerfile do (the
// go command's VCS stamping on, whatever GOFLAGS says) and checks that `zkraft
// version` prints exactly the revision, commit time and modified flag that
// `go version -m` reads from the same binary, or says the revision is unknown when
// the go command stamped none (a source tarball, a git worktree). In a git checkout
// with its .git directory, the stamp must be there.
func TestVersionCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "zkraft")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	stamp := map[string]string{}
	version := fourletter.ZkraftVersion
	for _, l := range strings.Split(string(meta), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "mod" && releaseVersion(f[2]) != "" {
			version = strings.TrimPrefix(f[2], "v") // built at a tagged commit
		}
		if len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.") {
			k, v, _ := strings.Cut(f[1], "=")
			stamp[k] = v
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("zkraft version: %v\n%s", err, out)
	}
	t.Logf("zkraft version:\n%s", out)
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if want := "zkraft " + version + " (ZooKeeper " + fourletter.Version + " compatible)"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	got := map[string]string{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("line %q is not key: value", l)
		}
		got[k] = strings.TrimSpace(v)
	}
	if !strings.HasPrefix(got["go"], "go1.") {
		t.Errorf("go: %q", got["go"])
	}

	gitDir, _ := os.Stat(filepath.Join("..", "..", ".git"))
	if gitDir != nil && gitDir.IsDir() && stamp["vcs.revision"] == "" {
		t.Fatalf("built inside a git checkout with -buildvcs=true but go version -m shows no vcs.revision:\n%s", meta)
	}
	if stamp["vcs.revision"] == "" {
		if !strings.HasPrefix(got["revision"], "unknown") {
			t.Errorf("no VCS stamp, but zkraft version says revision %q", got["revision"])
		}
		return
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(stamp["vcs.revision"]) {
		t.Errorf("vcs.revision %q is not a git commit id", stamp["vcs.revision"])
	}
	for k, v := range map[string]string{"revision": "vcs.revision", "time": "vcs.time", "modified": "vcs.modified"} {
		if got[k] != stamp[v] {
			t.Errorf("%s: zkraft version says %q, go version -m says %s=%q", k, got[k], v, stamp[v])
		}
	}
}

// TestVersionBuildInfo: the report and the server's reported version from a build
// stamped by the go command, from a released module, and from one without either.
func TestVersionBuildInfo(t *testing.T) {
	savedVersion, savedTime := fourletter.ZkraftVersion, fourletter.BuildTime
	t.Cleanup(func() { fourletter.ZkraftVersion, fourletter.BuildTime = savedVersion, savedTime })

	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/zkraft/zkraft", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "07b394590c040b9966447ccb1a7f77ccde5bf9df"},
			{Key: "vcs.time", Value: "2026-12-03T07:25:17Z"}, {Key: "vcs.modified", Value: "true"}}}
	b := readBuildInfo(stamped)
	applyBuildInfo(b)
	if fourletter.ZkraftVersion != savedVersion {
		t.Errorf("a (devel) build changed the version to %q", fourletter.ZkraftVersion)
	}
	if !strings.Contains(fourletter.FullVersion(), "built on 12/03/2026 07:25 GMT") {
		t.Errorf("FullVersion %q does not show the commit time", fourletter.FullVersion())
	}
	var buf bytes.Buffer
	writeVersion(&buf, b)
	for _, want := range []string{"\nrevision: 07b394590c040b9966447ccb1a7f77ccde5bf9df\n",
		"\ntime:     2026-12-03T07:25:17Z\n", "\nmodified: true\n", "\ngo:       go1.26.8 "} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}

	applyBuildInfo(readBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: "v0.2.1"}}))
	if fourletter.ZkraftVersion != "0.2.1" {
		t.Errorf("released module v0.2.1: version %q", fourletter.ZkraftVersion)
	}

	for v, want := range map[string]string{"(devel)": "", "": "", "v0.0.0-20261203072940-9f61ecb27dc9": "",
		"v0.2.2-0.20261203072940-9f61ecb27dc9+dirty": "", "v0.2.1+dirty": "v0.2.1+dirty", "v1.0.0": "v1.0.0"} {
		if got := releaseVersion(v); got != want {
			t.Errorf("releaseVersion(%q) = %q, want %q", v, got, want)
		}
	}

	buf.Reset()
	writeVersion(&buf, readBuildInfo(nil))
	if !strings.Contains(buf.String(), "\nrevision: unknown") || strings.Contains(buf.String(), "modified:") {
		t.Errorf("no build info:\n%s", buf.String())
	}
}
