#!/usr/bin/env bash
# `make bench`: seeds a large data set into its own database and measures, in one run,
#  1. feed query latency (ours vs the tutorial's), typical and heavy reader, page 1 and 50;
#  2. HTTP throughput and latency of the home feed, a profile and explore, signed in (wrk, 64
#     connections);
#  3. follow/unfollow throughput through the server functions, then checks the counters;
#  4. wasm/JS bundle sizes and the server's peak memory under that load;
#  5. a soak: mixed page views, follows and posts on 64 connections for BENCH_SOAK_SECONDS;
#  6. the pages of 2. again with a hot standby serving the reads, and how the
#     reads were split between the nodes;
#  7. the live feed: BENCH_LIVE_STREAMS readers (5,000) of one author hold their
#     home stream open across two server processes; memory per stream, the delay from a post
#     to its event at every reader, and the CPU a post costs with and without them online.
# Writes BENCHMARKS.md. Sizes can be changed: BENCH_USERS, BENCH_POSTS_PER_USER,
# BENCH_FOLLOWS_PER_USER, BENCH_HEAVY, BENCH_HEAVY_FOLLOWS, BENCH_RUNS, BENCH_SECONDS, BENCH_SOAK_SECONDS.
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
SOAK_SECONDS=${BENCH_SOAK_SECONDS:-120}
ADDR=127.0.0.1:${BENCH_PORT:-3200}
REPORT=${BENCH_REPORT:-$ROOT/BENCHMARKS.md}
# The report's tables are written afresh; what follows this line in it (how to reproduce,
# every lever tried) is written by hand and kept as it is.
# shellcheck disable=SC2016 # the backticks are Markdown, not a command
HAND_KEPT_MARKER='<!-- Everything above is written by scripts/bench.sh (`make bench`); everything below is kept by hand. -->'
hand_kept=$([ -f "$ROOT/BENCHMARKS.md" ] && awk -v marker="$HAND_KEPT_MARKER" 'found { print } $0 == marker { found = 1 }' "$ROOT/BENCHMARKS.md")

command -v wrk >/dev/null || {
  echo ">> Installing wrk from Debian (load generator)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}

scripts/pg.sh start
ADMIN=$(scripts/pg.sh url postgres)
DB=$(scripts/pg.sh url microblog_bench)

echo ">> Release build"
scripts/build-release.sh >/dev/null
# The seeder and the feed benchmark are a binary of their own, built with the `bench` feature,
# so the server that is measured (and served) does not contain them.
echo ">> Bench tools build"
cargo build --release --quiet -p server --features bench --bin bench-tools

# Dropped only once both builds are done: a run stopped while building keeps the last data set.
# BENCH_REUSE_DB=1 keeps the data set of the previous run (for iterating on the server).
if [ "${BENCH_REUSE_DB:-0}" != 1 ]; then
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS microblog_bench WITH (FORCE)" -c "CREATE DATABASE microblog_bench" >/dev/null
fi

echo ">> Seeding $USERS users × $POSTS posts, $FOLLOWS follows each, $HEAVY heavy readers following $HEAVY_FOLLOWS"
if [ "${BENCH_REUSE_DB:-0}" = 1 ]; then
  seed_report="(data set reused from the previous run)"
else
  seed_report=$(DATABASE_URL=$DB RUST_LOG=error target/release/bench-tools seed-scale --users "$USERS" --posts-per-user "$POSTS" \
    --follows-per-user "$FOLLOWS" --heavy "$HEAVY" --heavy-follows "$HEAVY_FOLLOWS" |
    # sqlx logs its bulk loads as slow statements on the same output: not part of the report.
    grep -v 'slow statement')
fi
echo "$seed_report"
counts=$(psql "$DB" -tAc "SELECT (SELECT count(*) FROM users) || ' users, ' || (SELECT count(*) FROM posts) || ' posts, ' || (SELECT count(*) FROM followers) || ' follows'")
# Index-only scans skip the heap only for pages the visibility map marks all-visible.
visible=$(psql "$DB" -tAc "SELECT string_agg(relname || ' ' || round(100.0 * relallvisible / greatest(relpages, 1)) || ' %', ', ' ORDER BY relname) FROM pg_class WHERE relname IN ('users', 'posts', 'followers', 'timeline_posts')")

echo ">> Feed query latency"
DATABASE_URL=$DB target/release/bench-tools bench-feed --typical "bench$HEAVY" --heavy bench0 \
  --runs "$RUNS" --baseline-runs "${BENCH_BASELINE_RUNS:-100}" --explain "$OUT/explain.txt" | tee "$OUT/feed.md"

echo ">> HTTP load"
# The load signs in dozens of users from one address, and its users follow and unfollow far
# faster than a person: lift the per-address sign-in limit and the follow limits.
DATABASE_URL=$DB LEPTOS_SITE_ADDR=$ADDR LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD RUST_LOG=warn \
  MICROBLOG_DB_CONNECTIONS=${BENCH_DB_CONNECTIONS:-16} MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 MICROBLOG_FOLLOW_CHANGES_BURST=0 MICROBLOG_FOLLOWING_CAP=0 \
  target/release/server > "$OUT/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

sign_in() {
  curl -fsS -o /dev/null -D - -H "Origin: http://$ADDR" -H 'Accept: application/json' \
    --data "username=$1&password=microblog" "http://$ADDR/api/login" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(microblog_session=[^;]*\).*/\1/p' | tail -n 1
}
reader_cookie=$(sign_in "bench$HEAVY")

# wrk_stat FILE FIGURE: one figure from a wrk report (non-2xx is 0 when wrk prints no line).
wrk_stat() {
  case $2 in
    rps) awk '/Requests\/sec/ {print $2}' "$1" ;;
    p50) awk '$1 == "50%" {print $2}' "$1" ;;
    p99) awk '$1 == "99%" {print $2}' "$1" ;;
    requests) awk '/requests in/ {print $1}' "$1" ;;
    non2xx) awk '/Non-2xx or 3xx responses/ {n = $5} END {print n + 0}' "$1" ;;
  esac
}

