"""Applying a sub-flow step's bridging rules while it runs (contract, section 9).

``capture`` chooses what the child starts with; ``write_back`` maps what the child
produced back into the parent. Both were checked when the step was defined
(``definition.sub_flow_bridge``).
"""

from __future__ import annotations

from typing import Any

from ..layers.resources import RuntimeResources
from ..layers.state import FINAL_RESULT_KEY, copy_state_value

_MISSING = object()


def child_input(capture: dict[str, Any] | None, value: Any, parent_state: dict[str, Any]) -> Any:
    source = (capture or {}).get("input", "value")
    if source == "value":
        return copy_state_value(value)
    return copy_state_value(parent_state.get(source[len("state."):]))


def child_resources(capture: dict[str, Any] | None, parent_resources: RuntimeResources) -> dict[str, Any]:
    """Forward parent resources by identity under the child's names."""
    out = {}
    for child_name, source in ((capture or {}).get("resources") or {}).items():
        out[child_name] = parent_resources.require(source[len("resources."):], "for a sub-flow capture")
    return out


def _lookup(root: Any, path: str, source: str) -> Any:
    value = root
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(f"write_back source {source!r}: no {part!r} in the child's output")
    return value


def resolve_source(source: str, snapshot: dict[str, Any]) -> Any:
    """The part of the child's close snapshot (already the parent's own copy) that ``source`` names."""
    head, _, path = source.partition(".")
    if head == "result":
        root = snapshot.get(FINAL_RESULT_KEY, _MISSING)
        root = snapshot if root is _MISSING else root
    else:
        root = snapshot
    return _lookup(root, path, source) if path else root


def apply_write_back(write_back: dict[str, Any] | None, snapshot: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Return (the parent's next input, state updates) for a closed child's snapshot."""
    if not write_back:
        return snapshot, {}
    next_value: Any = snapshot
    state_updates: dict[str, Any] = {}
    for target, source in write_back.items():
        value = resolve_source(source, snapshot)
        if target == "value":
            next_value = value
        else:
            state_updates[target[len("state."):]] = value
    return next_value, state_updates
