"""``Execution``: one run of a flow, and its lifecycle ``open -> sealed -> closed``.

The pure runtime: lifecycle, state writes, the stream, interrupts, environments.
Saving, loading and watching are added by the facade (``triggerflow_nb.execution``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Literal, TypeVar, cast

from .._loop_bridge import run_on_home
from .._tracebacks import trim
from .._validate import flag, non_empty_str, one_of, positive_int, seconds
from .._warn_once import warn_deprecated_once
from ..definition.graph import START_ID, Node, state_written_event
from ..environments.manager import Lease, execution_environment, normalize_requests
from ..errors import (
    ChunkError,
    FlowDefinitionError,
    InterruptError,
    InvalidArgumentError,
    LifecycleError,
    StateSerializationError,
    TriggerFlowError,
)
from ..layers.resources import RuntimeResources
from ..layers.state import FINAL_RESULT_KEY, append_value, copy_state_value, to_state_value
from ..observe import (
    AutoCloseScheduled,
    Channel,
    ChunkFinished,
    ChunkStarted,
    ExecutionClosed,
    ExecutionReplaced,
    ExecutionSealed,
    ExecutionSettled,
    ExecutionStarted,
    InterruptOpened,
    InterruptResumed,
    ResourcesChanged,
    StateChanged,
    StateKeyTracker,
    StateRejected,
    StreamItem,
)
from ..reproducibility import new_execution_id, new_interrupt_id
from . import sub_flow
from .activation import Activation
from .frames import SLOT, Frames
from .host import FlowHost
from .interrupts import Interrupt
from .runtime_data import Resume
from .scope import TaskScope
from .status import (
    CANCELLED,
    CLOSED,
    COMPLETED,
    CREATED,
    DONE,
    FAILED,
    IDLE,
    OPEN,
    RESUMED,
    RUNNING,
    SEALED,
    WAITING,
    ExecutionStatus,
    LifecycleState,
    NodeStatus,
)
from .stream import RuntimeStream
from .walker import INTERRUPTS, GraphWalker

logger = logging.getLogger("triggerflow_nb")
_running_loop = asyncio._get_running_loop  # None in a thread without a loop (a chunk's worker thread)
_DISPATCH_CODE = GraphWalker._dispatch_event.__code__  # tells an emit's dispatch from its direct walk
T = TypeVar("T")

# close(timeout=T): the work gets 80% of T to drain; what is cancelled then gets half of the rest
# to run its cleanup, and releasing environments the remainder.
_DRAIN_SHARE = 0.8
_CLEANUP_SHARE = 0.5
# Without a timeout, cancelled work (after a failure) gets this long to clean up before release.
CLEANUP_GRACE = 10.0


class Execution(GraphWalker):
    """One run of a flow: state, lifecycle, runtime stream, interrupts and resources."""

    def __init__(self, flow: FlowHost, *, runtime_resources: dict[str, Any] | None = None,
                 auto_close: bool = True, auto_close_timeout: float | None = 10.0,
                 concurrency: int | None = None, execution_environments: list[Any] | None = None):
        # The usual values pass a cheap check; anything else gets the full one (and its error).
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
        self._resources = RuntimeResources(runtime_resources, flow._runtime_resources)
        self._environments = _normalize_environment_requests(execution_environments)
        if self._environments:
            check_managed_keys_are_free(self._environments, runtime_resources)
        self._environment_leases: list[Any] = []
        self._state: dict[str, Any] = {}
        self._stream = RuntimeStream()
        self._stream_parent: Execution | None = None
        self._interrupts: dict[str, Interrupt] = {}
        self._interrupts_opened = 0  # numbers the generated interrupt ids in reproducible mode
        self._activations: dict[str, Activation] = {}
        self._activation_counter = 0
        self._joins: dict[tuple[str, str], dict[str, Any]] = {}
        self._node_status: dict[str, NodeStatus] = {}
        self._channel = Channel()
        self._state_trackers: tuple[tuple[dict[str, None], Callable[[], None]], ...] = ()
        self._flow_channel = flow.channel
        self._semaphore: asyncio.Semaphore | None = asyncio.Semaphore(concurrency) if concurrency else None
        self._lifecycle: LifecycleState = OPEN
        self._started = False
        self._finished = False  # closed, failed or cancelled: paths stop
        self._status: ExecutionStatus = CREATED
        self._close_reason: str | None = None
        self._error: BaseException | None = None
        self._inflight = 0
        self._home_loop: asyncio.AbstractEventLoop | None = None  # where it runs, once started or loaded
        # Owns every task and root call of this execution.
        self._scope = TaskScope(self.id, never_ran=self._detached_never_ran)
        self._release_error: Exception | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_event: asyncio.Event | None = None
        self._closed_event: asyncio.Event | None = None
        self._announced = False  # closed, released and announced: nothing of closing is left to wait for
        self._pause_fails_fast = False
        self._close_when_idle = False  # set while flow.start() runs: it closes inline (see run)
        self._interrupted: str | None = None  # what cut a run short, e.g. "KeyboardInterrupt in chunk 'x'"
        self._failed_chunk = None  # the data of the chunk run whose failure ended the execution (retry())
        self._cancelled_at_close: list[Interrupt] = []  # interrupts the close cancelled (retry() revives them)
        self.created_at = time.time()
        self.started_at: float | None = None
        self.start_input: Any = None  # the value the last start() began with (for the notebook panel)
        self.closed_at: float | None = None
        self.loaded_from: str | None = None  # the id of the execution a load() restored into this one
        self.result = ExecutionResult(self)

    # -- observation ------------------------------------------------------------------------

    @property
    def channel(self) -> Channel:
        """Subscribe here to observe this execution (``execution.channel.subscribe(fn)``)."""
        return self._channel

    def _publish(self, event: Any) -> None:
        if self._channel.active:
            self._channel.publish(event)
        if self._flow_channel.active:
            self._flow_channel.publish(event)

    def track_state_changes(self, notify: Callable[[], None]) -> StateKeyTracker:
        """Follow which state keys change, cheaply: ``notify()`` runs when the first key changes
        after a ``take()``, and ``tracker.take()`` returns the changed keys. For displays that
        refresh a few times a second however often the flow writes (see the notebook panel).
        """
        return StateKeyTracker(self, notify)

    # -- lifecycle state ---------------------------------------------------------------------

    @property
    def lifecycle_state(self) -> LifecycleState:
        return self._lifecycle

    @property
    def status(self) -> ExecutionStatus:
        """created, running, waiting (on interrupts), idle, completed, failed or cancelled."""
        if self._finished or not self._started:
            return self._status
        if self._inflight:
            return RUNNING
        return WAITING if self._pending_interrupts() else IDLE

    def is_open(self) -> bool:
        return self._lifecycle == OPEN

    def is_sealed(self) -> bool:
        return self._lifecycle == SEALED

    def is_closed(self) -> bool:
        return self._lifecycle == CLOSED

    def get_lifecycle_state(self) -> str:
        return self._lifecycle

    def get_status(self) -> str:
        return self.status

    def node_status(self) -> dict[str, NodeStatus]:
        """Per graph node: running, done, failed, waiting or cancelled (absent: not run)."""
        return dict(self._node_status)

    def fan_out_progress(self) -> dict[str, tuple[str, int, int]]:
        """The batch/for_each runs still open (e.g. items paused): activation id -> (node id, done, total)."""
        return {a.id: (a.node_id, len(a.slots) - a.remaining, len(a.slots)) for a in self._activations.values()}

    def _require_open(self, action: str) -> None:
        if self._lifecycle != OPEN:
            raise LifecycleError(
                f"cannot {action}: execution {self.id} of flow {self.flow.name!r} is {self._lifecycle}"
                + (" (a sealed execution only drains what it already accepted; create a new execution)"
                   if self._lifecycle == SEALED else "; create a new execution with flow.create_execution()")
            )

    # -- in-flight accounting and auto-close ----------------------------------------------------

    def _enter(self) -> None:
        self._inflight += 1
        if self._inflight == 1:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._idle_event is not None:
                self._idle_event.clear()

    def _leave(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            if self._idle_event is not None:
                self._idle_event.set()
            if self._channel.active and not self._finished:
                self._channel.publish(ExecutionSettled(self.id, self.status))
            self._schedule_auto_close()

    def _schedule_auto_close(self) -> None:
        if (not self.auto_close or self.auto_close_timeout is None or self._finished or not self._started
                or self._inflight or self._pending_interrupts() or self._idle_timer is not None
                or self._close_when_idle):
            return
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self.auto_close_timeout, self._auto_close_due)
        if self._channel.active:  # a panel counts down to it
            self._channel.publish(AutoCloseScheduled(self.id, self.auto_close_timeout))

    def auto_close_in(self) -> float | None:
        """Seconds until the auto-close timer fires, or None when none is running."""
        timer = self._idle_timer
        if timer is None or timer.cancelled():
            return None
        # The home loop's clock (a monotonic clock) reads the same from any thread.
        return max(0.0, timer.when() - self._home_loop.time())  # type: ignore[union-attr]  # set: a timer runs

    def _auto_close_due(self) -> None:
        self._idle_timer = None
        if self._inflight or self._finished or self._pending_interrupts():
            return
        self._scope.spawn(self._close_idle(f"auto-close after {self.auto_close_timeout:.3g}s idle"))

    async def _close_idle(self, reason: str) -> None:
        if not self._finished:
            self._lifecycle = SEALED
            if self._interrupted:  # the run was cut short: closing it does not make it a success
                await self._finish(CANCELLED, f"{reason}, after an interrupt ({self._interrupted})")
            else:
                await self._finish(COMPLETED, reason)

    async def _root(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run one externally started piece of work (start, emit, continue) in the caller's task,
        owned by the scope: close() can cut it, and then its caller gets a LifecycleError."""
        entered = self._scope.enter_root()
        self._enter()
        failed_elsewhere = False
        try:
            return await coro
        except asyncio.CancelledError:
            if self._scope.was_cut(entered[0]):
                task = entered[0]
                if task is not None:
                    task.uncancel()  # the cancellation was ours and ends here
                if self._error is not None:  # cut because the run failed elsewhere: that is the news
                    failed_elsewhere = True
                    raise self._error from None
                raise LifecycleError(
                    f"execution {self.id} of flow {self.flow.name!r} was closed while this call was running "
                    f"({self._close_reason}); the path it ran was cancelled"
                ) from None
            self._note_interrupt("CancelledError")
            raise
        except INTERRUPTS as exc:
            self._note_interrupt(type(exc).__name__)
            raise
        except BaseException as exc:  # an Exception, or any other BaseException a chunk raised
            await self._fail(exc)
            if isinstance(exc, TriggerFlowError):  # an async caller sees its own and the chunk's frames
                trim(exc)
            raise
        finally:
            self._leave()
            self._scope.exit_root(entered)
            if failed_elsewhere:
                # The failure's close waited for this call to leave; the caller hears of the failure
                # once that close is done (cleanup run, environments released) and the failed path's
                # own task has ended, not while they run.
                await self._wait_closed()
                await self._scope.wait_quiet(CLEANUP_GRACE)

    def _note_interrupt(self, what: str) -> None:
        """Remember that a run was cut short (a cell interrupted, an await cancelled)."""
        if not self._finished and self._interrupted is None:
            self._interrupted = what

    def _spawn(self, detached: Coroutine[Any, Any, Any], unstarted: Coroutine[Any, Any, Any]) -> None:
        """Run detached work (an ``emit_nowait``, a sync chunk's emit or write), owned by this
        execution: ``detached`` is a detached walk or ``_run_detached``, which end by ``_leave()``.
        ``unstarted`` is what to close if it never starts: the work ``_run_detached`` wraps (closing
        an unstarted wrapper cannot close what it holds), else ``detached`` itself."""
        if _running_loop() is None:  # a chunk's worker thread (asyncio.to_thread): hand it to the loop
            self._spawn_from_thread(detached, unstarted)
            return
        self._enter()  # counted now, so auto-close cannot slip in before it starts
        self._scope.spawn_detached(detached, unstarted)

    def _spawn_from_thread(self, detached: Coroutine[Any, Any, Any], unstarted: Coroutine[Any, Any, Any]) -> None:
        """``_spawn`` for a thread without a loop: the work is handed to the execution's loop. The
        chunk that runs the thread is still in flight meanwhile, so nothing settles before it lands."""
        loop = self._home_loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._spawn, detached, unstarted)
                return
            except RuntimeError:  # the loop was closed
                pass
        detached.close()
        unstarted.close()
        raise LifecycleError(
            f"execution {self.id} cannot take work from this thread: its event loop is not running (emit or "
            f"write from the chunk itself, or from a thread while the chunk that started it still runs)"
        )

    def _spawn_emit(self, event: str, payload: Any, frames: Frames) -> None:
        """Detach all the work of an emit of ``event``, which starts on a fresh stack (depth 0)."""
        work = self._awaited_emit(event, payload, frames, depth=0, detached=True)
        if getattr(work, "cr_code", None) is _DISPATCH_CODE:  # a dispatch: it needs the detached wrapper
            self._spawn(self._run_detached(work), work)
        else:
            self._spawn(work, work)

    async def _detached_failed(self, exc: BaseException) -> bool:
        """Nobody awaits detached work: its failure closes the execution. A cancellation and an
        interrupt go on up (False), the interrupt noted first."""
        if isinstance(exc, asyncio.CancelledError):
            return False
        if isinstance(exc, INTERRUPTS):
            self._note_interrupt(type(exc).__name__)
            return False
        await self._fail(exc)
        return True

    def _detached_never_ran(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Detached work dropped before it started (a close): undo what spawning it did."""
        coro.close()
        self._leave()

    # -- start ----------------------------------------------------------------------------------

    async def run(self, value: Any, *, until: Literal["closed", "settled"] = "closed",
                  pause_fails_fast: bool = False) -> Any:
        """Start with ``value``; return once settled (the execution) or, with auto_close, closed
        (the close snapshot). ``pause_fails_fast`` is for callers that hold no handle to resume a
        pause with (``flow.start()``): a ``pause_for`` then raises at once.
        """
        if until != "closed" and until != "settled":
            one_of("until", until, ("closed", "settled"))
        if self._started:
            raise LifecycleError(
                f"execution {self.id} was already started; an execution runs once: "
                f"create another with flow.create_execution()"
            )
        self._require_open("start")
        self.flow.validate_runnable()
        wait_for_close = until == "closed"
        self._pause_fails_fast = pause_fails_fast
        self._home_loop = asyncio.get_running_loop()
        self._started = True
        self._status = RUNNING
        self.started_at = time.time()
        # With no idle delay (flow.start()), close right here once the run is idle, rather
        # than through a zero-delay timer and a task: it is most of the cost of a short run.
        self._close_when_idle = wait_for_close and self.auto_close and self.auto_close_timeout == 0
        try:
            # Mounting managed environments is part of the root call, so a close() racing with
            # it cuts it too (and the leases acquired so far are released, never leaked).
            await self._root(self._mount_and_walk(value) if self._environments else self._begin(value))
        except (asyncio.CancelledError, *INTERRUPTS) as exc:
            if self._close_when_idle:  # flow.start(): nobody holds a handle to close it later
                reason = f"interrupted ({self._interrupted})"
                if isinstance(exc, GeneratorExit):  # the loop is going away: nothing can be awaited
                    self._finish_now(CANCELLED, reason)
                else:  # closed and released before the interrupt leaves: a script may exit right after
                    await asyncio.shield(self._finish(CANCELLED, reason))
            raise
        finally:
            close_now, self._close_when_idle = self._close_when_idle, False
        if self._error is not None:
            raise self._error
        if not wait_for_close:
            return self
        return await self._state_once_settled(close_now)

    async def _state_once_settled(self, close_now: bool = False) -> Any:
        """What start() and retry() return: the close snapshot when auto-close closes the execution
        (waiting for it), else the execution itself, still open (idle, or waiting on interrupts)."""
        if self.auto_close and self.auto_close_timeout is not None and not self._pending_interrupts():
            if close_now and not self._inflight:
                await self._close_idle("auto-close after 0s idle")
            else:
                self._schedule_auto_close()
            await self._wait_closed()
            self._raise_error()
            return self.result.get_state()
        return self

    def _begin(self, value: Any) -> Coroutine[Any, Any, None]:
        self.start_input = value
        self._publish(ExecutionStarted(self.id, value))
        return self._walk(START_ID, value, (), from_successors=True)

    async def _mount_and_walk(self, value: Any) -> None:
        await self._mount_environments()
        await self._begin(value)

    async def async_start(self, value: Any = None) -> Any:
        """Start with ``value``. Returns a dict exactly when the execution has closed, else the execution.

        With ``auto_close`` (the default) the execution closes once it has been idle for
        ``auto_close_timeout`` seconds; start() waits for that and returns the close snapshot (a
        dict). When it cannot close by itself (``auto_close=False``, ``auto_close_timeout=None``,
        or the run paused on an interrupt, which holds auto-close off) start() returns the
        execution, still open, so it can be resumed, emitted to or closed.
        """
        return await self.run(value, until="closed")

    def start(self, value: Any = None) -> Any:
        return self._run_sync(self.async_start(value))

    # -- retry a failed chunk -------------------------------------------------------------------

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
        data = self._failed_chunk
        if self._status != FAILED or data is None or not self._announced:
            raise LifecycleError(
                f"retry() re-runs the chunk whose failure ended an execution; execution {self.id} is "
                f"{self._lifecycle}, {self.status}" + ("" if self._status != FAILED else
                                                      " and did not fail in a chunk (a predicate or a release failed)")
            )
        node_id = data._node.id
        if chunk is not None and chunk != node_id:
            raise InvalidArgumentError(f"chunk {chunk!r} did not fail in execution {self.id}: retry({node_id!r}) "
                                       f"(or retry()) re-runs the one that did")
        if any(frame[0] == SLOT for frame in data._frames):
            raise LifecycleError(
                f"chunk {node_id!r} failed inside a batch or for_each, whose other items were cancelled with it; "
                f"retry() cannot rebuild them: start a new execution"
            )
        self.flow.validate_runnable()
        self._require_wired(node_id, data._frames, f"chunk {node_id!r} failed", "the failure", "retry()",
                            "the execution stays as it failed")
        for key, old in (data._undo or {}).items():
            if old is _ABSENT:
                self._state.pop(key, None)
            else:
                if old.__class__ is tuple:  # a list and its length then (state holds no tuples)
                    old, length = old
                    del old[length:]
                self._state[key] = old
        self._reopen()
        self._node_status = {n: s for n, s in self._node_status.items() if s != FAILED}
        if self._channel.active:  # state and statuses changed as a whole: every panel redraws
            self._channel.publish(ExecutionReplaced(self.id, "retry"))
        work = self._walk(node_id, data.input, data._frames, resume=data.resume)
        await self._root(self._mount_then(work) if self._environments else work)
        if self._error is not None:
            raise self._error
        return await self._state_once_settled()

    def _require_wired(self, node_id: str, frames: Frames, what: str, since: str, call: str, kept: str) -> None:
        """Refuse to go on from ``node_id`` if the graph no longer has what that path goes on through."""
        gap = self._continuation_gap(node_id, frames)
        if gap is not None:
            raise FlowDefinitionError(
                f"{what}, and flow {self.flow.name!r} no longer has {gap} it goes on through (its wiring changed "
                f"since {since}): wire it back and call {call} again; {kept}"
            )

    def retryable_chunk(self) -> str | None:
        """The chunk retry() would run again now, or None (see ``async_retry``)."""
        data = self._failed_chunk
        if self._status != FAILED or data is None or not self._announced:
            return None
        return None if any(frame[0] == SLOT for frame in data._frames) else data._node.id

    def retry(self, chunk: str | None = None) -> Any:
        return self._run_sync(self.async_retry(chunk))

    def _reopen(self) -> None:
        """Undo closing after a failure (see retry): open, running, the stream open again."""
        self._failed_chunk = None
        self._finished = False
        self._lifecycle = OPEN
        self._status = RUNNING
        self._error = None
        self._close_reason = None
        self.closed_at = None
        self._announced = False
        self._closed_event = None
        self._interrupted = None
        self._stream.closed = False
        self._home_loop = asyncio.get_running_loop()
        for interrupt in self._cancelled_at_close:
            interrupt.status = WAITING
        self._cancelled_at_close = []

    async def _mount_then(self, work: Coroutine[Any, Any, None]) -> None:
        await self._mount_environments()
        await work

    # -- seal and close ---------------------------------------------------------------------------

    async def async_seal(self) -> None:
        if self._lifecycle == OPEN:
            self._lifecycle = SEALED
            self._publish(ExecutionSealed(self.id))

    def seal(self) -> None:
        self._run_sync(self.async_seal())

    async def async_close(self, timeout: float | None = None, pending_interrupts: str = "reject") -> dict[str, Any]:
        """Seal, let accepted work drain, close the stream, freeze and return the close snapshot.

        Pending interrupts make close() raise unless ``pending_interrupts="cancel"``. With a
        ``timeout``, work still running after most of it is cancelled (status ``cancelled``),
        given the rest to clean up, and the managed environments are released; the whole
        close returns within ``timeout`` seconds and nothing of the execution runs after it.
        """
        one_of("pending_interrupts", pending_interrupts, ("reject", "cancel"))
        if seconds("close(timeout=...)", timeout, allow_none=True, inf_is_none=True) is None:
            timeout = None  # math.inf: no limit
        if self._scope.inside():
            raise LifecycleError(
                f"close() was called from inside execution {self.id}'s own work (a chunk or a branch it "
                f"started), where it would wait for itself: call data.execution.seal() there (nothing new "
                f"is accepted and the execution closes once idle, with auto_close), or close() from outside"
            )
        if self._lifecycle == CLOSED:
            await self._wait_closed()  # a close still releasing (another caller's): returns once it has
            self._raise_error()
            return self._close_snapshot()
        pending = self._pending_interrupts()
        if pending and pending_interrupts == "reject":
            raise InterruptError(
                f"execution {self.id} has pending interrupts {[i.id for i in pending]}: resume them with "
                f"execution.continue_with(interrupt_id, payload), or close(pending_interrupts='cancel')"
            )
        for interrupt in pending:
            interrupt.status = CANCELLED
        await self.async_seal()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        status: ExecutionStatus = COMPLETED
        reason = "closed"
        if self._inflight:
            if self._idle_event is None:  # made on demand: most executions never need one
                self._idle_event = asyncio.Event()
            try:  # most of the time for the work to drain; the rest for cleanup and release
                await asyncio.wait_for(self._idle_event.wait(), None if timeout is None else timeout * _DRAIN_SHARE)
            except TimeoutError:
                status, reason = CANCELLED, f"close timeout after {timeout}s: running work was cancelled"
        if pending:
            reason = f"closed with {len(pending)} interrupt(s) cancelled"
        if self._interrupted and status == COMPLETED:
            status, reason = CANCELLED, f"{reason} after an interrupt ({self._interrupted})"
        await self._finish(status, reason, deadline=deadline)
        self._raise_error()
        return self._close_snapshot()

    def close(self, timeout: float | None = None, pending_interrupts: str = "reject") -> dict[str, Any]:
        return self._run_sync(self.async_close(timeout=timeout, pending_interrupts=pending_interrupts))

    def _raise_error(self) -> None:
        """Re-raise what ended the run: a chunk's error, else a failed release of its environments."""
        if self._error is not None:
            raise self._error
        if self._release_error is not None:
            raise self._release_error

    async def _wait_closed(self) -> None:
        if self._announced:
            return
        if self._closed_event is None:  # made on demand: most executions never need one
            self._closed_event = asyncio.Event()
        await self._closed_event.wait()

    async def _fail(self, exc: BaseException) -> None:
        if self._finished:
            return
        self._error = exc
        name = getattr(exc, "chunk_name", None)
        original = getattr(exc, "original", None)
        # Said once: "chunk 'x' failed: ValueError: no good", not the chunk's name twice.
        what = f"{type(original).__name__}: {original}" if original is not None else str(exc)
        await self._finish(FAILED, f"chunk {name!r} failed: {what}" if name else f"failed: {exc}")

    async def _finish(self, status: ExecutionStatus, reason: str, *, deadline: float | None = None) -> None:
        """Close for good: freeze, cancel what still runs and wait for its cleanup, then release.

        ``deadline`` (loop time) bounds the whole of it; without one, cancelled work still gets
        at most ``CLEANUP_GRACE`` seconds, so a chunk that ignores cancellation cannot hang close.
        """
        if not self._freeze(status, reason):
            await self._wait_closed()  # closing already (elsewhere): return once it has finished
            return
        if not self._scope.busy() and not self._environment_leases:
            await self._release_and_announce(status, reason, None)  # nothing to wait for: it never suspends
            return
        # Waiting for cleanup or a release: in an owned task, so that a caller cancelled meanwhile
        # (an interrupted cell, a cancelled start) cannot leave the close half done, never announced.
        caller = asyncio.current_task()
        await asyncio.shield(self._scope.spawn(self._settle_and_release(status, reason, deadline, caller)))

    async def _settle_and_release(self, status: ExecutionStatus, reason: str, deadline: float | None,
                                  caller: asyncio.Task[Any] | None) -> None:
        """The rest of ``_finish``: wait for the cancelled work's cleanup (not for ``caller``, which
        waits for this), then release and announce."""
        loop = asyncio.get_running_loop()
        if self._scope.busy(besides=caller):
            grace = CLEANUP_GRACE if deadline is None else max(0.0, (deadline - loop.time()) * _CLEANUP_SHARE)
            if not await self._scope.wait_quiet(grace, besides=caller):
                logger.warning("execution %s: work still running %.3gs after it was cancelled; releasing anyway",
                               self.id, grace)
        await self._release_and_announce(status, reason, None if deadline is None else deadline - loop.time())

    def _finish_now(self, status: ExecutionStatus, reason: str) -> None:
        """``_finish`` for a caller that cannot await (it is being interrupted): release in an owned task."""
        if self._freeze(status, reason):
            self._scope.spawn(self._release_and_announce(status, reason, None))

    def _freeze(self, status: ExecutionStatus, reason: str) -> bool:
        """The synchronous part of closing; False if the execution was closed already."""
        if self._finished:
            return False
        self._finished = True
        self._status = status
        self._close_reason = reason
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._scope.cancel_all()
        # Nobody can resume a closed execution's interrupts; retry() brings them back if it reopens.
        self._cancelled_at_close = self._pending_interrupts()
        for interrupt in self._cancelled_at_close:
            interrupt.status = CANCELLED
        # Closing freezes state as it is: writes to a closed execution are refused, so the
        # close snapshot needs no copy of its own (readers get copies through execution.result).
        self._lifecycle = CLOSED
        self.closed_at = time.time()
        self._stream.close()
        return True

    async def _release_and_announce(self, status: str, reason: str, timeout: float | None) -> None:
        try:
            if self._environment_leases:
                await self._release_environments(timeout)
        except Exception as exc:  # kept, never lost: close() and start() raise it, get_meta() shows it
            self._release_error = exc
        finally:
            self._announced = True
            self._publish(ExecutionClosed(self.id, status, reason))
            if self._closed_event is not None:
                self._closed_event.set()

    # -- sub-flow steps (the walker hands them over: they are a child execution's lifecycle) ---------

    async def _run_sub_flow(self, node: Node, value: Any, frames: Frames) -> Any:
        if self._inline:  # the child's chunks are user code too (see _start_inline)
            await asyncio.sleep(0)
        self._node_status[node.id] = RUNNING
        if self._channel.active:
            self._channel.publish(ChunkStarted(self.id, node.id))
        child = None
        try:
            # Inside the try: a capture that fails (a missing resource) fails this step by name.
            child = type(self)(cast(FlowHost, node.sub_flow), auto_close=False,
                               runtime_resources=sub_flow.child_resources(node.capture, self._resources))
            child._stream_parent = self
            await child.run(sub_flow.child_input(node.capture, value, self._state), until="settled")
            if child._pending_interrupts():
                await child.async_close(pending_interrupts="cancel")
                raise LifecycleError(
                    f"sub-flow {child.flow.name!r} paused; pause_for inside a sub-flow is not supported "
                    f"yet: pause in the parent flow before or after the to_sub_flow() step"
                )
            snapshot = await child.async_close()
            next_value, updates = sub_flow.apply_write_back(node.write_back, snapshot)
        except asyncio.CancelledError:
            # This step was cancelled (a sibling failed, a close timed out): the child it owns
            # goes with it, so none of the child's tasks outlive the step.
            self._node_status[node.id] = CANCELLED
            if child is not None:
                await child._finish(CANCELLED, f"its parent step {node.id!r} was cancelled")
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
        if listeners and node.done_event in listeners:  # when(<sub-flow step>) fires like a chunk's
            await self._dispatch_event(node.done_event, next_value, frames)
        return next_value

    # -- external emit -----------------------------------------------------------------------------

    async def async_emit(self, event: str, payload: Any = None) -> None:
        """Emit from outside while open; waits for the branches it triggered."""
        _check_event(event)
        self._require_started("emit")
        self._require_open(f"emit {event!r}")
        await self._root(self._awaited_emit(event, payload, ()))

    def emit(self, event: str, payload: Any = None) -> None:
        self._run_sync(self.async_emit(event, payload))

    async def async_emit_nowait(self, event: str, payload: Any = None) -> None:
        self.emit_nowait(event, payload)

    def emit_nowait(self, event: str, payload: Any = None) -> None:
        """Emit from outside without waiting (needs a running event loop, e.g. in a notebook or a coroutine)."""
        _check_event(event)
        self._require_started("emit")
        self._require_open(f"emit {event!r}")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No loop to schedule on outside async code: run it through instead of losing it.
            self.emit(event, payload)
            return
        self._spawn_emit(event, payload, ())

    def _require_started(self, action: str) -> None:
        if not self._started:
            raise LifecycleError(f"cannot {action} before the execution starts: call execution.start(value) first")

    def _emit_from_chunk(self, event: str, payload: Any, frames: Frames) -> Coroutine[Any, Any, None]:
        """The work an awaited emit from a chunk waits for (the event checked before it exists)."""
        if event.__class__ is not str or not event or self._lifecycle == CLOSED:  # inline: one call per emit
            self._check_chunk_emit(event)
        return self._awaited_emit(event, payload, frames)

    def _emit_nowait_from_chunk(self, event: str, payload: Any, frames: Frames) -> None:
        if event.__class__ is not str or not event or self._lifecycle == CLOSED:
            self._check_chunk_emit(event)
        self._spawn_emit(event, payload, frames)

    def _check_chunk_emit(self, event: str) -> None:
        """A chunk's emit after the close is refused, as its state writes and stream items are
        (a ``data`` kept past its run, a worker thread that outlived it), never dropped unsaid."""
        _check_event(event)
        if self._lifecycle == CLOSED:
            raise LifecycleError(f"cannot emit {event!r} from a chunk of execution {self.id}: it is closed")

    # -- state -------------------------------------------------------------------------------------

    def _apply_state(self, op: str, key: str, value: Any, where: Any) -> None:
        """Apply one write. ``where`` is the writing chunk's ``data`` (its writes are journaled for
        retry()) or a text saying where a write from outside comes from."""
        if self._lifecycle == CLOSED:
            raise LifecycleError(f"cannot write state key {key!r} {_where(where)}: execution {self.id} is closed")
        if not isinstance(key, str):
            raise InvalidArgumentError(f"state keys must be strings, got {key!r}")
        if where.__class__ is not str:  # a chunk's write: remember what it replaces, once per key
            undo = where._undo
            if undo is None or key not in undo:
                old = self._state.get(key, _ABSENT)
                if old.__class__ is list:  # appends change it in place: keep its length too
                    old = (old, len(old))
                if undo is None:
                    where._undo = {key: old}
                else:
                    undo[key] = old
        try:
            if op == "set":
                self._state[key] = to_state_value(key, value)
            elif op == "append":
                append_value(self._state, key, value)
            else:
                self._state.pop(key, None)
        except StateSerializationError as exc:
            exc.args = (f"{exc.args[0]} ({_where(where)})",) if where else exc.args
            if self._channel.active:
                self._channel.publish(StateRejected(self.id, key, str(exc)))
            raise
        for keys, notify in self._state_trackers:  # usually none; kept to a dict check per write
            if key not in keys:
                first = not keys
                keys[key] = None
                if first:
                    notify()
        if self._channel.wants_state_changes:
            self._channel.publish(StateChanged(self.id, key, op))

    def _write_and_trigger(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> Any:
        """Apply a write; return the ``when({"state": key})`` dispatch it triggers (not started), or None."""
        self._apply_state(op, key, value, where)
        listeners = self.flow._graph.listeners
        if emit and listeners:
            event = state_written_event(key)
            if event in listeners:
                return self._dispatch_event(event, self.result.get_state(key), frames)
        return None

    def _write_state(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> None:
        """A write from sync code: the branches it triggers are scheduled (close() waits for them)."""
        triggered = self._write_and_trigger(op, key, value, emit, where, frames)
        if triggered is not None:
            self._spawn(self._run_detached(triggered), triggered)

    async def _async_write_state(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> None:
        """A write from async code: waits for the branches it triggers."""
        triggered = self._write_and_trigger(op, key, value, emit, where, frames)
        if triggered is not None:
            await triggered

    def _close_snapshot(self) -> dict[str, Any]:
        """A copy of all state: after close, the frozen close snapshot."""
        snapshot: dict[str, Any] = self.result.get_state()
        return snapshot

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """Live state before close, the frozen close snapshot after (always a copy)."""
        return self.result.get_state(key, default)

    def set_state(self, key: str, value: Any) -> None:
        """Write state from outside a chunk (e.g. a notebook cell), while the execution is not closed."""
        self._apply_state("set", key, value, "from outside a chunk")

    def get_result(self) -> Any:
        """Deprecated: the reserved state key ``"$final_result"``."""
        warn_deprecated_once(
            "TriggerFlowExecution.get_result",
            "execution.get_result() is deprecated: it reads the reserved state key '$final_result'; "
            "read the close snapshot (or execution.result.get_state()) instead",
        )
        return self.result.get_state(FINAL_RESULT_KEY)

    # -- resources -----------------------------------------------------------------------------------

    @property
    def runtime_resources(self) -> RuntimeResources:
        return self._resources

    def _set_resource(self, name: str, value: Any) -> None:
        self._resources.set(name, value)
        if self._channel.active:
            self._channel.publish(ResourcesChanged(self.id))

    def _del_resource(self, name: str) -> None:
        self._resources.delete(name)
        if self._channel.active:
            self._channel.publish(ResourcesChanged(self.id))

    def inject_resources(self, **resources: Any) -> None:
        """Add or replace execution-level resources (e.g. re-injection after load())."""
        if self._lifecycle == CLOSED:  # nothing would use them, and its views no longer follow it
            raise LifecycleError(
                f"cannot inject resources {sorted(resources)}: execution {self.id} is closed; to run on, load "
                f"its snapshot into a new execution: flow.create_execution(auto_close=False).load(saved, "
                f"runtime_resources={{...}})"
            )
        for name, value in resources.items():
            self._set_resource(name, value)

    # -- managed execution environments (see triggerflow_nb.execution_environment) -------------------

    def _environment_requests(self) -> list[dict[str, Any]]:
        """The managed environments this execution asked for, as plain data (saved with it)."""
        return self._environments

    async def _mount_environments(self) -> None:
        if not self._environments:
            return
        leases = await execution_environment.acquire_all(self._environments)
        if self._finished:
            # Closed while mounting, and the cancellation did not reach us (asyncio.wait_for drops
            # one that races with a finished call): give the resources back, never leak them.
            await execution_environment.release_all(leases)
            raise LifecycleError(f"execution {self.id} was closed while its managed environments were starting")
        self._adopt_leases(leases)

    def _adopt_leases(self, leases: list[Lease]) -> None:
        """Mount acquired managed resources under their keys; they are released when this closes."""
        self._environment_leases.extend(leases)
        for lease in leases:
            self._resources.set(lease.key, lease.resource)
            self._resources.managed_keys.add(lease.key)

    async def _release_environments(self, timeout: float | None) -> None:
        leases, self._environment_leases = self._environment_leases, []
        if leases:
            await execution_environment.release_all(leases, timeout=timeout)

    # -- the runtime stream -----------------------------------------------------------------------------

    def _put_into_stream(self, item: Any) -> None:
        if self._lifecycle == CLOSED:
            raise LifecycleError(f"cannot put into the stream of execution {self.id}: it is closed")
        loop = self._home_loop
        if _running_loop() is None and loop is not None and loop.is_running():
            # From a chunk's worker thread while the loop runs: readers wait on that loop, and
            # only a call made thread-safe wakes it (else they would see the item at its next turn).
            loop.call_soon_threadsafe(self._put_into_stream, item)
            return
        index = self._stream.put(item)
        if self._channel.active:
            self._channel.publish(StreamItem(self.id, index, item))
        if self._stream_parent is not None and self._stream_parent._lifecycle != CLOSED:
            self._stream_parent._put_into_stream(item)

    async def async_put_into_stream(self, item: Any) -> None:
        self._put_into_stream(item)

    def put_into_stream(self, item: Any) -> None:
        self._put_into_stream(item)

    @property
    def stream_length(self) -> int:
        """How many items have been put into the runtime stream."""
        return len(self._stream.items)

    def get_stream_items(self, last: int | None = None) -> list[Any]:
        """The items put into the stream so far (the ``last`` ones only, if given), without waiting."""
        items = self._stream.items
        return list(items if last is None else items[max(len(items) - last, 0):])

    def get_async_runtime_stream(self, initial_value: Any = None, *, timeout: float | None = 10) -> AsyncIterator[Any]:
        """Every stream item in order, from the first; ends when the execution closes.

        If the execution has not started and ``initial_value`` is given, it is started with it.
        ``timeout`` bounds the wait for each next item (None waits as long as it takes).
        """
        stream: AsyncIterator[Any] = self._stream_items(initial_value, timeout)
        return stream

    async def _stream_items(self, initial_value: Any, timeout: float | None) -> AsyncGenerator[Any, None]:
        if not self._started and initial_value is not None:
            self._scope.spawn(self.run(initial_value, until="settled"))
        async for item in self._stream.iterate(timeout):
            yield item

    def get_runtime_stream(self, initial_value: Any = None, *, timeout: float | None = 10) -> Iterator[Any]:
        agen = self._stream_items(initial_value, timeout)
        try:
            while True:
                try:
                    yield self._run_sync(_next_item(agen))
                except StopAsyncIteration:
                    return
        finally:  # a reader that stops early must not leave the generator suspended
            self._run_sync(agen.aclose())

    # -- interrupts ------------------------------------------------------------------------------------

    def _pending_interrupts(self) -> list[Interrupt]:
        return [i for i in self._interrupts.values() if i.status == WAITING] if self._interrupts else []

    def get_pending_interrupts(self) -> dict[str, dict[str, Any]]:
        """Pending interrupts by id: type, payload, resume target, chunk, timestamps."""
        return {i.id: i.public() for i in self._pending_interrupts()}

    def get_interrupt(self, interrupt_id: str) -> dict[str, Any]:
        if interrupt_id not in self._interrupts:
            raise InterruptError(f"no interrupt {interrupt_id!r} in execution {self.id}; "
                                 f"known: {sorted(self._interrupts)}")
        return self._interrupts[interrupt_id].public()

    def _open_interrupt(self, node: Any, value: Any, frames: Frames, type: str, payload: Any, resume_to: Any,
                        interrupt_id: str | None) -> Interrupt:
        if interrupt_id is None:
            interrupt_id = new_interrupt_id(self.id, self._interrupts_opened)
            self._interrupts_opened += 1
            while interrupt_id in self._interrupts:  # a hand-picked id took the seeded one: take the next
                interrupt_id = new_interrupt_id(self.id, self._interrupts_opened)
                self._interrupts_opened += 1
        else:
            non_empty_str("interrupt_id", interrupt_id)
        if interrupt_id in self._interrupts:
            raise InterruptError(f"interrupt id {interrupt_id!r} is already used in execution {self.id}; "
                                 f"pick another or let pause_for() generate one")
        interrupt = Interrupt(interrupt_id, type, payload, resume_to, node.id, value, frames)
        self._interrupts[interrupt_id] = interrupt
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._publish(InterruptOpened(self.id, interrupt_id, node.id))
        return interrupt

    async def async_continue_with(self, interrupt_id: str, payload: Any = None) -> None:
        """Resume a pending interrupt with ``payload``; waits for the resumed path to settle."""
        interrupt = self._interrupts.get(interrupt_id)
        if interrupt is None:
            pending = [i.id for i in self._pending_interrupts()]
            raise InterruptError(f"no interrupt {interrupt_id!r} in execution {self.id}; pending: {pending}")
        if interrupt.status != WAITING:
            raise InterruptError(
                f"interrupt {interrupt_id!r} is already {interrupt.status}; each interrupt resumes once "
                f"(pending: {[i.id for i in self._pending_interrupts()]})"
            )
        self._require_open(f"continue interrupt {interrupt_id!r}")
        if interrupt.resume_to == "next" or interrupt.resume_to == "self":
            self._require_wired(interrupt.node_id, interrupt.frames,
                                f"interrupt {interrupt_id!r} paused at chunk {interrupt.node_id!r}", "the pause",
                                "continue_with", "the interrupt is still pending")
        interrupt.status = RESUMED
        interrupt.resumed_at = time.time()
        interrupt.resume_value = payload
        self._publish(InterruptResumed(self.id, interrupt_id))
        target = interrupt.resume_to
        if target == "next":
            if self._node_status.get(interrupt.node_id) == WAITING:
                self._node_status[interrupt.node_id] = DONE
            work = self._walk(interrupt.node_id, payload, interrupt.frames, from_successors=True)
        elif target == "self":
            work = self._walk(interrupt.node_id, interrupt.input, interrupt.frames,
                              resume=Resume(interrupt.id, interrupt.type, payload))
        else:
            if self._node_status.get(interrupt.node_id) == WAITING:
                self._node_status[interrupt.node_id] = DONE
            work = self._dispatch_event(target["event"], payload, ())
        await self._root(work)

    def continue_with(self, interrupt_id: str, payload: Any = None) -> None:
        if self._loop_stops_after_call():
            self._run_sync(self._continue_then_auto_close(interrupt_id, payload))
        else:
            self._run_sync(self.async_continue_with(interrupt_id, payload))

    def _loop_stops_after_call(self) -> bool:
        """Whether the home loop runs only while a sync call drives it (a plain script, any thread)."""
        home = self._home_loop
        return _running_loop() is None and (home is None or not home.is_running())

    async def _continue_then_auto_close(self, interrupt_id: str, payload: Any) -> None:
        """Continue, then, if that left the run idle with auto-close on, wait for that close as start()
        does: in a plain script nothing runs the loop after the call, so its timer would never fire."""
        await self.async_continue_with(interrupt_id, payload)
        await self._state_once_settled()

    async def _acquire_for_restore(self, requests: list[dict[str, Any]], lifecycle: LifecycleState) -> list[Lease]:
        """Managed resources a snapshot needs, acquired before it is applied: a provider that
        fails leaves the target untouched (nothing half-loaded)."""
        if lifecycle == CLOSED or not requests:
            return []
        return await execution_environment.acquire_all(requests)

    async def _after_restore(self, leases: list[Lease]) -> None:
        """The parts of loading that need the event loop: managed resources and the auto-close timer."""
        self._home_loop = asyncio.get_running_loop()
        if self._finished:
            return
        self._adopt_leases(leases)
        if self._started:
            self._schedule_auto_close()

    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Every sync call goes to the loop this execution lives on, from whatever thread it comes."""
        __tracebackhide__ = True  # IPython hides this frame
        return run_on_home(coro, self._home_loop, f"execution {self.id}")

    def is_fresh(self) -> bool:
        """Never started, never loaded, nothing written: a load() target."""
        return not self._started and not self._state and self._lifecycle == OPEN and not self._interrupts

    def __repr__(self) -> str:
        return (f"<TriggerFlowExecution {self.id[:8]} of flow {self.flow.name!r}: "
                f"{self._lifecycle}, {self.status}>")


def check_managed_keys_are_free(requests: list[dict[str, Any]], given: dict[str, Any] | None) -> None:
    """A key is either managed (the manager starts and releases it) or passed by hand, never both."""
    clash = sorted({r["key"] for r in requests} & set(given or {}))
    if clash:
        raise InvalidArgumentError(
            f"runtime resource key(s) {clash} are both passed in runtime_resources and requested as managed "
            f"execution_environments: keep one (a managed resource is started and released for you)"
        )


async def _next_item(agen: AsyncIterator[Any]) -> Any:
    return await agen.__anext__()


_ABSENT = object()  # a state key that did not exist before a write (see _apply_state)


def _where(where: Any) -> str:
    return where if where.__class__ is str else where._where()


def _check_event(event: Any) -> None:
    if not isinstance(event, str) or not event:
        raise InvalidArgumentError(f"an event name must be a non-empty string, got {event!r}")


def _normalize_environment_requests(requests: list[Any] | None) -> list[dict[str, Any]]:
    if not requests:
        if requests is not None and not isinstance(requests, (list, tuple)):
            raise InvalidArgumentError(f"execution_environments must be a list, got {type(requests).__name__}")
        return []
    return normalize_requests(requests)


class ExecutionResult:
    __slots__ = ("_execution",)

    def __init__(self, execution: Execution):
        self._execution = execution

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """Live state before close, the frozen close snapshot after; always a copy."""
        state = self._execution._state  # frozen once closed: writes are refused then
        if key is None:
            return copy_state_value(state)
        return copy_state_value(state.get(key, default))

    def get_meta(self) -> dict[str, Any]:
        ex = self._execution
        return {
            "execution_id": ex.id,
            "flow_name": ex.flow.name,
            "status": ex.status,
            "lifecycle_state": ex.lifecycle_state,
            "created_at": ex.created_at,
            "started_at": ex.started_at,
            "closed_at": ex.closed_at,
            "close_reason": ex._close_reason,
            "resource_keys": ex._resources.keys(),
            "error": None if ex._error is None else f"{type(ex._error).__name__}: {ex._error}",
            "release_error": None if ex._release_error is None else str(ex._release_error),
        }

    def __repr__(self) -> str:
        meta = self.get_meta()
        return f"<ExecutionResult {meta['status']}/{meta['lifecycle_state']} state_keys={list(self.get_state())}>"
