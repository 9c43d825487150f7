#!/usr/bin/env bash
# The developer's menu. Each entry uses the .venv that scripts/setup_env.sh makes (run any of
# the README's two commands once first).
#
#   bash scripts/dev.sh fast [pytest args]    the core test folders, on .venv: well under a minute
#   bash scripts/dev.sh check                 ruff, mypy and the import layers (read-only; fails on a problem)
#   bash scripts/dev.sh fix                   ruff's automatic fixes, written into the files
#   bash scripts/dev.sh all [pytest args]     everything CI runs (bash scripts/test.sh)
#   bash scripts/dev.sh mutate [group ...]    the mutation tester on some groups (tens of minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=(tests/engine tests/patterns tests/persistence tests/seed tests/house tests/docs)

need_venv() {
  [ -x .venv/bin/python ] || { echo "dev.sh: no .venv yet: run bash scripts/setup_env.sh first" >&2; exit 2; }
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  fast)   need_venv; exec .venv/bin/python -m pytest -q "${FAST[@]}" "$@" ;;
  check)  need_venv; exec bash scripts/check_house.sh ;;
  fix)    need_venv; exec .venv/bin/ruff check --fix triggerflow_nb tests bench scripts ;;
  all)    exec bash scripts/test.sh "$@" ;;
  mutate) need_venv; exec .venv/bin/python scripts/mutate.py "$@" ;;
  help|-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "dev.sh: unknown command '$command'; one of: fast check fix all mutate help" >&2; exit 2 ;;
esac
