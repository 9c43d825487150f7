"""Retrying the chunk whose failure ended an execution, in place (``execution.retry()``).

The state goes back to what it was before that chunk (its own writes undone through the
journal its ``data`` kept, see ``StateStore.apply``), the lifecycle reopens, the
interrupts the failure's close cancelled wait again, and the chunk runs with the same
input at the same point of the graph, with the handler registered now.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from ..errors import FlowDefinitionError, InvalidArgumentError, LifecycleError
from ..observe import Channel, ExecutionReplaced
from .frames import SLOT, Frames
from .host import FlowHost
from .lifecycle import Lifecycle
from .resource_host import ResourceHost
from .state_store import StateStore
from .status import FAILED
from .walk_state import WalkState
from .walker import GraphWalker
from .work import ExecutionWork


def retryable(lifecycle: Lifecycle, walk_state: WalkState) -> str | None:
    """The chunk retry() would run again now, or None."""
    data = walk_state.failed_chunk
    if lifecycle.status != FAILED or data is None or not lifecycle.announced:
        return None
    return None if any(frame[0] == SLOT for frame in data._frames) else data._node.id


async def retry_failed_chunk(chunk: str | None, *, execution_id: str, flow: FlowHost, lifecycle: Lifecycle,
                             walk_state: WalkState, state: StateStore, walker: GraphWalker, work: ExecutionWork,
                             resources: ResourceHost, channel: Channel) -> None:
    """Reopen the execution and run its failed chunk again, up to where its path settles."""
    data = walk_state.failed_chunk
    if lifecycle.status != FAILED or data is None or not lifecycle.announced:
        raise LifecycleError(
            f"retry() re-runs the chunk whose failure ended an execution; execution {execution_id} is "
            f"{lifecycle.state}, {lifecycle.current_status()}" + (
                "" if lifecycle.status != FAILED else " and did not fail in a chunk (a predicate or a release failed)")
        )
    node_id = data._node.id
    if chunk is not None and chunk != node_id:
        raise InvalidArgumentError(f"chunk {chunk!r} did not fail in execution {execution_id}: retry({node_id!r}) "
                                   f"(or retry()) re-runs the one that did")
    if any(frame[0] == SLOT for frame in data._frames):
        raise LifecycleError(
            f"chunk {node_id!r} failed inside a batch or for_each, whose other items were cancelled with it; "
            f"retry() cannot rebuild them: start a new execution"
        )
    flow.validate_runnable()
    require_wired(walker, flow.name, node_id, data._frames, f"chunk {node_id!r} failed", "the failure", "retry()",
                  "the execution stays as it failed")
    state.undo(data._undo or {})
    lifecycle.reopen()
    walk_state.forget_failures()
    if channel.active:  # state and statuses changed as a whole: every panel redraws
        channel.publish(ExecutionReplaced(execution_id, "retry"))
    def path() -> Coroutine[Any, Any, None]:
        return walker.walk(node_id, data.input, data._frames, resume=data.resume)

    await work.root(resources.mount_then(lambda: lifecycle.finished, path) if resources.requests else path())
    if lifecycle.error is not None:
        raise lifecycle.error


def require_wired(walker: GraphWalker, flow_name: str, node_id: str, frames: Frames, what: str, since: str,
                  call: str, kept: str) -> None:
    """Refuse to go on from ``node_id`` if the graph no longer has what that path goes on through."""
    gap = walker.continuation_gap(node_id, frames)
    if gap is not None:
        raise FlowDefinitionError(
            f"{what}, and flow {flow_name!r} no longer has {gap} it goes on through (its wiring changed "
            f"since {since}): wire it back and call {call} again; {kept}"
        )
