#!/usr/bin/env bash
# Create (once) the separate virtual env that holds the peer frameworks we
# benchmark against. The peers are never installed into the project's .venv.
#
#   bash bench/peers_env.sh          # create or reuse bench/.venv-peers
#   FORCE=1 bash bench/peers_env.sh  # rebuild from scratch
#
# Idempotency: a stamp file records the pinned requirement set; when it
# matches, nothing is done.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-peers"
PYTHON="${PYTHON:-python3}"

# The peer set. agently is pinned to the release whose TriggerFlow we mirror;
# langgraph floats within major version 1.
REQUIREMENTS=("agently==4.1.4.10" "langgraph>=1,<2")
STAMP="$VENV/.peers-stamp"
WANT="$(printf '%s\n' "${REQUIREMENTS[@]}")"

if [[ "${FORCE:-0}" == "1" ]]; then
    rm -rf "$VENV"
fi

if [[ -f "$STAMP" && -x "$VENV/bin/python" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "peers env up to date: $VENV" >&2
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi

"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"

# Fail loudly here rather than in the middle of a benchmark run.
"$VENV/bin/python" - <<'EOF'
from importlib.metadata import version
from agently import TriggerFlow  # noqa: F401
from langgraph.graph import StateGraph  # noqa: F401
print(f"agently {version('agently')}, langgraph {version('langgraph')}")
EOF

printf '%s\n' "${REQUIREMENTS[@]}" > "$STAMP"
echo "peers env ready: $VENV" >&2
