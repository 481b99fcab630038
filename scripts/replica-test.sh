#!/usr/bin/env bash
# Read replicas, against the project-local cluster and a hot standby made afresh
# from it (scripts/pg.sh standby), with two release servers reading from the standby:
#  1. with replay paused on the standby, a person's own follow and post show at once to them,
#     on either server, in their feed and in both profiles' counts;
#  2. a signed-out reader meanwhile is served by the replica (its count in /metrics grows) and
#     does not see the post yet; once replay resumes, they do;
#  3. a sign-in on one server followed by a read on the other still sees the person's writes;
#  4. a server with a lag limit of 1 s stops reading from the paused standby once it falls
#     that far behind, and reads from it again once it has caught up;
#  5. the standby stopped under a steady load: no 5xx, and within a second the servers stop
#     reading from it; started again, it serves reads again;
#  6. reads never go backwards: a reader who saw the post through the primary (the 1 s server
#     gave up on the standby) still sees it on the 600 s server; Who to follow names people
#     as the rest of its page does; the live banner's reload reads what the primary announced.
# Usage: scripts/replica-test.sh FIRST_PORT SECOND_PORT E2E_DATABASE_NAME
# Prints "plan N", then one "ok"/"FAILED" line per check; exits non-zero if any failed.
# Functions below are called through wait_for and trap, which shellcheck cannot follow.
# shellcheck disable=SC2317
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
FIRST_ADDR=127.0.0.1:$1
SECOND_ADDR=127.0.0.1:$2
DB=$3
FIRST=http://$FIRST_ADDR
SECOND=http://$SECOND_ADDR
PRIMARY_URL=$(scripts/pg.sh url "$DB")
REPLICA_URL=$(scripts/pg.sh standby url "$DB")
LOGS=target/test-logs
mkdir -p "$LOGS"
failed=0
ok() { echo "ok - $*"; }
bad() { echo "FAILED - $*"; failed=1; }
echo "plan 12"

server_pids=()
work=$(mktemp -d)
cleanup() {
  kill "${server_pids[@]}" 2>/dev/null
  wait "${server_pids[@]}" 2>/dev/null
  # Never leave replay paused or the standby behind: the next run makes it afresh.
  scripts/pg.sh standby destroy
  rm -rf "$work"
}
trap cleanup EXIT

# Afresh each run, so it holds what the primary holds now (a standby left stopped for long
# may lack the WAL to catch up).
scripts/pg.sh standby destroy
scripts/pg.sh standby start || { bad "the hot standby did not start"; exit 1; }

# A lag limit far above the test's length: with replay paused the standby falls behind, and it
# must still serve the readers who have not written.
start_server() { # addr log [max lag]
  DATABASE_URL=$PRIMARY_URL MICROBLOG_REPLICA_URLS=$REPLICA_URL MICROBLOG_REPLICA_MAX_LAG_SECS=${3:-600} \
    LEPTOS_SITE_ADDR=$1 LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD \
    MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE=100000 RUST_LOG=warn \
    target/release/server > "$2" 2>&1 &
  server_pids+=($!)
}
start_server "$FIRST_ADDR" "$LOGS/replica-server-1.log"
start_server "$SECOND_ADDR" "$LOGS/replica-server-2.log"
STRICT=http://127.0.0.1:$(($2 + 1))
start_server "${STRICT#http://}" "$LOGS/replica-server-strict.log" 1

metric() { # base name labels → the value, 0 when absent
  curl -s -m 5 "$1/metrics" | awk -v key="$2{$3}" '$1 == key { print $2; found = 1 } END { if (!found) print 0 }'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { # seconds command… → 0 once the command succeeds within that time
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -ge $deadline ] && return 1
    sleep 0.05
  done
}
replica_usable() { [ "$(metric "$1" microblog_replica_usable 'node="replica1"')" = 1 ]; }
if ! wait_for 30 replica_usable "$FIRST" || ! wait_for 30 replica_usable "$SECOND" ||
  ! wait_for 30 replica_usable "$STRICT"; then
  bad "the servers never started reading from the standby (logs: $LOGS/replica-server-*.log)"
  exit 1
