"""An execution as one plain value: capture it, restore it.

The runtime owns this conversion; it is the only code that knows continuations,
activations and joins. Persistence receives an ``ExecutionSnapshot`` (a JSON-compatible
dict of the shape below, written down once), validates it and stores it; it never
touches an execution's insides.

``capture`` refuses to run while work is in flight: a snapshot is taken at a settled
point (idle, or waiting on interrupts), so its continuation frames are the whole
truth. ``restore`` trusts its input: call it only with a snapshot that passed
``persistence`` validation (shape, version, fingerprint, consistency).
"""

from __future__ import annotations

import time
from typing import Any, Final, Literal, NotRequired, Optional, Union, cast

from typing_extensions import TypedDict

from ..errors import LifecycleError, SaveError, StateSerializationError
from ..layers.state import to_state_value
from .activation import Activation
from .execution import Execution
from .frames import Frames
from .interrupts import Interrupt
from .status import CLOSED, OPEN, WAITING, ExecutionStatus, InterruptStatus, LifecycleState, NodeStatus

SCHEMA_VERSION: Final = 2  # 2: the fingerprint is taken from the graph's one description (describe())
SNAPSHOT_KIND: Final = "triggerflow_nb.execution"

# A frame as saved: [kind, id, index] (JSON has no tuples). See runtime/frames.py.
SavedFrame = list[Union[str, int]]

# Extra keys are refused when persistence validates a snapshot (pydantic reads this).
_CLOSED_SHAPE = {"extra": "forbid", "strict": True, "allow_inf_nan": False}


class InterruptRecord(TypedDict):
    id: str
    type: str
    payload: Any
    resume_to: Union[Literal["next", "self"], dict[str, str]]
    chunk: str
    input: Any  # the paused chunk's input (for resume_to="self"); None once resumed
    continuation: list[SavedFrame]  # empty once resumed
    status: InterruptStatus
    created_at: float
    resumed_at: Optional[float]


class ActivationRecord(TypedDict):
    """A batch, for_each or hit_all match in progress: its finished slots and how many are still out."""

    id: str
    node: str
    keys: Optional[list[str]]  # batch branch names; None for a for_each or a match
    slots: list[Any]
    remaining: int
    continuation: list[SavedFrame]
    arms: NotRequired[list[int]]  # hit_all match only: the case (arm index) each slot runs


class JoinRecord(TypedDict):
    """An and-join that has seen some of its events, or a collect some of its branches (in one fan-out
    scope; ``seen`` is then branch id -> value)."""

    node: str
    scope: str
    seen: dict[str, Any]


class ResourceRecord(TypedDict):
    type: str
    level: Literal["flow", "execution", "managed"]
    managed: bool


class EnvironmentRequest(TypedDict):
    kind: str
    key: str
    config: dict[str, Any]


class ContinuationRecord(TypedDict):
    """What is needed to continue the graph: open fan-outs, partial joins, node progress."""

    activations: list[ActivationRecord]
    activation_counter: int
    joins: list[JoinRecord]
    node_status: dict[str, NodeStatus]


class ExecutionSnapshot(TypedDict):
    schema_version: Literal[2]
    kind: Literal["triggerflow_nb.execution"]
    execution_id: str
    flow_name: str
    flow_fingerprint: str
    status: ExecutionStatus
    lifecycle_state: LifecycleState
    started: bool
    created_at: float
    started_at: Optional[float]
    closed_at: Optional[float]
    saved_at: float
    close_reason: Optional[str]
    error: Optional[str]
    state: dict[str, Any]
    interrupts: list[InterruptRecord]
    resource_keys: list[str]
    resources: dict[str, ResourceRecord]
    required_resource_keys: list[str]
    environments: list[EnvironmentRequest]
    continuation: ContinuationRecord


SNAPSHOT_SHAPES: tuple[type, ...] = (
    InterruptRecord, ActivationRecord, JoinRecord, ResourceRecord, EnvironmentRequest, ContinuationRecord,
    ExecutionSnapshot,
)
for _shape in SNAPSHOT_SHAPES:
    _shape.__pydantic_config__ = _CLOSED_SHAPE  # type: ignore[attr-defined]


# -- capture ------------------------------------------------------------------------------------------

def _json(value: Any, what: str) -> Any:
    try:
        return to_state_value(what, value)
    except StateSerializationError as exc:
        raise SaveError(
            f"cannot save: {what} is not JSON-compatible ({type(value).__module__}.{type(value).__qualname__}). "
            f"Values that wait in a paused path must be serializable; keep live objects in runtime_resources"
        ) from exc


def _saved_frames(frames: Frames) -> list[SavedFrame]:
    return [list(frame) for frame in frames]


def _interrupt_record(interrupt: Interrupt) -> InterruptRecord:
    waiting = interrupt.status == WAITING
    return {
        "id": interrupt.id, "type": interrupt.type,
        "payload": _json(interrupt.payload, f"the payload of interrupt {interrupt.id!r}"),
        "resume_to": _json(interrupt.resume_to, f"the resume target of interrupt {interrupt.id!r}"),
        "chunk": interrupt.node_id,
        "input": _json(interrupt.input, f"the input of paused chunk {interrupt.node_id!r}") if waiting else None,
        "continuation": _saved_frames(interrupt.frames) if waiting else [],
        "status": interrupt.status, "created_at": interrupt.created_at, "resumed_at": interrupt.resumed_at,
    }


