# Targets split by cost. `make test` is what CI and the README run.
GO       ?= go
FUZZTIME ?= 60s

.PHONY: build run deps test test-clients lint fuzz fuzz-diff bench bench-logstore bench-compare bench-failover soak chaos powerloss clean

build:
	$(GO) build -o bin/zkraft ./cmd/zkraft

# A development node on 127.0.0.1:2181, data in ./zkraft-data.
run:
	$(GO) run ./cmd/zkraft serve

# The Debian packages the tests use: the reference ZooKeeper and its Java and C
# clients, Curator, kazoo, pytest, Celery (listed in .ci/packages; installed as root).
deps:
	@scripts/test-deps.sh

# Every test, with the race detector: unit, integration, the differential suite
# against the reference ZooKeeper, and the client matrix (tag clients).
test: deps
	$(GO) test -race -count=1 -timeout 20m -tags clients ./...
	cd ensemble/hashicorp-raft && $(GO) test -race -count=1 -run '^TestZkraft' .

# Only the client matrix and Superset integration (kazoo, zkCli.sh, Curator, C, Celery).
test-clients: deps
	$(GO) test -race -count=1 -timeout 10m -tags clients ./integration/...

lint:
	$(GO) vet -tags clients ./...
	$(GO) vet -tags explore ./integration/...
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)

# Each fuzz target in turn; FUZZTIME=60s by default.
fuzz:
	@for p in ./zkproto ./ensemble ./ensemble/sasl ./ensemble/jaas; do for t in $$($(GO) test $$p -list 'Fuzz.*' | grep ^Fuzz); do \
		echo "== $$p $$t"; $(GO) test $$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -parallel 1 || exit 1; \
	done; done

# The fault-injection harness (integration/chaos): histories of 60 s of traffic each
# until CHAOS_DURATION (total, default 10m) or CHAOS_HISTORIES, whichever comes first,
# with fresh seeds unless CHAOS_SEED is set (e.g. CHAOS_DURATION=2h CHAOS_HISTORIES=100).
# A violation writes the history, the faults, the members' logs and porcupine's
# visualization under CHAOS_ARTIFACTS ($TMPDIR/zkraft-chaos) and fails. `make test`
# runs two short histories with a fixed seed.
CHAOS_DURATION ?= 10m
chaos:
	CHAOS_DURATION=$(CHAOS_DURATION) CHAOS_HISTORIES=$(CHAOS_HISTORIES) \
		$(GO) test -count=1 -timeout 0 -run '^TestChaos$$' -v ./integration/chaos/

# The differential fuzzer (integration/fuzz): fresh seeds against the reference
# ZooKeeper for FUZZ_DURATION, alternating one zkraft node and three members. Each
# seed is printed (replay: go test -tags explore ./integration/fuzz -run TestFuzzSeed -fuzz.seed N);
# a difference is shrunk into integration/fuzz/testdata/repro-*.json. FUZZ_FLAGS:
# -fuzz.strict also explores where open differences show (none at present);
# -fuzz.target single|ensemble3; -fuzz.steps N.
FUZZ_DURATION ?= 10m
fuzz-diff:
	$(GO) test -tags explore -count=1 -timeout 0 -v -run '^TestFuzzLong$$' ./integration/fuzz -fuzz.duration $(FUZZ_DURATION) $(FUZZ_FLAGS)

# Power losses (not kill -9: what a member wrote after its last fsync is dropped,
# bbolt's pages torn mid-commit) of the leader, a follower or all members of a
# 3-member ensemble with writes in flight; 0 acknowledged writes lost and 0 members
# unable to restart, or it fails. make test runs 20; this runs POWERLOSS_CYCLES.
POWERLOSS_CYCLES ?= 200
powerloss:
	$(GO) test -race -count=1 -timeout 60m -run TestPowerLoss -v ./integration/powerloss -cycles=$(POWERLOSS_CYCLES)

bench:
	$(GO) test -run '^$$' -bench . -skip TreeMemory -benchmem ./storage/... ./ensemble/... ./zkproto/...
	$(GO) test -run '^$$' -bench TreeMemory -benchtime 1x -count 3 ./storage/datatree/
	$(GO) test -run '^$$' -bench 'Pipelined|Writes' -benchmem ./integration/

# The Raft log store of older versions (raft-boltdb) beside the one zkraft ships
# (hashicorp/raft-wal): fsynced appends of 1 to 256 entries (its own module).
bench-logstore:
	cd storage/raftstore/logstorebench && $(GO) test -run '^$$' -bench . -benchtime 2000x -count 3 .

