"""The flow-config format of the other TriggerFlow (Agently's, ``"version": "trigger_flow/v1"``):
the facts both directions of the conversion share.

A flow config is a list of *operators* wired by *signals*, not nodes and edges: every
operator listens to signals and emits signals, and a signal is a ``trigger_type``
(``"event"``, ``"runtime_data"`` or ``"flow_data"``) plus a ``trigger_event`` name. The
flow starts by emitting the event ``START``; a chunk operator emits its *continuation*
signal with its return value, and whatever listens to that signal runs next. A block is
several operators: a router or splitter that emits one signal per arm, and a collector
that listens to each arm's last signal and emits the block's continuation.

Where the format cannot tell two of our constructs apart (an if block and a hit_first
match, a side branch and an event listener, a capture that leaves the input implicit), our
exports add ``options["triggerflow_nb"]`` to that operator. The other side keeps and ignores
it; here it only ever picks between readings the operator's own fields allow, and is
ignored when they do not (a config edited by hand is read by its fields).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import FlowConfigError

FLOW_CONFIG_VERSION = "trigger_flow/v1"
START_EVENT = "START"
HINT = "triggerflow_nb"

EVENT = "event"
STATE = "runtime_data"  # their name for what this package calls state
FLOW_DATA = "flow_data"
TRIGGER_TYPES = (EVENT, STATE, FLOW_DATA)
CONTINUATION = "continuation"
DECLARED_EMIT = "declared_emit"  # a chunk's declaration of the events it emits: documentation there

# A name the other side accepts as one step of a sub-flow binding path (a state key, a resource name).
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SignalKey = tuple[str, str]  # (trigger_type, trigger_event): how the other side's runtime tells signals apart


def signal(trigger_type: str, event: str, role: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": f"{trigger_type}:{event}", "trigger_type": trigger_type, "trigger_event": event}
    if role is not None:
        entry["role"] = role
    return entry


def signal_id(key: SignalKey) -> str:
    return f"{key[0]}:{key[1]}"


def collect_event(name: str) -> str:
    """The event a collect emits when full: fixed by the other side (``when({"collect": name})`` listens to it)."""
    return f"Collect-{name}"


# -- sub-flow bridging rules -----------------------------------------------------------------------
#
# Ours (contract, section 9): capture {"input": "value" | "state.<key>", "resources": {child: "resources.<name>"}},
# write_back {"value": "result[.<path>]" | "snapshot[.<path>]", "state.<key>": ...}. Theirs name state
# "runtime_data" and nest bindings by scope: capture {"input": "value" | "runtime_data.<key>", "resources":
# {...}}, write_back {"value": "result[.<path>]", "runtime_data": {key: "result[.<path>]"}}.


def capture_out(capture: dict[str, Any] | None, step: str) -> dict[str, Any] | None:
    """Our capture in their terms. Theirs start the child with None unless ``input`` is bound, so it
    always is (ours default to the parent's value)."""
    if capture is None:
        return None
    source = capture.get("input", "value")
    theirs: dict[str, Any] = {"input": "value" if source == "value" else f"{STATE}.{_key(source[6:], step)}"}
    if "resources" in capture:
        theirs["resources"] = {_key(child, step): f"resources.{_key(parent[len('resources.'):], step)}"
                               for child, parent in capture["resources"].items()}
    return theirs


def capture_in(capture: Any, step: str) -> dict[str, Any] | None:
    """Their capture in our terms; what has no equivalent here is refused by name."""
    if capture is None:
        return None
    if not isinstance(capture, dict):
        raise FlowConfigError(f"sub-flow step {step!r}: capture must be a mapping, got {type(capture).__name__}")
    unknown = sorted(set(capture) - {"input", "resources"})
    if unknown:
        raise FlowConfigError(
            f"sub-flow step {step!r}: capture into {unknown} has no equivalent here (a child starts with its input "
            f"and forwarded resources only)")
    source = capture.get("input")
    if source is None:
        raise FlowConfigError(
            f"sub-flow step {step!r}: a capture without 'input' starts the child with None there, and here with "
            f"the parent's value; bind 'input' ('value' or 'runtime_data.<key>')")
    ours: dict[str, Any] = {"input": _capture_source(source, step)}
    if "resources" in capture:
        resources = capture["resources"]
        if not isinstance(resources, dict) or not all(
                isinstance(c, str) and _SEGMENT.match(c) and isinstance(p, str) and _single(p, "resources")
                for c, p in resources.items()):
            raise FlowConfigError(f"sub-flow step {step!r}: capture['resources'] must map child names to "
                                  f"'resources.<name>', got {resources!r}")
        ours["resources"] = dict(resources)
    return ours


def _capture_source(source: Any, step: str) -> str:
    if source == "value":
        return "value"
    if isinstance(source, str) and _single(source, STATE):
        return f"state.{source[len(STATE) + 1:]}"
    raise FlowConfigError(
        f"sub-flow step {step!r}: capture input {source!r} has no equivalent here; use 'value' or "
        f"'runtime_data.<key>'")


def write_back_out(write_back: dict[str, Any] | None, step: str) -> dict[str, Any] | None:
    if write_back is None:
        return None
    if "value" not in write_back:
        raise FlowConfigError(
            f"sub-flow step {step!r}: a write_back without a 'value' target hands the child's snapshot on here, "
            f"and the parent's own value there; add 'value': 'result' (or the path you want)")
    theirs: dict[str, Any] = {}
    state: dict[str, str] = {}
    for target, source in write_back.items():
        if source.split(".", 1)[0] != "result":
            raise FlowConfigError(
                f"sub-flow step {step!r}: write_back source {source!r} has no equivalent there; use 'result' or "
                f"'result.<path>' (the child's final result, else its snapshot)")
        _path(source, step)
        if target == "value":
            theirs["value"] = source
        else:
            state[_key(target[len("state."):], step)] = source
    if state:
        theirs[STATE] = state
    return theirs


def write_back_in(write_back: Any, step: str) -> dict[str, Any] | None:
    if write_back is None:
        return None
    if not isinstance(write_back, dict):
        raise FlowConfigError(f"sub-flow step {step!r}: write_back must be a mapping, got {type(write_back).__name__}")
    unknown = sorted(set(write_back) - {"value", STATE})
    if unknown:
        raise FlowConfigError(f"sub-flow step {step!r}: write_back into {unknown} has no equivalent here")
    if not isinstance(write_back.get("value"), str):
        raise FlowConfigError(
            f"sub-flow step {step!r}: a write_back without a 'value' binding keeps the parent's value there, and "
            f"hands the child's snapshot on here; bind 'value' ('result' or 'result.<path>')")
    ours: dict[str, Any] = {"value": _path(write_back["value"], step)}
    state = write_back.get(STATE, {})
    if not isinstance(state, dict):
        raise FlowConfigError(f"sub-flow step {step!r}: write_back[{STATE!r}] must map keys to 'result' paths")
    for key, source in state.items():
        if not isinstance(key, str) or not _SEGMENT.match(key) or not isinstance(source, str):
            raise FlowConfigError(f"sub-flow step {step!r}: write_back[{STATE!r}] entry {key!r}: {source!r} has no "
                                  f"equivalent here (a state key and a 'result' path)")
        ours[f"state.{key}"] = _path(source, step)
    return ours


def _path(source: Any, step: str) -> str:
    if isinstance(source, str) and (source == "result" or _single(source, "result", deep=True)):
        return source
    raise FlowConfigError(
        f"sub-flow step {step!r}: write_back source {source!r} cannot be read there: use 'result' or "
        f"'result.<name>.<name>...' (names of letters, digits and _, not starting with a digit)")


def _single(path: str, scope: str, *, deep: bool = False) -> bool:
    """``path`` is ``scope.<name>`` (``deep``: ``scope.<name>.<name>...``) with names the other side accepts."""
    head, _, rest = path.partition(".")
    parts = rest.split(".")
    return head == scope and bool(rest) and (deep or len(parts) == 1) and all(_SEGMENT.match(p) for p in parts)


def _key(key: str, step: str) -> str:
    if not _SEGMENT.match(key):
        raise FlowConfigError(
            f"sub-flow step {step!r}: the name {key!r} cannot be bound there (letters, digits and _ only, "
            f"not starting with a digit)")
    return key
