package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// zkraftPkg is built by import path, so the build works from any test package's
// directory inside the module.
const zkraftPkg = "github.com/zkraft/zkraft/cmd/zkraft"

func buildZkraft(dir string) (string, error) {
	bin := filepath.Join(dir, "zkraft")
	cmd := exec.Command("go", "build", "-o", bin, zkraftPkg)
	// zkraft is pure Go: a static binary does not depend on the host's libc.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", zkraftPkg, err, out)
	}
	return bin, nil
}

// BuildZkraft builds the zkraft binary into a temporary directory of t and returns its
// path: for a test that runs the real binary (kill -9, signals, the command line).
func BuildZkraft(t testing.TB) string {
	t.Helper()
	bin, err := buildZkraft(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// RunWithZkraft is the body of a TestMain whose tests share one zkraft binary: it
// builds the binary into a temporary directory, stores its path in *bin, runs the
// tests and removes the directory. It returns the exit code for os.Exit.
func RunWithZkraft(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "zkraft-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = buildZkraft(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
