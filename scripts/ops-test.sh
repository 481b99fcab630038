#!/usr/bin/env bash
# Operations tests against running release servers (called by scripts/test.sh after Playwright):
#  1. scale-out: two server processes on one database, no sticky routing: sign in on one,
#     follow on the other, read the result on the first;
#  2. database restart, under a steady load on the second server: while PostgreSQL is down,
#     pages answer 503 quickly (no hang, no crash); within 5 s of it coming back the same
#     process serves normally again; a live home feed open through the restart still
#     receives a post made after it;
#  3. with no reachable database, or with migrations that fail, the server refuses to start
#     with a clear message, and a failed migration leaves the database as it was;
#  4. 1,000 concurrent follow/unfollow toggles over HTTP, 100 per account across both servers,
#     are each answered 200 or 429 as the site-wide follow limit says, with exact counters
#     (needs OPS_TEST_DATABASE_URL to check the counters);
#  5. requests abandoned by their clients halfway leave no open transaction behind.
#  6. hundreds of slow clients (heads and bodies sent a byte at a time) leave /healthz
#     answering within a second, and the server closes every one of them;
#  7. a flood of abandoned sign-ins: a real sign-in right after gets an answer within seconds
#     (a quick 503 if the password checks are still busy), and one 3 s later succeeds;
#  8. with the production limits, sign-ins from one address past the burst of 30 get a 429.
# Usage: scripts/ops-test.sh FIRST_ADDR SECOND_ADDR  (both servers already running)
# Prints "plan N", then one "ok"/"FAILED" line per check, and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
FIRST=http://$1
SECOND=http://$2
failed=0
ok() { echo "ok - $*"; }
bad() { echo "FAILED - $*"; failed=1; }

# How many checks this run makes, so scripts/test.sh can tell a run that died halfway.
planned=5
[ -n "${OPS_TEST_OWN_CLUSTER:-}" ] && planned=$((planned + 5))
[ -n "${OPS_TEST_DATABASE_URL:-}" ] && planned=$((planned + 4))
echo "plan $planned"

jar=$(mktemp)
name=ops$(date +%s%N | tail -c 9)
form() { # base path data
  curl -sS -m 10 -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" -H "Origin: $1" \
    -H 'Accept: application/json' --data "$3" "$1$2"
}
[ "$(form "$FIRST" /api/register "username=$name&email=$name%40example.com&password=correct+horse&password2=correct+horse")" = 200 ] || bad "register $name"
[ "$(form "$FIRST" /api/register "username=${name}b&email=${name}b%40example.com&password=correct+horse&password2=correct+horse")" = 200 ] || bad "register ${name}b"
# The jar now holds the second user's session; sign in as the first on server 1...
[ "$(form "$FIRST" /api/login "username=$name&password=correct+horse")" = 200 ] || bad "sign in on the first server"
# ...follow on server 2 with the same cookie...
if [ "$(form "$SECOND" /api/follow "username=${name}b")" = 200 ]; then
  ok "a session made by one server is honoured by the other"
else
  bad "following on the second server with the first server's session"
fi
# ...and read it back on server 1.
if curl -sS -m 10 -b "$jar" "$FIRST/user/${name}b" | grep -q 'Unfollow'; then
  ok "the follow made on the second server shows on the first"
else
  bad "the first server does not show the follow made on the second"
fi
rm -f "$jar"

