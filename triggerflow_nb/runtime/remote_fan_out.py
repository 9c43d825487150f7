"""The walker's side of a fan-out that runs on an item executor.

Called from ``GraphWalker._fan_out`` when the block has ``executor=``: it builds the job,
awaits the executor, and puts each returned value into its item's slot of the
activation, so that the walker joins them in item order exactly as for local items.
The live panel's progress bar moves once per finished batch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..definition.graph import BATCH
from ..definition.item_executor import RemoteJob, WorkerContext
from ..definition.remote_body import remote_body
from ..distributed.errors import RemoteItemError, in_item_context
from ..distributed.shipping import check_handler, driver_resources, providers_for
from ..errors import TriggerFlowError
from ..observe import ChunkCancelled, ChunkFinished, ChunkStarted, FanOutProgress
from .status import CANCELLED, DONE, RUNNING, NodeStatus

if TYPE_CHECKING:
    from ..definition.graph import Node
    from ..definition.item_executor import ItemExecutor
    from .activation import Activation
    from .walker_view import WalkerView


def build_job(walker: WalkerView, node: Node, chains: list[tuple[str, ...]],
              items: list[Any]) -> RemoteJob:
    all_resources = dict(walker.resources.resources.items())
    bodies = []
    for chain in chains:
        steps = []
        for chunk in chain:
            handler = walker.handlers[chunk][0]
            check_handler(chunk, handler, node.id, all_resources)
            steps.append((chunk, handler))
        bodies.append(tuple(steps))
    requests = _worker_requests(walker.resources.requests, getattr(node.executor, "environments", []))
    worker_keys = {r["key"] for r in requests}
    context = WorkerContext(
        execution_id=walker.execution_id, block_id=node.id, state=walker.port.get_state(None, None),
        environments=requests, providers=providers_for(requests),
        driver_only_keys=sorted(driver_resources(walker.resources.resources, worker_keys)),
    )
    body_of = list(range(len(items))) if node.kind == BATCH else [0] * len(items)
    return RemoteJob(node.id, bodies, body_of, items, context, node.concurrency)


def _worker_requests(execution_requests: list[dict[str, Any]],
                     executor_requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The execution's managed environments, then the executor's own; the executor's win on a key."""
    by_key = {r["key"]: r for r in execution_requests}
    by_key.update({r["key"]: r for r in executor_requests})
    return list(by_key.values())


async def run_remote_fan_out(walker: WalkerView, node: Node, executor: ItemExecutor, activation: Activation,
                             items: list[Any]) -> None:
    """Run ``items`` on ``executor`` (the block's); fill ``activation``'s slots; raise on the first failed item."""
    if not items:
        return
    chains = remote_body(walker.graph, node)  # again: wiring may have changed since the block was closed
    if all(not chain for chain in chains):  # an empty body passes items through
        activation.slots[:] = items
        activation.remaining = 0
        return
    job = build_job(walker, node, chains, items)
    body_chunks = [chunk for body in job.bodies for chunk, _ in body]
    _mark(walker, body_chunks, RUNNING, ChunkStarted)
    total = len(items)

    def on_batch(records: list[tuple[Any, ...]]) -> None:
        for record in records:
            if record[0] == "ok":
                activation.slots[record[1]] = record[2]
                activation.remaining -= 1
            else:
                raise _item_error(walker, node, record)
        if walker.channel.active:
            walker.channel.publish(
                FanOutProgress(walker.execution_id, node.id, activation.id, total - activation.remaining, total))

    try:
        await executor.run_job(job, on_batch)
    except asyncio.CancelledError:  # a cell interrupted, a close timeout: as a local chunk shows it
        for chunk in dict.fromkeys(body_chunks):
            walker.walk_state.node_status[chunk] = CANCELLED
            if walker.channel.active:
                walker.channel.publish(ChunkCancelled(walker.execution_id, chunk, "CancelledError"))
        raise
    _mark(walker, body_chunks, DONE, ChunkFinished)


def _mark(walker: WalkerView, chunks: list[str], status: NodeStatus, event: type) -> None:
    """Body chunks show on the graph as running while the batches run, then done."""
    for chunk in dict.fromkeys(chunks):
        walker.walk_state.node_status[chunk] = status
        if walker.channel.active:
            walker.channel.publish(event(walker.execution_id, chunk))


def _item_error(walker: WalkerView, node: Node, record: tuple[Any, ...]) -> BaseException:
    _, index, chunk, worker, exc, text, remote_traceback = record
    chunk = chunk or node.id
    if isinstance(exc, TriggerFlowError):  # our own errors already say what to do; add where
        error: BaseException = in_item_context(exc, chunk, index, node.id, worker)
    else:
        original = exc if exc is not None else RuntimeError(text)
        error = RemoteItemError(chunk, original, item_index=index, block_id=node.id, worker=worker,
                                remote_traceback=remote_traceback)
        error.__cause__ = original
    walker.chunk_failed(chunk, error)
    return error
