#!/usr/bin/env bash
# The README's test command: set everything up (idempotently), check the house rules, and run
# the tests on every supported Python.
#
#   bash scripts/test.sh                 the whole suite on Python 3.11 (.venv), then the fast
#                                        folders and the notebook-kernel tests on 3.12 and 3.13
#                                        (.venv-3.12, .venv-3.13, made here from pyenv's interpreters)
#   bash scripts/test.sh -q -rs          the same, with these pytest options everywhere
#   bash scripts/test.sh tests/engine    only these tests, only on 3.11
#   PYTHON_VERSION=3.13 bash scripts/test.sh [...]   only on 3.13 (its whole suite by default)
#
# A supported interpreter missing from the machine fails the run with what to install; it is
# never skipped. OTHER_PYTHONS="" leaves the other interpreters out (a quicker local run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

# Only options (no test paths) means a full run: then the other interpreters run too.
full=1
for arg in "$@"; do case "$arg" in -*) ;; *) full=0 ;; esac; done
[ -z "${PYTHON_VERSION:-}" ] || full=0

# Each interpreter's venv is ready before any test runs: a missing one fails in seconds.
WITH_BROWSER=1 bash scripts/setup_env.sh
if [ "$full" = 1 ]; then
  for version in $OTHER_PYTHONS; do PYTHON_VERSION=$version bash scripts/setup_env.sh; done
fi
bash scripts/check_house.sh

"$VENV/bin/python" -m pytest "$@"

if [ "$full" = 1 ]; then
  for version in $OTHER_PYTHONS; do
    echo "==> Python $version: the fast folders and the notebook-kernel tests"
    # The binder test builds its own venv with binder/runtime.txt's Python: the main run did it.
    ".venv-$version/bin/python" -m pytest "$@" tests/engine tests/patterns tests/persistence tests/seed \
      tests/reliability tests/house tests/docs tests/notebook_layer tests/notebooks \
      --ignore=tests/notebooks/test_binder_env.py
  done
fi
