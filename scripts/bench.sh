#!/usr/bin/env bash
# `make bench`: seeds a large data set into its own database and measures, in one run,
#  1. feed query latency (ours vs the tutorial's), typical and heavy reader, page 1 and 50;
#  2. HTTP throughput and latency of the home feed, a profile and explore, signed in (wrk, 64
#     connections);
#  3. follow/unfollow throughput through the server functions, then checks the counters;
#  4. wasm/JS bundle sizes and the server's peak memory under that load.
# Writes BENCHMARKS.md. Sizes can be changed: BENCH_USERS, BENCH_POSTS_PER_USER,
# BENCH_FOLLOWS_PER_USER, BENCH_HEAVY, BENCH_HEAVY_FOLLOWS, BENCH_RUNS, BENCH_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
mkdir -p "$OUT"

USERS=${BENCH_USERS:-100000}
POSTS=${BENCH_POSTS_PER_USER:-10}
FOLLOWS=${BENCH_FOLLOWS_PER_USER:-100}
HEAVY=${BENCH_HEAVY:-10}
HEAVY_FOLLOWS=${BENCH_HEAVY_FOLLOWS:-5000}
RUNS=${BENCH_RUNS:-1000}
SECONDS_PER_LOAD=${BENCH_SECONDS:-15}
ADDR=127.0.0.1:${BENCH_PORT:-3200}
REPORT=${BENCH_REPORT:-$ROOT/BENCHMARKS.md}

