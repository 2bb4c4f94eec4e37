# schemakv — make targets. `make run` starts a single node on 127.0.0.1:7400
# with its data in ./data; `make test` runs the default test suite (what CI runs).

GO            ?= go
BIN           := bin/schemakv
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X github.com/schemakv/schemakv/node.Version=$(VERSION)
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOBIN         := $(shell $(GO) env GOPATH)/bin
# Packages whose code runs concurrently get -race in the default suite; the
# rest run once without it.
RACE_PKGS     := ./store/... ./fsm/... ./cluster/... ./httpapi/... ./schema/... ./node/... ./client/...

.PHONY: all build run test test-unit test-system test-fault test-docker chaos bench bench-compare lint fmt fuzz docker clean

all: lint test build

## build: static binary at bin/schemakv
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/schemakv

## run: build, then run a single node (HTTP 127.0.0.1:7400, data in ./data)
run: build
	./$(BIN) server

## test: the default suite — unit, HTTP, race and system tests (what CI runs)
test: build
	$(GO) test -count=1 ./...
	$(GO) test -race -count=1 $(RACE_PKGS)

## test-unit: fast tests only (skips tests that build and run the binary)
test-unit:
	$(GO) test -short -count=1 ./...

## test-system: the tests that build and run the real binary (crash, restart, README quickstart)
test-system:
	$(GO) test -count=1 -v ./systemtest/

## test-fault: 3-process clusters under kill -9, SIGSTOP and iptables partitions,
## histories checked with porcupine (needs root and iptables for partitions)
test-fault:
	$(GO) test -count=1 -run 'Cluster|Linz|Fault' -v ./systemtest/

## test-docker: the Docker tests (image from the Dockerfile, compose file, kill/pause/partition
## with the porcupine check); needs a Docker engine
test-docker:
	SCHEMAKV_DOCKER=1 $(GO) test -count=1 -v -timeout 15m -run '^TestDocker' ./systemtest/

## chaos: the fault loop for DURATION (default 10m), for soak runs
DURATION ?= 10m
chaos:
	scripts/chaos.sh $(DURATION)

## bench: Go benchmarks (figures, not pass/fail); see README "Benchmarks"
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./schema/ ./store/ ./node/

## bench-compare: schemakv against etcd 3.4 (installed from Debian if missing), 3-node and
## 1-node clusters on loopback, one table (about 12 minutes; scripts/bench-compare.sh -quick: 3)
bench-compare: build
	scripts/bench-compare.sh

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install $(STATICCHECK)
	$(GOBIN)/staticcheck ./...

fmt:
	gofmt -w .

## fuzz: run each fuzz target for a short while (FUZZTIME each)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCheck -fuzztime $(FUZZTIME) ./internal/jsonutil/
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME) ./schema/
	$(GO) test -run '^$$' -fuzz FuzzDecodeEntry -fuzztime $(FUZZTIME) ./store/
	$(GO) test -run '^$$' -fuzz FuzzImportDecode -fuzztime $(FUZZTIME) ./httpapi/
	$(GO) test -run '^$$' -fuzz FuzzYAMLToJSON -fuzztime $(FUZZTIME) ./gitops/
	$(GO) test -run '^$$' -fuzz FuzzParseClause -fuzztime $(FUZZTIME) ./index/
	$(GO) test -run '^$$' -fuzz FuzzExtract -fuzztime $(FUZZTIME) ./index/

## docker: build the FROM-scratch image schemakv:dev
docker: build
	docker build -t schemakv:dev .

clean:
	rm -rf bin
