#!/usr/bin/env bash
# The README's demo command: set up (idempotently), then run the teaching notebooks end to
# end in a real Jupyter kernel and write each one executed (.ipynb, live panels included)
# and as HTML (widget state embedded) to build/demo/.
#
#   bash scripts/demo.sh                  # all notebooks in notebooks/
#   bash scripts/demo.sh 01_quickstart    # only the ones named
#   PYTHON_VERSION=3.13 bash scripts/demo.sh   # in a Python 3.13 kernel (its own .venv-3.13)
#
# Exits non-zero if a notebook fails, after printing the failing cell and its traceback.
#
# The kernels run in triggerflow_nb's reproducible mode (seeded ids, no wall-clock times
# shown), so two runs write the same outputs: TRIGGERFLOW_NB_REPRODUCIBLE=<seed> picks
# another seed, an empty value turns the mode off. Add --twice to check it: each notebook
# runs again in a fresh kernel and any output that differs fails the command.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/setup_env.sh
export TRIGGERFLOW_NB_REPRODUCIBLE="${TRIGGERFLOW_NB_REPRODUCIBLE-0}"
exec "$VENV/bin/python" scripts/run_notebooks.py --out build/demo "$@"
