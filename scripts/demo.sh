#!/usr/bin/env bash
# The README's demo command: set up (idempotently), then run the teaching notebooks end to
# end in a real Jupyter kernel and write each one executed (.ipynb, live panels included)
# and as HTML (widget state embedded) to build/demo/.
#
#   bash scripts/demo.sh                  # all notebooks in notebooks/
#   bash scripts/demo.sh 01_quickstart    # only the ones named
#
# Exits non-zero if a notebook fails, after printing the failing cell and its traceback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python scripts/run_notebooks.py --out build/demo "$@"