def _activation_record(activation: Activation) -> ActivationRecord:
    record: ActivationRecord = {
        "id": activation.id, "node": activation.node_id, "keys": activation.keys,
        "slots": [_json(v, f"a finished item of {activation.node_id!r}") for v in activation.slots],
        "remaining": activation.remaining, "continuation": _saved_frames(activation.frames),
    }
    if activation.arms is not None:
        record["arms"] = list(activation.arms)
    return record


def capture(execution: Execution) -> ExecutionSnapshot:
    """The execution as one JSON-compatible value; refused while work is in flight."""
    if execution._inflight:
        raise SaveError(
            f"cannot save execution {execution.id} while it is running ({execution._inflight} piece(s) of work in "
            f"flight): save at a settled point, after start()/emit()/continue_with() has returned"
        )
    flow = execution.flow
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": SNAPSHOT_KIND,
        "execution_id": execution.id,
        "flow_name": flow.name,
        "flow_fingerprint": flow._graph.fingerprint(),
        "status": execution.status,
        "lifecycle_state": execution.lifecycle_state,
        "started": execution._started,
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "closed_at": execution.closed_at,
        "saved_at": time.time(),
        "close_reason": execution._close_reason,
        "error": None if execution._error is None else f"{type(execution._error).__name__}: {execution._error}",
        "state": execution.result.get_state(),
        "interrupts": [_interrupt_record(i) for i in execution._interrupts.values()],
        "resource_keys": execution._resources.keys(),
        "resources": cast(dict[str, ResourceRecord], execution._resources.describe()),
        "required_resource_keys": list(flow._resource_requirements),
        "environments": [
            {"kind": r["kind"], "key": r["key"], "config": dict(r["config"])} for r in execution._environments
        ],
        "continuation": {
            "activations": [_activation_record(a) for a in execution._activations.values()],
            "activation_counter": execution._activation_counter,
            "joins": [
                {"node": node_id, "scope": scope, "seen": _json(seen, f"what join {node_id!r} has collected")}
                for (node_id, scope), seen in execution._joins.items()
            ],
            "node_status": dict(execution._node_status),
        },
    }


# -- restore ------------------------------------------------------------------------------------------

def _frames(saved: list[SavedFrame]) -> Frames:
    return tuple((str(f[0]), str(f[1]), int(f[2])) for f in saved)


def require_fresh(execution: Execution) -> None:
    if not execution.is_fresh():
        raise LifecycleError(
            f"load() needs a fresh execution: execution {execution.id} was already started or loaded; "
            f"create one with flow.create_execution(auto_close=False)"
        )


def restore(execution: Execution, snapshot: ExecutionSnapshot, resources: dict[str, Any]) -> None:
    """Move a validated snapshot into a fresh execution. Nothing here can fail half-way:
    every check happened before (``persistence`` validation and ``require_fresh``).
    """
    require_fresh(execution)
    for key, value in resources.items():
        execution._resources.set(key, value)
    execution.loaded_from = snapshot["execution_id"]
    execution._state = snapshot["state"]  # the validator's private copy
    execution._started = snapshot["started"]
    execution.created_at = snapshot["created_at"]
    execution.started_at = snapshot["started_at"]
    execution._status = snapshot["status"]
    execution._interrupts = {
        i["id"]: Interrupt(i["id"], i["type"], i["payload"], i["resume_to"], i["chunk"], i["input"],
                           _frames(i["continuation"]), i["status"], i["created_at"], i["resumed_at"])
        for i in snapshot["interrupts"]
    }
    continuation = snapshot["continuation"]
    execution._activations = {}
    for a in continuation["activations"]:
        activation = Activation(a["id"], a["node"], a["keys"], len(a["slots"]), _frames(a["continuation"]),
                                a.get("arms"))
        activation.slots = list(a["slots"])
        activation.remaining = a["remaining"]
        activation.awaiting = False  # no fan-out step awaits it in this process: resumed items finish it
        execution._activations[a["id"]] = activation
    execution._activation_counter = continuation["activation_counter"]
    execution._joins = {(j["node"], j["scope"]): dict(j["seen"]) for j in continuation["joins"]}
    execution._node_status = dict(continuation["node_status"])
    if snapshot["environments"]:
        execution._environments = [dict(e) for e in snapshot["environments"]]
    if snapshot["lifecycle_state"] != OPEN:
        execution._lifecycle = snapshot["lifecycle_state"]
    if snapshot["lifecycle_state"] == CLOSED:
        execution._finished = True
        execution._announced = True  # closed in the run it was saved from: nothing left to wait for
        execution._close_reason = snapshot["close_reason"]
        execution.closed_at = snapshot["closed_at"]
        execution._stream.close()
