package compat

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

//go:embed golden
var goldenFS embed.FS

var golden = sync.OnceValues(func() (map[string][]string, error) {
	out := map[string][]string{}
	ents, err := goldenFS.ReadDir("golden")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := goldenFS.ReadFile("golden/" + e.Name())
		if err != nil {
			return nil, err
		}
		var m map[string][]string
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("golden/%s: %w", e.Name(), err)
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
})

// Golden returns the golden transcripts (Apache ZooKeeper 3.8.0's), by scenario
// name. Scenarios that are not run against the reference (SkipRef) have none.
func Golden() (map[string][]string, error) { return golden() }

// goldenFile is the file of a scenario: its area, the first element of its name.
func goldenFile(name string) string {
	area, _, _ := strings.Cut(name, "/")
	return area + ".json"
}

// WriteGolden replaces the golden files in dir (integration/compat/golden) with
// transcripts, by scenario name.
func WriteGolden(dir string, transcripts map[string][]string) error {
	files := map[string]map[string][]string{}
	for name, t := range transcripts {
		f := goldenFile(name)
		if files[f] == nil {
			files[f] = map[string][]string{}
		}
		files[f][name] = t
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(files[f]); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
