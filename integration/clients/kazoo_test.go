//go:build clients

package clients

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// python is Debian's interpreter, which has python3-kazoo and python3-pytest; the
// python3 first on PATH may be another one.
const python = "/usr/bin/python3"

// runChild runs cmd with a deadline, in its own process group so that anything it
// starts dies with it, and always reaps it. It returns the combined output unless
// the caller set Stdout or Stderr.
func runChild(t *testing.T, timeout time.Duration, cmd *exec.Cmd) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out strings.Builder
	if cmd.Stdout == nil && cmd.Stderr == nil {
		cmd.Stdout = &out
		cmd.Stderr = &out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err := <-done
		return out.String() + "\n[killed: timeout " + timeout.String() + "]", err
	}
}

func TestKazoo(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s missing: install python3-kazoo and python3-pytest (see .ci/run)", python)
	}
	srv := ensembletest.RunServer(t)
	p := startProxy(t, "kazoo", srv.Addr)
	cmd := exec.Command(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "--tb=short",
		"-o", "faulthandler_timeout=60", "test_kazoo.py")
	cmd.Env = append(cleanEnv(), "ZK_HOSTS="+p.Addr(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := runChild(t, 4*time.Minute, cmd)
	if err != nil {
		t.Fatalf("pytest test_kazoo.py: %v\n%s", err, out)
	}
	t.Logf("pytest:\n%s", out)
}

// cleanEnv is the environment without Python settings of another interpreter.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "PYENV") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
