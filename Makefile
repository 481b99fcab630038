# The two commands of the README: `make run` serves Microblog, `make test` runs every test.
# Both install whatever is missing first (see scripts/setup.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# npm's wasm-opt must win over any other on PATH (Debian's breaks hydration); cargo tools next.
export PATH := $(CURDIR)/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# Builds use the committed query data in .sqlx/, so they need no database.
export SQLX_OFFLINE := true

.PHONY: help run test bench sqlx-prepare db-start db-stop

help:
	@echo "make run     build and serve Microblog on http://127.0.0.1:3000 (local PostgreSQL, demo data)"
	@echo "make test    formatting, clippy, Rust tests on PostgreSQL, Playwright tests on the release build"
	@echo "make bench   benchmarks on a large seeded data set; writes BENCHMARKS.md"

run:
	@scripts/setup.sh run
	@scripts/run.sh

test:
	@scripts/setup.sh test
	@scripts/test.sh

bench:
	@scripts/setup.sh run
	@scripts/bench.sh

# After changing a query or a migration: refresh the offline query data in .sqlx/ and commit it.
sqlx-prepare:
	@rm -rf .sqlx && mkdir .sqlx
	@touch app/src/lib.rs
	@DATABASE_URL=$$(scripts/schema-db.sh) SQLX_OFFLINE=false SQLX_OFFLINE_DIR=$(CURDIR)/.sqlx cargo build -p server --features bench
	@echo "refreshed $$(ls .sqlx | wc -l) query files in .sqlx/"

db-start:
	@scripts/pg.sh start && scripts/pg.sh url

db-stop:
	@scripts/pg.sh stop
