#!/usr/bin/env bash
# Where a page's CPU goes: loads one page with wrk, signed in as a bench reader, while
# `perf` samples every process on the machine (the server, PostgreSQL, wrk), then draws a flame
# graph with `inferno`. Run after `make bench` (it uses the microblog_bench data set).
#   scripts/profile.sh [PATH] [SECONDS] [OUT.svg]   (defaults: / 10 benchmarks/flame-home.svg)
# PROFILE_WRK_SCRIPT=F loads with a wrk Lua script instead, such as the follow/unfollow load
# `make bench` leaves in target/bench/follow.lua (its requests carry their own cookies and
# Origin, so run it with PROFILE_PORT=3200, the bench's port).
# Prints requests/s and the CPU per request of the server and of PostgreSQL, and the hottest
# functions of each. Installs perf (Debian's linux-perf) and inferno (crates.io) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PAGE=${1:-/}
DURATION=${2:-10}
SVG=${3:-benchmarks/flame-home.svg}
ADDR=127.0.0.1:${PROFILE_PORT:-3250}
OUT=target/profile
mkdir -p "$OUT" "$(dirname "$SVG")"

command -v perf >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; }
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
export PATH=$HOME/.cargo/bin:$PATH
command -v inferno-flamegraph >/dev/null || cargo install --quiet --locked inferno
[ -x target/release/server ] || scripts/build-release.sh >/dev/null

DB=$(scripts/pg.sh url microblog_bench)
DATABASE_URL=$DB LEPTOS_SITE_ADDR=$ADDR LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD RUST_LOG=warn \
  MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 MICROBLOG_FOLLOW_CHANGES_BURST=0 MICROBLOG_FOLLOWING_CAP=0 target/release/server > "$OUT/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cookie=$(curl -fsS -o /dev/null -D - -H "Origin: http://$ADDR" -H 'Accept: application/json' \
  --data "username=${PROFILE_READER:-bench10}&password=microblog" "http://$ADDR/api/login" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(microblog_session=[^;]*\).*/\1/p' | tail -n 1)
# Warm up (plans, pools, caches), then sample while loading.
load_script=()
[ -n "${PROFILE_WRK_SCRIPT:-}" ] && load_script=(-s "$PROFILE_WRK_SCRIPT")
wrk -t2 -c64 -d3s "${load_script[@]}" -H "Cookie: $cookie" "http://$ADDR$PAGE" >/dev/null
# shellcheck source=scripts/cpu-ticks.sh
source scripts/cpu-ticks.sh
postgres_ticks() { cluster_ticks "$(scripts/pg.sh data-dir)"; }
server_before=$(ticks_of "$server_pid")
postgres_before=$(postgres_ticks)
perf record -F 499 -a -g --call-graph dwarf,16384 -o "$OUT/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
perf_pid=$!
wrk -t2 -c64 -d"${DURATION}s" "${load_script[@]}" -H "Cookie: $cookie" "http://$ADDR$PAGE" > "$OUT/wrk.txt"
wait "$perf_pid"
requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
hz=$(getconf CLK_TCK)
per_request() { awk -v t="$1" -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.2f", t * 1000 / hz / n}'; }
server_used=$(($(ticks_of "$server_pid") - server_before))
postgres_used=$(($(postgres_ticks) - postgres_before))
echo "$PAGE: $(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt") requests/s;" \
  "server $(per_request "$server_used") ms CPU/request," \
  "PostgreSQL $(per_request "$postgres_used") ms CPU/request (while sampled)"
perf script -i "$OUT/perf.data" 2>/dev/null | inferno-collapse-perf --all > "$OUT/folded.txt"
inferno-flamegraph --title "Microblog $PAGE under wrk (server, PostgreSQL, wrk; perf -F 499 -a)" \
  < "$OUT/folded.txt" > "$SVG"
echo "flame graph: $SVG"
# The hottest functions by the process they ran in (self time, share of all samples).
awk '{ n = $NF; $NF = ""; split($0, frames, ";"); total += n; self[frames[1] " :: " frames[length(frames)]] += n }
  END { for (k in self) printf "%6.2f%%  %s\n", 100 * self[k] / total, k }' "$OUT/folded.txt" |
  sort -rn | head -n "${PROFILE_TOP:-40}" | tee "$OUT/top.txt"