# Users whose follower or following counter differs from the rows of `followers`.
users_with_wrong_counters() {
  psql "$DB" -tAc "SELECT count(*) FROM users u WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id) OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)"
}

# Rows by which the heavy readers' timelines differ from what they must hold.
timeline_discrepancies() {
  psql "$DB" -tAc "SELECT count(*) FROM r.timeline_discrepancies"
}

# CPU time (ticks) used so far by the server, and by the PostgreSQL processes of a cluster.
# shellcheck source=scripts/cpu-ticks.sh
source scripts/cpu-ticks.sh
server_ticks() { ticks_of "$server_pid"; }
primary_dir=$(scripts/pg.sh data-dir)
standby_dir=$primary_dir-standby
postgres_ticks() { cluster_ticks "$primary_dir"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)

# How many pages (home, explore, profiles) the server has served again from its cache, and rendered.
page_cache_count() { curl -fsS "http://$ADDR/metrics" | awk -v outcome="outcome=\"$1\"" 'index($1, "microblog_page_cache_total{") == 1 && index($1, outcome) {sum += $2} END {print sum + 0}'; }
pages_rendered() { echo $(($(page_cache_count miss) + $(page_cache_count changed))); }

load() { # slug label url [wrk Lua script: several readers]
  local label=$2 url=$3 result=$OUT/wrk-$1.txt
  local server_before postgres_before kept_before rendered_before
  local how=(-H "Cookie: $reader_cookie")
  [ -n "${4:-}" ] && how=(-s "$4")
  server_before=$(server_ticks)
  postgres_before=$(postgres_ticks)
  kept_before=$(page_cache_count hit)
  rendered_before=$(pages_rendered)
  wrk -t2 -c64 -d"${SECONDS_PER_LOAD}s" --latency "${how[@]}" "$url" > "$result"
  local server_used=$(($(server_ticks) - server_before)) postgres_used=$(($(postgres_ticks) - postgres_before))
  local kept=$(($(page_cache_count hit) - kept_before)) rendered=$(($(pages_rendered) - rendered_before))
  local kept_share="–"
  [ $((kept + rendered)) -gt 0 ] && kept_share="$((100 * kept / (kept + rendered))) %"
  local rps p50 p99 errors requests
  rps=$(wrk_stat "$result" rps)
  p50=$(wrk_stat "$result" p50)
  p99=$(wrk_stat "$result" p99)
  errors=$(wrk_stat "$result" non2xx)
  requests=$(wrk_stat "$result" requests)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}" "$kept_share" \
    "$(awk -v t="$server_used" -v n="$requests" -v hz="$TICKS_PER_SECOND" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')" \
    "$(awk -v t="$postgres_used" -v n="$requests" -v hz="$TICKS_PER_SECOND" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')"
}
{
  echo "| page | requests/s | p50 | p99 | non-2xx | pages served again | server CPU ms/request | PostgreSQL CPU ms/request |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  load home "home feed \`/\`" "http://$ADDR/"
  load profile "profile \`/user/bench1\`" "http://$ADDR/user/bench1"
  load explore "explore \`/explore\`" "http://$ADDR/explore"
} | tee "$OUT/http.md"

echo ">> Follow/unfollow throughput"
# 64 readers, each on its own connection, follow and unfollow random users. The start of the
# script (their cookies, a form-post helper) is shared with the soak below.
{
  echo "cookies = {"
  for n in $(seq 1000 1063); do echo "  \"$(sign_in "bench$n")\","; done
  echo "}"
  cat <<LUA
users = $USERS
counter = 0
threads = {}
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
-- cookies[i] is signed in as bench(999 + i); someone other than them, to follow or unfollow
-- (following oneself is refused with a 400, which the load must not count as an error).
someone_else = function(i)
  local target = math.random(0, users - 2)
  if target >= 999 + i then target = target + 1 end
  return "username=bench" .. target
end
form = function(path, cookie, body)
  return wrk.format("POST", path, {
    ["Cookie"] = cookie,
    ["Origin"] = "http://$ADDR",
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
LUA
} > "$OUT/signed-in.lua"
# The home page again, each request as one of the 64 readers: each reader's first view is
# rendered, and the rest served again while nothing on the page changes.
{
  cat "$OUT/signed-in.lua"
  cat <<'LUA'
init = function() math.randomseed(id * 17 + 5) end
request = function() return wrk.format("GET", "/", {["Cookie"] = cookies[math.random(#cookies)]}) end
LUA
} > "$OUT/home-readers.lua"
load home-readers "home feed \`/\`, 64 readers" "http://$ADDR/" "$OUT/home-readers.lua" | tee -a "$OUT/http.md"
{
  cat "$OUT/signed-in.lua"
  cat <<'LUA'
init = function() math.randomseed(id * 7919 + 1) end
request = function()
  local action = (math.random(2) == 1) and "follow" or "unfollow"
  local i = math.random(#cookies)
  return form("/api/" .. action, cookies[i], someone_else(i))
end
LUA
} > "$OUT/follow.lua"
wrk -t2 -c64 -d"${SECONDS_PER_LOAD}s" --latency -s "$OUT/follow.lua" "http://$ADDR/" > "$OUT/wrk-follow.txt"
follow_rps=$(wrk_stat "$OUT/wrk-follow.txt" rps)
follow_p99=$(wrk_stat "$OUT/wrk-follow.txt" p99)
follow_errors=$(wrk_stat "$OUT/wrk-follow.txt" non2xx)
wrong_counters=$(users_with_wrong_counters)
echo "follow/unfollow: $follow_rps req/s, p99 $follow_p99, non-2xx ${follow_errors:-0}, users with wrong counters: $wrong_counters"

echo ">> Post throughput"
{
  cat "$OUT/signed-in.lua"
  cat <<'LUA'
init = function() math.randomseed(id * 31 + 3) end
request = function()
  return form("/api/create_post", cookies[math.random(#cookies)], "body=throughput+post+from+thread+" .. id)
end
LUA
} > "$OUT/post.lua"
wrk -t2 -c64 -d"${SECONDS_PER_LOAD}s" --latency -s "$OUT/post.lua" "http://$ADDR/" > "$OUT/wrk-post.txt"
post_rps=$(wrk_stat "$OUT/wrk-post.txt" rps)
post_p99=$(wrk_stat "$OUT/wrk-post.txt" p99)
post_errors=$(wrk_stat "$OUT/wrk-post.txt" non2xx)
echo "posts: $post_rps req/s, p99 $post_p99, non-2xx ${post_errors:-0}"

echo ">> Soak: mixed reads, follows and posts for ${SOAK_SECONDS}s"
# 64 signed-in users for SOAK_SECONDS: 70 % page views (home, explore, a profile), 25 %
# follow/unfollow, 5 % new posts. Afterwards: no 5xx, every counter exact, every post stored,
# and the server's memory where it was.
posts_before=$(psql "$DB" -tAc "SELECT count(*) FROM posts")
rss_before_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
soak_kept_before=$(page_cache_count hit)
soak_rendered_before=$(pages_rendered)
{
  cat "$OUT/signed-in.lua"
  cat <<'LUA'
init = function() math.randomseed(id * 104729 + 7); posts_sent = 0 end
request = function()
  local i = math.random(#cookies)
  local cookie = cookies[i]
  local roll = math.random(100)
  if roll <= 30 then return wrk.format("GET", "/", {["Cookie"] = cookie}) end
  if roll <= 50 then return wrk.format("GET", "/explore", {["Cookie"] = cookie}) end
  if roll <= 70 then return wrk.format("GET", "/user/bench" .. math.random(0, users - 1), {["Cookie"] = cookie}) end
  if roll <= 95 then
    local action = (math.random(2) == 1) and "follow" or "unfollow"
    return form("/api/" .. action, cookie, someone_else(i))
  end
  posts_sent = posts_sent + 1
  return form("/api/create_post", cookie, "body=soak+post+from+thread+" .. id)
end
done = function()
  local sent = 0
  for _, thread in ipairs(threads) do sent = sent + thread:get("posts_sent") end
  io.write("posts sent: " .. sent .. "\n")
end
LUA
} > "$OUT/soak.lua"
wrk -t2 -c64 -d"${SOAK_SECONDS}s" --latency -s "$OUT/soak.lua" "http://$ADDR/" > "$OUT/wrk-soak.txt"
soak_requests=$(wrk_stat "$OUT/wrk-soak.txt" requests)
soak_rps=$(wrk_stat "$OUT/wrk-soak.txt" rps)
soak_p99=$(wrk_stat "$OUT/wrk-soak.txt" p99)
soak_errors=$(wrk_stat "$OUT/wrk-soak.txt" non2xx)
soak_socket_errors=$(awk '/Socket errors/ {print}' "$OUT/wrk-soak.txt")
rss_after_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
posts_added=$(($(psql "$DB" -tAc "SELECT count(*) FROM posts") - posts_before))
# A post still in flight when the load stops may or may not be stored; each connection has at
# most one, so between sent - 64 and sent must be stored.
posts_sent=$(awk '/^posts sent:/ {print $3}' "$OUT/wrk-soak.txt")
soak_wrong_counters=$(users_with_wrong_counters)
soak_timeline_discrepancies=$(timeline_discrepancies)
soak_kept=$(($(page_cache_count hit) - soak_kept_before))
soak_rendered=$(($(pages_rendered) - soak_rendered_before))
echo "soak: pages served again $soak_kept, rendered $soak_rendered"
echo "soak: $soak_requests requests, $soak_rps req/s, p99 $soak_p99, non-2xx ${soak_errors:-0}, $posts_sent posts sent, $posts_added stored, wrong counters $soak_wrong_counters, timeline discrepancies $soak_timeline_discrepancies, RSS $((rss_before_kb / 1024)) -> $((rss_after_kb / 1024)) MiB"
peak_rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true

echo ">> Reads on a hot standby"
scripts/pg.sh standby destroy
scripts/pg.sh standby start
trap 'kill $server_pid 2>/dev/null || true; scripts/pg.sh standby destroy' EXIT
DATABASE_URL=$DB MICROBLOG_REPLICA_URLS=$(scripts/pg.sh standby url microblog_bench) \
  LEPTOS_SITE_ADDR=$ADDR LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD RUST_LOG=warn \
  MICROBLOG_DB_CONNECTIONS=${BENCH_DB_CONNECTIONS:-16} MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 MICROBLOG_FOLLOW_CHANGES_BURST=0 MICROBLOG_FOLLOWING_CAP=0 \
  target/release/server > "$OUT/server-replica.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/metrics" 2>/dev/null | grep -q '^microblog_replica_usable{node="replica1"} 1' && break; sleep 0.1; done
reader_cookie=$(sign_in "bench$HEAVY")
reads_on() { curl -fsS "http://$ADDR/metrics" | awk -v key="microblog_db_reads_total{node=\"$1\"}" '$1 == key {print $2; found = 1} END {if (!found) print 0}'; }
replica_load() { # slug label url
  local result=$OUT/wrk-replica-$1.txt
  local server_before primary_before standby_before replica_reads_before primary_reads_before
  server_before=$(server_ticks)
  primary_before=$(cluster_ticks "$primary_dir")
  standby_before=$(cluster_ticks "$standby_dir")
  replica_reads_before=$(reads_on replica1)
  primary_reads_before=$(reads_on primary)
  wrk -t2 -c64 -d"${SECONDS_PER_LOAD}s" --latency -H "Cookie: $reader_cookie" "$3" > "$result"
  local requests server_used primary_used standby_used
  requests=$(wrk_stat "$result" requests)
  server_used=$(($(server_ticks) - server_before))
  primary_used=$(($(cluster_ticks "$primary_dir") - primary_before))
  standby_used=$(($(cluster_ticks "$standby_dir") - standby_before))
  per_request() { awk -v t="$1" -v n="$requests" -v hz="$TICKS_PER_SECOND" 'BEGIN {printf "%.2f", t * 1000 / hz / n}'; }
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$2" "$(wrk_stat "$result" rps)" \
    "$(wrk_stat "$result" p50)" "$(wrk_stat "$result" p99)" "$(wrk_stat "$result" non2xx)" \
    "$(per_request "$server_used")" "$(per_request "$primary_used")" "$(per_request "$standby_used")" \
    "$(($(reads_on primary) - primary_reads_before))" "$(($(reads_on replica1) - replica_reads_before))"
}
{
  echo "| page | requests/s | p50 | p99 | non-2xx | server CPU ms/request | primary CPU ms/request | standby CPU ms/request | reads on primary / standby |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  replica_load home "home feed \`/\`" "http://$ADDR/"
  replica_load profile "profile \`/user/bench1\`" "http://$ADDR/user/bench1"
  replica_load explore "explore \`/explore\`" "http://$ADDR/explore"
} | tee "$OUT/http-replica.md"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
scripts/pg.sh standby destroy

echo ">> Live feed: ${BENCH_LIVE_STREAMS:-5000} open streams on two processes"
LIVE_STREAMS=${BENCH_LIVE_STREAMS:-5000}
LIVE_POSTS=${BENCH_LIVE_POSTS:-100}
LIVE_AUTHOR=bench1
LIVE_SECOND_ADDR=127.0.0.1:$((${BENCH_PORT:-3200} + 1))
psql "$DB" -qc "INSERT INTO followers (follower_id, followed_id)
  SELECT r.id, a.id FROM users a, users r
  WHERE a.username = '$LIVE_AUTHOR' AND r.username IN (SELECT 'bench' || n FROM generate_series(2000, 2000 + $LIVE_STREAMS - 1) n)
  ON CONFLICT DO NOTHING" >/dev/null
# Each stream is an open connection: lift the per-process limits for the measurement.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
live_server() { # addr log
  DATABASE_URL=$DB LEPTOS_SITE_ADDR=$1 LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD RUST_LOG=warn \
    MICROBLOG_DB_CONNECTIONS=${BENCH_DB_CONNECTIONS:-16} MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 MICROBLOG_FOLLOW_CHANGES_BURST=0 MICROBLOG_FOLLOWING_CAP=0 \
    MICROBLOG_MAX_CONNECTIONS=$((LIVE_STREAMS + 1000)) MICROBLOG_LIVE_STREAMS_PER_PROCESS=$LIVE_STREAMS \
    target/release/server > "$2" 2>&1 &
}
live_server "$ADDR" "$OUT/server-live-1.log"
live_pid_1=$!
live_server "$LIVE_SECOND_ADDR" "$OUT/server-live-2.log"
live_pid_2=$!
trap 'kill $live_pid_1 $live_pid_2 2>/dev/null || true' EXIT
for address in "$ADDR" "$LIVE_SECOND_ADDR"; do
  for _ in $(seq 1 100); do curl -fsS "http://$address/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done
rss_of() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
live_streams_open() { curl -fsS "http://$1/metrics" | awk '$1 == "microblog_live_streams" {print $2; found = 1} END {if (!found) print 0}'; }
live_ticks() { echo $(($(ticks_of "$live_pid_1" "$live_pid_2") + $(postgres_ticks))); }
# live_round READERS_FILE: prints the round's JSON; sets live_cpu_ms_per_post and
# live_rss_added_kb, so it must not run in a subshell (no `$(live_round …)`).
live_round() {
  local control=$OUT/live-control ticks_before
  rm -f "$control"
  node scripts/live-bench.mjs "$ADDR" "$LIVE_SECOND_ADDR" "$LIVE_AUTHOR" "$1" "$LIVE_POSTS" "$control" > "$OUT/live-round.json" &
  local node_pid=$!
  await_control() {
    until [ "$(cat "$control" 2>/dev/null)" = "$1" ]; do
      kill -0 "$node_pid" 2>/dev/null || return 1
      sleep 0.5
    done
  }
  # Memory per stream: what the second half of the streams adds (live-bench.mjs).
  local rss_half rss_open
  await_control half
  sleep 2
  rss_half=$(($(rss_of "$live_pid_1") + $(rss_of "$live_pid_2")))
  echo rest > "$control"
  await_control open
  sleep 2
  rss_open=$(($(rss_of "$live_pid_1") + $(rss_of "$live_pid_2")))
  live_rss_added_kb=$((rss_open - rss_half))
  ticks_before=$(live_ticks)
  echo go > "$control"
  wait "$node_pid"
  live_cpu_ms_per_post=$(awk -v t="$(($(live_ticks) - ticks_before))" -v n="$LIVE_POSTS" -v hz="$TICKS_PER_SECOND" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
  # The next round starts with no stream open (a closed one is noticed at its next write at
  # the latest: a keep-alive every 20 s).
  for _ in $(seq 1 60); do
    [ "$(live_streams_open "$ADDR")" = 0 ] && [ "$(live_streams_open "$LIVE_SECOND_ADDR")" = 0 ] && break
    sleep 0.5
  done
  cat "$OUT/live-round.json"
}
: > "$OUT/live-nobody.txt"
live_round "$OUT/live-nobody.txt" > "$OUT/live-alone.json"
live_alone=$(cat "$OUT/live-alone.json")
live_alone_cpu=$live_cpu_ms_per_post
seq 2000 $((2000 + LIVE_STREAMS - 1)) | sed 's/^/bench/' > "$OUT/live-readers.txt"
live_round "$OUT/live-readers.txt" > "$OUT/live-crowd.json"
live_crowd=$(cat "$OUT/live-crowd.json")
live_crowd_cpu=$live_cpu_ms_per_post
live_rss_per_stream=$(awk -v kb="$live_rss_added_kb" -v n="$((LIVE_STREAMS - LIVE_STREAMS / 2))" 'BEGIN {printf "%.1f", kb / n}')
echo "live, nobody online: $live_alone (CPU $live_alone_cpu ms/post)"
echo "live, $LIVE_STREAMS online: $live_crowd (CPU $live_crowd_cpu ms/post, $live_rss_per_stream KiB/stream)"
live_field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }
kill "$live_pid_1" "$live_pid_2"
wait "$live_pid_1" "$live_pid_2" 2>/dev/null || true

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
  echo "\`bench-tools seed-scale --users $USERS --posts-per-user $POSTS --follows-per-user $FOLLOWS --heavy $HEAVY --heavy-follows $HEAVY_FOLLOWS\`:"
  echo "$counts. $seed_report."
  echo "Pages marked all-visible after seeding (what lets index-only scans skip the table): $visible."
  echo
  echo "## 1. Feed query latency"
  echo
  echo "Typical reader: \`bench$HEAVY\`; heavy reader: \`bench0\` (follows $HEAVY_FOLLOWS). Measured in-process"
  echo "through the app's own query functions (\`bench-tools bench-feed\`, server/src/bench_tools/feed.rs), warm cache."
  echo
  cat "$OUT/feed.md"
  echo
  echo "The plans of the heavy reader's feed are in [benchmarks/explain-heavy-feed.txt](benchmarks/explain-heavy-feed.txt)."
  echo
  echo "## 2. HTTP pages, signed in (wrk, 2 threads, 64 connections, ${SECONDS_PER_LOAD} s each)"
  echo
  echo "CPU per request is the CPU time the server process and all PostgreSQL processes used during"
  echo "the load, divided by the requests served; with two cores, 2,000 ms / (their sum) is the most"
  echo "requests per second this machine could serve even if the load generator cost nothing."
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
  echo "Server peak RSS (VmHWM) over all of the load above and the soak below: **$((peak_rss_kb / 1024)) MiB**."
  echo
  echo "## 5. Soak"
  echo
  echo "64 signed-in users for ${SOAK_SECONDS} s: 30 % home feed, 20 % explore, 20 % a random profile,"
  echo "25 % follow or unfollow a random user, 5 % a new post (wrk, scripts/bench.sh)."
  echo
  echo "| requests | requests/s | p99 | non-2xx | socket errors | posts sent / stored | wrong counters | timeline discrepancies | RSS before → after |"
  echo "| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"
  echo "| $soak_requests | $soak_rps | $soak_p99 | ${soak_errors:-0} | ${soak_socket_errors:-none} | $posts_sent / $posts_added | $soak_wrong_counters | $soak_timeline_discrepancies | $((rss_before_kb / 1024)) → $((rss_after_kb / 1024)) MiB |"
  echo
  echo "Pages during the soak (home, explore, profiles): $soak_kept served again, $soak_rendered rendered"
  echo "(each of the 64 users follows or unfollows about once in every four requests, which changes their"
  echo "home page and two profiles, and a post every twenty, which changes explore)."
  echo
  echo "## 6. Reads on a hot standby"
  echo
  echo "The pages of section 2 again, with \`MICROBLOG_REPLICA_URLS\` naming a hot standby of the"
  echo "same cluster (\`scripts/pg.sh standby start\`, on the same two cores). The reads counted are"
  echo "those \`/metrics\` reports per node. Posts through \`create_post\` before the soak (64 users,"
  echo "${SECONDS_PER_LOAD} s): **$post_rps posts/s**, p99 $post_p99, non-2xx ${post_errors:-0}."
  echo
  cat "$OUT/http-replica.md"
  echo
  echo "## 7. Live feed"
  echo
  echo "$LIVE_STREAMS readers of \`$LIVE_AUTHOR\` hold \`/live/home\` open, alternately on two server processes;"
  echo "\`$LIVE_AUTHOR\` then makes $LIVE_POSTS posts through the first, 10 a second (scripts/live-bench.mjs)."
  echo "Delay: from the post request's start (an upper bound on the delay from its commit) to the"
  echo "event at each reader. CPU: both server processes and PostgreSQL during the posting, per post."
  echo
  echo "| readers online | streams open / refused | events received / expected | delay p50 | delay p99 | delay max | CPU per post | memory per open stream |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  echo "| 0 | 0 / 0 | - | - | - | - | $live_alone_cpu ms | - |"
  echo "| $LIVE_STREAMS | $(live_field "$live_crowd" open_streams) / $(live_field "$live_crowd" failed_streams) | $(live_field "$live_crowd" events_received) / $(live_field "$live_crowd" events_expected) | $(live_field "$live_crowd" delay_ms_p50) ms | $(live_field "$live_crowd" delay_ms_p99) ms | $(live_field "$live_crowd" delay_ms_max) ms | $live_crowd_cpu ms | $live_rss_per_stream KiB |"
  echo
  echo "$HAND_KEPT_MARKER"
  printf '%s\n' "$hand_kept"
} > "$REPORT"
mkdir -p "$ROOT/benchmarks"
cp "$OUT/explain.txt" "$ROOT/benchmarks/explain-heavy-feed.txt"
echo ">> Wrote $REPORT"
