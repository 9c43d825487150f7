#!/usr/bin/env bash
# Idempotent set-up shared by the two README commands: Debian packages, a venv in the
# repo, the package with its test extras, and a Jupyter kernel that points at the venv.
#
# The main venv is .venv, made with python3 (3.11 on these machines). PYTHON_VERSION=3.13
# makes .venv-3.13 with that interpreter instead (found by scripts/python_for.sh, which
# fails with what to install when the machine lacks it); VENV names another folder.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
if [ "${WITH_BROWSER:-0}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "==> installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

bash scripts/setup_postgres.sh  # the PostgresStore tests start a real server

source scripts/venv.sh
if [ -n "${PYTHON_VERSION:-}" ]; then
  PY=$(bash scripts/python_for.sh "$PYTHON_VERSION")
else
  PY=${PYTHON:-python3}
fi
[ -x "$VENV/bin/python" ] || { echo "==> creating $VENV ($("$PY" -V))"; "$PY" -m venv "$VENV"; }
stamp=$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing triggerflow_nb and its test tools into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (triggerflow_nb)" >/dev/null
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
