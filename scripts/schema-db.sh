#!/usr/bin/env bash
# Recreates the database the sqlx query macros check against (migrations applied by psql),
# and prints its URL. Used by `make sqlx-prepare` to refresh the committed `.sqlx/` data.
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
echo "$URL"
