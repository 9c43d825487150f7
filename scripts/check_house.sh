#!/usr/bin/env bash
# The house rules, checked: ruff (style and bugs), mypy (strict on definition/ and runtime/),
# import-linter (the layers). Each fails CI when broken. Run after scripts/setup_env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> ruff";          .venv/bin/ruff check triggerflow_nb tests bench scripts
echo "==> mypy";          .venv/bin/mypy
echo "==> import layers"; .venv/bin/lint-imports
