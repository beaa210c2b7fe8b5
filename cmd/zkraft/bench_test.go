package main

import (
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

func TestBenchMeasures(t *testing.T) {
	srv := ensembletest.RunServer(t)
	for _, op := range []string{"create", "set", "get"} {
		r, err := runBench([]string{srv.Addr}, 4, 2, 300*time.Millisecond, op, 10, "/bench-"+op)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if r.ops == 0 || r.errors != 0 || r.p50 <= 0 || r.p99 < r.p50 || r.max < r.p99 {
			t.Fatalf("%s: implausible result %+v", op, r)
		}
	}
}
