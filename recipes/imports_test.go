package recipes_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The recipes are a client library: besides the standard library they import
// go-zookeeper/zk only, never zkraft's server packages.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/zkraft/zkraft/recipes" && !strings.HasPrefix(p, "github.com/go-zookeeper/zk") {
			t.Errorf("recipes imports %s", p)
		}
	}
}
