"""``Execution``: one run of a flow, a handle made of named parts.

The parts, each in its own module: ``Lifecycle`` (open -> sealed -> closed, in flight,
auto-close, the close order; it owns the task scope and the stream), ``ExecutionWork``
(root calls and detached work), ``StateStore``, ``WalkState``, ``InterruptBook``,
``ResourceHost``, the ``GraphWalker`` that runs the graph and the ``ChunkPort`` each
chunk's ``data`` reaches. This class builds them and holds the public sync/async API.
Saving, loading and watching are added by the facade (``triggerflow_nb.execution``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Literal, TypeVar

from .._loop_bridge import run_on_home
from .._validate import flag, one_of, positive_int, seconds
from .._warn_once import ignore_wait_for_result, warn_deprecated_once
from ..definition.graph import START_ID
from ..errors import LifecycleError
from ..layers.flow_data import FlowData
from ..layers.resources import RuntimeResources
from ..layers.state import FINAL_RESULT_KEY
from ..observe import Channel, ExecutionStarted, InterruptResumed, StateKeyTracker
from ..reproducibility import new_execution_id
from .chunk_port import ChunkPort, check_event
from .history import DEFAULT_LIMIT, step_log
from .host import FlowHost
from .interrupts import InterruptBook
from .lifecycle import Lifecycle
from .outside import START_WAITS, outside_emit, spawn_outside_emit, state_triggers, write_state
from .resource_host import ResourceHost
from .result import ExecutionResult
from .retry import require_wired, retry_failed_chunk, retryable
from .state_store import StateStore
from .status import CLOSED, OPEN, SEALED, ExecutionStatus, LifecycleState, NodeStatus
from .stream import items_after, read_synchronously
from .walk_state import WalkState
from .walker import GraphWalker
from .work import INTERRUPTS, ExecutionWork

T = TypeVar("T")


class Execution:
    """One run of a flow: state, lifecycle, runtime stream, interrupts and resources."""

    def __init__(self, flow: FlowHost, *, flow_data: FlowData, flow_resources: dict[str, Any],
                 runtime_resources: dict[str, Any] | None = None, auto_close: bool = True,
                 auto_close_timeout: float | None = 10.0, concurrency: int | None = None,
                 execution_environments: list[Any] | None = None, history: bool = True,
                 history_limit: int = DEFAULT_LIMIT):
        # The usual values pass a cheap check; anything else gets the full one (and its error).
        # Both stay settable (e.g. ``execution.auto_close_timeout = 0`` before start): the lifecycle reads them here.
        self.auto_close = auto_close if auto_close is True or auto_close is False else flag("auto_close", auto_close)
        self.auto_close_timeout = (
            auto_close_timeout if auto_close_timeout is None or (
                auto_close_timeout.__class__ is float and 0.0 <= auto_close_timeout < math.inf)
            else seconds("auto_close_timeout", auto_close_timeout, allow_none=True)
        )
        self.concurrency = (concurrency if concurrency is None
                            else positive_int("concurrency", concurrency, allow_none=True))
        self.flow = flow
        self.id = new_execution_id(flow.name)
        self.created_at = time.time()
        self.started_at: float | None = None
        self.start_input: Any = None  # the value the last start() began with (for the notebook panel)
        self.loaded_from: str | None = None  # the id of the execution a load() restored into this one
        self._channel = channel = Channel()
        self._interrupts = InterruptBook(self.id)
        self._resources = ResourceHost(self.id, channel, runtime_resources, flow_resources, execution_environments)
        self._lifecycle = lifecycle = Lifecycle(self.id, flow.name, self, channel=channel, flow_channel=flow.channel,
                                                interrupts=self._interrupts, resources=self._resources)
        self._history = step_log(self.id, history, history_limit)
        self._state = StateStore(self.id, lifecycle, channel, self._history)
        self._walk_state = WalkState()
        self._work = work = ExecutionWork(lifecycle)
        semaphore = asyncio.Semaphore(concurrency) if concurrency else None
        self._walker = walker = GraphWalker(
            self.id, flow, self._walk_state, lifecycle, channel, semaphore, self._resources, leave=lifecycle.leave,
            note_interrupt=lifecycle.note_interrupt, detached_failed=work.detached_failed, spawn=work.spawn)
        walker.port = ChunkPort(self, flow, flow_data, lifecycle, self._state, self._resources, self._interrupts,
                                walker, work)
        self.result = ExecutionResult(self, lifecycle, self._state, self._resources)

    # -- observation and status ----------------------------------------------------------------

    @property
    def channel(self) -> Channel:
        """Subscribe here to observe this execution (``execution.channel.subscribe(fn)``)."""
        return self._channel

    def track_state_changes(self, notify: Callable[[], None]) -> StateKeyTracker:
        """Follow which state keys change, cheaply: ``notify()`` runs when the first key changes
        after a ``take()``, and ``tracker.take()`` returns the changed keys. For displays that
        refresh a few times a second however often the flow writes (see the notebook panel).
        """
        return StateKeyTracker(self._state, notify)

    @property
    def lifecycle_state(self) -> LifecycleState:
        return self._lifecycle.state

    @property
    def status(self) -> ExecutionStatus:
        """created, running, waiting (on interrupts), idle, completed, failed or cancelled."""
        return self._lifecycle.current_status()

    @property
    def closed_at(self) -> float | None:
        return self._lifecycle.closed_at

    def is_open(self) -> bool:
        return self._lifecycle.state == OPEN

    def is_sealed(self) -> bool:
        return self._lifecycle.state == SEALED

    def is_closed(self) -> bool:
        return self._lifecycle.state == CLOSED

    def get_lifecycle_state(self) -> str:
        return self._lifecycle.state

    def get_status(self) -> str:
        return self._lifecycle.current_status()

    def node_status(self) -> dict[str, NodeStatus]:
        """Per graph node: running, done, failed, waiting or cancelled (absent: not run)."""
        return dict(self._walk_state.node_status)

    def fan_out_progress(self) -> dict[str, tuple[str, int, int]]:
        """The batch/for_each runs still open (e.g. items paused): activation id -> (node id, done, total)."""
        return self._walk_state.fan_out_progress()

    def auto_close_in(self) -> float | None:
        """Seconds until the auto-close timer fires, or None when none is running."""
        return self._lifecycle.auto_close_in()

    def is_fresh(self) -> bool:
        """Never started, never loaded, nothing written: a load() target."""
        lifecycle = self._lifecycle
        return (not lifecycle.started and not self._state.values and lifecycle.state == OPEN
                and not self._interrupts.by_id)

    # -- start and retry ---------------------------------------------------------------------------

    async def run(self, value: Any, *, until: Literal["closed", "settled"] = "closed",
                  pause_fails_fast: bool = False) -> Any:
        """Start with ``value``; return once settled (the execution) or, with auto_close, closed
        (the close snapshot). ``pause_fails_fast`` is for callers that hold no handle to resume a
        pause with (``flow.start()``): a ``pause_for`` then raises at once.
        """
        if until != "closed" and until != "settled":
            one_of("until", until, ("closed", "settled"))
        lifecycle = self._lifecycle
        lifecycle.require_startable()
        self.flow.validate_runnable()
        wait_for_close = until == "closed"
        self.started_at = time.time()
        # With no idle delay (flow.start()), close right here once the run is idle, rather
        # than through a zero-delay timer and a task: it is most of the cost of a short run.
        lifecycle.begin(pause_fails_fast, close_when_idle=wait_for_close and self.auto_close
                        and self.auto_close_timeout == 0)
        try:
            # Mounting managed environments is part of the root call, so a close() racing with
            # it cuts it too (and the leases acquired so far are released, never leaked).
            await self._work.root(self._resources.mount_then(lambda: lifecycle.finished, lambda: _begin(self, value))
                                  if self._resources.requests else _begin(self, value))
        except (asyncio.CancelledError, *INTERRUPTS) as exc:
            await lifecycle.start_interrupted(exc)
            raise
        finally:
            close_now, lifecycle.close_when_idle = lifecycle.close_when_idle, False
        if lifecycle.error is not None:
            raise lifecycle.error
        if not wait_for_close:
            return self
        return self._state.get() if await lifecycle.settle(close_now) else self

    async def async_start(self, value: Any = None, *, wait_for_result: Any = None) -> Any:
        """Start with ``value``. Returns a dict exactly when the execution has closed, else the execution.

        With ``auto_close`` (the default) the execution closes once it has been idle for
        ``auto_close_timeout`` seconds; start() waits for that and returns the close snapshot (a
        dict). When it cannot close by itself (``auto_close=False``, ``auto_close_timeout=None``,
        or the run paused on an interrupt, which holds auto-close off) start() returns the
        execution, still open, so it can be resumed, emitted to or closed. ``wait_for_result`` is
        deprecated and ignored (with a DeprecationWarning).
        """
        ignore_wait_for_result("execution.start", wait_for_result, START_WAITS)
        return await self.run(value, until="closed")

    def start(self, value: Any = None, *, wait_for_result: Any = None) -> Any:
        ignore_wait_for_result("execution.start", wait_for_result, START_WAITS)
        return run_sync(self, self.async_start(value))

    async def async_retry(self, chunk: str | None = None) -> Any:
        """Run the chunk whose failure ended this execution again, in place, after fixing its code.

        "In place": the same execution reopens (lifecycle open, status running) and the chunk runs
        with the same input, at the same point of the graph, with the handler registered now
        (re-run the fixed ``@flow.chunk`` cell first). Its path then continues as it would have.

        The state it starts from is the state before that chunk: the state when the failure ended
        the execution, with every write the failed chunk made itself undone (a key it set gets its
        old value back, a key it created is removed, a list it appended to is cut back). Writes by
        other paths stay. Paths the failure cancelled are not run again.

        Returns what start() returns (see ``async_start``). Refused, with the reason, for an
        execution that did not fail in a chunk, and for a chunk inside a batch or for_each.
        """
        await retry_failed_chunk(chunk, execution_id=self.id, flow=self.flow, lifecycle=self._lifecycle,
                                 walk_state=self._walk_state, state=self._state, walker=self._walker,
                                 work=self._work, resources=self._resources, channel=self._channel)
        return self._state.get() if await self._lifecycle.settle() else self

    def retryable_chunk(self) -> str | None:
        """The chunk retry() would run again now, or None (see ``async_retry``)."""
        return retryable(self._lifecycle, self._walk_state)

    def retry(self, chunk: str | None = None) -> Any:
        return run_sync(self, self.async_retry(chunk))

    # -- seal and close ---------------------------------------------------------------------------

    async def async_seal(self) -> None:
        self._lifecycle.seal()

    def seal(self) -> None:
        run_sync(self, self.async_seal())

    async def async_close(self, timeout: float | None = None, pending_interrupts: str = "reject") -> dict[str, Any]:
        """Seal, let accepted work drain, close the stream, freeze and return the close snapshot.

        Pending interrupts make close() raise unless ``pending_interrupts="cancel"``. With a
        ``timeout``, work still running after most of it is cancelled (status ``cancelled``),
        given the rest to clean up, and the managed environments are released; the whole
        close returns within ``timeout`` seconds and nothing of the execution runs after it.
        """
        await self._lifecycle.close(timeout, pending_interrupts)
        return self._state.capture()

    def close(self, timeout: float | None = None, pending_interrupts: str = "reject") -> dict[str, Any]:
        return run_sync(self, self.async_close(timeout=timeout, pending_interrupts=pending_interrupts))

    # -- external emit ----------------------------------------------------------------------------

    async def async_emit(self, event: str, payload: Any = None) -> None:
        """Emit from outside while open; waits for the branches it triggered. The first emit to an
        execution not started yet starts it, as start() would, without running the start chain."""
        check_event(event)
        self._lifecycle.require_open(f"emit {event!r}")
        await self._work.root(outside_emit(self, event, payload))

    def emit(self, event: str, payload: Any = None) -> None:
        run_sync(self, self.async_emit(event, payload))

    async def async_emit_nowait(self, event: str, payload: Any = None) -> None:
        self.emit_nowait(event, payload)

    def emit_nowait(self, event: str, payload: Any = None) -> None:
        """Emit from outside without waiting (needs a running event loop, e.g. in a notebook or a coroutine)."""
        check_event(event)
        self._lifecycle.require_open(f"emit {event!r}")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No loop to schedule on outside async code: run it through instead of losing it.
            self.emit(event, payload)
            return
        spawn_outside_emit(self, event, payload)

    # -- state and resources ------------------------------------------------------------------------

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """Live state before close, the frozen close snapshot after (always a copy)."""
        return self._state.get(key, default)

    def set_state(self, key: str, value: Any, emit: bool = True) -> None:
        """Write state from outside a chunk (e.g. a notebook cell), while the execution is not closed.
        With ``emit``, the ``when({"state": key})`` branches it triggers run (an outside emit: only while
        open) and this waits for them."""
        if state_triggers(self, key, emit):
            run_sync(self, write_state(self, key, value, emit))
        else:
            self._state.apply("set", key, value, "from outside a chunk")

    def get_result(self) -> Any:
        """Deprecated: the reserved state key ``"$final_result"``."""
        warn_deprecated_once(
            "TriggerFlowExecution.get_result",
            "execution.get_result() is deprecated: it reads the reserved state key '$final_result'; "
            "read the close snapshot (or execution.result.get_state()) instead",
        )
        return self._state.get(FINAL_RESULT_KEY)

    @property
    def runtime_resources(self) -> RuntimeResources:
        return self._resources.resources

    def inject_resources(self, **resources: Any) -> None:
        """Add or replace execution-level resources (e.g. re-injection after load())."""
        if self._lifecycle.state == CLOSED:  # nothing would use them, and its views no longer follow it
            raise LifecycleError(
                f"cannot inject resources {sorted(resources)}: execution {self.id} is closed; to run on, load "
                f"its snapshot into a new execution: flow.create_execution(auto_close=False).load(saved, "
                f"runtime_resources={{...}})"
            )
        for name, value in resources.items():
            self._resources.set(name, value)

    # -- the runtime stream --------------------------------------------------------------------------

    async def async_put_into_stream(self, item: Any) -> None:
        self._lifecycle.stream.put_item(item)

    def put_into_stream(self, item: Any) -> None:
        self._lifecycle.stream.put_item(item)

    @property
    def stream_length(self) -> int:
        """How many items have been put into the runtime stream."""
        return len(self._lifecycle.stream.items)

    def get_stream_items(self, last: int | None = None) -> list[Any]:
        """The items put into the stream so far (the ``last`` ones only, if given), without waiting."""
        return self._lifecycle.stream.last(last)

    def get_async_runtime_stream(self, initial_value: Any = None, *, timeout: float | None = 10) -> AsyncIterator[Any]:
        """Every stream item in order, from the first; ends when the execution closes.

        If the execution has not started and ``initial_value`` is given, it is started with it.
        ``timeout`` bounds the wait for each next item (None waits as long as it takes).
        """
        lifecycle = self._lifecycle
        return items_after(lifecycle.stream, timeout, lambda: None if lifecycle.started or initial_value is None
                           else lifecycle.scope.spawn(self.run(initial_value, until="settled")))

    def get_runtime_stream(self, initial_value: Any = None, *, timeout: float | None = 10) -> Iterator[Any]:
        agen = self.get_async_runtime_stream(initial_value, timeout=timeout)
        return read_synchronously(agen, lambda step: run_sync(self, step))

    # -- interrupts ------------------------------------------------------------------------------------

    def get_pending_interrupts(self) -> dict[str, dict[str, Any]]:
        """Pending interrupts by id: type, payload, resume target, chunk, timestamps."""
        return {i.id: i.public() for i in self._interrupts.pending()}

    def get_interrupt(self, interrupt_id: str) -> dict[str, Any]:
        return self._interrupts.describe(interrupt_id)

    async def async_continue_with(self, interrupt_id: str, payload: Any = None) -> None:
        """Resume a pending interrupt with ``payload``; waits for the resumed path to settle."""
        interrupt = self._interrupts.waiting(interrupt_id)
        self._lifecycle.require_open(f"continue interrupt {interrupt_id!r}")
        target = interrupt.resume_to
        if target == "next" or target == "self":
            require_wired(self._walker, self.flow.name, interrupt.node_id, interrupt.frames,
                          f"interrupt {interrupt_id!r} paused at chunk {interrupt.node_id!r}", "the pause",
                          "continue_with", "the interrupt is still pending")
        InterruptBook.mark_resumed(interrupt, payload)
        self._lifecycle.publish(InterruptResumed(self.id, interrupt_id))
        work = self._walker.resume(interrupt, payload)
        await self._work.root(work)

    def continue_with(self, interrupt_id: str, payload: Any = None) -> None:
        if self._lifecycle.loop_stops_after_call():
            run_sync(self, _continue_then_auto_close(self, interrupt_id, payload))
        else:
            run_sync(self, self.async_continue_with(interrupt_id, payload))

    def __repr__(self) -> str:
        return (f"<TriggerFlowExecution {self.id[:8]} of flow {self.flow.name!r}: "
                f"{self._lifecycle.state}, {self.status}>")


def run_sync(execution: Execution, coro: Coroutine[Any, Any, T]) -> T:
    """Every sync call goes to the loop the execution lives on, from whatever thread it comes."""
    __tracebackhide__ = True  # IPython hides this frame
    return run_on_home(coro, execution._lifecycle.home_loop, f"execution {execution.id}")


def _begin(execution: Execution, value: Any) -> Coroutine[Any, Any, None]:
    execution.start_input = value
    execution._lifecycle.publish(ExecutionStarted(execution.id, value))
    return execution._walker.walk(START_ID, value, (), from_successors=True)


async def _continue_then_auto_close(execution: Execution, interrupt_id: str, payload: Any) -> None:
    """Continue, then, if that left the run idle with auto-close on, wait for that close as start()
    does: in a plain script nothing runs the loop after the call, so its timer would never fire."""
    await execution.async_continue_with(interrupt_id, payload)
    await execution._lifecycle.settle()
