"""``Lifecycle``: one execution's ``open -> sealed -> closed`` machine.

It owns the lifecycle state and the status, the in-flight count and the auto-close
timer, the idle and closed events, and the close order: freeze (refuse new work, cancel
the pending interrupts, close the stream), cancel what still runs and wait for its
cleanup, release the managed environments, announce.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from .._validate import one_of, seconds
from ..errors import InterruptError, LifecycleError
from ..observe import (
    AutoCloseScheduled,
    Channel,
    ExecutionClosed,
    ExecutionSealed,
    ExecutionSettled,
    ExecutionUnsealed,
)
from .interrupts import Interrupt, InterruptBook
from .resource_host import ResourceHost
from .scope import TaskScope
from .status import (
    CANCELLED,
    CLOSED,
    COMPLETED,
    CREATED,
    FAILED,
    IDLE,
    OPEN,
    RUNNING,
    SEALED,
    WAITING,
    ExecutionStatus,
    LifecycleState,
)
from .stream import RuntimeStream

logger = logging.getLogger("triggerflow_nb")

# close(timeout=T): the work gets 80% of T to drain; what is cancelled then gets half of the rest
# to run its cleanup, and releasing environments the remainder.
_DRAIN_SHARE = 0.8
_CLEANUP_SHARE = 0.5
# Without a timeout, cancelled work (after a failure) gets this long to clean up before release.
CLEANUP_GRACE = 10.0


class AutoClosePolicy(Protocol):
    """The execution's settings, read where they are (a notebook may change them before start)."""

    auto_close: bool
    auto_close_timeout: float | None


