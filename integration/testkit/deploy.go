package testkit

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// UnitEnv is the environment the shipped systemd unit (docs/deploy/zkraft.service)
// gives zkraft: the KEY=value pairs of its Environment= lines. The benchmarks run
// zkraft with it, and the container image must set the same. The file is read once.
func UnitEnv() ([]string, error) { return unitEnv() }

var unitEnv = sync.OnceValues(func() ([]string, error) {
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "../../docs/deploy/zkraft.service"))
	if err != nil {
		return nil, err
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Environment="); ok {
			env = append(env, strings.Fields(v)...)
		}
	}
	return env, nil
})
