"""Capturing an execution into an ``ExecutionSnapshot`` and restoring one into a fresh execution.

A short assembler: each part captures and restores its own slice (see ``snapshot``).
``capture`` refuses to run while work is in flight: a snapshot is taken at a settled
point (idle, or waiting on interrupts), so its continuation frames are the whole
truth. ``restore`` trusts its input: call it only with a snapshot that passed
``persistence`` validation (shape, version, fingerprint, consistency).
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import LifecycleError, SaveError
from .execution import Execution
from .snapshot import SCHEMA_VERSION, SNAPSHOT_KIND, ExecutionSnapshot, error_text


def capture(execution: Execution, history: bool = True) -> ExecutionSnapshot:
    """The execution as one JSON-compatible value; refused while work is in flight. ``history=False``
    leaves its step history out."""
    lifecycle = execution._lifecycle
    if lifecycle.inflight:
        raise SaveError(
            f"cannot save execution {execution.id} while it is running ({lifecycle.inflight} piece(s) of work in "
            f"flight): save at a settled point, after start()/emit()/continue_with() has returned"
        )
    flow = execution.flow
    resource_keys, resources, environments = execution._resources.capture()
    snapshot: ExecutionSnapshot = {
        "schema_version": SCHEMA_VERSION,
        "kind": SNAPSHOT_KIND,
        "execution_id": execution.id,
        "flow_name": flow.name,
        "flow_fingerprint": flow.flow_graph.fingerprint(),
        "status": lifecycle.current_status(),
        "lifecycle_state": lifecycle.state,
        "started": lifecycle.started,
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "closed_at": lifecycle.closed_at,
        "saved_at": time.time(),
        "close_reason": lifecycle.close_reason,
        "error": error_text(lifecycle.error),
        "state": execution._state.capture(),
        "interrupts": execution._interrupts.capture(),
        "resource_keys": resource_keys,
        "resources": resources,
        "required_resource_keys": list(flow.resource_requirements),
        "environments": environments,
        "continuation": execution._walk_state.capture(),
    }
    if history and execution._history is not None:
        snapshot["history"] = execution._history.capture()  # type: ignore[typeddict-item]  # its JSON shape
    return snapshot


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
    execution._resources.restore(resources, snapshot["environments"])
    execution.loaded_from = snapshot["execution_id"]
    execution._state.restore(snapshot["state"])  # the validator's private copy
    execution.created_at = snapshot["created_at"]
    execution.started_at = snapshot["started_at"]
    execution._interrupts.restore(snapshot["interrupts"])
    execution._walk_state.restore(snapshot["continuation"])
    execution._lifecycle.restore(snapshot["started"], snapshot["status"], snapshot["lifecycle_state"],
                                 snapshot["close_reason"], snapshot["closed_at"])
    if "history" in snapshot and execution._history is not None:  # an execution without history keeps none
        execution._history.restore(snapshot["history"])  # type: ignore[arg-type]  # its JSON shape


