"""Walking the flow graph: the dispatch loop that runs chunks and blocks.

Continuations are explicit data. A path carries ``cont``, a tuple of frames
saying where its value goes when the path runs out of successors:

* ``("then", node_id, arm_index)``: an if/match arm ended; go on with that block's successors.
* ``("slot", activation_id, key)``: a batch branch or for_each item ended; its value
  fills that slot of the fan-out's activation record.

Only a path that ends at its arm's last step (the tail recorded when the block was
closed) returns into the frame. A side path, such as the second successor of a step
inside a for_each body, ends where it ends and returns nothing, but keeps the frames
that say which fan-out item it belongs to (its joins stay in that item's scope).

Because continuations are plain data, a path can stop anywhere (a pause) and be
resumed later, even after save() and load() in another process.

Hot path: a linear chain runs in one loop in one coroutine (no task per step); a
step is a few dict lookups, one call, and at most one await. Concurrent paths (batch
branches, for_each items, several successors, event handlers) start inline and get a
task only when they first suspend (see ``_start_inline``), so a path that never waits
costs no task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from inspect import isawaitable, isgenerator
from typing import TYPE_CHECKING, Any

from ..definition.graph import BATCH, CHUNK, FOR_EACH, IF, MATCH, SUB_FLOW, Node
from ..definition import sub_flow_bridge
from ..errors import ChunkError, LifecycleError, TriggerFlowError
from ..observe import ChunkCancelled, ChunkFailed, ChunkFinished, ChunkStarted, EventEmitted, FanOutProgress
from .runtime_data import Resume, TriggerFlowRuntimeData

if TYPE_CHECKING:
    from .execution import TriggerFlowExecution

# Inline emits nested deeper than this on one stack run as a task (see _dispatch_event).
_MAX_INLINE_EMIT_DEPTH = 24
_emit_depth: contextvars.ContextVar[int] = contextvars.ContextVar("triggerflow_nb_emit_depth", default=0)

# A long fan-out started inline yields to the event loop this often, so that a notebook
# panel (or anything else on the loop) keeps running during 100,000 synchronous items.
_YIELD_EVERY = 1024

# What sync handlers usually return; checked first because inspect.isawaitable is slow.
_PLAIN_RESULTS = frozenset({type(None), bool, int, float, str, list, dict, tuple})

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


def scope_key(cont: tuple, nodes: dict[str, Node]) -> str:
    """The fan-out scope of a path: which item of which for_each it runs in ('' at top level).

    Each for_each item is a scope of its own. The branches of one batch run share its
    scope: they are parts of one step on one input, so branch "a" emitting A and branch
    "b" emitting B complete a join together.
    """
    parts = []
    for frame in cont:
        if frame[0] == SLOT:
            activation_id = frame[1]
            node = nodes.get(activation_id.rpartition("#")[0])  # ids are "<node id>#<n>" (_fan_out)
            parts.append(activation_id if node is not None and node.kind == BATCH else f"{activation_id}:{frame[2]}")
    return "/".join(parts)


class GraphWalker:
    """The dispatch half of an execution; ``TriggerFlowExecution`` supplies the rest."""

    _inline = False  # True while this execution runs a path inline (see _start_inline)

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
                    arm_index = await self._choose_arm(node, value, cont)
                    if arm_index is not None and node.branches[arm_index].entry is not None:
                        node_id = node.branches[arm_index].entry
                        cont = cont + ((THEN, node.id, arm_index),)
                        continue
                    out = value
                elif kind == BATCH or kind == FOR_EACH:
                    finished, out = await self._fan_out(node, value, cont)
                    if not finished:
                        return
                elif kind == SUB_FLOW:
                    out = await self._run_sub_flow(node, value, cont)
                else:  # start and event nodes pass their input through
                    out = value
            after = False
            targets = succ.get(node_id)
            while not targets:  # the path ran out of successors: return into the innermost frame
                if not cont:
                    return
                frame = cont[-1]
                if not self._ends_arm(node_id, frame):
                    return  # a side path: it returns nothing
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
            # Several successors run concurrently; the one that reaches the arm's tail returns.
            await self._gather([self._walk(target, out, cont) for target in targets])
            return

    def _ends_arm(self: "TriggerFlowExecution", node_id: str, frame: tuple) -> bool:
        """Whether a path ending at ``node_id`` ends the arm that ``frame`` waits for."""
        nodes = self.flow._graph.nodes
        if frame[0] == THEN:
            tail = nodes[frame[1]].branches[frame[2]].tail
        else:
            activation = self._activations.get(frame[1])
            if activation is None:  # that fan-out finished already: only a side path can end now
                return False
            block = nodes[activation.node_id]
            tail = block.branches[0 if block.kind == FOR_EACH else frame[2]].tail
        return tail is None or tail == node_id

    async def _run_chunk(self: "TriggerFlowExecution", node: Node, data: TriggerFlowRuntimeData) -> Any:
        fn, is_async = self.flow._handlers[node.id]
        node_id = node.id
        self._node_status[node_id] = RUNNING
        channel = self._channel
        if channel.active:
            channel.publish(ChunkStarted(self.id, node_id))
        try:
            if self._semaphore is None:
                out = fn(data)
                if is_async or (out.__class__ not in _PLAIN_RESULTS and isawaitable(out)):
                    if self._inline:  # user async code runs in a task of its own (see _start_inline)
                        await _leave_inline(out)
                    out = await out
            else:
                async with self._semaphore:
                    out = fn(data)
                    if is_async or (out.__class__ not in _PLAIN_RESULTS and isawaitable(out)):
                        if self._inline:
                            await _leave_inline(out)
                        out = await out
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit) as exc:
            # Cancelled, or a notebook cell interrupted: this path stops here, the execution stays
            # open and inspectable (state as written so far); close() still works.
            self._node_status[node_id] = "cancelled"
            self._note_interrupt(f"{type(exc).__name__} in chunk {node_id!r}")
            if channel.active:
                channel.publish(ChunkCancelled(self.id, node_id, type(exc).__name__))
            raise
        except TriggerFlowError as exc:  # our own errors already name the chunk and the fix
            self._chunk_failed(node_id, exc)
            raise
        except Exception as exc:
            self._chunk_failed(node_id, exc)
            raise ChunkError(node_id, exc) from exc
        self._node_status[node_id] = WAITING if data._paused else DONE
        if channel.active:
            channel.publish(ChunkFinished(self.id, node_id))
        listeners = self.flow._graph.listeners
        if listeners and "$chunk:" + node_id in listeners:
            await self._dispatch_event("$chunk:" + node_id, out, data._cont)
        return out

    def _chunk_failed(self: "TriggerFlowExecution", node_id: str, exc: BaseException) -> None:
        self._node_status[node_id] = FAILED
        if self._channel.active:
            self._channel.publish(ChunkFailed(self.id, node_id, f"{type(exc).__name__}: {exc}"))

    async def _choose_arm(self: "TriggerFlowExecution", node: Node, value: Any, cont: tuple) -> int | None:
        """The index of the arm an if/match block takes for ``value``, or None to pass the input on."""
        if node.kind == MATCH:
            for index, arm in enumerate(node.branches):
                if arm.is_default or arm.case_value == value:
                    return index
            return None
        data = TriggerFlowRuntimeData(self, node, value, cont)
        for index, arm in enumerate(node.branches):
            if arm.is_default:
                return index
            try:
                verdict = arm.predicate(data)
                if verdict.__class__ not in _PLAIN_RESULTS and isawaitable(verdict):
                    if self._inline:  # user async code runs in a task of its own (see _start_inline)
                        await _leave_inline(verdict)
                    verdict = await verdict
            except TriggerFlowError:
                raise
            except Exception as exc:
                self._chunk_failed(node.id, exc)
                raise ChunkError(f"{node.id} ({arm.label})", exc) from exc
            if verdict:
                return index
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
        if self._channel.active:  # progress shows from the start, not after the first item
            self._channel.publish(FanOutProgress(self.id, node.id, activation.id, 0, len(items)))

        def item_path(index: int):
            frame_cont = cont + ((SLOT, activation.id, index),)
            if entries[index] is None:  # an empty body passes items through
                return self._fill_slot(frame_cont[-1], items[index])
            return self._walk(entries[index], items[index], frame_cont)

        # Starting inline pays off for paths that run synchronously for a while; when every
        # path awaits user code at once, each goes straight into a task (see _start_inline).
        inline = not all(self._awaits_at_once(arm.entry) for arm in node.branches)
        try:
            if node.executor is not None:  # the items run elsewhere; their results fill the same slots
                from ..distributed.fan_out import run_remote_fan_out

                await run_remote_fan_out(self, node, activation, items)
            elif node.concurrency is None or node.concurrency >= len(items):
                await self._gather((item_path(i) for i in range(len(items))), inline)
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

    def _awaits_at_once(self: "TriggerFlowExecution", node_id: str | None) -> bool:
        """Whether a path from ``node_id`` awaits user code at its first step (an async chunk, a sub-flow)."""
        if node_id is None:
            return False
        node = self.flow._graph.nodes[node_id]
        return self.flow._handlers[node_id][1] if node.kind == CHUNK else node.kind == SUB_FLOW

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
        if self._channel.active:
            total = len(activation.slots)
            self._channel.publish(
                FanOutProgress(self.id, activation.node_id, activation.id, total - activation.remaining, total)
            )
        if activation.remaining == 0 and not activation.awaiting:
            # Completed by a resumed item after the fan-out step returned: continue for it.
            del self._activations[activation.id]
            self._node_status[activation.node_id] = DONE
            await self._walk(activation.node_id, activation.result(), activation.cont, after=True)

    async def _gather(self: "TriggerFlowExecution", coros: Iterable, inline: bool = True) -> None:
        """Run the coroutines concurrently and await them all; if one fails, cancel the others
        (no orphaned task) and re-raise.

        With ``inline`` each coroutine starts inline and gets a task only if it suspends
        (``_start_inline``); a single one in a list is simply awaited. Without, each gets a
        task at once (a fresh stack). ``coros`` may be a generator: a for_each creates each
        item's coroutine only when the item starts.
        """
        loop = asyncio.get_running_loop()
        if inline and isinstance(coros, list) and len(coros) == 1:
            await coros[0]
            return
        pending = iter(coros)
        tasks: list[asyncio.Task[Any]] = []
        try:
            if inline:
                for count, coro in enumerate(pending, 1):
                    task = self._start_inline(coro)
                    if task is not None:
                        tasks.append(task)
                    if count % _YIELD_EVERY == 0:
                        await asyncio.sleep(0)
            else:
                tasks = [loop.create_task(c) for c in pending]
            if tasks:
                await asyncio.gather(*tasks)
        except BaseException:
            _close_unstarted(pending)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _start_inline(self: "TriggerFlowExecution", coro: Any) -> asyncio.Task[Any] | None:
        """Run ``coro`` right here until it first suspends; None if it finished, else its task.

        Why: a task per concurrent path costs time and memory even when the path never
        waits, and 100,000 for_each items alive together (tasks, coroutines) made the
        garbage collector's full passes, and so the cost per item, grow with the number
        of items. Started inline, a synchronous item is done and freed at once.

        While a path runs inline, ``asyncio.current_task()`` is still the caller's task, so
        no user coroutine may start then (``asyncio.timeout`` or a contextvar would attach
        to the wrong task): ``self._inline`` tells the places that await user code to
        suspend first, which moves the path into its own task before the user code runs.
        """
        outer, self._inline = self._inline, True
        try:
            yielded = coro.send(None)
        except StopIteration:
            return None
        finally:
            self._inline = outer
        return asyncio.get_running_loop().create_task(_StartedInline(coro, yielded))

    async def _run_sub_flow(self: "TriggerFlowExecution", node: Node, value: Any, cont: tuple) -> Any:
        if self._inline:  # the child's chunks are user code too (see _start_inline)
            await asyncio.sleep(0)
        self._node_status[node.id] = RUNNING
        if self._channel.active:
            self._channel.publish(ChunkStarted(self.id, node.id))
        child = None
        try:
            # Inside the try: a capture that fails (a missing resource) fails this step by name.
            child = node.sub_flow.create_execution(
                runtime_resources=sub_flow_bridge.child_resources(node.capture, self._resources),
                auto_close=False,
            )
            child._stream_parent = self
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
        except asyncio.CancelledError:
            # This step was cancelled (a sibling failed, a close timed out): the child it owns
            # goes with it, so none of the child's tasks outlive the step.
            self._node_status[node.id] = "cancelled"
            if child is not None:
                await child._finish("cancelled", f"its parent step {node.id!r} was cancelled")
            raise
        except Exception as exc:
            self._chunk_failed(node.id, exc)
            raise ChunkError(node.id, exc) from exc
        for key, item in updates.items():
            await self._async_write_state("set", key, item, True, f"in sub-flow step {node.id!r}", ())
        self._node_status[node.id] = DONE
        if self._channel.active:
            self._channel.publish(ChunkFinished(self.id, node.id))
        listeners = self.flow._graph.listeners
        if listeners and "$chunk:" + node.id in listeners:  # when(<sub-flow step>) fires like a chunk's
            await self._dispatch_event("$chunk:" + node.id, next_value, cont)
        return next_value

    async def _dispatch_event(self: "TriggerFlowExecution", event: str, payload: Any, cont: tuple) -> None:
        """Run every `when` branch listening to ``event``; and-joins collect per execution and scope."""
        if self._channel.active:
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
                key = (node_id, scope_key(cont, nodes))
                seen = self._joins.setdefault(key, {})
                seen[event] = payload
                if len(seen) == len(node.events):
                    del self._joins[key]
                    joined = {"event": {name: seen[name] for name in node.events}}
                    runs.append(self._walk(node_id, joined, (), after=True))
        if not runs:
            return
        # Handlers that emit again (a "tick" loop) would nest one await per emit and hit
        # Python's recursion limit. Past a modest depth of this stack, the handlers run as a
        # task, which starts from the event loop with a fresh stack (and depth 0 again), so
        # a long loop pays for one task every _MAX_INLINE_EMIT_DEPTH emits, not every emit.
        depth = _emit_depth.get()
        if depth >= _MAX_INLINE_EMIT_DEPTH:
            await self._gather([_on_fresh_stack(run) for run in runs], inline=False)
            return
        _emit_depth.set(depth + 1)
        try:
            await self._gather(runs)
        finally:
            # set(), not reset(token): a path started inline may have moved into a task of its
            # own (another Context) while it waited here, and a token only resets its own Context.
            _emit_depth.set(depth)


async def _on_fresh_stack(coro: Any) -> None:
    """Run ``coro`` in a new task's stack, counting emit depth from zero there."""
    _emit_depth.set(0)
    await coro


