"""save(), load() and inspect_load() of an execution.

save() refuses to run while work is in flight: a snapshot is taken at a settled
point (idle, or waiting on interrupts), so the continuation frames in it are the
whole truth. load() validates everything before it touches the target, so a
refused snapshot leaves the target execution exactly as it was.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any

from ..errors import (
    FingerprintMismatchError, InvalidSnapshotError, LifecycleError, MissingResourceError, SaveError,
    SchemaVersionError, StateSerializationError,
)
from ..layers.state import to_state_dict, to_state_value
from ..runtime.interrupts import Interrupt
from ..runtime.walker import Activation
from .fingerprint import fingerprint
from .saved import SCHEMA_VERSION, SNAPSHOT_KIND, SavedExecution

if TYPE_CHECKING:
    from ..runtime.execution import TriggerFlowExecution
    from .schema import SnapshotModel


# -- save -------------------------------------------------------------------------------------------

def _json(value: Any, what: str) -> Any:
    try:
        return to_state_value(what, value)
    except StateSerializationError as exc:
        raise SaveError(
            f"cannot save: {what} is not JSON-compatible ({type(value).__module__}.{type(value).__qualname__}). "
            f"Values that wait in a paused path must be serializable; keep live objects in runtime_resources"
        ) from exc


def _frames(cont: tuple) -> list[list[Any]]:
    return [list(frame) for frame in cont]


def save_execution(execution: "TriggerFlowExecution") -> SavedExecution:
    if execution._inflight:
        raise SaveError(
            f"cannot save execution {execution.id} while it is running ({execution._inflight} piece(s) of work in "
            f"flight): save at a settled point, after start()/emit()/continue_with() has returned"
        )
    interrupts = [
        {
            "id": i.id, "type": i.type, "payload": _json(i.payload, f"the payload of interrupt {i.id!r}"),
            "resume_to": i.resume_to, "chunk": i.node_id,
            "input": _json(i.input, f"the input of paused chunk {i.node_id!r}") if i.status == "waiting" else None,
            "continuation": _frames(i.cont) if i.status == "waiting" else [],
            "status": i.status, "created_at": i.created_at, "resumed_at": i.resumed_at,
        }
        for i in execution._interrupts.values()
    ]
    activations = [
        {"id": a.id, "node": a.node_id, "keys": a.keys,
         "slots": [_json(v, f"a finished item of {a.node_id!r}") for v in a.slots],
         "remaining": a.remaining, "continuation": _frames(a.cont)}
        for a in execution._activations.values()
    ]
    joins = [
        {"node": node_id, "scope": scope, "seen": _json(seen, f"the events collected by join {node_id!r}")}
        for (node_id, scope), seen in execution._joins.items()
    ]
    return SavedExecution({
        "schema_version": SCHEMA_VERSION,
        "kind": SNAPSHOT_KIND,
        "execution_id": execution.id,
        "flow_name": execution.flow.name,
        "flow_fingerprint": fingerprint(execution.flow),
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
        "interrupts": interrupts,
        "resource_keys": execution._resources.keys(),
        "resources": execution._resources.describe(),
        "required_resource_keys": list(execution.flow._resource_requirements),
        "environments": [dict(r) for r in execution._environment_requests()],
        "continuation": {
            "activations": activations,
            "activation_counter": execution._activation_counter,
            "joins": joins,
            "node_status": dict(execution._node_status),
        },
    })


# -- validation (no side effects) ---------------------------------------------------------------------

def validate_snapshot(execution: "TriggerFlowExecution", saved: Any) -> SnapshotModel:
    """Check a snapshot against the schema and this execution's flow; raise a typed error if refused."""
    if not isinstance(saved, dict):
        raise InvalidSnapshotError(
            f"load() takes the dict that execution.save() returned (or load_from_file(path)), got {type(saved).__name__}"
        )
    version = saved.get("schema_version")
    if version is None:
        raise InvalidSnapshotError("not a saved execution: it has no 'schema_version' key")
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"snapshot schema version {version!r} is not readable by this triggerflow_nb, which reads version "
            f"{SCHEMA_VERSION}; save it again with a matching version of the package"
        )
    from pydantic import ValidationError

    from .schema import SnapshotModel

    try:
        model = SnapshotModel.model_validate(saved)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:10])
        raise InvalidSnapshotError(f"corrupt snapshot: {problems}") from None
    if model.flow_name != execution.flow.name or model.flow_fingerprint != fingerprint(execution.flow):
        raise FingerprintMismatchError(
            f"snapshot of flow {model.flow_name!r} (definition {model.flow_fingerprint[:19]}) does not match "
            f"this execution's flow {execution.flow.name!r} (definition {fingerprint(execution.flow)[:19]}): load "
            f"it into an execution of the same flow definition (same name, chunks and wiring)"
        )
    try:  # a snapshot built in memory (not read from JSON) could still hold live objects
        # to_state_value rebuilds containers, so the model now owns a private copy of the state.
        model.state = to_state_dict(model.state)
    except StateSerializationError as exc:
        raise InvalidSnapshotError(f"corrupt snapshot: {exc}") from None
    _check_frames(execution, model)
    return model


