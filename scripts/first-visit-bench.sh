#!/usr/bin/env bash
# First visit on a slow phone, measured in Chromium with network and CPU emulation:
# bytes over the wire and time to a working Follow button, compressed and, for comparison,
# uncompressed (what main sent before), from the same release build. Prints both JSON lines.
#   scripts/first-visit-bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
ADDR=127.0.0.1:${FIRST_VISIT_PORT:-3300}
scripts/pg.sh start
DB_NAME=microblog_first_visit
psql "$(scripts/pg.sh url postgres)" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME" >/dev/null
scripts/build-release.sh >/dev/null
DATABASE_URL=$(scripts/pg.sh url $DB_NAME) LEPTOS_SITE_ADDR=$ADDR LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD \
  MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 RUST_LOG=warn target/release/server > target/first-visit-server.log 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
(cd end2end && node bench/first-visit.mjs "http://$ADDR" "$RUNS")
(cd end2end && node bench/first-visit.mjs "http://$ADDR" "$RUNS" identity)