class Lifecycle:
    # What every execution starts with, as class attributes: an instance gets its own value on
    # the first write (creating an execution is on the path of every flow.start()).
    state: LifecycleState = OPEN
    started = False
    started_by_emit = False  # started by an outside emit, not by start() (only the error of a later start() says so)
    finished = False  # closed, failed or cancelled: paths stop
    status: ExecutionStatus = CREATED  # as last set; current_status() says what it is now
    close_reason: str | None = None
    error: BaseException | None = None
    release_error: Exception | None = None
    inflight = 0
    home_loop: asyncio.AbstractEventLoop | None = None  # where it runs, once started or loaded
    idle_timer: asyncio.TimerHandle | None = None
    announced = False  # closed, released and announced: nothing of closing is left to wait for
    pause_fails_fast = False  # flow.start(): nobody could resume a pause
    close_when_idle = False  # set while flow.start() runs: it closes inline (see Execution.run)
    closing = False  # close() sealed it and waits for the work to drain: it cannot be unsealed
    interrupted: str | None = None  # what cut a run short, e.g. "KeyboardInterrupt in chunk 'x'"
    closed_at: float | None = None
    cancelled_at_close: Sequence[Interrupt] = ()  # the interrupts the close cancelled (retry() revives them)
    _idle_event: asyncio.Event | None = None
    _closed_event: asyncio.Event | None = None

    def __init__(self, owner: str, flow_name: str, policy: AutoClosePolicy, *, channel: Channel,
                 flow_channel: Channel, interrupts: InterruptBook, resources: ResourceHost):
        self.owner = owner
        self.flow_name = flow_name
        self._policy = policy
        self.scope = TaskScope(owner, never_ran=self._never_ran)  # owns every task and root call
        self.stream = RuntimeStream(owner, self, channel)
        self._channel = channel
        self._flow_channel = flow_channel
        self._interrupts = interrupts
        self._resources = resources

    def publish(self, event: Any) -> None:
        """To the execution's channel and the flow-wide one."""
        if self._channel.active:
            self._channel.publish(event)
        if self._flow_channel.active:
            self._flow_channel.publish(event)

    def current_status(self) -> ExecutionStatus:
        if self.finished or not self.started:
            return self.status
        if self.inflight:
            return RUNNING
        return WAITING if self._interrupts.pending() else IDLE

    def require_open(self, action: str) -> None:
        if self.state != OPEN:
            raise LifecycleError(
                f"cannot {action}: execution {self.owner} of flow {self.flow_name!r} is {self.state}"
                + (" (a sealed execution only drains what it already accepted; unseal() opens it again)"
                   if self.state == SEALED else "; create a new execution with flow.create_execution()")
            )

    def require_startable(self) -> None:
        if self.started:
            raise LifecycleError(
                f"execution {self.owner} was already started"
                + (" by an outside emit (the first emit starts an execution nobody started, without its start "
                   "chain: call start(value) before emitting to run it)" if self.started_by_emit else "")
                + "; an execution runs once: create another with flow.create_execution()"
            )
        self.require_open("start")

    def begin(self, pause_fails_fast: bool, *, close_when_idle: bool) -> None:
        """start(): running from now, on the running loop."""
        self.pause_fails_fast = pause_fails_fast
        self.home_loop = asyncio.get_running_loop()
        self.started = True
        self.status = RUNNING
        self.close_when_idle = close_when_idle

    async def start_interrupted(self, exc: BaseException) -> None:
        """A start cut short (a cancellation, an interrupted cell): flow.start() holds no handle
        to close it later, so it closes now."""
        if self.close_when_idle:
            reason = f"interrupted ({self.interrupted})"
            if isinstance(exc, GeneratorExit):  # the loop is going away: nothing can be awaited
                self.finish_now(CANCELLED, reason)
            else:  # closed and released before the interrupt leaves: a script may exit right after
                await asyncio.shield(self.finish(CANCELLED, reason))

    def note_interrupt(self, what: str) -> None:
        """Remember that a run was cut short (a cell interrupted, an await cancelled)."""
        if not self.finished and self.interrupted is None:
            self.interrupted = what

    # -- in-flight accounting and auto-close ----------------------------------------------------

    def enter(self) -> None:
        self.inflight += 1
        if self.inflight == 1:
            if self.idle_timer is not None:
                self.idle_timer.cancel()
                self.idle_timer = None
            if self._idle_event is not None:
                self._idle_event.clear()

    def leave(self) -> None:
        self.inflight -= 1
        if self.inflight == 0:
            if self._idle_event is not None:
                self._idle_event.set()
            if self._channel.active and not self.finished:
                self._channel.publish(ExecutionSettled(self.owner, self.current_status()))
            self.schedule_auto_close()

    def _never_ran(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Detached work dropped before it started (a close): undo what spawning it did."""
        coro.close()
        self.leave()

    def cancel_idle_timer(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def schedule_auto_close(self) -> None:
        timeout = self._policy.auto_close_timeout
        if (not self._policy.auto_close or timeout is None or self.finished or not self.started
                or self.inflight or self._interrupts.pending() or self.idle_timer is not None
                or self.close_when_idle):
            return
        loop = asyncio.get_running_loop()
        self.idle_timer = loop.call_later(timeout, self._auto_close_due)
        if self._channel.active:  # a panel counts down to it
            self._channel.publish(AutoCloseScheduled(self.owner, timeout))

    def auto_close_in(self) -> float | None:
        timer = self.idle_timer
        if timer is None or timer.cancelled():
            return None
        # The home loop's clock (a monotonic clock) reads the same from any thread.
        return max(0.0, timer.when() - self.home_loop.time())  # type: ignore[union-attr]  # set: a timer runs

    def _auto_close_due(self) -> None:
        self.idle_timer = None
        if self.inflight or self.finished or self._interrupts.pending():
            return
        self.scope.spawn(self.close_idle(f"auto-close after {self._policy.auto_close_timeout:.3g}s idle"))

    async def close_idle(self, reason: str) -> None:
        if not self.finished:
            self.state = SEALED
            if self.interrupted:  # the run was cut short: closing it does not make it a success
                await self.finish(CANCELLED, f"{reason}, after an interrupt ({self.interrupted})")
            else:
                await self.finish(COMPLETED, reason)

    async def settle(self, close_now: bool = False) -> bool:
        """After start(), retry() or a script's continue_with(): when auto-close will close the
        execution, wait for that close (True); False when it stays open (idle, or waiting)."""
        if self._policy.auto_close and self._policy.auto_close_timeout is not None and not self._interrupts.pending():
            if close_now and not self.inflight:
                await self.close_idle("auto-close after 0s idle")
            else:
                self.schedule_auto_close()
            await self.wait_closed()
            self.raise_error()
            return True
        return False

    # -- seal and close -------------------------------------------------------------------------

    def seal(self) -> None:
        if self.state == OPEN:
            self.state = SEALED
            self.publish(ExecutionSealed(self.owner))

    def unseal(self) -> None:
        """Open a sealed execution again: outside emits and continues are accepted once more.
        An open execution stays open; a closed one, or one that close() is draining, is refused."""
        if self.state == SEALED and not self.closing:
            self.state = OPEN
            self.publish(ExecutionUnsealed(self.owner))
        elif self.state != OPEN:
            raise LifecycleError(
                f"cannot unseal execution {self.owner} of flow {self.flow_name!r}: "
                + ("close() is draining it" if self.state == SEALED else "it is closed")
                + "; to run on, load its snapshot into a new execution: "
                "flow.create_execution(auto_close=False).load(saved, runtime_resources={...})"
            )

    async def close(self, timeout: float | None, pending_interrupts: str) -> None:
        """Seal, let accepted work drain, freeze, release (see Execution.async_close)."""
        one_of("pending_interrupts", pending_interrupts, ("reject", "cancel"))
        if seconds("close(timeout=...)", timeout, allow_none=True, inf_is_none=True) is None:
            timeout = None  # math.inf: no limit
        if self.scope.inside():
            raise LifecycleError(
                f"close() was called from inside execution {self.owner}'s own work (a chunk or a branch it "
                f"started), where it would wait for itself: call data.execution.seal() there (nothing new "
                f"is accepted and the execution closes once idle, with auto_close), or close() from outside"
            )
        if self.state == CLOSED:
            await self.wait_closed()  # a close still releasing (another caller's): returns once it has
            self.raise_error()
            return
        pending = self._interrupts.pending()
        if pending and pending_interrupts == "reject":
            raise InterruptError(
                f"execution {self.owner} has pending interrupts {[i.id for i in pending]}: resume them with "
                f"execution.continue_with(interrupt_id, payload), or close(pending_interrupts='cancel')"
            )
        self._interrupts.cancel_pending()
        self.seal()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        status: ExecutionStatus = COMPLETED
        reason = "closed"
        if self.inflight:
            if self._idle_event is None:  # made on demand: most executions never need one
                self._idle_event = asyncio.Event()
            self.closing = True
            try:  # most of the time for the work to drain; the rest for cleanup and release
                await asyncio.wait_for(self._idle_event.wait(), None if timeout is None else timeout * _DRAIN_SHARE)
            except TimeoutError:
                status, reason = CANCELLED, f"close timeout after {timeout}s: running work was cancelled"
            finally:
                self.closing = False  # closed next, or the close was itself cancelled: sealed, as before
        if pending:
            reason = f"closed with {len(pending)} interrupt(s) cancelled"
        if self.interrupted and status == COMPLETED:
            status, reason = CANCELLED, f"{reason} after an interrupt ({self.interrupted})"
        await self.finish(status, reason, deadline=deadline)
        self.raise_error()

    def raise_error(self) -> None:
        """Re-raise what ended the run: a chunk's error, else a failed release of its environments."""
        if self.error is not None:
            raise self.error
        if self.release_error is not None:
            raise self.release_error

    async def wait_closed(self) -> None:
        if self.announced:
            return
        if self._closed_event is None:  # made on demand: most executions never need one
            self._closed_event = asyncio.Event()
        await self._closed_event.wait()

    async def fail(self, exc: BaseException) -> None:
        if self.finished:
            return
        self.error = exc
        name = getattr(exc, "chunk_name", None)
        original = getattr(exc, "original", None)
        # Said once: "chunk 'x' failed: ValueError: no good", not the chunk's name twice.
        what = f"{type(original).__name__}: {original}" if original is not None else str(exc)
        await self.finish(FAILED, f"chunk {name!r} failed: {what}" if name else f"failed: {exc}")

    async def finish(self, status: ExecutionStatus, reason: str, *, deadline: float | None = None) -> None:
        """Close for good: freeze, cancel what still runs and wait for its cleanup, then release.

        ``deadline`` (loop time) bounds the whole of it; without one, cancelled work still gets
        at most ``CLEANUP_GRACE`` seconds, so a chunk that ignores cancellation cannot hang close.
        """
        if not self._freeze(status, reason):
            await self.wait_closed()  # closing already (elsewhere): return once it has finished
            return
        if not self.scope.busy() and not self._resources.leases:
            await self._release_and_announce(status, reason, None)  # nothing to wait for: it never suspends
            return
        # Waiting for cleanup or a release: in an owned task, so that a caller cancelled meanwhile
        # (an interrupted cell, a cancelled start) cannot leave the close half done, never announced.
        caller = asyncio.current_task()
        await asyncio.shield(self.scope.spawn(self._settle_and_release(status, reason, deadline, caller)))

    async def _settle_and_release(self, status: ExecutionStatus, reason: str, deadline: float | None,
                                  caller: asyncio.Task[Any] | None) -> None:
        """The rest of ``finish``: wait for the cancelled work's cleanup (not for ``caller``, which
        waits for this), then release and announce."""
        loop = asyncio.get_running_loop()
        if self.scope.busy(besides=caller):
            grace = CLEANUP_GRACE if deadline is None else max(0.0, (deadline - loop.time()) * _CLEANUP_SHARE)
            if not await self.scope.wait_quiet(grace, besides=caller):
                logger.warning("execution %s: work still running %.3gs after it was cancelled; releasing anyway",
                               self.owner, grace)
        await self._release_and_announce(status, reason, None if deadline is None else deadline - loop.time())

    def finish_now(self, status: ExecutionStatus, reason: str) -> None:
        """``finish`` for a caller that cannot await (it is being interrupted): release in an owned task."""
        if self._freeze(status, reason):
            self.scope.spawn(self._release_and_announce(status, reason, None))

    def _freeze(self, status: ExecutionStatus, reason: str) -> bool:
        """The synchronous part of closing; False if the execution was closed already."""
        if self.finished:
            return False
        self.finished = True
        self.status = status
        self.close_reason = reason
        self.cancel_idle_timer()
        self.scope.cancel_all()
        # Nobody can resume a closed execution's interrupts; retry() brings them back if it reopens.
        self.cancelled_at_close = self._interrupts.cancel_pending()
        # Closing freezes state as it is: writes to a closed execution are refused, so the
        # close snapshot needs no copy of its own (readers get copies through execution.result).
        self.state = CLOSED
        self.closed_at = time.time()
        self.stream.close()
        return True

    async def _release_and_announce(self, status: str, reason: str, timeout: float | None) -> None:
        try:
            if self._resources.leases:
                await self._resources.release(timeout)
        except Exception as exc:  # kept, never lost: close() and start() raise it, get_meta() shows it
            self.release_error = exc
        finally:
            self.announced = True
            self.publish(ExecutionClosed(self.owner, status, reason))
            if self._closed_event is not None:
                self._closed_event.set()

    # -- reopening and loading -------------------------------------------------------------------

    def reopen(self) -> None:
        """Undo closing after a failure (see retry): open, running, the stream open again."""
        self.finished = False
        self.state = OPEN
        self.status = RUNNING
        self.error = None
        self.release_error = None  # the close it undoes is undone with it: the next close reports its own
        self.close_reason = None
        self.closed_at = None
        self.announced = False
        self._closed_event = None
        self.interrupted = None
        self.stream.closed = False
        self.home_loop = asyncio.get_running_loop()
        InterruptBook.revive(self.cancelled_at_close)
        self.cancelled_at_close = ()

    def after_restore(self, leases: list[Any]) -> None:
        """The parts of loading that need the event loop: managed resources and the auto-close timer."""
        self.home_loop = asyncio.get_running_loop()
        if self.finished:
            return
        self._resources.adopt(leases)
        if self.started:
            self.schedule_auto_close()

    def loop_stops_after_call(self) -> bool:
        """Whether the home loop runs only while a sync call drives it (a plain script, any thread)."""
        home = self.home_loop
        return asyncio._get_running_loop() is None and (home is None or not home.is_running())

    def restore(self, started: bool, status: ExecutionStatus, state: LifecycleState, close_reason: str | None,
                closed_at: float | None) -> None:
        self.started = started
        self.status = status
        if state != OPEN:
            self.state = state
        if state == CLOSED:
            self.finished = True
            self.announced = True  # closed in the run it was saved from: nothing left to wait for
            self.close_reason = close_reason
            self.closed_at = closed_at
            self.stream.close()