fi

# Within 64 bytes, as the servers' watcher counts it (a page boundary's header is never replayed
# until more is written).
replica_has_caught_up() {
  local wanted
  wanted=$(psql "$PRIMARY_URL" -tAc "SELECT pg_current_wal_insert_lsn()")
  [ "$(psql "$REPLICA_URL" -tAc "SELECT pg_last_wal_replay_lsn() + 64 >= '$wanted'::pg_lsn")" = t ]
}

jar_a=$work/a
jar_b=$work/b
post() { # base path data jar → status
  curl -sS -m 10 -o /dev/null -w '%{http_code}' -b "$4" -c "$4" -H "Origin: $1" \
    -H 'Accept: application/json' --data "$3" "$1$2"
}
# Keeps what the server sets (the read floor, renewed sessions), as a browser would.
page() { curl -sS -m 10 -b "$2" -c "$2" "$1"; }
name=rep$(date +%s%N | tail -c 9)
a=${name}a
b=${name}b
[ "$(post "$FIRST" /api/register "username=$a&email=$a%40example.com&password=correct+horse&password2=correct+horse" "$jar_a")" = 200 ] || bad "register $a"
[ "$(post "$FIRST" /api/register "username=$b&email=$b%40example.com&password=correct+horse&password2=correct+horse" "$jar_b")" = 200 ] || bad "register $b"
c=${name}c
d=${name}d
jar_c=$work/c
jar_d=$work/d
[ "$(post "$FIRST" /api/register "username=$c&email=$c%40example.com&password=correct+horse&password2=correct+horse" "$jar_c")" = 200 ] || bad "register $c"
[ "$(post "$FIRST" /api/register "username=$d&email=$d%40example.com&password=correct+horse&password2=correct+horse" "$jar_d")" = 200 ] || bad "register $d"
# c follows b, who follows d: d is the one c may want to follow.
[ "$(post "$FIRST" /api/follow "username=$b" "$jar_c")" = 200 ] || bad "$c follows $b"
[ "$(post "$FIRST" /api/follow "username=$d" "$jar_b")" = 200 ] || bad "$b follows $d"
wait_for 10 replica_has_caught_up || bad "the standby did not catch up with the registrations"

# 1. Replay paused: what A writes now exists only on the primary.
psql "$REPLICA_URL" -qc "SELECT pg_wal_replay_pause()" >/dev/null
text="replicated post $name"
follow=$(post "$SECOND" /api/follow "username=$b" "$jar_a")
posted=$(post "$FIRST" /api/create_post "body=${text// /+}" "$jar_a")
home=$(page "$SECOND/" "$jar_a")
own_profile=$(page "$FIRST/user/$a" "$jar_a")
their_profile=$(page "$SECOND/user/$b" "$jar_a")
if [ "$follow$posted" = 200200 ] && grep -q "$text" <<<"$home" &&
  grep -q '<span class="following-count">1</span>' <<<"$own_profile" &&
  grep -q '<span class="followers-count">2</span>' <<<"$their_profile" &&
  grep -q '>Unfollow<' <<<"$their_profile"; then
  ok "with replay paused, $a's follow and post show at once to $a on both servers (feed, own following count, $b's followers count of 2 with $c, and button)"
else
  bad "with replay paused: follow $follow, post $posted; feed has the post: $(grep -c "$text" <<<"$home"); own profile: $(grep -o '<span class="following-count">[0-9]*' <<<"$own_profile"); $b's: $(grep -o '<span class="followers-count">[0-9]*' <<<"$their_profile")"
fi
on_replica=$(psql "$REPLICA_URL" -tAc "SELECT count(*) FROM posts WHERE body = '$text'")
if [ "$on_replica" = 0 ]; then
  ok "the standby has indeed not replayed the post"
else
  bad "the standby has the post although replay is paused"
fi