async def _leave_inline(awaitable: Any) -> None:
    """Suspend once, so that a path started inline goes on in a task of its own (see _start_inline).

    If the path is cancelled meanwhile, the user's awaitable is closed, not left never awaited.
    """
    try:
        await asyncio.sleep(0)
    except BaseException:
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
        raise


_TAKEN = object()


class _StartedInline(Coroutine):
    """What the task of a path started inline drives (see GraphWalker._start_inline).

    The task steps it exactly as it would step the path's coroutine: the first step hands
    the task what the coroutine yielded when it suspended inline (a future to wait on);
    every later send or throw (a result, a cancellation) goes straight to the coroutine,
    even a cancellation that arrives before the task's first step.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Any, first: Any):
        self._coro = coro
        self._first = first

    def send(self, value: Any) -> Any:
        first, self._first = self._first, _TAKEN
        # A bare yield (asyncio.sleep(0), as in _leave_inline) only asks to go on at a later
        # turn of the loop; the task's first step is one, so it goes on at once.
        if first is not _TAKEN and first is not None:
            return first
        return self._coro.send(value)

    def throw(self, *exc: Any) -> Any:
        self._first = _TAKEN
        return self._coro.throw(*exc)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Any:  # required by the Coroutine ABC; only its task ever drives it
        raise TypeError("a path started inline is driven by its task, never awaited")


def _close_unstarted(pending: Iterator[Any]) -> None:
    """Close the coroutines a failed _gather never started (a generator of them just stops)."""
    if isgenerator(pending):
        pending.close()
    else:
        for coro in pending:
            coro.close()
