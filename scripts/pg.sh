#!/usr/bin/env bash
# A project-local PostgreSQL cluster, so `make run` / `make test` need no system set-up.
#   scripts/pg.sh start        start it (initialising on first use); prints nothing else on success
#   scripts/pg.sh stop         stop it
#   scripts/pg.sh url [DB]     print the DATABASE_URL of database DB (default: microblog)
#   scripts/pg.sh port         print this checkout's port
#   scripts/pg.sh data-dir     print this checkout's data directory
#   scripts/pg.sh createdb DB  create database DB if missing
#   scripts/pg.sh standby start|stop|destroy|url [DB]|port
#                              a hot standby of this cluster (streaming replication, its own
#                              port, 24330-25329, and data directory); `start` makes it afresh with
#                              pg_basebackup unless it exists, `destroy` stops and deletes it
# Never touches a system cluster: own data directory, own port, socket inside the data dir.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
checkout_hash=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
newest_pg_bin() { printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1; }
PG_BIN=${PG_BIN:-$(newest_pg_bin)}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

data_dir() {
  local dir="$ROOT/.pgdata"
  # initdb refuses root, so as root the cluster belongs to `postgres`, who must be able to reach
  # the checkout. If a parent folder is private, use a per-checkout folder under /var/tmp.
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$ROOT"; then
    dir="/var/tmp/microblog-pg-$checkout_hash"
  fi
  printf '%s' "$dir"
}

# Each checkout gets its own port, derived from its path, so two checkouts on one machine run
# side by side (23330-24329; MICROBLOG_PG_PORT overrides it). Below Linux's ephemeral range
# (32768-60999), like the standby's: the tests restart this cluster while thousands of their
# connections come and go, and a port in that range may be taken meanwhile as the local end of
# one. A cluster keeps the port it was first started on (written beside its data, in
# `microblog-port`), so a stop and start in the middle of a run never moves it. A cluster
# started by an older version of this script keeps its port in 54330-55329; to move it, stop
# it and delete that file.
cluster_port() {
  # As root a cluster belongs to `postgres`: without that user there is no cluster yet.
  [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1 || return 0
  local dir
  dir=$(data_dir)
  if [ -r "$dir/microblog-port" ]; then
    cat "$dir/microblog-port"
  elif [ -r "$dir/postmaster.pid" ] && [ -x "$PG_BIN/pg_ctl" ] &&
    as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    sed -n 4p "$dir/postmaster.pid"
  fi
}
PORT=${MICROBLOG_PG_PORT:-$(cluster_port)}
PORT=${PORT:-$((23330 + 16#${checkout_hash:0:6} % 1000))}

ensure_installed() {
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo ">> Installing PostgreSQL from Debian (once per machine, ~10 s)…" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    PG_BIN=$(newest_pg_bin)
  fi
}

# An empty data directory the cluster's owner may use (as root: `postgres`, since initdb and
# the server refuse root).
owned_dir() {
  mkdir -p "$1"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$1"
  chmod 700 "$1"
}

# run_cluster DIR PORT NAME [SERVER OPTIONS…]: starts the cluster in DIR unless it runs.
run_cluster() {
  local dir=$1 port=$2 name=$3
  shift 3
  if as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "Port $port, $name's port, is taken by another program; set MICROBLOG_PG_PORT (or MICROBLOG_PG_STANDBY_PORT) to a free one." >&2
    exit 1
  fi
  echo ">> Starting $name on port $port (data in $dir)" >&2
  as_owner "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB $*" >/dev/null \
    || { echo "$name did not start; its log follows:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1; }
}

stop_cluster() {
  [ -f "$1/PG_VERSION" ] || return 0
  as_owner "$PG_BIN/pg_ctl" -D "$1" -m fast stop >/dev/null 2>&1 || true
}

start() {
  ensure_installed
  local dir
  dir=$(data_dir)
  if [ ! -f "$dir/PG_VERSION" ]; then
    echo ">> Creating a project-local PostgreSQL cluster in $dir (port $PORT)…" >&2
    owned_dir "$dir"
    as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  run_cluster "$dir" "$PORT" "this checkout's PostgreSQL"
  [ -f "$dir/microblog-port" ] || printf '%s\n' "$PORT" > "$dir/microblog-port"
}

# Below Linux's ephemeral range (32768-60999): a port in it may be taken at any moment as the
# local end of an outgoing connection (the tests open thousands), and the standby is started
# in the middle of them. It once failed to bind for exactly that reason.
STANDBY_PORT=${MICROBLOG_PG_STANDBY_PORT:-$((24330 + 16#${checkout_hash:0:6} % 1000))}

standby_dir() { printf '%s-standby' "$(data_dir)"; }

# A copy of the running cluster made with pg_basebackup -R, which writes standby.signal and
# the connection to the primary, so the copy starts as a hot standby and streams from it.
standby_start() {
  start
  local dir
  dir=$(standby_dir)
  if [ ! -f "$dir/PG_VERSION" ]; then
    echo ">> Copying this checkout's PostgreSQL into a hot standby in $dir (port $STANDBY_PORT)…" >&2
    rm -rf "$dir"
    owned_dir "$dir"
    # (It warns about the primary's socket file, which it rightly does not copy.)
    as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$dir" -R -X stream --checkpoint=fast 2>&1 \
      | { grep -v 'skipping special file' || true; } >&2
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "pg_basebackup failed" >&2; exit 1; }
  fi
  # hot_standby_feedback: a read on the standby is not cancelled because the primary vacuumed
  # away rows it still needs.
  run_cluster "$dir" "$STANDBY_PORT" "this checkout's hot standby" -c hot_standby=on -c hot_standby_feedback=on
}

standby() {
  case "${1:-}" in
    start) standby_start ;;
    stop) stop_cluster "$(standby_dir)" ;;
    destroy) stop_cluster "$(standby_dir)"; rm -rf "$(standby_dir)" ;;
    url) printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$STANDBY_PORT" "${2:-microblog}" ;;
    port) echo "$STANDBY_PORT" ;;
    *) echo "usage: $0 standby start|stop|destroy|url [db]|port" >&2; exit 2 ;;
  esac
}

stop() { stop_cluster "$(data_dir)"; }

url() {
  printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$PORT" "${1:-microblog}"
}

createdb() {
  local db=$1
  if ! psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url "${2:-}" ;;
  port) echo "$PORT" ;;
  data-dir) data_dir; echo ;;
  createdb) createdb "$2" ;;
  standby) standby "${2:-}" "${3:-}" ;;
  *) echo "usage: $0 start|stop|url [db]|port|createdb db|standby …" >&2; exit 2 ;;
esac
