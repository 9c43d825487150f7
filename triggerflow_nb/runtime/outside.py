"""Calls from outside a chunk that reach more than one part of the execution.

* An outside emit to an open execution that nobody started yet starts it, as ``start()``
  would (its clock, its managed environments, the auto-close timer once it is idle), without
  running the start chain: flows made only of ``when(...)`` branches are driven that way
  (``ex = flow.create_execution(); ex.emit("Ping", 1)``).
* A state write from outside with ``emit=True`` runs the ``when({"state": key})`` branches it
  triggers, as a chunk's write does; that run is an outside emit, with the same rules (refused
  unless open, and the first one starts the execution).

``Execution`` keeps the public methods; the work they share lives here, so that the handle
stays small (see tests/house/test_module_sizes.py).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from ..definition.graph import state_written_event
from ..observe import ExecutionStarted

if TYPE_CHECKING:
    from .host import FlowHost
    from .lifecycle import Lifecycle
    from .resource_host import ResourceHost
    from .state_store import StateStore
    from .walker import GraphWalker
    from .work import ExecutionWork

# What execution.start() does instead of what ``wait_for_result=`` asked (see ``ignore_wait_for_result``).
START_WAITS = ("start() returns the close snapshot once the execution has closed by itself (auto_close), "
               "else the execution once its work has settled")


class OutsideParts(Protocol):
    """What these calls reach of an execution (``Execution`` is the one implementation)."""

    id: str
    flow: FlowHost
    started_at: float | None
    _lifecycle: Lifecycle
    _resources: ResourceHost
    _state: StateStore
    _walker: GraphWalker
    _work: ExecutionWork


def start_by_emit(execution: OutsideParts) -> bool:
    """Start an open execution that nobody started, for the outside emit arriving now; True when
    managed environments must be mounted before the emit's branches run."""
    execution.flow.validate_runnable()
    lifecycle = execution._lifecycle
    execution.started_at = time.time()
    lifecycle.begin(False, close_when_idle=False)
    lifecycle.started_by_emit = True
    lifecycle.publish(ExecutionStarted(execution.id, None))
    return bool(execution._resources.requests)


def outside_emit(execution: OutsideParts, event: str, payload: Any) -> Coroutine[Any, Any, None]:
    """The work of an awaited outside emit (run it with ``ExecutionWork.root``); the first one starts
    the execution if nobody did (checked open by the caller)."""
    walker = execution._walker
    if execution._lifecycle.started or not start_by_emit(execution):
        return walker.awaited_emit(event, payload, ())
    lifecycle = execution._lifecycle
    return execution._resources.mount_then(lambda: lifecycle.finished, lambda: walker.awaited_emit(event, payload, ()))


def spawn_outside_emit(execution: OutsideParts, event: str, payload: Any) -> None:
    """``emit_nowait`` from outside, on a running loop: the first one starts the execution too."""
    if execution._lifecycle.started or not start_by_emit(execution):
        execution._walker.spawn_emit(event, payload, ())
        return
    work = _mount_then_dispatch(execution, event, payload)
    execution._work.spawn(work, work)


async def _mount_then_dispatch(execution: OutsideParts, event: str, payload: Any) -> None:
    """Detached work (see ``ExecutionWork.spawn``): mount the managed environments, then dispatch."""
    lifecycle = execution._lifecycle
    try:
        await execution._resources.mount(lambda: lifecycle.finished)
    except BaseException as exc:
        try:
            if not await execution._work.detached_failed(exc):
                raise
        finally:
            lifecycle.leave()
        return
    await execution._walker.detached_dispatch(event, payload, ())


def state_triggers(execution: OutsideParts, key: Any, emit: bool) -> bool:
    """Whether a write of ``key`` with ``emit`` runs ``when({"state": key})`` branches."""
    return bool(emit) and key.__class__ is str and state_written_event(key) in execution.flow.flow_graph.listeners


async def write_state(execution: OutsideParts, key: str, value: Any, emit: bool) -> None:
    """``set_state`` from outside a chunk: write, then run the branches it triggers and wait for them.

    A write that triggers nothing is allowed until the execution closes; one that triggers is an
    outside emit, checked before anything is written.
    """
    if not state_triggers(execution, key, emit):
        execution._state.apply("set", key, value, "from outside a chunk")
        return
    execution._lifecycle.require_open(
        f"set state {key!r} with emit=True, which runs its when({{'state': {key!r}}}) branches (pass emit=False "
        f"to only write it)")
    execution._state.apply("set", key, value, "from outside a chunk")
    await execution._work.root(outside_emit(execution, state_written_event(key), execution._state.get(key)))
