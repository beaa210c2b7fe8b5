package compat

import (
	"regexp"
	"strings"
	"testing"
)

// TestNeeds checks the need table against the golden transcripts: what a transcript
// shows that depends on a server setting must be declared, so that `zkraft compat`
// skips the scenario on a server without it instead of reporting a false failure.
func TestNeeds(t *testing.T) {
	golden, err := Golden()
	if err != nil {
		t.Fatal(err)
	}
	connect := regexp.MustCompile(`connect\(timeout=(-?\d+) `)
	rules := []struct {
		need Need
		show func(string) bool
	}{
		{NeedSuper, func(l string) bool { return strings.Contains(l, "<super-password>") }},
		{NeedExtendedTypes, func(l string) bool {
			return strings.Contains(l, " ttl=") || strings.Contains(l, "mode=5") || strings.Contains(l, "mode=6")
		}},
		{NeedLoopback, func(l string) bool { return strings.Contains(l, "127.0.0.") }},
		{NeedSessionTimeouts, func(l string) bool {
			m := connect.FindStringSubmatch(l)
			return m != nil && m[1] != "10000"
		}},
	}
	all := All()
	if len(all) < 1000 {
		t.Errorf("%d scenarios, want at least 1000", len(all))
	}
	missing := 0
	for _, s := range all {
		tr, ok := golden[s.name]
		if !ok {
			if s.skipRef == "" && !s.HasNeed(NeedFreshServer) {
				t.Errorf("%s: no golden transcript", s.name)
			}
			continue
		}
		for _, rule := range rules {
			shows := false
			for _, l := range tr {
				shows = shows || rule.show(l)
			}
			if shows && !s.HasNeed(rule.need) {
				missing++
				t.Errorf("%s: its transcript depends on %s; add it to needTable", s.name, rule.need)
			}
		}
		reaped := false
		for _, l := range tr {
			reaped = reaped || strings.Contains(l, " is gone within ")
		}
		if reaped && !s.HasNeed(NeedFastReaping) && !s.HasNeed(NeedSessionTimeouts) {
			t.Errorf("%s: waits for a reaped node; add %s to needTable", s.name, NeedFastReaping)
		}
	}
	for _, e := range needTable {
		n := 0
		for _, s := range all {
			if ok, _ := matchName(e.pattern, s.name); ok {
				n++
			}
		}
		if n == 0 {
			t.Errorf("needTable pattern %q matches no scenario", e.pattern)
		}
	}
}
