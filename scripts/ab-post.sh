#!/usr/bin/env bash
# What a new post costs PostgreSQL with and without its fan-out into timelines,
# alternated on the same data: each round inserts posts by random bench users, one transaction
# each, for SECONDS with the trigger `posts_fan_out` on, then for SECONDS with it off, from
# CLIENTS connections (pgbench). The posts are deleted afterwards and the trigger left on.
# Switching the trigger locks `posts`: run it with no server writing to the data set.
# Run after `make bench` (it uses the microblog_bench data set).
#   scripts/ab-post.sh ROUNDS SECONDS [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=$1
SECONDS_EACH=$2
CLIENTS=${3:-4}
DB=$(scripts/pg.sh url microblog_bench)
SCRIPT=$(mktemp)
# Also when stopped half-way: posts written with the fan-out off would leave the timelines short.
finish() {
  rm -f "$SCRIPT"
  psql "$DB" -qc "ALTER TABLE posts ENABLE TRIGGER posts_fan_out" \
    -c "DELETE FROM posts WHERE body = 'ab-post.sh post'"
}
trap finish EXIT
read -r first last < <(psql "$DB" -tAF ' ' -c "SELECT min(id), max(id) FROM users WHERE username LIKE 'bench%'")
cat > "$SCRIPT" <<SQL
\set author random($first, $last)
INSERT INTO posts (author_id, body) VALUES (:author, 'ab-post.sh post');
SQL

echo "| round | fan-out | posts/s | mean latency ms | timeline rows added |"
echo "| ---: | --- | ---: | ---: | ---: |"
for round in $(seq 1 "$ROUNDS"); do
  for mode in on off; do
    if [ "$mode" = on ]; then
      psql "$DB" -qc "ALTER TABLE posts ENABLE TRIGGER posts_fan_out"
    else
      psql "$DB" -qc "ALTER TABLE posts DISABLE TRIGGER posts_fan_out"
    fi
    rows_before=$(psql "$DB" -tAc "SELECT count(*) FROM timeline_posts")
    result=$(pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" -f "$SCRIPT" "$DB" 2>&1)
    rows_after=$(psql "$DB" -tAc "SELECT count(*) FROM timeline_posts")
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$result")
    latency=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$result")
    echo "| $round | $mode | $tps | $latency | $((rows_after - rows_before)) |"
  done
done
