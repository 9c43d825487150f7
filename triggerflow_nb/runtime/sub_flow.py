"""A sub-flow step: the child execution's lifecycle, and its bridging rules (contract, section 9).

``capture`` chooses what the child starts with; ``write_back`` maps what the child
produced back into the parent. Both were checked when the step was defined
(``definition.sub_flow_bridge``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from ..definition.graph import Node
from ..errors import ChunkError, LifecycleError
from ..layers.resources import RuntimeResources
from ..layers.state import FINAL_RESULT_KEY, copy_state_value
from ..observe import ChunkFinished, ChunkStarted
from .frames import Frames
from .status import CANCELLED, DONE, RUNNING

if TYPE_CHECKING:
    from .host import FlowHost
    from .walker_view import WalkerView

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


async def run_sub_flow(walker: WalkerView, node: Node, value: Any, frames: Frames) -> Any:
    """Run the child flow to its close; its write_back goes into the parent's state, and
    ``when(<sub-flow step>)`` fires like a chunk's."""
    if walker.inline:  # the child's chunks are user code too (see GraphWalker._start_inline)
        await asyncio.sleep(0)
    node_status = walker.walk_state.node_status
    channel = walker.channel
    node_status[node.id] = RUNNING
    if channel.active:
        channel.publish(ChunkStarted(walker.execution_id, node.id))
    child = None
    try:
        # Inside the try: a capture that fails (a missing resource) fails this step by name.
        child_flow = cast("FlowHost", node.sub_flow)
        child = child_flow.create_execution(
            auto_close=False, runtime_resources=child_resources(node.capture, walker.resources.resources))
        child._lifecycle.stream.parent = walker.port.stream
        await child.run(child_input(node.capture, value, walker.port.state.values), until="settled")
        if child._interrupts.pending():
            await child.async_close(pending_interrupts="cancel")
            raise LifecycleError(
                f"sub-flow {child.flow.name!r} paused; pause_for inside a sub-flow is not supported "
                f"yet: pause in the parent flow before or after the to_sub_flow() step"
            )
        snapshot = await child.async_close()
        next_value, updates = apply_write_back(node.write_back, snapshot)
    except asyncio.CancelledError:
        # This step was cancelled (a sibling failed, a close timed out): the child it owns
        # goes with it, so none of the child's tasks outlive the step.
        node_status[node.id] = CANCELLED
        if child is not None:
            await child._lifecycle.finish(CANCELLED, f"its parent step {node.id!r} was cancelled")
        raise
    except Exception as exc:
        walker.chunk_failed(node.id, exc)
        raise ChunkError(node.id, exc) from exc
    for key, item in updates.items():
        await walker.port.async_write_state("set", key, item, True, f"in sub-flow step {node.id!r}", ())
    walker.walk_state.node_status[node.id] = DONE
    if channel.active:
        channel.publish(ChunkFinished(walker.execution_id, node.id))
    listeners = walker.graph.listeners
    if listeners and node.done_event in listeners:  # when(<sub-flow step>) fires like a chunk's
        await walker.dispatch_event(node.done_event, next_value, frames)
    return next_value
