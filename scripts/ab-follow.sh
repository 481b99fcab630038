#!/usr/bin/env bash
# Follow/unfollow throughput of two or more server builds, alternated on the same data:
# each round runs every binary in turn for SECONDS of `make bench`'s follow load (64
# connections, 64 signed-in bench users following and unfollowing random users), seeded afresh
# each run so that every run makes new follows rather than replaying the last one's.
# Run after `make bench` (it uses the microblog_bench data set).
#   scripts/ab-follow.sh ROUNDS SECONDS BINARY...
# AB_BEFORE_START, if set, is SQL run before each server starts: to compare builds across a
# migration, forget the new migration there (it must then be safe to apply again).
# Prints, per run: requests/s, non-2xx, server and PostgreSQL CPU per request, and the number
# of users whose counters differ from the rows of `followers` afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=$1
SECONDS_EACH=$2
shift 2
ADDR=127.0.0.1:3210
OUT=target/ab-follow
mkdir -p "$OUT"
DB=$(scripts/pg.sh url microblog_bench)
USERS=$(psql "$DB" -tAc "SELECT count(*) FROM users")
HZ=$(getconf CLK_TCK)
# shellcheck source=scripts/cpu-ticks.sh
source scripts/cpu-ticks.sh
postgres_ticks() { cluster_ticks "$(scripts/pg.sh data-dir)"; }
wrong_counters() {
  psql "$DB" -tAc "SELECT count(*) FROM users u WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id) OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)"
}

echo "| round | binary | requests/s | non-2xx | server CPU ms/request | PostgreSQL CPU ms/request | users with wrong counters |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"
for round in $(seq 1 "$ROUNDS"); do
  for binary in "$@"; do
    [ -n "${AB_BEFORE_START:-}" ] && psql "$DB" -qc "$AB_BEFORE_START"
    DATABASE_URL=$DB LEPTOS_SITE_ADDR=$ADDR LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD RUST_LOG=warn \
      MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 MICROBLOG_FOLLOW_CHANGES_BURST=0 MICROBLOG_FOLLOWING_CAP=0 "$binary" > "$OUT/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    {
      echo "cookies = {"
      for n in $(seq 1000 1063); do
        cookie=$(curl -fsS -o /dev/null -D - -H "Origin: http://$ADDR" -H 'Accept: application/json' \
          --data "username=bench$n&password=microblog" "http://$ADDR/api/login" |
          tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(microblog_session=[^;]*\).*/\1/p' | tail -n 1)
        echo "  \"$cookie\","
      done
      echo "}"
      cat <<LUA
users = $USERS
counter = 0
setup = function(thread) thread:set("id", counter); counter = counter + 1 end
init = function() math.randomseed(os.time() * 7919 + id) end
request = function()
  local action = (math.random(2) == 1) and "follow" or "unfollow"
  local i = math.random(#cookies)
  local target = math.random(0, users - 2)
  if target >= 999 + i then target = target + 1 end
  return wrk.format("POST", "/api/" .. action, {
    ["Cookie"] = cookies[i], ["Origin"] = "http://$ADDR", ["Accept"] = "application/json",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "username=bench" .. target)
end
LUA
    } > "$OUT/follow.lua"
    # Warm up: plans, pools, and (for builds that keep them) the sessions seen.
    wrk -t2 -c64 -d2s -s "$OUT/follow.lua" "http://$ADDR/" > /dev/null
    server_before=$(ticks_of "$server_pid")
    postgres_before=$(postgres_ticks)
    wrk -t2 -c64 -d"${SECONDS_EACH}s" -s "$OUT/follow.lua" "http://$ADDR/" > "$OUT/wrk.txt"
    server_used=$(($(ticks_of "$server_pid") - server_before))
    postgres_used=$(($(postgres_ticks) - postgres_before))
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
    per_request() { awk -v t="$1" -v n="$requests" -v hz="$HZ" 'BEGIN {printf "%.3f", t * 1000 / hz / n}'; }
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$binary" \
      "$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")" \
      "$(awk '/Non-2xx or 3xx responses/ {n = $5} END {print n + 0}' "$OUT/wrk.txt")" \
      "$(per_request "$server_used")" "$(per_request "$postgres_used")" "$(wrong_counters)"
  done
done
