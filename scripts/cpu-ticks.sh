# shellcheck shell=bash
# CPU time used so far, in clock ticks (`getconf CLK_TCK` a second), for the benchmarks' CPU
# per request. Sourced by bench.sh, profile.sh and ab-follow.sh.

# The processes given by pid, together.
ticks_of() { for pid in "$@"; do awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; }

# A PostgreSQL cluster given by its data directory: its postmaster (first line of
# postmaster.pid) and the postmaster's children.
cluster_ticks() {
  local postmaster children
  postmaster=$(head -n 1 "$1/postmaster.pid")
  mapfile -t children < <(pgrep -P "$postmaster")
  ticks_of "$postmaster" "${children[@]}"
}
