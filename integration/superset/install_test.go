//go:build clients

package superset

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyTree copies src, a file or the files under a directory (skipping __pycache__), to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPipInstall installs the package as `pip install ./integration/superset` does,
// offline (no index, no build isolation: Debian's python3-pip, python3-setuptools,
// python3-wheel), into a fresh target directory, and checks what a user gets: the
// package imports from there with every name of __all__, the distribution's metadata
// (name, the version pyproject.toml gives, kazoo as its one requirement), no tests
// installed, and the zkraft-superset-beat console script. It builds from a copy
// because setuptools writes build/ and *.egg-info next to the sources, which the
// pytest run beside it reads.
func TestPipInstall(t *testing.T) {
	t.Parallel()
	needPython(t)
	for mod, pkg := range map[string]string{"pip": "python3-pip", "setuptools": "python3-setuptools", "wheel": "python3-wheel"} {
		cmd := exec.Command(python, "-c", "import "+mod)
		cmd.Env = cleanEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python module %s missing: apt-get install %s (see .ci/packages): %v\n%s", mod, pkg, err, out)
		}
	}
	pyproject, err := os.ReadFile("pyproject.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version = "([^"]+)"`).FindSubmatch(pyproject)
	if m == nil {
		t.Fatal("pyproject.toml has no version")
	}
	version := string(m[1])

	src := filepath.Join(t.TempDir(), "superset")
	for _, f := range []string{"pyproject.toml", "zkraft_superset", "tests", "conftest.py"} {
		copyTree(t, f, filepath.Join(src, f))
	}
	target := t.TempDir()
	env := append(cleanEnv(), "PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1",
		"PIP_ROOT_USER_ACTION=ignore", "PYTHONDONTWRITEBYTECODE=1")
	install := exec.Command(python, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--target", target, src)
	install.Env = env
	install.Dir = t.TempDir()
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}

	// Import from the target alone: the working directory is elsewhere, so the
	// sources in this directory cannot be what is imported.
	const probe = `
import importlib.metadata as md, json, os, sys
sys.path.insert(0, sys.argv[1])
import zkraft_superset
missing = [n for n in zkraft_superset.__all__ if not hasattr(zkraft_superset, n)]
from zkraft_superset import beat, config, hive, registry, reportlock
d = md.distribution("zkraft-superset")
print(json.dumps({"file": zkraft_superset.__file__, "missing": missing, "version": d.version,
    "requires": d.requires or [], "top": sorted(os.listdir(sys.argv[1]))}))
`
	run := exec.Command(python, "-c", probe, target)
	run.Env = env
	run.Dir = t.TempDir()
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("import zkraft_superset from %s: %v\n%s", target, err, out)
	}
	var got struct {
		File     string
		Missing  []string
		Version  string
		Requires []string
		Top      []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("installed: %+v", got)
	if !strings.HasPrefix(got.File, target+string(filepath.Separator)) {
		t.Errorf("zkraft_superset imported from %s, not from the target %s", got.File, target)
	}
	if len(got.Missing) != 0 {
		t.Errorf("names in __all__ missing after install: %v", got.Missing)
	}
	if got.Version != version {
		t.Errorf("installed version %q, pyproject.toml says %q", got.Version, version)
	}
	if len(got.Requires) == 0 || !strings.HasPrefix(got.Requires[0], "kazoo") {
		t.Errorf("requirements %q: kazoo first and the rest only as extras", got.Requires)
	}
	for _, r := range got.Requires[1:] {
		if !strings.Contains(r, "extra ==") {
			t.Errorf("requirement %q is not an extra: only kazoo is needed", r)
		}
	}
	want := []string{"bin", "zkraft_superset", "zkraft_superset-" + version + ".dist-info"}
	if strings.Join(got.Top, " ") != strings.Join(want, " ") {
		t.Errorf("target holds %v, want %v (no tests, no conftest)", got.Top, want)
	}

	beat := exec.Command(filepath.Join(target, "bin", "zkraft-superset-beat"), "--help")
	beat.Env = append(env, "PYTHONPATH="+target)
	beat.Dir = t.TempDir()
	if out, err := beat.CombinedOutput(); err != nil || !strings.Contains(string(out), "Run a command (celery beat) on one replica at a time.") {
		t.Errorf("zkraft-superset-beat --help: %v\n%s", err, out)
	}
}