command -v wrk >/dev/null || {
  echo ">> Installing wrk from Debian (load generator)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}

scripts/pg.sh start
ADMIN=$(scripts/pg.sh url postgres)
DB=$(scripts/pg.sh url microblog_bench)
# BENCH_REUSE_DB=1 keeps the data set of the previous run (for iterating on the server).
if [ "${BENCH_REUSE_DB:-0}" != 1 ]; then
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS microblog_bench WITH (FORCE)" -c "CREATE DATABASE microblog_bench" >/dev/null
fi

echo ">> Release build"
cargo leptos build --release >/dev/null

echo ">> Seeding $USERS users × $POSTS posts, $FOLLOWS follows each, $HEAVY heavy readers following $HEAVY_FOLLOWS"
if [ "${BENCH_REUSE_DB:-0}" = 1 ]; then
  seed_report="(data set reused from the previous run)"
else
  seed_report=$(DATABASE_URL=$DB RUST_LOG=error target/release/server seed --scale --users "$USERS" --posts-per-user "$POSTS" \
    --follows-per-user "$FOLLOWS" --heavy "$HEAVY" --heavy-follows "$HEAVY_FOLLOWS")
fi
echo "$seed_report"
counts=$(psql "$DB" -tAc "SELECT (SELECT count(*) FROM users) || ' users, ' || (SELECT count(*) FROM posts) || ' posts, ' || (SELECT count(*) FROM followers) || ' follows'")

echo ">> Feed query latency"
DATABASE_URL=$DB target/release/server bench-feed --typical "bench$HEAVY" --heavy bench0 \
  --runs "$RUNS" --baseline-runs "${BENCH_BASELINE_RUNS:-100}" --explain "$OUT/explain.txt" | tee "$OUT/feed.md"

echo ">> HTTP load"
DATABASE_URL=$DB LEPTOS_SITE_ADDR=$ADDR LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD RUST_LOG=warn \
  MICROBLOG_DB_CONNECTIONS=${BENCH_DB_CONNECTIONS:-16} target/release/server > "$OUT/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

sign_in() {
  curl -fsS -o /dev/null -D - -H "Origin: http://$ADDR" -H 'Accept: application/json' \
    --data "username=$1&password=microblog" "http://$ADDR/api/login" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(microblog_session=[^;]*\).*/\1/p' | tail -n 1
}
reader_cookie=$(sign_in "bench$HEAVY")

load() { # slug label url
  local slug=$1 label=$2 url=$3 result=$OUT/wrk-$1.txt
  wrk -t2 -c64 -d"${SECONDS_PER_LOAD}s" --latency -H "Cookie: $reader_cookie" "$url" > "$result"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$result")
  p50=$(awk '$1 == "50%" {print $2}' "$result")
  p99=$(awk '$1 == "99%" {print $2}' "$result")
  errors=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$result")
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
}
{
  echo "| page | requests/s | p50 | p99 | non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  load home "home feed \`/\`" "http://$ADDR/"
  load profile "profile \`/user/bench1\`" "http://$ADDR/user/bench1"
  load explore "explore \`/explore\`" "http://$ADDR/explore"
} | tee "$OUT/http.md"

echo ">> Follow/unfollow throughput"
# 64 readers, each on its own connection, follow and unfollow random users.
{
  echo "cookies = {"
  for n in $(seq 1000 1063); do echo "  \"$(sign_in "bench$n")\","; done
  echo "}"
  cat <<LUA
users = $USERS
counter = 0
setup = function(thread) thread:set("id", counter); counter = counter + 1 end
init = function() math.randomseed(id * 7919 + 1) end
request = function()
  local cookie = cookies[math.random(#cookies)]
  local action = (math.random(2) == 1) and "follow" or "unfollow"
  local body = "username=bench" .. math.random(0, users - 1)
  return wrk.format("POST", "/api/" .. action, {
    ["Cookie"] = cookie,
    ["Origin"] = "http://$ADDR",
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
LUA
} > "$OUT/follow.lua"
wrk -t2 -c64 -d"${SECONDS_PER_LOAD}s" --latency -s "$OUT/follow.lua" "http://$ADDR/" > "$OUT/wrk-follow.txt"
follow_rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-follow.txt")
follow_p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk-follow.txt")
follow_errors=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$OUT/wrk-follow.txt")
wrong_counters=$(psql "$DB" -tAc "SELECT count(*) FROM users u WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id) OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)")
echo "follow/unfollow: $follow_rps req/s, p99 $follow_p99, non-2xx ${follow_errors:-0}, users with wrong counters: $wrong_counters"

peak_rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true

size_row() {
  local file=$1
  printf '| %s | %s | %s |\n' "$(basename "$file")" "$(stat -c %s "$file")" "$(gzip -9 -c "$file" | wc -c)"
}

{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(psql "$ADMIN" -tAc 'SHOW server_version' | cut -d' ' -f1) PostgreSQL (project-local cluster, fsync off), release build."
  echo "The load generator, the server and PostgreSQL share the same two cores."
  echo
  echo "## Data set"
  echo
  echo "\`server seed --scale --users $USERS --posts-per-user $POSTS --follows-per-user $FOLLOWS --heavy $HEAVY --heavy-follows $HEAVY_FOLLOWS\`:"
  echo "$counts. $seed_report."
  echo
  echo "## 1. Feed query latency"
  echo
  echo "Typical reader: \`bench$HEAVY\`; heavy reader: \`bench0\` (follows $HEAVY_FOLLOWS). Measured in-process"
  echo "through the app's own query functions (\`server bench-feed\`, server/src/feed_bench.rs), warm cache."
  echo
  cat "$OUT/feed.md"
  echo
  echo "The plans of the heavy reader's feed are in [benchmarks/explain-heavy-feed.txt](benchmarks/explain-heavy-feed.txt)."
  echo
  echo "## 2. HTTP pages, signed in (wrk, 2 threads, 64 connections, ${SECONDS_PER_LOAD} s each)"
  echo
  cat "$OUT/http.md"
  echo
  echo "## 3. Follow / unfollow through the server functions"
  echo
  echo "64 signed-in users follow or unfollow random users (wrk, 64 connections, ${SECONDS_PER_LOAD} s):"
  echo "**$follow_rps requests/s**, p99 $follow_p99, non-2xx responses: ${follow_errors:-0}."
  echo "Afterwards, users whose counters differ from the link rows: **$wrong_counters**."
  echo
  echo "## 4. Sizes and memory"
  echo
  echo "| file | bytes | gzip -9 bytes |"
  echo "| --- | ---: | ---: |"
  for file in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do size_row "$file"; done
  echo
  echo "Server peak RSS (VmHWM) over all of the load above: **$((peak_rss_kb / 1024)) MiB**."
  echo
  if [ -f "$ROOT/BENCHMARKS.notes.md" ]; then cat "$ROOT/BENCHMARKS.notes.md"; fi
} > "$REPORT"
mkdir -p "$ROOT/benchmarks"
cp "$OUT/explain.txt" "$ROOT/benchmarks/explain-heavy-feed.txt"
echo ">> Wrote $REPORT"
