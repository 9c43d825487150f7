# Sourced by the scripts: which venv they use. .venv (python3, 3.11 on these machines) unless
# PYTHON_VERSION=X.Y names another supported interpreter: then .venv-X.Y. VENV overrides both.
if [ -n "${PYTHON_VERSION:-}" ]; then
  VENV=${VENV:-.venv-$PYTHON_VERSION}
else
  VENV=${VENV:-.venv}
fi
# The interpreters the package supports besides the main one; the tests run on each.
OTHER_PYTHONS=${OTHER_PYTHONS-"3.12 3.13"}