# zkraft beside the reference Apache ZooKeeper 3.8.0 (Debian's; default durability),
# single node and 3 members on loopback, driven by `zkraft bench` workload by
# workload, alternating the servers; then memory and restart with BENCH_ZNODES
# znodes. Writes the ratios with p50/p99 to BENCH_OUT (docs/performance.md). The whole
# run at 4 s per run and 3 runs per cell took 45 minutes on a loaded 2-CPU machine, plus
# the tree (5 s: about 55); a short
# one: make bench-compare BENCH_DURATION=1s BENCH_REPEATS=1 BENCH_ZNODES=10000
# (see integration/benchcompare; make test runs a tiny one). BENCH_PIN=1 puts every
# server thread on CPU 0 and the load on CPU 1, so that the client does not take the
# servers' CPU (e.g. BENCH_OUT=docs/performance-pinned.md).
BENCH_DURATION   ?= 5s
BENCH_REPEATS    ?= 3
BENCH_ZNODES     ?= 1000000
BENCH_WORKLOADS  ?= all
BENCH_SESSIONS   ?= all
BENCH_TOPOLOGIES ?= all
BENCH_OUT        ?= docs/performance.md
BENCH_PIN        ?= 0
bench-compare: deps
	BENCH_DURATION=$(BENCH_DURATION) BENCH_REPEATS=$(BENCH_REPEATS) BENCH_ZNODES=$(BENCH_ZNODES) \
	BENCH_WORKLOADS=$(BENCH_WORKLOADS) BENCH_SESSIONS=$(BENCH_SESSIONS) BENCH_TOPOLOGIES=$(BENCH_TOPOLOGIES) \
	BENCH_OUT=$(abspath $(BENCH_OUT)) BENCH_PROGRESS=1 BENCH_PIN=$(BENCH_PIN) \
	BENCH_COMMAND="make bench-compare BENCH_DURATION=$(BENCH_DURATION) BENCH_REPEATS=$(BENCH_REPEATS) BENCH_ZNODES=$(BENCH_ZNODES) BENCH_WORKLOADS=$(BENCH_WORKLOADS) BENCH_SESSIONS=$(BENCH_SESSIONS) BENCH_TOPOLOGIES=$(BENCH_TOPOLOGIES) BENCH_PIN=$(BENCH_PIN)" \
		$(GO) test -count=1 -timeout 0 -v -run '^TestBenchCompare$$' ./integration/benchcompare

# Failover side by side: SIGKILL of the leader of a 3-member ZooKeeper and a 3-member
# zkraft ensemble (tickTime 500) under writes; the longest gap between acknowledged
# writes per round, and the medians (make test runs one round).
FAILOVER_ROUNDS ?= 7
bench-failover: deps
	FAILOVER_ROUNDS=$(FAILOVER_ROUNDS) $(GO) test -count=1 -timeout 0 -v -run '^TestFailoverCompare$$' ./integration/benchcompare

# Memory and disk after churn: SOAK_DURATION (default 15m) of 64 workers opening and
# closing sessions that create and delete znodes (data, ephemeral, sequential) and set
# watches, against a fresh single node of each of SOAK_TARGETS (zkraft, zookeeper or
# both; default both, one after the other) at tickTime 2000 and default snapCount; then
# the tree is deleted back to its start and RSS, VmHWM, the Go heap and the data
# directory (by subdirectory) are read at the start, the peak, the end, after a
# snapshot and after SOAK_IDLE. Figures to stdout and SOAK_OUT (see
# integration/benchcompare/soak_test.go; make test runs a 3-second one that checks the
# tree, sessions and watches are gone and the data directory is bounded after the
# snapshot).
SOAK_DURATION ?= 15m
SOAK_TARGETS  ?= zkraft,zookeeper
SOAK_IDLE     ?= 30s
SOAK_OUT      ?= $(or $(TMPDIR),/tmp)/zkraft-soak.md
soak: deps
	SOAK_DURATION=$(SOAK_DURATION) SOAK_TARGETS=$(SOAK_TARGETS) SOAK_IDLE=$(SOAK_IDLE) SOAK_OUT=$(abspath $(SOAK_OUT)) \
	SOAK_SNAPCOUNT=0 SOAK_TICKMS=2000 SOAK_DATA=1024 SOAK_MIN_LOG=0 \
		$(GO) test -count=1 -timeout 0 -v -run '^TestSoak$$' ./integration/benchcompare

clean:
	rm -rf bin zkraft-data
