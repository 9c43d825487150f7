"""A flow config's operators, checked for shape before anything is read from them.

Whatever a config holds that is not an operator list of the expected shape, or that names
an operator kind with no equivalent here, is refused here with an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..definition.graph import BATCH, CHUNK, COLLECT_BRANCH, EVENT, FOR_EACH, MATCH, SUB_FLOW
from ..errors import FlowConfigError
from . import flow_config_format as fmt
from .flow_config_format import SignalKey

MAX_OPERATORS = 100_000  # in one config, sub-flows included: more is refused, not read
MAX_DEPTH = 32  # sub-flows inside sub-flows

# Operators that make a node here (a signal gate may become a side branch, a router an if block).
NODE_KINDS = {"chunk": CHUNK, "signal_gate": EVENT, "match_route": MATCH, "batch_fanout": BATCH,
              "for_each_split": FOR_EACH, "collect_branch": COLLECT_BRANCH, "sub_flow": SUB_FLOW}
# Operators that close a block: the signals they listen to end its arms.
COLLECTORS = ("match_collect", "batch_collect", "for_each_collect")
REFUSED = {
    "intervention_point": "an intervention point (planned interventions), which has no equivalent here",
    "result_sink": "the result sink of the deprecated end(), which has no equivalent here: write the result to "
                   "state in a chunk of your own (data.set_state(...))",
}

Fail = Callable[[str], FlowConfigError]


@dataclass
class Operator:
    id: str
    kind: str
    name: str | None
    listen: list[SignalKey]
    emit: list[tuple[SignalKey, str | None]]  # (signal, role)
    options: dict[str, Any]
    handler_ref: Any

    @property
    def out(self) -> SignalKey:
        """What the operator's value goes on with: its first emitted signal that is not a declaration
        (there is one: ``parse_operators`` checks it)."""
        return next(key for key, role in self.emit if role != fmt.DECLARED_EMIT)

    def hint(self, field: str) -> Any:
        """A field of what our exports recorded on this operator (see ``flow_config_format``), or None."""
        hint = self.options.get(fmt.HINT)
        return hint.get(field) if isinstance(hint, dict) else None


def parse_operators(config: Any, fail: Fail, depth: int, budget: list[int]) -> list[Operator]:
    """The operators of ``config``, checked; ``budget`` is [operators left to read, the limit]."""
    if not isinstance(config, dict):
        raise FlowConfigError(f"a flow config is a mapping (from get_flow_config()), got {type(config).__name__}")
    if config.get("version") != fmt.FLOW_CONFIG_VERSION:
        raise fail(f"version {config.get('version')!r} is not read here; expected {fmt.FLOW_CONFIG_VERSION!r}")
    if depth > MAX_DEPTH:
        raise fail(f"sub-flows are nested more than {MAX_DEPTH} deep")
    for field in ("meta", "contract"):  # descriptions there (a loaded contract checks nothing there): not kept
        if not isinstance(config.get(field, {}), dict):
            raise fail(f"{field!r} must be a mapping, got {type(config[field]).__name__}")
    operators = config.get("operators", [])
    if not isinstance(operators, list):
        raise fail(f"'operators' must be a list, got {type(operators).__name__}")
    budget[0] -= len(operators)
    if budget[0] < 0:
        raise fail(f"more than {budget[1]} operators (sub-flows included)")
    ops: list[Operator] = []
    seen: set[str] = set()
    for raw in operators:
        op = _operator(raw, fail)
        if op.id in seen:
            raise fail(f"two operators have the id {op.id!r}")
        seen.add(op.id)
        ops.append(op)
    return ops


def _operator(raw: Any, fail: Fail) -> Operator:
    if not isinstance(raw, dict):
        raise fail(f"an operator must be a mapping, got {type(raw).__name__}")
    op_id, kind, name = raw.get("id"), raw.get("kind"), raw.get("name")
    if not isinstance(op_id, str) or not op_id or not isinstance(kind, str):
        raise fail(f"an operator needs a non-empty string 'id' and a string 'kind', got id={op_id!r}, kind={kind!r}")
    if kind in REFUSED:
        raise fail(f"operator {op_id!r} is {REFUSED[kind]}")
    if kind not in NODE_KINDS and kind not in COLLECTORS and kind != "match_case":
        raise fail(f"operator {op_id!r} has kind {kind!r}, which is not an operator kind read here")
    options = raw.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict) or not (name is None or isinstance(name, str)):
        raise fail(f"operator {op_id!r}: 'options' must be a mapping and 'name' a string")
    listen = list(dict.fromkeys(signal(s, op_id, fail)[0] for s in _signals(raw, "listen_signals", op_id, fail)))
    emit = [signal(s, op_id, fail) for s in _signals(raw, "emit_signals", op_id, fail)]
    if all(role == fmt.DECLARED_EMIT for _key, role in emit):
        raise fail(f"operator {op_id!r} ({kind}) emits no signal to go on with")
    return Operator(op_id, kind, name, listen, emit, options, raw.get("handler_ref"))


def _signals(raw: dict[str, Any], field: str, op_id: str, fail: Fail) -> list[Any]:
    value = raw.get(field, [])
    if not isinstance(value, list):
        raise fail(f"operator {op_id!r}: {field!r} must be a list, got {type(value).__name__}")
    return value


def signal(raw: Any, op_id: str, fail: Fail) -> tuple[SignalKey, str | None]:
    """A signal of operator ``op_id`` as (its key, its role)."""
    if (not isinstance(raw, dict) or raw.get("trigger_type") not in fmt.TRIGGER_TYPES
            or not isinstance(raw.get("trigger_event"), str) or not raw["trigger_event"]):
        raise fail(f"operator {op_id!r}: a signal needs a 'trigger_type' among {fmt.TRIGGER_TYPES} and a "
                   f"non-empty 'trigger_event', got {raw!r}")
    role = raw.get("role")
    return (raw["trigger_type"], raw["trigger_event"]), role if isinstance(role, str) else None
