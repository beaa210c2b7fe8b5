package fuzz

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/integration/compat"
	"github.com/zkraft/zkraft/integration/testkit"
)

var (
	duration = flag.Duration("fuzz.duration", 0, "TestFuzzLong: run fresh seeds for this long (make fuzz-diff)")
	seedFlag = flag.Int64("fuzz.seed", 0, "TestFuzzSeed: run this seed (as printed by TestFuzzLong)")
	target   = flag.String("fuzz.target", "both", "TestFuzzLong/TestFuzzSeed: single, ensemble3 or both")
	steps    = flag.Int("fuzz.steps", 300, "TestFuzzLong/TestFuzzSeed: steps per program")
	strict   = flag.Bool("fuzz.strict", false, "look for the open differences of issue 8 too (sasl) instead of looking past them")
	keep     = flag.Bool("fuzz.keep", false, "keep the reference server's directory (its log) and say where")
	rewrite  = flag.Bool("fuzz.rewrite", false, "TestReplay: record what an open repro's replay shows in its diff field")
	outDir   = flag.String("fuzz.out", "testdata", "where TestFuzzLong/TestFuzzSeed write repro files")
)

// ref is the reference Apache ZooKeeper of this test binary, started by TestMain.
var ref *testkit.ZooKeeper

func TestMain(m *testing.M) {
	flag.Parse()
	cfg, props := compat.DiffSettings.ZooKeeperConfig()
	r, err := testkit.StartZooKeeper(testkit.ZooKeeperOptions{Config: cfg, Props: props, Keep: *keep})
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration/fuzz: cannot start the reference Apache ZooKeeper: %v\n"+
			"These tests need java (17) and Debian's zookeeper 3.8.0 package (apt-get install zookeeper).\n", err)
		os.Exit(1)
	}
	ref = r
	code := func() int {
		defer r.Stop()
		defer r.StopOnSignal()()
		return m.Run()
	}()
	os.Exit(code)
}

// newRunner starts zkraft (one node, or three members) and returns a runner on it and
// the reference.
func newRunner(t testing.TB, targetName string) *Runner {
	t.Helper()
	r := &Runner{
		Ref:           Target{Name: "zookeeper", Addrs: []string{ref.Addr}, Tick: compat.DiffSettings.TickTime},
		SuperPassword: compat.DiffSettings.SuperPassword,
		Root:          "/fuzz",
	}
	logs := &ensembletest.LogRing{}
	r.ZkraftLog = logs.Tail
	logTo := func(c *ensemble.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", c.ServerID)
	}
	switch targetName {
	case "single":
		srv := ensembletest.RunServer(t, ensembletest.WithConfig(compat.DiffSettings.Configure), ensembletest.WithConfig(logTo))
		r.Zkraft = Target{Name: "zkraft", Addrs: []string{srv.Addr}, Tick: srv.Config.TickTime}
	case "ensemble3":
		// A tick of 2s (ZooKeeper's default; Raft's heartbeat and election timeout)
		// instead of 100ms: on a loaded machine a short tick changes leaders now and
		// then, and a leader that steps down closes the connections of its requests
		// in flight (as ZooKeeper's does), which is not what the fuzzer compares (at
		// 1s, three "connection closed" in an hour under load average ~4). Session
		// timeouts do not depend on it (min and max are set).
		const tick = 2 * time.Second
		c := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) {
			compat.DiffSettings.Configure(c)
			c.TickTime = tick
			logTo(c)
		}))
		r.Zkraft = Target{Name: "zkraft-ensemble3", Addrs: c.Addrs(), Tick: tick}
		r.Quiesce = func() error { return quiesce(c.Addrs()) }
	default:
		t.Fatalf("unknown target %q: single or ensemble3", targetName)
	}
	return r
}

var zxidRe = regexp.MustCompile(`Zxid: (0x[0-9a-f]+)`)