# 2. A signed-out reader on the second server: served by the replica, so without the post.
before=$(metric "$SECOND" microblog_db_reads_total 'node="replica1"')
explore=$(curl -sS -m 10 "$SECOND/explore")
after=$(metric "$SECOND" microblog_db_reads_total 'node="replica1"')
if [ "$after" -gt "$before" ] && ! grep -q "$text" <<<"$explore" && grep -q '<article class="post"' <<<"$explore"; then
  ok "a signed-out reader's explore is read from the replica ($before -> $after reads there) and does not show the post yet"
else
  bad "signed-out explore: replica reads $before -> $after, shows the post: $(grep -c "$text" <<<"$explore")"
fi

# 3. A sign-in on the first server, then a read on the second, in a new browser.
jar_new=$work/new
signed_in=$(post "$FIRST" /api/login "username=$a&password=correct+horse" "$jar_new")
fresh_home=$(page "$SECOND/" "$jar_new")
if [ "$signed_in" = 200 ] && grep -q "$text" <<<"$fresh_home"; then
  ok "signed in afresh on one server, $a reads their own post on the other"
else
  bad "after signing in afresh ($signed_in), the other server's feed lacks the post"
fi

strict_gave_up=no
replica_unused() { [ "$(metric "$1" microblog_replica_usable 'node="replica1"')" = 0 ]; }
wait_for 5 replica_unused "$STRICT" && strict_gave_up=yes

# 6. Still paused. A reader whose request the primary served (the strict server no longer
#    reads the standby) must not see the post vanish on the other server, which still does.
jar_reader=$work/reader
through_primary=$(page "$STRICT/explore" "$jar_reader")
then_elsewhere=$(page "$SECOND/explore" "$jar_reader")
if [ "$strict_gave_up" = yes ] && grep -q "$text" <<<"$through_primary" && grep -q "$text" <<<"$then_elsewhere"; then
  ok "a reader who saw the post through the primary still sees it on a server reading the paused standby"
else
  bad "reads went backwards: the strict server had given up on the standby: $strict_gave_up; the post on it: $(grep -c "$text" <<<"$through_primary"); then on the other server: $(grep -c "$text" <<<"$then_elsewhere")"
fi
# d renames themselves; c's home page, read from the standby, suggests d by the name the
# standby has, and that name leads to d's profile there.
[ "$(post "$FIRST" /api/edit_profile "username=${d}x&about_me=" "$jar_d")" = 200 ] || bad "$d renames"
c_home=$(page "$SECOND/" "$jar_c")
d_profile=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -b "$jar_c" -c "$jar_c" "$SECOND/user/$d")
if grep -q "href=\"/user/$d\"" <<<"$c_home" && ! grep -q "${d}x" <<<"$c_home" && [ "$d_profile" = 200 ]; then
  ok "Who to follow shows people as the page's node has them ($d, not yet ${d}x), and the link works ($d_profile)"
else
  bad "Who to follow on a page read from the standby: names $d: $(grep -c "href=\"/user/$d\"" <<<"$c_home"), names ${d}x: $(grep -c "${d}x" <<<"$c_home"); $d's profile: $d_profile"
