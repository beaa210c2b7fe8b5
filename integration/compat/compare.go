package compat

import (
	"slices"
	"strings"
)

// Outcome is how a target's transcript compares with the expected one.
type Outcome int

const (
	// Same: the transcripts are equal.
	Same Outcome = iota
	// AllowedDiff: they differ, and the allow-list accepts the difference.
	AllowedDiff
	// Differs: they differ, and nothing accepts it.
	Differs
)

func (o Outcome) String() string {
	switch o {
	case Same:
		return "identical"
	case AllowedDiff:
		return "allowed difference"
	}
	return "differs"
}

// Compare compares the transcript got of scenario name with want, the reference's.
// allow is the allow-list entry that accepted a difference.
func Compare(name string, want, got []string) (o Outcome, allow *AllowEntry) {
	if slices.Equal(want, got) {
		return Same, nil
	}
	if a := FindAllow(name); a != nil {
		return AllowedDiff, a
	}
	return Differs, nil
}

// SideBySide prints both transcripts, one after the other, with the lines from the
// first difference on that differ marked (- in want, + in got).
func SideBySide(want, got []string, wantLabel, gotLabel string) string {
	var sb strings.Builder
	n := max(len(want), len(got))
	first := -1
	for i := 0; i < n; i++ {
		var a, b string
		if i < len(want) {
			a = want[i]
		}
		if i < len(got) {
			b = got[i]
		}
		if a != b && first < 0 {
			first = i
		}
	}
	sb.WriteString("--- " + wantLabel + "\n")
	for i, l := range want {
		mark := "  "
		if i >= first && first >= 0 && (i >= len(got) || got[i] != l) {
			mark = "- "
		}
		sb.WriteString(mark + l + "\n")
	}
	sb.WriteString("+++ " + gotLabel + "\n")
	for i, l := range got {
		mark := "  "
		if i >= first && first >= 0 && (i >= len(want) || want[i] != l) {
			mark = "+ "
		}
		sb.WriteString(mark + l + "\n")
	}
	return sb.String()
}
