package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkraft/zkraft/ensemble/fourletter"
)

// buildInfo is what the binary knows about its own build: the module version when it
// was installed as `go install github.com/zkraft/zkraft/cmd/zkraft@vX.Y.Z`, and the
// version-control state the go command stamped into it (vcs.revision, vcs.time,
// vcs.modified) when it was built inside a git checkout with -buildvcs on (the
// default "auto" stamps it; GOFLAGS=-buildvcs=false, a source tarball or a git
// worktree, which the go command does not recognise, leave it out).
type buildInfo struct {
	module    string // releaseVersion(Main.Version): a tagged release, or ""
	goVersion string
	revision  string
	time      time.Time
	modified  string // "true", "false" or "" when unknown
}

// pseudoVersion matches the tail of a Go pseudo-version (v0.0.0-20261203072940-9f61ecb27dc9,
// vX.Y.(Z+1)-0.20261203072940-9f61ecb27dc9), which the go command gives a build from an
// untagged commit.
var pseudoVersion = regexp.MustCompile(`[-.]\d{14}-[0-9a-f]{12}$`)

// releaseVersion is a main-module version that names a release: "v0.2.1" from
// `go install ...@v0.2.1` or a build at a tagged commit ("+dirty" when the checkout had
// changes, kept). It is "" for "(devel)" and for pseudo-versions, so that such builds
// report the version in the source and the revision beside it.
func releaseVersion(v string) string {
	if v == "" || v == "(devel)" || pseudoVersion.MatchString(strings.TrimSuffix(v, "+dirty")) {
		return ""
	}
	return v
}

func readBuildInfo(bi *debug.BuildInfo) buildInfo {
	var b buildInfo
	if bi == nil {
		return b
	}
	b.module = releaseVersion(bi.Main.Version)
	b.goVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				b.time = t
			}
		case "vcs.modified":
			b.modified = s.Value
		}
	}
	return b
}

// applyBuildInfo makes the version the server reports (srvr, mntr, the admin
// server, zkraft_build_info) follow the build: the module version of a released
// build, and the commit time as the "built on" date of a build from a checkout.
func applyBuildInfo(b buildInfo) {
	if b.module != "" {
		fourletter.ZkraftVersion = strings.TrimPrefix(b.module, "v")
	}
	if !b.time.IsZero() {
		fourletter.BuildTime = b.time
	}
}

func init() {
	bi, _ := debug.ReadBuildInfo()
	applyBuildInfo(readBuildInfo(bi))
}

// writeVersion prints the version report. The first line is the one earlier
// versions printed, so scripts that read it keep working; the rest is one
// "key: value" per line.
func writeVersion(w io.Writer, b buildInfo) {
	fmt.Fprintf(w, "zkraft %s (ZooKeeper %s compatible)\n", fourletter.ZkraftVersion, fourletter.Version)
	if b.revision == "" {
		fmt.Fprintln(w, "revision: unknown (built without version-control information)")
	} else {
		fmt.Fprintf(w, "revision: %s\n", b.revision)
		if !b.time.IsZero() {
			fmt.Fprintf(w, "time:     %s\n", b.time.UTC().Format(time.RFC3339))
		}
		if b.modified != "" {
			fmt.Fprintf(w, "modified: %s\n", b.modified)
		}
	}
	goVersion := b.goVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	fmt.Fprintf(w, "go:       %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print zkraft's version, the build's git revision and the ZooKeeper version it emulates",
		Long: `Print zkraft's version, the ZooKeeper version it presents to clients, and the
build's version-control state as the go command stamped it: the git revision, the
commit time, and whether the checkout had uncommitted changes (modified: true).

The revision is there when the binary was built inside a git checkout (go build's
default -buildvcs=auto; make build, the Containerfile in docs/deploy); a build from
a source tarball, with -buildvcs=false or from a git worktree says "unknown".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			writeVersion(cmd.OutOrStdout(), readBuildInfo(bi))
			return nil
		},
	}
}