def _check_frames(execution: "TriggerFlowExecution", model: SnapshotModel) -> None:
    nodes = execution.flow._graph.nodes
    frame_lists = [i.continuation for i in model.interrupts] + [a.continuation for a in model.continuation.activations]
    for frames in frame_lists:
        for frame in frames:
            ok = (len(frame) == 3 and frame[0] == "then" and frame[1] in nodes and isinstance(frame[2], int)
                  and 0 <= frame[2] < len(nodes[frame[1]].branches)) or (
                len(frame) == 3 and frame[0] == "slot" and isinstance(frame[1], str) and isinstance(frame[2], int))
            if not ok:
                raise InvalidSnapshotError(f"corrupt snapshot: continuation frame {frame!r} refers to nothing")
    for interrupt in model.interrupts:
        if interrupt.chunk not in nodes:
            raise InvalidSnapshotError(f"corrupt snapshot: interrupt {interrupt.id!r} names unknown chunk {interrupt.chunk!r}")


def _missing_keys(execution: "TriggerFlowExecution", model: SnapshotModel,
                  runtime_resources: dict[str, Any] | None) -> list[str]:
    needed = [k for k, d in model.resources.items() if not d.managed]
    for key in model.required_resource_keys + execution.flow._resource_requirements:
        if key not in needed:
            needed.append(key)
    provided = runtime_resources or {}
    return [k for k in needed if k not in provided and k not in execution._resources]


# -- inspect_load ---------------------------------------------------------------------------------------

def inspect_load(execution: "TriggerFlowExecution", saved: Any, runtime_resources: dict[str, Any] | None) -> dict[str, Any]:
    """What load() would do, without doing it: ready, missing_resource_keys, diagnostics."""
    diagnostics: list[str] = []
    try:
        model = validate_snapshot(execution, saved)
    except Exception as exc:  # every refusal becomes a diagnostic here
        return {"ready": False, "missing_resource_keys": [], "diagnostics": [f"{type(exc).__name__}: {exc}"]}
    missing = _missing_keys(execution, model, runtime_resources)
    if missing:
        diagnostics.append(f"missing runtime resources {missing}: pass them to load(saved, runtime_resources={{...}})")
    if execution._started:
        diagnostics.append("the target execution was already started: load into a fresh create_execution()")
    pending = [i.id for i in model.interrupts if i.status == "waiting"]
    if pending:
        diagnostics.append(f"pending interrupts after load: {pending} (resume with continue_with)")
    for env in model.environments:
        diagnostics.append(f"managed resource {env.key!r} ({env.kind}) will be re-ensured by the environment manager")
    return {"ready": not missing and not execution._started, "missing_resource_keys": missing,
            "diagnostics": diagnostics}


