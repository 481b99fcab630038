#!/usr/bin/env bash
# Recreates the database the sqlx query macros check against (migrations, then the database
# logic of app/src/db/logic, applied by psql as app::db::logic does), and prints its URL. Used by `make sqlx-prepare` to refresh the committed `.sqlx/` data.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/pg.sh" start
URL=$("$ROOT/scripts/pg.sh" url microblog_schema)
ADMIN=$("$ROOT/scripts/pg.sh" url postgres)
psql "$ADMIN" -qc 'DROP DATABASE IF EXISTS microblog_schema' >/dev/null
psql "$ADMIN" -qc 'CREATE DATABASE microblog_schema' >/dev/null
for file in "$ROOT"/migrations/*.sql; do
  psql "$URL" -q -v ON_ERROR_STOP=1 -f "$file" >/dev/null
done
# The macros check shapes, not values: the threshold's number is app::db::logic's to write.
psql "$URL" -q -v ON_ERROR_STOP=1 -c 'CREATE SCHEMA r' \
  -c 'CREATE FUNCTION r.timeline_from() RETURNS bigint IMMUTABLE LANGUAGE sql RETURN 2000' >/dev/null
for file in "$ROOT"/app/src/db/logic/*.sql; do
  psql "$URL" -q -v ON_ERROR_STOP=1 -f "$file" >/dev/null
done
echo "$URL"
