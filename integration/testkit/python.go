package testkit

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Python is Debian's interpreter, which has the Debian packages the tests install
// (python3-kazoo, python3-pytest, ...); the python3 first on PATH may be another one.
const Python = "/usr/bin/python3"

// PythonEnv is the test's environment without the settings of another Python
// installation (PYTHON*, PYENV*), with PYTHONDONTWRITEBYTECODE=1 (no __pycache__ in
// the tree) and extra appended.
func PythonEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "PYENV") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "PYTHONDONTWRITEBYTECODE=1"), extra...)
}

// PytestCmd is Debian's pytest, quiet, without a cache directory and with short
// tracebacks, run on args (options and test files) in the environment PythonEnv(env...).
// It is not started: run it with RunGroup, or Start when the test must talk to it
// while it runs (as integration/superset's control channel does).
func PytestCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(Python, append([]string{"-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short"}, args...)...)
	cmd.Env = PythonEnv(env...)
	return cmd
}

// RunPytest runs pytest on file (stopping at the first failure; faulthandler dumps
// the threads of a test hung for 60s) with env added to PythonEnv, in its own process
// group killed when ctx ends, and returns its output. A missing python3 fails the test,
// naming the Debian packages.
func RunPytest(ctx context.Context, t testing.TB, file string, env ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("%s missing: install python3-kazoo and python3-pytest (see .ci/run)", Python)
	}
	return CombinedOutput(ctx, PytestCmd(env, "-x", "-o", "faulthandler_timeout=60", file))
}
