"""Walking the flow graph: the dispatch loop that runs chunks and blocks.

Continuations are explicit data. A path carries ``cont``, a tuple of frames
saying where its value goes when the path runs out of successors:

* ``("then", node_id)``: an if/match arm ended; go on with that block's successors.
* ``("slot", activation_id, key)``: a batch branch or for_each item ended; its value
  fills that slot of the fan-out's activation record.

Because continuations are plain data, a path can stop anywhere (a pause) and be
resumed later, even after save() and load() in another process.

Hot path: a linear chain runs in one loop in one coroutine (no task per step); a
step is a few dict lookups, one call, and at most one await.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from ..definition.graph import BATCH, CHUNK, FOR_EACH, IF, MATCH, SUB_FLOW, Node
from ..definition import sub_flow_bridge
from ..errors import ChunkError, LifecycleError, TriggerFlowError
from ..observe import ChunkFailed, ChunkFinished, ChunkStarted, EventEmitted, FanOutProgress
from .runtime_data import Resume, TriggerFlowRuntimeData

if TYPE_CHECKING:
    from .execution import TriggerFlowExecution

# Inline emits nested deeper than this run as tasks (see _dispatch_event).
_MAX_INLINE_EMIT_DEPTH = 24

THEN = "then"
SLOT = "slot"

RUNNING = "running"
DONE = "done"
FAILED = "failed"
WAITING = "waiting"


class Activation:
    """A batch or for_each in progress: one slot per branch or item."""

    __slots__ = ("id", "node_id", "keys", "slots", "remaining", "cont", "awaiting")

    def __init__(self, id: str, node_id: str, keys: list[str] | None, size: int, cont: tuple):
        self.id = id
        self.node_id = node_id
        self.keys = keys  # batch branch names; None for for_each
        self.slots: list[Any] = [None] * size
        self.remaining = size
        self.cont = cont
        self.awaiting = True  # the fan-out step is still awaiting its items

    def result(self) -> Any:
        if self.keys is None:
            return self.slots
        return dict(zip(self.keys, self.slots))


def fan_out_items(value: Any) -> list[Any]:
    """A non-string sequence fans out item by item; anything else is one item."""
    if isinstance(value, (list, tuple, range)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))
    ):
        return list(value)
    return [value]


def scope_key(cont: tuple) -> str:
    """The fan-out scope of a path: which item of which fan-out it runs in ('' at top level)."""
    return "/".join(f"{f[1]}:{f[2]}" for f in cont if f[0] == SLOT)


class GraphWalker:
    """The dispatch half of an execution; ``TriggerFlowExecution`` supplies the rest."""

    async def _walk(self: "TriggerFlowExecution", node_id: str, value: Any, cont: tuple, *,
                    after: bool = False, resume: Resume | None = None) -> None:
        """Run from ``node_id`` (or, with ``after=True``, from its successors) until the path ends."""
        graph = self.flow._graph
        nodes = graph.nodes
        succ = graph.succ
        out = value
        while True:
            if not after:
                if self._finished:  # failed or cancelled elsewhere: stop this path
                    return
                node = nodes[node_id]
                kind = node.kind
                if kind == CHUNK:
                    data = TriggerFlowRuntimeData(self, node, value, cont, resume)
                    resume = None
                    out = await self._run_chunk(node, data)
                    if data._paused:
                        return
                elif kind == IF or kind == MATCH:
                    arm = await self._choose_arm(node, value, cont)
                    if arm is not None and arm.entry is not None:
                        node_id = arm.entry
                        cont = cont + ((THEN, node.id),)
                        continue
                    out = value
                elif kind == BATCH or kind == FOR_EACH:
                    finished, out = await self._fan_out(node, value, cont)
                    if not finished:
                        return
                elif kind == SUB_FLOW:
                    out = await self._run_sub_flow(node, value)
                else:  # start and event nodes pass their input through
                    out = value
            after = False
            targets = succ.get(node_id)
            while not targets:  # the path ran out of successors: return into the innermost frame
                if not cont:
                    return
                frame = cont[-1]
                cont = cont[:-1]
                if frame[0] == THEN:
                    node_id = frame[1]
                    targets = succ.get(node_id)
                else:
                    await self._fill_slot(frame, out)
                    return
            if len(targets) == 1:
                node_id = targets[0]
                value = out
                continue
            # Several successors: all run concurrently; the first carries the continuation.
            await self._gather([self._walk(targets[0], out, cont)] + [self._walk(t, out, ()) for t in targets[1:]])
            return

    async def _run_chunk(self: "TriggerFlowExecution", node: Node, data: TriggerFlowRuntimeData) -> Any:
        fn, is_async = self.flow._handlers[node.id]
        node_id = node.id
        self._node_status[node_id] = RUNNING
        channel = self._channel
        if channel:
            channel.publish(ChunkStarted(self.id, node_id))
        try:
            if self._semaphore is None:
                out = fn(data)
                if is_async or isawaitable(out):
                    out = await out
            else:
                async with self._semaphore:
                    out = fn(data)
                    if is_async or isawaitable(out):
                        out = await out
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            # Cancelled, or a notebook cell interrupted: this path stops here, the execution stays
            # open and inspectable (state as written so far); close() still works.
            self._node_status[node_id] = "cancelled"
            raise
        except TriggerFlowError as exc:  # our own errors already name the chunk and the fix
            self._chunk_failed(node_id, exc)
            raise
        except Exception as exc:
            self._chunk_failed(node_id, exc)
            raise ChunkError(node_id, exc) from exc
        self._node_status[node_id] = WAITING if data._paused else DONE
        if channel:
            channel.publish(ChunkFinished(self.id, node_id))
        listeners = self.flow._graph.listeners
        if listeners and "$chunk:" + node_id in listeners:
            await self._dispatch_event("$chunk:" + node_id, out, data._cont)
        return out

    def _chunk_failed(self: "TriggerFlowExecution", node_id: str, exc: BaseException) -> None:
        self._node_status[node_id] = FAILED
        if self._channel:
            self._channel.publish(ChunkFailed(self.id, node_id, f"{type(exc).__name__}: {exc}"))

    async def _choose_arm(self: "TriggerFlowExecution", node: Node, value: Any, cont: tuple):
        """The arm an if/match block takes for ``value``, or None to pass the input on."""
        if node.kind == MATCH:
            for arm in node.branches:
                if arm.is_default or arm.case_value == value:
                    return arm
            return None
        data = TriggerFlowRuntimeData(self, node, value, cont)
        for arm in node.branches:
            if arm.is_default:
                return arm
            try:
                verdict = arm.predicate(data)
                if isawaitable(verdict):
                    verdict = await verdict
            except TriggerFlowError:
                raise
            except Exception as exc:
                self._chunk_failed(node.id, exc)
                raise ChunkError(f"{node.id} ({arm.label})", exc) from exc
            if verdict:
                return arm
        return None

    async def _fan_out(self: "TriggerFlowExecution", node: Node, value: Any, cont: tuple) -> tuple[bool, Any]:
        """Run a batch's branches or a for_each's items; (True, result) when all have finished."""
        if node.kind == BATCH:
            keys = [arm.label for arm in node.branches]
            entries = [arm.entry for arm in node.branches]
            items = [value] * len(keys)
        else:
            keys = None
            items = fan_out_items(value)
            entries = [node.branches[0].entry] * len(items)
        self._activation_counter += 1
        activation = Activation(f"{node.id}#{self._activation_counter}", node.id, keys, len(items), cont)
        self._activations[activation.id] = activation
        self._node_status[node.id] = RUNNING

        def item_path(index: int):
            frame_cont = cont + ((SLOT, activation.id, index),)
            if entries[index] is None:  # an empty body passes items through
                return self._fill_slot(frame_cont[-1], items[index])
            return self._walk(entries[index], items[index], frame_cont)

        try:
            if node.concurrency is None or node.concurrency >= len(items):
                await self._gather([item_path(i) for i in range(len(items))])
            else:
                await self._bounded(item_path, len(items), node.concurrency)
        finally:
            activation.awaiting = False
        if activation.remaining:
            self._node_status[node.id] = WAITING
            return False, None  # some items paused; the last one resumed finishes the block
        del self._activations[activation.id]
        self._node_status[node.id] = DONE
        return True, activation.result()

    async def _bounded(self, item_path, count: int, limit: int) -> None:
        """Run ``count`` item paths with at most ``limit`` in flight (a fixed pool of workers)."""
        next_index = iter(range(count))

        async def worker() -> None:
            for index in next_index:
                await item_path(index)

        await self._gather([worker() for _ in range(limit)])

    async def _fill_slot(self: "TriggerFlowExecution", frame: tuple, value: Any) -> None:
        activation = self._activations[frame[1]]
        activation.slots[frame[2]] = value
        activation.remaining -= 1
        if self._channel:
            total = len(activation.slots)
            self._channel.publish(
                FanOutProgress(self.id, activation.node_id, activation.id, total - activation.remaining, total)
            )
        if activation.remaining == 0 and not activation.awaiting:
            # Completed by a resumed item after the fan-out step returned: continue for it.
            del self._activations[activation.id]
            self._node_status[activation.node_id] = DONE
            await self._walk(activation.node_id, activation.result(), activation.cont, after=True)

    async def _gather(self, coros: list, inline: bool = True) -> None:
        """Await all; if one fails, cancel the others (no orphaned task) and re-raise.

        A single coroutine is awaited inline (no task) unless ``inline`` is False.
        """
        loop = asyncio.get_running_loop()
        if len(coros) == 1:
            await (coros[0] if inline else loop.create_task(coros[0]))
            return
        tasks = [loop.create_task(c) for c in coros]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _run_sub_flow(self: "TriggerFlowExecution", node: Node, value: Any) -> Any:
        self._node_status[node.id] = RUNNING
        if self._channel:
            self._channel.publish(ChunkStarted(self.id, node.id))
        child = node.sub_flow.create_execution(
            runtime_resources=sub_flow_bridge.child_resources(node.capture, self._resources),
            auto_close=False,
        )
        child._stream_parent = self
        try:
            await child._async_start(sub_flow_bridge.child_input(node.capture, value, self._state),
                                     wait_for_close=False)
            if child._pending_interrupts():
                await child.async_close(pending_interrupts="cancel")
                raise LifecycleError(
                    f"sub-flow {node.sub_flow.name!r} paused; pause_for inside a sub-flow is not supported "
                    f"yet: pause in the parent flow before or after the to_sub_flow() step"
                )
            snapshot = await child.async_close()
            next_value, updates = sub_flow_bridge.apply_write_back(node.write_back, snapshot)
        except Exception as exc:
            self._chunk_failed(node.id, exc)
            raise ChunkError(node.id, exc) from exc
        for key, item in updates.items():
            await self._async_write_state("set", key, item, True, f"in sub-flow step {node.id!r}", ())
        self._node_status[node.id] = DONE
        if self._channel:
            self._channel.publish(ChunkFinished(self.id, node.id))
        return next_value

    async def _dispatch_event(self: "TriggerFlowExecution", event: str, payload: Any, cont: tuple) -> None:
        """Run every `when` branch listening to ``event``; and-joins collect per execution and scope."""
        if self._channel:
            self._channel.publish(EventEmitted(self.id, event))
        node_ids = self.flow._graph.listeners.get(event)
        if not node_ids:
            return
        nodes = self.flow._graph.nodes
        runs = []
        for node_id in node_ids:
            node = nodes[node_id]
            if node.mode == "simple" or node.mode == "simple_or":
                runs.append(self._walk(node_id, payload, (), after=True))
            elif node.mode == "or":
                runs.append(self._walk(node_id, ("event", event, payload), (), after=True))
            else:
                key = (node_id, scope_key(cont))
                seen = self._joins.setdefault(key, {})
                seen[event] = payload
                if len(seen) == len(node.events):
                    del self._joins[key]
                    joined = {"event": {name: seen[name] for name in node.events}}
                    runs.append(self._walk(node_id, joined, (), after=True))
        if not runs:
            return
        # Handlers that emit again (a "tick" loop) would nest one await per emit and hit
        # Python's recursion limit; past a modest depth, run the handlers as tasks, which
        # start from the event loop with a fresh stack.
        if self._emit_depth >= _MAX_INLINE_EMIT_DEPTH:
            await self._gather(runs, inline=False)
            return
        self._emit_depth += 1
        try:
            await self._gather(runs)
        finally:
            self._emit_depth -= 1
