"""Checks of a sub-flow step's bridging rules, at definition time (contract, section 9).

``capture`` chooses what the child starts with; ``write_back`` maps what the child
produced back into the parent. Applying them is the runtime's job (``runtime.sub_flow``).
"""

from __future__ import annotations

from typing import Any

from ..errors import FlowDefinitionError


def validate_capture(capture: dict[str, Any] | None) -> None:
    if capture is None:
        return
    if not isinstance(capture, dict):
        raise FlowDefinitionError(f"capture must be a dict, got {type(capture).__name__}")
    unknown = set(capture) - {"input", "resources"}
    if unknown:
        raise FlowDefinitionError(f"capture has unknown keys {sorted(unknown)}; use 'input' and/or 'resources'")
    source = capture.get("input", "value")
    if not isinstance(source, str) or not (source == "value" or source.startswith("state.")):
        raise FlowDefinitionError(f"capture['input'] must be 'value' or 'state.<key>', got {source!r}")
    resources = capture.get("resources", {})
    if not isinstance(resources, dict) or not all(
        isinstance(v, str) and v.startswith("resources.") for v in resources.values()
    ):
        raise FlowDefinitionError(
            "capture['resources'] must map child names to 'resources.<parent name>', e.g. {'db': 'resources.db'}"
        )


def validate_write_back(write_back: dict[str, Any] | None) -> None:
    if write_back is None:
        return
    if not isinstance(write_back, dict):
        raise FlowDefinitionError(f"write_back must be a dict, got {type(write_back).__name__}")
    for target, source in write_back.items():
        if not (target == "value" or (isinstance(target, str) and target.startswith("state."))):
            raise FlowDefinitionError(f"write_back target {target!r} must be 'value' or 'state.<key>'")
        if not isinstance(source, str) or source.split(".", 1)[0] not in ("result", "snapshot"):
            raise FlowDefinitionError(
                f"write_back[{target!r}] must be 'result', 'result.<path>', 'snapshot' or 'snapshot.<path>', "
                f"got {source!r}"
            )
