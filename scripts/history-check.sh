#!/usr/bin/env bash
# Fails when code, SQL or a script cites an issue number or a numbered run of past work: such
# notes go stale, and git keeps history. Migrations are history themselves (and checksummed by
# sqlx, so they cannot be edited), so they are left out.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# "issue #14", "(#14)", "#14's", "run 12)" and the like; a citation of another project's
# tracker ("GitLab's issue 413203") names no issue of ours and passes.
pattern='[Ii]ssues? #[0-9]+|\(#[0-9]+\)|#[0-9]+'"'"'s|\b(run|session|round) [0-9]+\)|, run [0-9]+'
found=$(git ls-files -- app server frontend scripts end2end/tests style .ci Makefile |
  grep -v '^end2end/node_modules' | grep -v '^scripts/history-check.sh$' | grep -Ev '\.(json|lock|svg|png|ico)$' |
  xargs grep -nE "$pattern" 2>/dev/null)
if [ -n "$found" ]; then
  echo "$found"
  echo "these lines cite issues or numbered runs; say why instead (git keeps the history)"
  exit 1
fi
echo "no issue numbers or run numbers in code, SQL or scripts"
