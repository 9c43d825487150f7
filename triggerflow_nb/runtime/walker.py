"""Walking the flow graph: the dispatch loop that runs chunks and blocks.

Continuations are explicit data. A path carries ``frames``, a tuple of frames
saying where its value goes when the path runs out of successors:

* ``("then", node_id, arm_index)``: an if/match arm ended; go on with that block's successors.
* ``("slot", activation_id, key)``: a batch branch, for_each item or hit_all case ended;
  its value fills that slot of the fan-out's activation record.

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
from collections.abc import Callable, Coroutine, Iterable, Sequence
from inspect import isawaitable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..definition.graph import (
    BATCH,
    CHUNK,
    COLLECT_BRANCH,
    EVENT,
    FOR_EACH,
    HIT_ALL,
    IF,
    MATCH,
    SIDE_BRANCH,
    START,
    SUB_FLOW,
    Node,
)
from ..errors import ChunkError, InvalidArgumentError, TriggerFlowError
from ..observe import (
    Channel,
    ChunkCancelled,
    ChunkFailed,
    ChunkFinished,
    ChunkStarted,
    EventEmitted,
    FanOutProgress,
    SyncChunkHeldLoop,
)
from .collect import arrive, forget_finished_scope
from .emit_depth import MAX_INLINE_EMIT_DEPTH, emit_depth
from .fan_out_scope import scope_key
from .frames import SLOT, THEN, Frame, Frames
from .history import AS_IS as RECORDED_AS_IS
from .history import recorded
from .host import FlowHost
from .interrupts import Interrupt
from .runtime_data import Resume, TriggerFlowRuntimeData
from .status import CANCELLED, DONE, FAILED, RUNNING, WAITING
from .steps import STEP_COMPLETED, STEP_PAUSED
from .sub_flow import run_sub_flow
from .tasks import EagerStarter, StartedInline, TaskJoin, close_unstarted, leave_inline, on_fresh_stack
from .walk_state import WalkState
from .work import INTERRUPTS

if TYPE_CHECKING:
    from .host import ChunkHost
    from .lifecycle import Lifecycle
    from .resource_host import ResourceHost

# A long fan-out started inline yields to the event loop this often, so that a notebook
# panel (or anything else on the loop) keeps running during 100,000 synchronous items.
_YIELD_EVERY = 1024

# What _choose_arm gives for a hit_all match that ran its matching cases itself.
_RAN_ALL = -1

# A sync chunk that runs this long without yielding is reported (when watched): the loop, and so
# the live panel and every other branch, stood still meanwhile.
SYNC_HOLD_NOTICE_SECONDS = 0.5

# What sync handlers usually return; checked first because inspect.isawaitable is slow.
_PLAIN_RESULTS = frozenset({type(None), bool, int, float, str, list, dict, tuple})



def fan_out_items(value: Any) -> list[Any]:
    """A non-string sequence fans out item by item; anything else is one item."""
    if isinstance(value, (list, tuple, range)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))
    ):
        return list(value)
    return [value]


class GraphWalker:
    """Walks one execution's graph: graph semantics only.

    A collaborator of ``Execution`` (runtime/execution.py), handed what it reads and the few
    operations it calls of the rest: the walk state, the lifecycle (has the run finished?), the
    channel, the concurrency limit, and ``leave`` / ``note_interrupt`` / ``detached_failed`` /
    ``spawn``. ``port`` is what each chunk's ``data`` reaches (set once the port exists).
    """

    __slots__ = ("execution_id", "graph", "handlers", "walk_state", "channel", "resources", "inline", "port",
                 "_lifecycle", "_semaphore", "_leave", "_note_interrupt", "_detached_failed", "_spawn")

    def __init__(self, execution_id: str, flow: FlowHost, walk_state: WalkState, lifecycle: Lifecycle,
                 channel: Channel, semaphore: asyncio.Semaphore | None, resources: ResourceHost, *,
                 leave: Callable[[], None], note_interrupt: Callable[[str], None],
                 detached_failed: Callable[[BaseException], Coroutine[Any, Any, bool]],
                 spawn: Callable[[Coroutine[Any, Any, Any], Coroutine[Any, Any, Any]], None]):
        self.execution_id = execution_id
        # The flow's graph and handler registry: the same objects for the flow's life, bound once.
        self.graph = flow.flow_graph
        self.handlers = flow.handlers
        self.walk_state = walk_state
        self.channel = channel
        self.resources = resources  # a remote fan-out ships them (see remote_fan_out)
        self.inline = False  # True while a path runs inline (see _start_inline)
        self.port: ChunkHost = None  # type: ignore[assignment]  # the ChunkPort, set by Execution right after
        self._lifecycle = lifecycle
        self._semaphore = semaphore
        self._leave = leave
        self._note_interrupt = note_interrupt
        self._detached_failed = detached_failed
        self._spawn = spawn

    # One loop on purpose (hence noqa): any step moved into a coroutine of its own is a frame
    # more per step, and per level of awaited emits (see the docstring).
    async def walk(self, node_id: str, value: Any, frames: Frames, *, from_successors: bool = False,  # noqa: C901
                    resume: Resume | None = None, emit_level: int = -1, detached: bool = False) -> None:
        """Run from ``node_id`` (or, with ``from_successors=True``, from its successors) until the path ends.

        Chunks run right here, not in a coroutine of their own: a loop of handlers that await
        their emits nests one ``walk`` per emit, and every frame kept alive per level costs
        memory and garbage-collector time. A path that an awaited emit walks directly
        (``awaited_emit``) sets the emit depth its dispatch would have set: ``emit_level``.
        A ``detached`` walk is the whole of an ``emit_nowait``'s work: it does what a detached
        ``dispatch_event`` does (see there), without a dispatch coroutine per emit.
        """
        if emit_level >= 0:
            emit_depth.set(emit_level)
        graph = self.graph
        nodes = graph.nodes
        succ = graph.succ
        handlers = self.handlers
        node_status = self.walk_state.node_status
        lifecycle = self._lifecycle
        history = self.port.history  # every chunk run is a step of it (None: history off)
        if history is not None:  # see runtime/history.py
            steps = history.rows
            writes = history.writes
        out = value
        try:
            while True:
                if not from_successors:
                    if lifecycle.finished:  # failed or cancelled elsewhere: stop this path
                        return
                    node = nodes[node_id]
                    kind = node.kind
                    if kind == CHUNK:
                        data = TriggerFlowRuntimeData(self.port, node, value, frames, resume)
                        if history is not None:  # a step begins (see StepLog)
                            data._seq = seq = history.next_seq
                            history.next_seq = seq + 1
                            data._input_record = value if value.__class__ in RECORDED_AS_IS else recorded(value)
                            steps.append(data)
                            if seq >= history.trim_at:
                                history.trim()
                            data._started = perf_counter()
                        resume = None
                        fn, is_async = handlers[node_id]
                        node_status[node_id] = RUNNING
                        channel = self.channel
                        observed = channel.active
                        if observed:
                            channel.publish(ChunkStarted(self.execution_id, node_id))
                        try:
                            if self._semaphore is not None:
                                out = await self._call_limited(fn, is_async, data, observed and not is_async)
                            else:
                                # Watched, a sync handler is timed: one that holds the loop long freezes the panel.
                                out = self._timed_call(fn, data, node_id) if observed and not is_async else fn(data)
                                if is_async or (out.__class__ not in _PLAIN_RESULTS and isawaitable(out)):
                                    if self.inline:  # user async code runs in a task of its own (see _start_inline)
                                        await leave_inline(out)
                                    out = await out
                        except BaseException as exc:
                            replacement = self._chunk_raised(node_id, exc, data)
                            if replacement is None:
                                raise
                            raise replacement from exc
                        node_status[node_id] = WAITING if data._paused else DONE
                        if history is not None:  # the step ends: its row becomes a tuple (see StepLog)
                            index = data._seq - history.first_seq  # type: ignore[operator]  # set above
                            if index >= 0:  # else the step was dropped while it ran
                                steps[index] = (
                                    node_id, data._input_record,
                                    out if out.__class__ in RECORDED_AS_IS else recorded(out), data._started,
                                    perf_counter(), history.dropped_writes + len(writes),
                                    STEP_PAUSED if data._paused else STEP_COMPLETED, None, history.next_seq)
                        if channel.active:
                            channel.publish(ChunkFinished(self.execution_id, node_id))
                        listeners = graph.listeners
                        if listeners and node.done_event in listeners:  # when(<chunk>)
                            await self.dispatch_event(node.done_event, out, data._frames)
                        if data._paused:
                            return
                    elif kind == IF or (kind == MATCH and node.mode != HIT_ALL):
                        arm_index = await self._choose_arm(node, value, frames)
                        entry = None if arm_index is None else node.branches[arm_index].entry
                        if entry is not None and arm_index is not None:
                            node_id = entry
                            frames = frames + ((THEN, node.id, arm_index),)
                            continue
                        out = value
                    elif kind == SUB_FLOW:
                        out = await run_sub_flow(self, node, value, frames)
                    elif kind == START or kind == EVENT:  # they pass their input on
                        out = value
                    else:  # fan-outs, hit_all matches, collects and side branches may end this path here
                        goes_on, out = await self._run_block(node, value, frames)
                        if not goes_on:
                            return
                from_successors = False
                targets = succ.get(node_id)
                if not targets:  # the path ran out of successors: return into the innermost frame
                    node_id, frames, targets, slot = self._unwind(node_id, frames)
                    if slot is not None:
                        await self._fill_slot(slot, out)
                    if not targets:
                        return
                if len(targets) == 1:
                    node_id = targets[0]
                    value = out
                    continue
                # Several successors run concurrently; the one that reaches the arm's tail returns.
                await self._gather(self._walks(targets, out, frames))
                return
        except BaseException as exc:
            if not detached or not await self._detached_failed(exc):
                raise
        finally:
            if emit_level >= 0:  # set(), not reset(token): see dispatch_event
                emit_depth.set(emit_level - 1)
            if detached:
                self._leave()

    def resume(self, interrupt: Interrupt, payload: Any) -> Coroutine[Any, Any, None]:
        """The path a resumed interrupt goes on with: after the paused chunk with ``payload``
        ("next"), the chunk again with ``data.resume`` ("self"), or an emit ({"event": name})."""
        target = interrupt.resume_to
        if target == "self":
            return self.walk(interrupt.node_id, interrupt.input, interrupt.frames,
                             resume=Resume(interrupt.id, interrupt.type, payload))
        node_status = self.walk_state.node_status
        if node_status.get(interrupt.node_id) == WAITING:
            node_status[interrupt.node_id] = DONE
        if target == "next":
            return self.walk(interrupt.node_id, payload, interrupt.frames, from_successors=True)
        return self.dispatch_event(target["event"], payload, ())

    def _unwind(self, node_id: str, frames: Frames) -> tuple[str, Frames, list[str] | None, Frame | None]:
        """Where a path that ran out of successors at ``node_id`` goes on: returning through the
        frames it ends, to the next block's successors (node, frames, successors, None), or into
        a fan-out slot (..., None, the slot's frame); no successors and no slot: the path ends."""
        succ = self.graph.succ
        while frames:
            frame = frames[-1]
            if not self._ends_arm(node_id, frame):
                break  # a side path: it returns nothing
            frames = frames[:-1]
            if frame[0] != THEN:
                return node_id, frames, None, frame
            node_id = frame[1]
            targets = succ.get(node_id)
            if targets:
                return node_id, frames, targets, None
        return node_id, frames, None, None

    async def _run_block(self, node: Node, value: Any, frames: Frames) -> tuple[bool, Any]:
        """(True, what the path goes on with), or (False, None) when the path ends here: a fan-out
        whose items paused, a collect still waiting for other branches, a side branch or a
        hit_all match that ran what comes next itself."""
        kind = node.kind
        if kind == BATCH or kind == FOR_EACH:
            return await self._fan_out(node, value, frames)
        if kind == COLLECT_BRANCH:
            return await arrive(self, node, value, frames)
        if kind == MATCH:  # hit_all
            arm_index = await self._choose_arm(node, value, frames)
            if arm_index == _RAN_ALL:  # it ran the matching cases and went on by itself
                return False, None
            entry = None if arm_index is None else node.branches[arm_index].entry
            if entry is None or arm_index is None:  # no match, or an empty else arm: the input passes on
                return True, value
            await self.walk(entry, value, frames + ((THEN, node.id, arm_index),))  # the else arm
            return False, None
        if kind == SIDE_BRANCH:  # the side path and the main path both take this value
            side = self.walk(node.branches[0].entry, value, frames)  # type: ignore[arg-type]  # always set
            await self._gather([side, self.walk(node.id, value, frames, from_successors=True)])
            return False, None
        return True, value  # a collect's join: the arrival that fired it brings the collected dict

    async def _run_all(self, node: Node, value: Any, frames: Frames, arms: list[int]) -> int:
        """Run a hit_all match's matching ``arms`` as a fan-out, then go on after the block with the
        list of their results (or leave that to the last paused case, when one resumes)."""
        finished, out = await self._fan_out(node, value, frames, arms)
        if finished:
            await self.walk(node.id, out, frames, from_successors=True)
        return _RAN_ALL

    def _walks(self, node_ids: Sequence[str], value: Any, frames: Frames) -> list[Coroutine[Any, Any, None]]:
        """One path per node; a method, not a comprehension in ``walk``, whose locals would then
        all be cells (slower to read, and allocated on every call)."""
        walk = self.walk
        return [walk(node_id, value, frames) for node_id in node_ids]

    def continuation_gap(self, node_id: str, frames: Frames) -> str | None:
        """What a path paused at ``node_id`` would go on through that the graph no longer has (a
        notebook cell re-run without it), or None: resuming must not meet a missing node midway.
        A path's frames hold those of every block around it, so they are all that is checked."""
        nodes = self.graph.nodes
        node = nodes.get(node_id)
        if node is None or node.kind != CHUNK:
            return f"the chunk {node_id!r}"
        for kind, ref, index in frames:
            if kind == THEN:
                block = nodes.get(ref)
                if block is None or index >= len(block.branches):
                    return f"arm {index} of the block {ref!r}"
                continue
            activation = self.walk_state.activations.get(ref)
            if activation is None:  # that fan-out has finished: nothing returns into it
                continue
            block = nodes.get(activation.node_id)
            if block is None:
                return f"the block {activation.node_id!r}"
            arm = activation.arm(index)
            if arm >= len(block.branches):
                return f"branch {arm} of the block {activation.node_id!r}"
        return None

    def _ends_arm(self, node_id: str, frame: Frame) -> bool:
        """Whether a path ending at ``node_id`` ends the arm that ``frame`` waits for."""
        nodes = self.graph.nodes
        if frame[0] == THEN:
            tail = nodes[frame[1]].branches[frame[2]].tail
        else:
            activation = self.walk_state.activations.get(frame[1])
            if activation is None:  # that fan-out finished already: only a side path can end now
                return False
            tail = nodes[activation.node_id].branches[activation.arm(frame[2])].tail
        return tail is None or tail == node_id

    async def _call_limited(self, fn: Callable[[Any], Any], is_async: bool, data: TriggerFlowRuntimeData,
                            timed: bool) -> Any:
        """Run a handler under the flow's concurrency limit (see walk for the unlimited case);
        ``timed``: a watched sync handler, timed as walk times it."""
        async with self._semaphore:  # type: ignore[union-attr]  # only called when set
            out = self._timed_call(fn, data, data.chunk_name) if timed else fn(data)
            if is_async or (out.__class__ not in _PLAIN_RESULTS and isawaitable(out)):
                if self.inline:
                    await leave_inline(out)
                out = await out
        return out

    def _chunk_raised(self, node_id: str, exc: BaseException, data: TriggerFlowRuntimeData) -> BaseException | None:
        """Record what a chunk raised; return the error to raise in its place, or None to re-raise it."""
        stopped = isinstance(exc, (asyncio.CancelledError, *INTERRUPTS))
        if data._seq is not None:
            self.port.history.fail(data, exc, cancelled=stopped)  # type: ignore[union-attr]  # set with _seq
        if stopped:
            # Cancelled, or a notebook cell interrupted: this path stops here, the execution stays
            # open and inspectable (state as written so far); close() still works.
            self.walk_state.node_status[node_id] = CANCELLED
            self._note_interrupt(f"{type(exc).__name__} in chunk {node_id!r}")
            if self.channel.active:
                self.channel.publish(ChunkCancelled(self.execution_id, node_id, type(exc).__name__))
            return None
        if not isinstance(exc, Exception):  # another BaseException: the caller's to handle
            return None
        self.chunk_failed(node_id, exc, data)
        if isinstance(exc, TriggerFlowError) and not isinstance(exc, InvalidArgumentError):
            return None  # our errors already name the chunk and the fix
        return ChunkError(node_id, exc)  # an InvalidArgumentError says what was wrong, not in which chunk

    def _timed_call(self, fn: Callable[[Any], Any], data: TriggerFlowRuntimeData, node_id: str) -> Any:
        started = perf_counter()
        out = fn(data)
        held = perf_counter() - started
        if held >= SYNC_HOLD_NOTICE_SECONDS:
            self.channel.publish(SyncChunkHeldLoop(self.execution_id, node_id, held))
        return out

    def chunk_failed(self, node_id: str, exc: BaseException, data: TriggerFlowRuntimeData | None = None) -> None:
        self.walk_state.node_status[node_id] = FAILED
        if data is not None and self.walk_state.failed_chunk is None:  # the first failure: what retry() re-runs
            self.walk_state.failed_chunk = data
        if self.channel.active:
            self.channel.publish(ChunkFailed(self.execution_id, node_id, f"{type(exc).__name__}: {exc}", exc))

    async def _choose_arm(self, node: Node, value: Any, frames: Frames) -> int | None:
        """The index of the arm an if/match block takes for ``value``, or None to pass the input on.

        A hit_all match runs every matching case (``_run_all``) and gives ``_RAN_ALL``; its else
        arm only when none matches. Match cases compare with ``==`` unless they hold a predicate.
        """
        is_match = node.kind == MATCH
        matched: list[int] | None = [] if is_match and node.mode == HIT_ALL else None
        data = None
        for index, arm in enumerate(node.branches):
            predicate = arm.predicate
            if arm.is_default:  # else arms come last; a hit_all match takes it only when nothing matched
                return await self._run_all(node, value, frames, matched) if matched else index
            if predicate is None:
                if not is_match:
                    return index
                if arm.case_value != value:
                    continue
                if matched is None:
                    return index
                matched.append(index)
                continue
            if data is None:
                data = TriggerFlowRuntimeData(self.port, node, value, frames)
            try:
                verdict = predicate(data)
                if verdict.__class__ not in _PLAIN_RESULTS and isawaitable(verdict):
                    if self.inline:  # user async code runs in a task of its own (see _start_inline)
                        await leave_inline(verdict)
                    verdict = await verdict
            except TriggerFlowError as exc:
                if not isinstance(exc, InvalidArgumentError):
                    raise
                self.chunk_failed(node.id, exc)
                raise ChunkError(f"{node.id} ({arm.label})", exc) from exc
            except Exception as exc:
                self.chunk_failed(node.id, exc)
                raise ChunkError(f"{node.id} ({arm.label})", exc) from exc
            if verdict:
                if matched is None:
                    return index
                matched.append(index)
        return await self._run_all(node, value, frames, matched) if matched else None

    async def _fan_out(self, node: Node, value: Any, frames: Frames,
                       arms: list[int] | None = None) -> tuple[bool, Any]:
        """Run a batch's branches, a for_each's items or a hit_all match's matching ``arms``;
        (True, result) when all have finished."""
        if arms is not None:  # every matching case, on the same input; results in case order
            keys = None
            entries = [node.branches[index].entry for index in arms]
            items = [value] * len(arms)
        elif node.kind == BATCH:
            keys = [arm.label for arm in node.branches]
            entries = [arm.entry for arm in node.branches]
            items = [value] * len(keys)
        else:
            keys = None
            items = fan_out_items(value)
            entries = [node.branches[0].entry] * len(items)
        walk_state = self.walk_state
        activation = walk_state.open_activation(node.id, keys, len(items), frames, arms)
        walk_state.node_status[node.id] = RUNNING
        if self.channel.active:  # progress shows from the start, not after the first item
            self.channel.publish(FanOutProgress(self.execution_id, node.id, activation.id, 0, len(items)))

        def item_path(index: int) -> Coroutine[Any, Any, None]:
            item_frames = frames + ((SLOT, activation.id, index),)
            entry = entries[index]
            if entry is None:  # an empty body passes items through
                return self._fill_slot(item_frames[-1], items[index])
            return self.walk(entry, items[index], item_frames)

        # Paths of synchronous steps start inline; when every path awaits user code at once,
        # each starts eagerly, in a task of its own only if it suspends (see _gather).
        eager = all(self._awaits_at_once(arm.entry) for arm in node.branches)
        try:
            executor = node.executor
            if executor is not None:  # the items run elsewhere; their results fill the same slots
                from .remote_fan_out import run_remote_fan_out  # loads cloudpickle: only when a flow uses it

                await run_remote_fan_out(self, node, executor, activation, items)
            elif node.concurrency is None or node.concurrency >= len(items):
                await self._gather((item_path(i) for i in range(len(items))), eager=eager)
            else:
                await self._bounded(item_path, len(items), node.concurrency)
        finally:
            activation.awaiting = False
        if activation.remaining:
            self.walk_state.node_status[node.id] = WAITING
            return False, None  # some items paused; the last one resumed finishes the block
        del self.walk_state.activations[activation.id]
        self.walk_state.node_status[node.id] = DONE
        return True, activation.result()

    def _awaits_at_once(self, node_id: str | None) -> bool:
        """Whether a path from ``node_id`` awaits user code at its first step (an async chunk, a sub-flow)."""
        if node_id is None:
            return False
        node = self.graph.nodes[node_id]
        return self.handlers[node_id][1] if node.kind == CHUNK else node.kind == SUB_FLOW

    async def _bounded(self, item_path: Callable[[int], Coroutine[Any, Any, None]], count: int, limit: int) -> None:
        """Run ``count`` item paths with at most ``limit`` in flight (a fixed pool of workers)."""
        next_index = iter(range(count))

        async def worker() -> None:
            for index in next_index:
                await item_path(index)

        await self._gather([worker() for _ in range(limit)])

    async def _fill_slot(self, frame: Frame, value: Any) -> None:
        activation = self.walk_state.activations[frame[1]]
        activation.slots[frame[2]] = value
        activation.remaining -= 1
        if self.walk_state.joins:  # what collects saw in a scope that ends here is dropped with it
            forget_finished_scope(self, activation, frame[2])
        if self.channel.active:
            total = len(activation.slots)
            done = total - activation.remaining
            self.channel.publish(FanOutProgress(self.execution_id, activation.node_id, activation.id, done, total))
        if activation.remaining == 0 and not activation.awaiting:
            # Completed by a resumed item after the fan-out step returned: continue for it.
            del self.walk_state.activations[activation.id]
            self.walk_state.node_status[activation.node_id] = DONE
            await self.walk(activation.node_id, activation.result(), activation.frames, from_successors=True)

    async def _gather(self, coros: Iterable[Coroutine[Any, Any, Any]], inline: bool = True, *,
                      eager: bool = False) -> None:
        """Run the coroutines concurrently and await them all; if one fails, cancel the others
        (no orphaned task) and re-raise.

        Each coroutine starts in this stack and gets a task only if it suspends: ``eager``
        for paths whose first step runs user async code (``EagerStarter``), else inline
        (``_start_inline``); a single one in a list is simply awaited. Without ``inline``,
        each gets a task at once (a fresh stack). ``coros`` may be a generator: a for_each
        creates each item's coroutine only when the item starts.
        """
        loop = asyncio.get_running_loop()
        if inline and not eager and isinstance(coros, list) and len(coros) == 1:
            await coros[0]
            return
        pending = iter(coros)
        join = TaskJoin()
        starter = EagerStarter(loop) if eager else None
        try:
            for count, coro in enumerate(pending, 1):
                if starter is not None:
                    task = self._start_eager(starter, coro)
                elif inline:
                    task = self._start_inline(coro)
                else:
                    task = loop.create_task(coro)
                if task is not None:
                    join.add(task)
                if count % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            if starter is not None:
                starter.close()
            await join.wait()
        except BaseException:
            close_unstarted(pending)
            if starter is not None:
                starter.close()
            await join.cancel_all()
            raise

    def _start_eager(self, starter: EagerStarter, coro: Any) -> asyncio.Task[Any] | None:
        """``starter.start(coro)``, with user code allowed to run at once (see EagerStarter)."""
        outer, self.inline = self.inline, False
        try:
            return starter.start(coro)
        finally:
            self.inline = outer

    def _start_inline(self, coro: Any) -> asyncio.Task[Any] | None:
        """Run ``coro`` right here until it first suspends; None if it finished, else its task.

        Why: a task per concurrent path costs time and memory even when the path never
        waits, and 100,000 for_each items alive together (tasks, coroutines) made the
        garbage collector's full passes, and so the cost per item, grow with the number
        of items. Started inline, a synchronous item is done and freed at once.

        While a path runs inline, ``asyncio.current_task()`` is still the caller's task, so
        no user coroutine may start then (``asyncio.timeout`` or a contextvar would attach
        to the wrong task): ``self.inline`` tells the places that await user code to
        suspend first, which moves the path into its own task before the user code runs.
        A path that awaits user code at its first step starts eagerly instead (_start_eager).
        """
        outer, self.inline = self.inline, True
        try:
            yielded = coro.send(None)
        except StopIteration:
            return None
        finally:
            self.inline = outer
        return asyncio.get_running_loop().create_task(StartedInline(coro, yielded))

    def awaited_emit(self, event: str, payload: Any, frames: Frames, depth: int = -1,
                     detached: bool = False) -> Coroutine[Any, Any, None]:
        """The work an emit of ``event`` runs (not started): awaited by the emitter, or, with
        ``detached=True``, run as an ``emit_nowait``'s (it starts on a fresh stack: ``depth=0``).

        An event with one plain listener, unwatched, is walked directly: no dispatch coroutine
        stays alive under the handler while it runs, which halves what a loop of handlers that
        await their emits keeps per level. Anything else goes through ``dispatch_event``.
        """
        if not self.channel.active:
            graph = self.graph
            node_ids = graph.listeners.get(event)
            if node_ids is not None and len(node_ids) == 1:
                node_id = node_ids[0]
                mode = graph.nodes[node_id].mode
                if mode == "simple" or mode == "simple_or":
                    if depth < 0:
                        depth = emit_depth.get()
                    if depth < MAX_INLINE_EMIT_DEPTH:
                        return self.walk(node_id, payload, (), from_successors=True, emit_level=depth + 1,
                                         detached=detached)
        if detached:
            return self.detached_dispatch(event, payload, frames)
        return self.dispatch_event(event, payload, frames)

    def spawn_emit(self, event: str, payload: Any, frames: Frames) -> None:
        """Detach all the work of an emit of ``event``, which starts on a fresh stack (depth 0)."""
        work = self.awaited_emit(event, payload, frames, 0, detached=True)
        self._spawn(work, work)

    async def detached_dispatch(self, event: str, payload: Any, frames: Frames) -> None:
        """A dispatch nobody awaits (an ``emit_nowait``, a sync chunk's emit or state write): it
        starts on a fresh stack, its failure closes the execution, and it ends by ``leave()`` as
        work spawned with ``ExecutionWork.spawn`` must."""
        emit_depth.set(0)  # it starts in its own context: emits nest from there
        try:
            await self.dispatch_event(event, payload, frames)
        except BaseException as exc:
            if not await self._detached_failed(exc):
                raise
        finally:
            self._leave()

    async def dispatch_event(self, event: str, payload: Any, frames: Frames) -> None:
        """Run every `when` branch listening to ``event``; and-joins collect per execution and scope."""
        if self.channel.active:
            self.channel.publish(EventEmitted(self.execution_id, event))
        node_ids = self.graph.listeners.get(event)
        if not node_ids:
            return
        nodes = self.graph.nodes
        runs = []
        for node_id in node_ids:
            node = nodes[node_id]
            if node.mode == "simple" or node.mode == "simple_or":
                runs.append(self.walk(node_id, payload, (), from_successors=True))
            elif node.mode == "or":
                runs.append(self.walk(node_id, ("event", event, payload), (), from_successors=True))
            else:
                key = (node_id, scope_key(frames, nodes))
                seen = self.walk_state.joins.setdefault(key, {})
                seen[event] = payload
                if len(seen) == len(node.events):
                    del self.walk_state.joins[key]
                    # zip, not a comprehension: that would make ``seen`` a cell of this coroutine
                    joined = {"event": dict(zip(node.events, map(seen.__getitem__, node.events), strict=True))}
                    runs.append(self.walk(node_id, joined, (), from_successors=True))
        if not runs:
            return
        # Handlers that emit again (a "tick" loop) would nest one await per emit and hit
        # Python's recursion limit. Past a modest depth of this stack, the handlers run as a
        # task, which starts from the event loop with a fresh stack (and depth 0 again), so
        # a long loop pays for one task every MAX_INLINE_EMIT_DEPTH emits, not every emit.
        depth = emit_depth.get()
        if depth >= MAX_INLINE_EMIT_DEPTH:
            await self._gather(list(map(on_fresh_stack, runs)), inline=False)
            return
        emit_depth.set(depth + 1)
        try:
            if len(runs) == 1:  # awaited right here: no _gather frame kept alive per nested emit
                await runs[0]
            else:
                await self._gather(runs)
        finally:
            # set(), not reset(token): a path started inline may have moved into a task of its
            # own (another Context) while it waited here, and a token only resets its own Context.
            emit_depth.set(depth)
