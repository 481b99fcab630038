#!/usr/bin/env bash
# `make test`: every check, in order, ending with one "N passed, N failed" line.
#  1. cargo fmt --check, shellcheck on the scripts, no yanked crate in Cargo.lock, no issue
#     or run numbers in code (scripts/history-check.sh), no import cycles between modules
#     (scripts/module-cycles.py)
#  2. clippy on the server side and on the wasm side (warnings are errors)
#  3. Rust unit and integration tests (cargo-nextest), each integration test on a fresh
#     PostgreSQL database
#  4. Playwright in Debian's Chromium against the release build, on its own port and database
#  5. operations tests against two release servers (scripts/ops-test.sh)
#  6. read replicas: a hot standby and two servers reading from it (scripts/replica-test.sh)
# A stage that exits non-zero, or runs fewer checks than it declares, counts as failed.
# Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
LOGS=$ROOT/target/test-logs
mkdir -p "$LOGS"

passed=0
failed=0
failures=()

check() {
  local name=$1
  shift
  echo
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

finish() {
  echo
  [ ${#failures[@]} -gt 0 ] && printf 'FAILED: %s\n' "${failures[@]}"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

check "cargo fmt --check" cargo fmt --all -- --check
check "shellcheck scripts/" shellcheck scripts/*.sh .ci/run
check "no yanked crate in Cargo.lock (scripts/dependency-check.py)" python3 scripts/dependency-check.py
check "no issue or run numbers in code (scripts/history-check.sh)" scripts/history-check.sh
check "no import cycles between modules (scripts/module-cycles.py)" python3 scripts/module-cycles.py
check "clippy (server, tests, bench tools)" cargo clippy -p app -p server --all-targets --features server/bench -- -D warnings
check "clippy (wasm)" cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# The Rust tests: #[sqlx::test] makes a fresh database per test on this server.
own_cluster=0
if [ -z "${DATABASE_URL:-}" ]; then
  own_cluster=1
  scripts/pg.sh start || { failed=$((failed + 1)); failures+=("start PostgreSQL"); finish; }
  DATABASE_URL=$(scripts/pg.sh url microblog)
  scripts/pg.sh createdb microblog
fi
export DATABASE_URL

echo
echo "== cargo nextest"
# Each test in a process of its own (cargo-nextest), two at a time: a page render can never
# meet another test's tokio runtime being shut down, which under `cargo test` with two threads
# in one process still leaves a render hanging in most runs (RELIABILITY.md). No retries: a
# test that passes only sometimes fails here.
cargo nextest run -p app -p server --no-fail-fast --retries 0 2>&1 | tee "$LOGS/cargo-test.log"
rust_status=${PIPESTATUS[0]}
summary=$(grep -E 'Summary \[' "$LOGS/cargo-test.log" | tail -n 1)
rust_passed=$(grep -Eo '[0-9]+ passed' <<<"$summary" | awk '{s += $1} END {print s + 0}')
# "leaky" marks tests that passed but left a handle open; nextest counts them as passed.
rust_failed=$(grep -Eo '[0-9]+ (failed|timed out)' <<<"$summary" | awk '{s += $1} END {print s + 0}')
passed=$((passed + rust_passed))
failed=$((failed + rust_failed))
if [ "$rust_status" -ne 0 ] && [ "$rust_failed" -eq 0 ]; then
  failed=$((failed + 1))
  failures+=("cargo nextest (did not build or run)")
elif [ "$rust_failed" -gt 0 ]; then
  failures+=("cargo nextest: $rust_failed failed")
fi

# The browser tests run against what users get: the release server and wasm-opt'ed bundle.
echo
echo "== release build"
if ! scripts/build-release.sh; then
  failed=$((failed + 1))
  failures+=("release build")
  finish
fi

E2E_ADDR=127.0.0.1:${E2E_PORT:-3100}
E2E_DB=microblog_e2e
E2E_URL=${DATABASE_URL%/*}/$E2E_DB
psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" -c "CREATE DATABASE $E2E_DB" >/dev/null

server_pids=()
trap 'kill "${server_pids[@]}" 2>/dev/null' EXIT
# start_server ADDR LOG: the release server on the e2e database, waited for until healthy.
# Short timeouts so the slow-client checks finish quickly, and sign-in limits per address raised
# because every test signs in from 127.0.0.1 (ops-test.sh checks the production limits on a
# server of its own).
start_server() {
  DATABASE_URL=$E2E_URL LEPTOS_SITE_ADDR=$1 LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD \
    MICROBLOG_HEADER_TIMEOUT_SECS=3 MICROBLOG_REQUEST_TIMEOUT_SECS=10 \
    MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 \
    RUST_LOG=warn target/release/server > "$2" 2>&1 &
  local pid=$!
  server_pids+=("$pid")
  for _ in $(seq 1 100); do
    curl -fsS "http://$1/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
start_server "$E2E_ADDR" "$LOGS/e2e-server.log"
# A second process on the same database: the live-feed tests post through one and read
# through the other, and the operations tests below use both.
SECOND_ADDR=127.0.0.1:$((${E2E_PORT:-3100} + 1))
start_server "$SECOND_ADDR" "$LOGS/e2e-server-2.log"

echo
echo "== playwright"
results=$LOGS/playwright.json
(cd end2end && BASE_URL="http://$E2E_ADDR" SECOND_BASE_URL="http://$SECOND_ADDR" DATABASE_URL=$E2E_URL PLAYWRIGHT_JSON_OUTPUT_NAME="$results" \
  npx playwright test --reporter=list,json)
e2e_status=$?
# A test that passed only on a retry, or was skipped, counts as failed: it would fail in CI.
# shellcheck disable=SC2016 # JavaScript, not shell
read -r e2e_passed e2e_failed < <(node -e '
  const fs = require("fs");
  try {
    const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).stats;
    console.log(`${s.expected} ${s.unexpected + s.flaky + s.skipped}`);
  } catch { console.log("0 0"); }' "$results")
passed=$((passed + e2e_passed))
failed=$((failed + e2e_failed))
if [ "$e2e_status" -ne 0 ] || [ "$e2e_passed" -eq 0 ]; then
  if [ "$e2e_failed" -eq 0 ]; then failed=$((failed + 1)); fi
  failures+=("playwright (server log: target/test-logs/e2e-server.log)")
elif [ "$e2e_failed" -gt 0 ]; then
  failures+=("playwright: $e2e_failed flaky or skipped")
fi

# The operations tests, against both processes.
echo
echo "== operations (scale-out, database restart)"
# Restarting PostgreSQL is only done to the project-local cluster, never to a given one.
[ "$own_cluster" = 1 ] && export OPS_TEST_OWN_CLUSTER=1
# planned_checks NAME LOG COMMAND…: a script that prints "plan N" and one "ok - "/"FAILED - "
# line per check.
planned_checks() {
  local name=$1 log=$2
  shift 2
  "$@" | tee "$log"
  local status=${PIPESTATUS[0]}
  local planned checks_passed checks_failed
  planned=$(sed -n 's/^plan \([0-9]*\)$/\1/p' "$log")
  checks_passed=$(grep -c '^ok - ' "$log")
  checks_failed=$(grep -c '^FAILED - ' "$log")
  passed=$((passed + checks_passed))
  failed=$((failed + checks_failed))
  # A script that died halfway prints fewer lines than it planned, and may print no FAILED line.
  if [ "$status" -ne 0 ] || [ "$checks_passed" -ne "${planned:-0}" ]; then
    [ "$checks_failed" -eq 0 ] && failed=$((failed + 1))
    failures+=("$name (exit $status, $checks_passed of ${planned:-?} planned checks passed)")
  fi
}
OPS_TEST_DATABASE_URL=$E2E_URL planned_checks "operations tests" "$LOGS/ops.log" \
  scripts/ops-test.sh "$E2E_ADDR" "$SECOND_ADDR"
kill "${server_pids[@]}" 2>/dev/null

# Read replicas need a standby of the cluster, made by pg.sh from the project-local one.
if [ "$own_cluster" = 1 ]; then
  echo
  echo "== read replicas (hot standby, two servers)"
  planned_checks "read-replica tests" "$LOGS/replicas.log" \
    scripts/replica-test.sh $((${E2E_PORT:-3100} + 3)) $((${E2E_PORT:-3100} + 4)) "$E2E_DB"
fi
finish
