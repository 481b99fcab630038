#!/usr/bin/env bash
# `make run`: a local PostgreSQL unless DATABASE_URL is set, the release build, demo data into
# an empty database, then the server on http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ]; then
  scripts/pg.sh start
  scripts/pg.sh createdb microblog
  DATABASE_URL=$(scripts/pg.sh url microblog)
  export DATABASE_URL
  echo ">> Using the project-local PostgreSQL: $DATABASE_URL"
fi

scripts/build-release.sh

export LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD
export LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000}
target/release/server seed --demo
echo ">> Open http://$LEPTOS_SITE_ADDR (sign in as john, susan, mary or david; password: microblog)"
exec target/release/server