if [ -n "${OPS_TEST_OWN_CLUSTER:-}" ]; then
  # A reader's live feed, open on the second server through the restart.
  reader_jar=$(mktemp)
  poster_jar=$(mktemp)
  stream_log=$(mktemp)
  stream_head=$(mktemp)
  jar=$reader_jar
  [ "$(form "$FIRST" /api/register "username=${name}r&email=${name}r%40example.com&password=correct+horse&password2=correct+horse")" = 200 ] || bad "register ${name}r"
  jar=$poster_jar
  [ "$(form "$FIRST" /api/register "username=${name}p&email=${name}p%40example.com&password=correct+horse&password2=correct+horse")" = 200 ] || bad "register ${name}p"
  jar=$reader_jar
  [ "$(form "$FIRST" /api/follow "username=${name}p")" = 200 ] || bad "${name}r follows ${name}p"
  curl -sS -N -m 120 -b "$reader_jar" -D "$stream_head" "$SECOND/live/home" > "$stream_log" 2>/dev/null &
  stream_pid=$!
  for _ in $(seq 1 100); do grep -q '^HTTP/1.1 200' "$stream_head" 2>/dev/null && break; sleep 0.1; done
  # Keep 8 requests in flight on the second server for the whole restart.
  load_log=$(mktemp)
  (
    end=$((SECONDS + 10))
    while [ $SECONDS -lt $end ]; do
      seq 1 8 | xargs -P 8 -I{} curl -s -m 10 -o /dev/null -w '%{http_code}\n' "$SECOND/explore" >> "$load_log"
    done
  ) &
  load_pid=$!
  sleep 1
  scripts/pg.sh stop
  started=$(date +%s.%N)
  status=$(curl -sS -m 10 -o /tmp/ops-503.html -w '%{http_code}' "$FIRST/explore")
  took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  if [ "$status" = 503 ] && grep -q 'unavailable' /tmp/ops-503.html; then
    ok "with the database down, /explore answers 503 with a clear message in ${took}s"
  else
    bad "with the database down, /explore answered $status in ${took}s"
  fi
  health=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$FIRST/healthz")
  if [ "$health" = 503 ]; then ok "/healthz reports 503 while the database is down"; else bad "/healthz answered $health"; fi
  scripts/pg.sh start
  back=$(date +%s.%N)
  recovered=""
  for _ in $(seq 1 50); do
    if [ "$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "$FIRST/explore")" = 200 ]; then
      recovered=$(awk -v a="$back" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
      break
    fi
    sleep 0.1
  done
  if [ -n "$recovered" ] && awk -v r="$recovered" 'BEGIN { exit !(r < 5) }'; then
    ok "the server serves normally ${recovered}s after the database is back, without a restart"
  else
    bad "the server had not recovered 5 s after the database came back"
  fi
  wait "$load_pid"
  answered=$(wc -l < "$load_log")
  unexpected=$(grep -vcE '^(200|503)$' "$load_log")
  served_after=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$SECOND/explore")
  if [ "$unexpected" = 0 ] && [ "$served_after" = 200 ]; then
    ok "under load through the restart: $answered responses, $(grep -c '^503$' "$load_log") of them 503, none failed otherwise or hung; the loaded server serves normally after"
  else
    bad "under load through the restart: $answered responses, unexpected: $(grep -vE '^(200|503)$' "$load_log" | sort | uniq -c | tr '\n' ' '), afterwards $served_after"
  fi
  rm -f "$load_log"
  # The post is made through the other server, after the restart.
  jar=$poster_jar
  posted=$(form "$FIRST" /api/create_post "body=after+the+restart")
  delivered=""
  for _ in $(seq 1 100); do
    if grep -q "^data: [0-9]* ${name}p$" "$stream_log"; then delivered=yes; break; fi
    sleep 0.1
  done
  kill "$stream_pid" 2>/dev/null
  if [ "$posted" = 200 ] && [ -n "$delivered" ] && grep -q '^HTTP/1.1 200' "$stream_head"; then
    ok "a live feed open through the database restart receives a post made after it, through the other server"
  else
    bad "live feed through the restart: post $posted, stream head: $(head -n 1 "$stream_head" | tr -d '\r'), stream said: $(tr '\n' ' ' < "$stream_log" | cut -c1-300)"
  fi
  rm -f "$reader_jar" "$poster_jar" "$stream_log" "$stream_head"
fi
# 4. 1,000 follow/unfollow toggles over HTTP, 64 at a time, on both servers, among 10 users.
if [ -n "${OPS_TEST_DATABASE_URL:-}" ]; then
  toggles=$(mktemp -d)
  for n in $(seq 0 9); do
    curl -sS -m 20 -o /dev/null -c "$toggles/jar$n" -H "Origin: $FIRST" -H 'Accept: application/json' \
      --data "username=${name}t$n&email=${name}t$n%40example.com&password=correct+horse&password2=correct+horse" \
      "$FIRST/api/register"
    sed -n 's/.*\tmicroblog_session\t\(.*\)$/\1/p' "$toggles/jar$n" > "$toggles/cookie$n"
  done
  for i in $(seq 1 1000); do
    me=$((i % 10)); other=$(((i * 7 + i / 10) % 10)); [ "$other" = "$me" ] && other=$(((me + 1) % 10))
    action=$([ $((i % 3)) = 0 ] && echo unfollow || echo follow)
    base=$([ $((i % 2)) = 0 ] && echo "$FIRST" || echo "$SECOND")
    echo "$base $action ${name}t$other $(cat "$toggles/cookie$me") $me"
  done > "$toggles/plan"
  # Each account sends 100 changes at once, across both servers; the site allows a burst of
  # 60 per account (FollowLimits) and one more per 15 s, so about 40 per account must be 429.
  started=$(date +%s)
  # shellcheck disable=SC2016 # the inner shell expands its own arguments
  xargs -P 64 -L 1 sh -c 'echo "$4 $(curl -sS -m 20 -o /dev/null -w "%{http_code}" -H "Origin: $0" -H "Accept: application/json" \
    -b "microblog_session=$3" --data "username=$2" "$0/api/$1")"' < "$toggles/plan" > "$toggles/statuses"
  earned=$((($(date +%s) - started) / 15 + 1))
  total=$(wc -l < "$toggles/statuses")
  others=$(awk '$2 != 200 && $2 != 429' "$toggles/statuses" | wc -l)
  # Accounts whose accepted changes fall outside the burst and what they earned meanwhile.
  outside=$(awk -v most=$((60 + earned)) '$2 == 200 { n[$1]++ } END { for (u = 0; u < 10; u++) if (n[u] < 60 || n[u] > most) print u }' "$toggles/statuses" | wc -l)
  wrong=$(psql "$OPS_TEST_DATABASE_URL" -tAc "SELECT count(*) FROM users u WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id) OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)")
  if [ "$total" = 1000 ] && [ "$others" = 0 ] && [ "$outside" = 0 ] && [ "$wrong" = 0 ]; then
    ok "1000 concurrent toggles over HTTP, 100 per account across both servers: each account had 60 to $((60 + earned)) accepted and the rest 429 ($(awk '{print $2}' "$toggles/statuses" | sort | uniq -c | tr -s ' \n' ' ')), every counter equals its rows"
  else
    bad "1000 toggles: $total answered ($(awk '{print $2}' "$toggles/statuses" | sort | uniq -c | tr -s ' \n' ' ')), $others neither 200 nor 429, $outside accounts outside 60 to $((60 + earned)) accepted, $wrong users with wrong counters"
  fi
  # 5. Clients that hang up halfway (1-9 ms into a toggle or a sign-in) leave no transaction
  #    open on a pooled connection, and nothing half-done. Made by ten fresh accounts, 40
  #    changes each, within their burst: the accounts above have spent theirs, and a change
  #    refused for its limit would not reach the links.
  for n in $(seq 0 9); do
    curl -sS -m 20 -o /dev/null -c "$toggles/jarh$n" -H "Origin: $FIRST" -H 'Accept: application/json' \
      --data "username=${name}h$n&email=${name}h$n%40example.com&password=correct+horse&password2=correct+horse" \
      "$FIRST/api/register"
    sed -n 's/.*\tmicroblog_session\t\(.*\)$/\1/p' "$toggles/jarh$n" > "$toggles/cookieh$n"
  done
  while read -r base action target _ me; do
    echo "$base $action $target $(cat "$toggles/cookieh$me")"
  done < "$toggles/plan" | head -n 400 | awk '{ printf "%s %s %s %s 0.00%d\n", $1, $2, $3, $4, NR % 9 + 1 }' > "$toggles/hangups"
  for n in $(seq 0 9); do echo "$FIRST login ${name}h$n $(cat "$toggles/cookieh$n") 0.00$((n % 9 + 1))"; done >> "$toggles/hangups"
  # shellcheck disable=SC2016 # the inner shell expands its own arguments
  xargs -P 32 -L 1 sh -c 'body=$([ "$1" = login ] && echo "username=$2&password=correct+horse" || echo "username=$2"); curl -s -m "$4" -o /dev/null -H "Origin: $0" -H "Accept: application/json" \
    -b "microblog_session=$3" --data "$body" "$0/api/$1"; true' < "$toggles/hangups"
  sleep 2
  open_transactions=$(psql "$OPS_TEST_DATABASE_URL" -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")
  wrong=$(psql "$OPS_TEST_DATABASE_URL" -tAc "SELECT count(*) FROM users u WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id) OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)")
  after_first=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$FIRST/explore")
  after_second=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$SECOND/explore")
  if [ "$open_transactions" = 0 ] && [ "$wrong" = 0 ] && [ "$after_first$after_second" = 200200 ]; then
    ok "410 requests abandoned by their clients 1-9 ms in: no connection left inside a transaction, counters exact, both servers serving"
  else
    bad "after abandoned requests: $open_transactions connections idle in a transaction, $wrong wrong counters, servers answered $after_first/$after_second"
  fi
  rm -rf "$toggles"
fi

# 3. A server whose database cannot be reached refuses to start, and says why.
out=$(DATABASE_URL=postgres://postgres@127.0.0.1:9/nowhere LEPTOS_SITE_ADDR=127.0.0.1:0 \
  timeout 30 target/release/server 2>&1)
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q 'cannot reach the database' <<<"$out"; then
  ok "without a reachable database the server exits ($code) saying: $(grep -m1 -o 'cannot reach the database[^;]*' <<<"$out")"
else
  bad "with an unreachable database the server exited $code: $out"
fi

# 3b. A database the migrations cannot be applied to (here: it already has an unrelated `users`
# table) makes the server refuse to start, and the failed migration changes nothing.
if [ -n "${OPS_TEST_DATABASE_URL:-}" ]; then
  base=${OPS_TEST_DATABASE_URL%%\?*}
  query=${OPS_TEST_DATABASE_URL#"$base"}
  broken_db=microblog_ops_broken_migration
  broken_url=${base%/*}/$broken_db$query
  psql "$OPS_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $broken_db" -c "CREATE DATABASE $broken_db" >/dev/null 2>&1 &&
    psql "$broken_url" -qc "CREATE TABLE users (legacy_name text); INSERT INTO users VALUES ('kept')" >/dev/null
  out=$(DATABASE_URL=$broken_url LEPTOS_SITE_ADDR=127.0.0.1:0 timeout 30 target/release/server 2>&1)
  code=$?
  left=$(psql "$broken_url" -tAc "SELECT (SELECT string_agg(legacy_name, ',') FROM users) || ' / ' || (SELECT count(*) FROM pg_tables WHERE tablename IN ('posts', 'followers'))")
  if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q 'cannot apply the database migrations' <<<"$out" && [ "$left" = "kept / 0" ]; then
    ok "when a migration fails the server exits ($code) saying: $(grep -m1 -o 'cannot apply the database migrations.*' <<<"$out" | cut -c1-160); the database is unchanged"
  else
    bad "with a failing migration the server exited $code, left '$left': $out"
  fi
  psql "$OPS_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $broken_db" >/dev/null
fi
# 6. Slow clients: 300 connections dribbling a byte every 200 ms. The servers run with a 3 s
#    header timeout and a 10 s request timeout (scripts/test.sh).
slow=$(node scripts/abuse.mjs slow-clients "${FIRST#http://}" 300 20)
if node -e '
  const r = JSON.parse(process.argv[1]);
  const healthy = r.health_statuses.every((s) => s === 200) && r.health_max_ms < 1000;
  process.exit(healthy && r.connected === r.opened && r.closed_by_server === r.opened ? 0 : 1);' "$slow"; then
  ok "300 slow clients: /healthz answered within $(node -e 'console.log(JSON.parse(process.argv[1]).health_max_ms)' "$slow") ms while they were open, and the server closed all of them ($slow)"
else
  bad "slow clients: $slow"
fi

# 7. A flood of 3,000 sign-ins, each abandoned after 20 ms, then a real one.
flood_user=${name}f
[ "$(form "$FIRST" /api/register "username=$flood_user&email=$flood_user%40example.com&password=correct+horse&password2=correct+horse")" = 200 ] || bad "register $flood_user"
flood=$(node scripts/abuse.mjs sign-in-flood "${FIRST#http://}" 3000 "$flood_user" "correct horse")
if node -e '
  const r = JSON.parse(process.argv[1]);
  const quick = r.right_after.ms < 3000 && [200, 503].includes(r.right_after.status);
  const recovered = r.three_seconds_later.status === 200 && r.three_seconds_later.ms < 1000;
  process.exit(quick && recovered ? 0 : 1);' "$flood"; then
  ok "after 3,000 abandoned sign-ins a real one was answered in time and one 3 s later succeeded ($flood)"
else
  bad "sign-in flood: $flood"
fi

# 8. The production limits, on a third server of its own: the 31st sign-in from one address
#    within a minute is refused with 429 and Retry-After, before any password is checked.
if [ -n "${OPS_TEST_DATABASE_URL:-}" ]; then
  THIRD_ADDR=127.0.0.1:$(( ${2##*:} + 1 ))
  DATABASE_URL=$OPS_TEST_DATABASE_URL LEPTOS_SITE_ADDR=$THIRD_ADDR LEPTOS_SITE_ROOT=target/site \
    LEPTOS_ENV=PROD RUST_LOG=warn target/release/server > target/test-logs/ops-third-server.log 2>&1 &
  third_pid=$!
  for _ in $(seq 1 100); do curl -fsS "http://$THIRD_ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  # GCRA: a burst of 30, then one more every 2 s, so on a busy machine a 31st may be earned
  # while the first 30 are checked. Guesses until the first refusal, at most 60.
  started_ms=$(($(date +%s%N) / 1000000))
  checked=0
  refused=no
  for n in $(seq 1 60); do
    status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H "Origin: http://$THIRD_ADDR" -H 'Accept: application/json' \
      --data "username=nobody$n&password=wrong+guess" "http://$THIRD_ADDR/api/login")
    if [ "$status" = 429 ]; then refused=yes; break; fi
    [ "$status" = 401 ] && checked=$((checked + 1))
  done
  earned=$(( ($(date +%s%N) / 1000000 - started_ms) / 2000 ))
  headers=$(curl -sS -m 10 -D - -o /dev/null -H "Origin: http://$THIRD_ADDR" -H 'Accept: application/json' \
    --data "username=nobody&password=wrong+guess" "http://$THIRD_ADDR/api/login")
  kill "$third_pid" 2>/dev/null
  wait "$third_pid" 2>/dev/null
  if [ "$refused" = yes ] && [ "$checked" -ge 30 ] && [ "$checked" -le $((30 + earned)) ] &&
    grep -qi '^retry-after: [0-9]' <<<"$headers"; then
    ok "with the production limits, $checked sign-ins from one address are checked (30 and $earned earned meanwhile) and the next is a 429 with $(grep -i '^retry-after' <<<"$headers" | tr -d '\r')"
  else
    bad "sign-in limit per address: $checked checked (30 + $earned allowed), refused: $refused, headers: $(tr '\r\n' '  ' <<<"$headers")"
  fi
fi

exit $failed