fi
# b posts; c's feed from the standby lacks it, the banner's fresh reload has it.
news="fresh news $name"
[ "$(post "$FIRST" /api/create_post "body=${news// /+}" "$jar_b")" = 200 ] || bad "$b posts"
feed_replica=$(curl -sS -m 10 -b "$jar_c" -H "Origin: $SECOND" -H 'Accept: application/json' --data "" "$SECOND/api/home_feed")
feed_fresh=$(curl -sS -m 10 -b "$jar_c" -H "Origin: $SECOND" -H 'Accept: application/json' --data "fresh=true" "$SECOND/api/home_feed")
if ! grep -q "$news" <<<"$feed_replica" && grep -q "$news" <<<"$feed_fresh"; then
  ok "the live banner's reload (fresh=true) shows the post the primary announced, which the standby lacks"
else
  bad "banner reload: the standby's feed has the post: $(grep -c "$news" <<<"$feed_replica"); the fresh one: $(grep -c "$news" <<<"$feed_fresh")"
fi
lag=$(metric "$STRICT" microblog_replica_lag_seconds 'node="replica1"')
psql "$REPLICA_URL" -qc "SELECT pg_wal_replay_resume()" >/dev/null
wait_for 10 replica_has_caught_up || bad "the standby did not catch up after replay resumed"
visible_to_all() { curl -sS -m 10 "$SECOND/explore" | grep -q "$text"; }
# And the writer is sent back to the replica once it has replayed their change.
writer_on_replica() {
  local before
  before=$(metric "$SECOND" microblog_db_reads_total 'node="replica1"')
  page "$SECOND/" "$jar_a" >/dev/null
  [ "$(metric "$SECOND" microblog_db_reads_total 'node="replica1"')" -gt "$before" ]
}
if wait_for 5 visible_to_all && wait_for 5 writer_on_replica; then
  ok "after replay resumes, the signed-out reader sees the post, and the writer reads from the replica again"
else
  bad "after replay resumed: the signed-out reader sees the post: $(visible_to_all && echo yes || echo no); the writer reads from the replica again: $(writer_on_replica && echo yes || echo no)"
fi
if [ "$strict_gave_up" = yes ] && replica_usable "$FIRST" && wait_for 5 replica_usable "$STRICT"; then
  ok "with a 1 s lag limit, a server stopped reading from the paused standby (lag seen: ${lag} s) and uses it again once caught up; the 600 s server kept using it"
else
  bad "lag limit: the strict server gave up on the paused standby: $strict_gave_up (lag seen: $lag s); usable again: $(metric "$STRICT" microblog_replica_usable 'node="replica1"')"
fi

# 4. The standby stopped under load: 8 requests in flight on each server, signed out and in.
load_log=$work/load
(
  end=$((SECONDS + 12))
  while [ $SECONDS -lt $end ]; do
    for base in "$FIRST" "$SECOND"; do
      printf '%s/explore\n%s/user/%s\n' "$base" "$base" "$b"
    done | xargs -P 8 -I{} curl -s -m 10 -o /dev/null -w '%{http_code}\n' {} >> "$load_log"
  done
) &
load_pid=$!
sleep 2
scripts/pg.sh standby stop
stopped=$(now_ms)
# The watcher looks every 200 ms and gives a look 500 ms: under a second by construction. The
# wait allows 2 s, since the checks themselves queue behind the load on two busy cores.
if wait_for 2 replica_unused "$FIRST" && wait_for 2 replica_unused "$SECOND"; then
  primary_before=$(metric "$FIRST" microblog_db_reads_total 'node="primary"')
  curl -sS -m 10 -o /dev/null "$FIRST/explore"
  primary_after=$(metric "$FIRST" microblog_db_reads_total 'node="primary"')
  if [ "$primary_after" -gt "$primary_before" ]; then
    ok "$(($(now_ms) - stopped)) ms after the standby stopped, both servers read from the primary"
  else
    bad "the standby is marked unusable, but reads did not go to the primary ($primary_before -> $primary_after)"
  fi
else
  bad "$(($(now_ms) - stopped)) ms after the standby stopped, a server still counts it usable"
fi
sleep 2
scripts/pg.sh standby start
serving_again() {
  local before
  before=$(metric "$1" microblog_db_reads_total 'node="replica1"')
  curl -sS -m 10 -o /dev/null "$1/explore"
  [ "$(metric "$1" microblog_db_reads_total 'node="replica1"')" -gt "$before" ]
}
if wait_for 15 serving_again "$FIRST" && wait_for 15 serving_again "$SECOND"; then
  ok "the standby started again serves reads again on both servers"
else
  bad "the standby started again is not read from"
fi
wait "$load_pid"
answered=$(wc -l < "$load_log")
unexpected=$(grep -vc '^200$' "$load_log")
if [ "$answered" -gt 0 ] && [ "$unexpected" = 0 ]; then
  ok "through the standby's stop and start: $answered responses under load, all 200"
else
  bad "under load through the standby's stop and start: $answered responses, not 200: $(grep -v '^200$' "$load_log" | sort | uniq -c | tr '\n' ' ')"
fi
exit $failed
