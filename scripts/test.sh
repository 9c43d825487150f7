#!/usr/bin/env bash
# Set everything up (idempotently), check the house rules, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=1 bash scripts/setup_env.sh
bash scripts/check_house.sh
exec .venv/bin/python -m pytest "$@"