// quiesce waits until every member reports the same last applied zxid (srvr).
func quiesce(addrs []string) error {
	deadline := time.Now().Add(10 * time.Second)
	var last []string
	for {
		last = last[:0]
		for _, a := range addrs {
			out, err := testkit.FourLetter(a, "srvr", 5*time.Second)
			m := zxidRe.FindStringSubmatch(out)
			if err != nil || m == nil {
				last = append(last, fmt.Sprintf("%s: %v %q", a, err, out))
				continue
			}
			last = append(last, m[1])
		}
		same := true
		for _, z := range last {
			same = same && z == last[0] && strings.HasPrefix(z, "0x")
		}
		if same {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("members did not reach the same zxid within 10s: %v", last)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// genOptions: what shows the open differences is left out, unless -fuzz.strict.
func genOptions(n int) GenOptions {
	return GenOptions{Steps: n, AvoidOpen: !*strict}
}

// found handles a difference: it shrinks it, classifies it and writes a repro file
// into dir; it returns the repro and where it went.
func found(t testing.TB, r *Runner, targetName string, seed int64, p Program, d *Difference, dir string) (Repro, string) {
	t.Helper()
	t0 := time.Now()
	// A difference that a second and third run do not show is timing: it is
	// written down whole (class flaky), with the reference's log, not shrunk.
	again := false
	for range 2 {
		if res := r.Run(p); res.Diff != nil && res.Diff.Signature() == d.Signature() {
			again = true
			break
		}
	}
	small, runs, sd, class := p, 0, d, ClassFlaky
	if again {
		small, runs = r.Shrink(p, d.Signature(), 3*time.Minute)
		if res := r.Run(small); res.Diff != nil {
			sd = res.Diff
		}
		class = r.Classify(small, sd)
	} else {
		t.Logf("seed %d on %s: the difference did not show again in 2 runs; the reference's log ends:\n%s\nzkraft's log ends:\n%s",
			seed, targetName, ref.LogTail(30), r.ZkraftLog(30))
	}
	t.Logf("seed %d on %s: shrunk %d steps to %d in %d runs (%v); class %s", seed, targetName, len(p.Steps),
		len(small.Steps), runs, time.Since(t0).Round(time.Millisecond), class)
	rep := Repro{Target: targetName, Seed: seed, Class: class, Expect: "differs", Diff: strings.Split(sd.String(), "\n"), Program: small}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("repro-%s-%s-%d.json", class, targetName, seed))
	if err := WriteRepro(path, rep); err != nil {
		t.Fatal(err)
	}
	return rep, path
}

// TestFuzzShort runs a few fixed seeds on one node and on three members: part of
// `make test`. A difference fails it, with a shrunk repro file written to a
// temporary directory (copy it into testdata/ once understood).
func TestFuzzShort(t *testing.T) {
	cases := []struct {
		target string
		seeds  []int64
		steps  int
	}{
		{"single", []int64{1, 2, 3, 4}, 200},
		{"ensemble3", []int64{5, 6}, 150},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			r := newRunner(t, c.target)
			for _, seed := range c.seeds {
				p := Generate(seed, genOptions(c.steps))
				res := r.Run(p)
				t.Logf("seed %d: %d steps, %d ops in %v (%.0f ops/s); %d allowed differences",
					seed, res.Steps, res.Ops, res.Elapsed.Round(time.Millisecond), float64(res.Ops)/res.Elapsed.Seconds(), len(res.Allowed))
				if res.Err != nil {
					t.Fatalf("seed %d: %v", seed, res.Err)
				}
				if res.Diff != nil {
					rep, path := found(t, r, c.target, seed, p, res.Diff, t.TempDir())
					b, _ := os.ReadFile(path)
					t.Errorf("seed %d: zkraft differs from ZooKeeper 3.8.0 (class %s) at %s\nrepro:\n%s", seed, rep.Class, res.Diff, b)
				}
			}
		})
	}
}

// TestReplay replays every repro file of testdata on both servers: one marked
// "same" must not differ (a regression test); one marked "differs" (open) must
// still differ, within 10 tries, so that the fix of its difference shows here.
func TestReplay(t *testing.T) {
	top := t
	files, _ := filepath.Glob("testdata/repro-*.json")
	sort.Strings(files)
	runners := map[string]*Runner{}
	for _, f := range files {
		rep, err := ReadRepro(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := runners[rep.Target]
			if r == nil {
				r = newRunner(top, rep.Target)
				runners[rep.Target] = r
			}
			switch rep.Expect {
			case "same":
				for range 3 {
					res := r.Run(rep.Program)
					if res.Err != nil {
						t.Fatal(res.Err)
					}
					if res.Diff != nil {
						t.Fatalf("%s differs again (%s):\n%s", f, rep.Note, res.Diff)
					}
				}
			case "differs":
				for try := range 10 {
					res := r.Run(rep.Program)
					if res.Err != nil {
						t.Fatal(res.Err)
					}
					if res.Diff != nil {
						t.Logf("still differs (try %d), as expected of an open difference (%s): %s", try+1, rep.Class, res.Diff.Signature())
						if *rewrite {
							rep.Diff = strings.Split(res.Diff.String(), "\n")
							if err := WriteRepro(f, rep); err != nil {
								t.Fatal(err)
							}
						}
						return
					}
				}
				t.Fatalf("%s no longer differs in 10 runs: its difference (%s) looks fixed; set \"expect\": \"same\" "+
					"so that it stays fixed", f, rep.Class)
			default:
				t.Fatalf("%s: expect must be same or differs, not %q", f, rep.Expect)
			}
		})
	}
}
