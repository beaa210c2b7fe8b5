# Targets split by cost. `make test` is what CI and the README run.
GO       ?= go
FUZZTIME ?= 60s

.PHONY: build run test test-clients lint fuzz bench clean

build:
	$(GO) build -o bin/zkraft ./cmd/zkraft

# A development node on 127.0.0.1:2181, data in ./zkraft-data.
run:
	$(GO) run ./cmd/zkraft serve

# Unit and integration tests with the race detector (Go clients only: no Java needed).
test:
	$(GO) test -race -count=1 -timeout 15m ./...

# The client matrix: kazoo (python3-kazoo) and zkCli.sh (Debian zookeeper) against zkraft.
test-clients:
	$(GO) test -race -count=1 -timeout 10m -tags clients ./integration/...

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)

# Each fuzz target in turn; FUZZTIME=60s by default.
fuzz:
	@for t in $$($(GO) test ./zkproto -list 'Fuzz.*' | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test ./zkproto -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -parallel 1 || exit 1; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./storage/... ./ensemble/... ./zkproto/...

clean:
	rm -rf bin zkraft-data
