package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the layout of DESIGN.md true: cmd and integration on top,
// ensemble over storage over zkproto, recipes beside them knowing nothing of the
// server, and nothing importing cmd.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/zkraft/zkraft/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	// For each package prefix, the zkraft packages it may import.
	allowed := map[string][]string{
		"zkproto":  {"zkproto"},
		"storage":  {"zkproto", "storage"},
		"ensemble": {"zkproto", "storage", "ensemble"},
		"recipes":  {"recipes"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		top := strings.SplitN(pkg, "/", 2)[0]
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, mod) {
				if top == "zkproto" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("zkproto imports %s: it must use the standard library only", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if strings.HasPrefix(dep, "cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", pkg, dep)
			}
			ok, ruled := allowed[top]
			if !ruled {
				continue // cmd and integration may import everything
			}
			permitted := false
			for _, a := range ok {
				if dep == a || strings.HasPrefix(dep, a+"/") {
					permitted = true
				}
			}
			if !permitted {
				t.Errorf("%s imports %s: %s may import only %v", pkg, dep, top, ok)
			}
		}
	}
}