# -- load ------------------------------------------------------------------------------------------------

async def load_execution(execution: "TriggerFlowExecution", saved: Any, runtime_resources: dict[str, Any] | None,
                         prompt: bool | None) -> "TriggerFlowExecution":
    if execution._started or execution._state or execution._lifecycle != "open":
        raise LifecycleError(
            f"load() needs a fresh execution: execution {execution.id} was already started or loaded; "
            f"create one with flow.create_execution(auto_close=False)"
        )
    if runtime_resources is not None and not isinstance(runtime_resources, dict):
        raise TypeError(f"runtime_resources must be a dict of name -> live object, got {type(runtime_resources).__name__}")
    model = validate_snapshot(execution, saved)
    missing = _missing_keys(execution, model, runtime_resources)
    if missing:
        if prompt is not False and _can_prompt():
            descriptions = {k: (model.resources[k].model_dump() if k in model.resources
                                else {"type": "unknown", "level": "execution", "managed": False}) for k in missing}

            def finish(injected: dict[str, Any]) -> None:
                _apply(execution, model, {**(runtime_resources or {}), **injected})
                asyncio.get_event_loop().create_task(_after_apply(execution, model))

            from ..notebook.reinject import show_reinjection_prompt

            show_reinjection_prompt(execution, descriptions, finish)
            return execution
        raise MissingResourceError(missing, sorted(set(execution._resources.keys()) | set(runtime_resources or {})),
                                   f"to load the snapshot of execution {model.execution_id}")
    _apply(execution, model, runtime_resources or {})
    await _after_apply(execution, model)
    return execution


def _can_prompt() -> bool:
    """True inside a Jupyter kernel; never imports IPython just to find out."""
    if "IPython" not in sys.modules:
        return False
    from ..notebook.env import in_notebook

    return in_notebook()


def _apply(execution: "TriggerFlowExecution", model: SnapshotModel, resources: dict[str, Any]) -> None:
    """Move the validated snapshot into the execution (nothing here can fail half-way)."""
    for key, value in resources.items():
        execution._resources.set(key, value)
    execution.loaded_from = model.execution_id
    execution._state = model.state  # already a private copy (see validate_snapshot)
    execution._started = model.started
    execution.created_at = model.created_at
    execution.started_at = model.started_at
    execution._status = model.status
    execution._interrupts = {
        i.id: Interrupt(i.id, i.type, i.payload, i.resume_to, i.chunk, i.input,
                        tuple(tuple(f) for f in i.continuation), i.status, i.created_at, i.resumed_at)
        for i in model.interrupts
    }
    cont = model.continuation
    execution._activations = {}
    for a in cont.activations:
        activation = Activation(a.id, a.node, a.keys, len(a.slots), tuple(tuple(f) for f in a.continuation))
        activation.slots = list(a.slots)
        activation.remaining = a.remaining
        activation.awaiting = False  # no fan-out step awaits it in this process: resumed items finish it
        execution._activations[a.id] = activation
    execution._activation_counter = cont.activation_counter
    execution._joins = {(j.node, j.scope): dict(j.seen) for j in cont.joins}
    execution._node_status = dict(cont.node_status)
    execution._environments = [e.model_dump() for e in model.environments] or execution._environments
    if model.lifecycle_state != "open":
        execution._lifecycle = model.lifecycle_state
    if model.lifecycle_state == "closed":
        execution._finished = True
        execution._close_reason = model.close_reason
        execution.closed_at = model.closed_at
        execution._stream.close()


async def _after_apply(execution: "TriggerFlowExecution", model: SnapshotModel) -> None:
    """The parts of loading that need the event loop: managed resources and the auto-close timer."""
    if execution._finished:
        return
    await execution._mount_environments()
    if execution._started:
        execution._schedule_auto_close()
