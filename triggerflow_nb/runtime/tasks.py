"""Task primitives of the walker: paths started inline or eagerly, what their tasks drive,
and how the walker waits for them.

A concurrent path starts in the caller's stack and gets a task of its own only once it
first suspends. A path of synchronous steps starts inline (``GraphWalker._start_inline``,
then ``StartedInline``); a path whose first step runs user async code starts eagerly
(``EagerStarter``, then a carrier task), so that the user code sees a task and a context of
its own from its first line. ``TaskJoin`` waits for the paths that did suspend.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from inspect import isgenerator
from typing import Any

from .emit_depth import emit_depth


async def on_fresh_stack(coro: Any) -> None:
    """Run ``coro`` in a new task's stack, counting emit depth from zero there."""
    emit_depth.set(0)
    await coro


async def leave_inline(awaitable: Any) -> None:
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


class StartedInline(Coroutine[Any, Any, Any]):
    """What the task of a path started inline drives (see GraphWalker._start_inline).

    The task steps it exactly as it would step the path's coroutine: the first step hands
    the task what the coroutine yielded when it suspended inline (a future to wait on);
    every later send or throw (a result, a cancellation) goes straight to the coroutine,
    even a cancellation that arrives before the task's first step.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Any, first: Any):
        self._coro = coro
        self._first = _unblock(first)

    def send(self, value: Any) -> Any:
        first, self._first = self._first, _TAKEN
        # A bare yield (asyncio.sleep(0), as in _leave_inline) only asks to go on at a later
        # turn of the loop; the task's first step is one, so it goes on at once.
        if first is not _TAKEN and first is not None:
            return _blocking(first)
        return self._coro.send(value)

    def throw(self, *exc: Any) -> Any:
        self._first = _TAKEN
        return self._coro.throw(*exc)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Any:  # required by the Coroutine ABC; only its task ever drives it
        raise TypeError("a path started inline is driven by its task, never awaited")


def _unblock(yielded: Any) -> Any:
    """Clear the mark a future's ``__await__`` set when it yielded (``_asyncio_future_blocking``),
    as the task that receives the future does at once. Until a path's task first steps, no task
    has: another path awaiting the same future meanwhile would fail ("await wasn't used with
    future"). ``_blocking`` sets the mark again when the task takes the future over."""
    if getattr(yielded, "_asyncio_future_blocking", False):
        yielded._asyncio_future_blocking = False
    return yielded


def _blocking(yielded: Any) -> Any:
    """What a path yielded when it suspended, marked again as a future to wait on (see _unblock)."""
    if getattr(yielded, "_asyncio_future_blocking", None) is False:
        yielded._asyncio_future_blocking = True
    return yielded


def close_unstarted(pending: Iterator[Any]) -> None:
    """Close the coroutines a failed _gather never started (a generator of them just stops)."""
    if isgenerator(pending):
        pending.close()
    else:
        for coro in pending:
            coro.close()


# -- eager start: a path that runs user async code from its first step -----------------------------

_current_task = asyncio.current_task
_enter_task = asyncio.tasks._enter_task  # what Python 3.12's eager tasks do, with 3.11's API
_leave_task = asyncio.tasks._leave_task


class _Carrier(Coroutine[Any, Any, Any]):
    """What a carrier task drives: nothing while idle, then the path it is handed.

    Idle, its task waits on a future of its own (``_parked``). ``take`` hands it a path that
    suspended during its eager first step; from then on it steps that path exactly as the
    path's own task would, every step in the path's context.
    """

    __slots__ = ("_coro", "_first", "_context", "_parked")

    def __init__(self) -> None:
        self._coro: Any = None
        self._first: Any = _TAKEN
        self._context: contextvars.Context | None = None
        self._parked: asyncio.Future[None] | None = None

    def take(self, coro: Any, first: Any, context: contextvars.Context) -> None:
        self._coro, self._first, self._context = coro, _unblock(first), context
        parked, self._parked = self._parked, None
        if parked is not None and not parked.done():
            parked.set_result(None)  # the task wakes up, and its next step hands over ``first``

    def send(self, value: Any) -> Any:
        coro = self._coro
        if coro is None:  # idle: wait until a path is handed over (or the carrier is cancelled)
            parked = self._parked = asyncio.get_running_loop().create_future()
            parked._asyncio_future_blocking = True  # what a future's __await__ sets when it yields
            return parked
        first, self._first = self._first, _TAKEN
        # A bare yield (asyncio.sleep(0)) only asks to go on at a later turn of the loop, and
        # this step is one; a future is what the path waits on, so the task waits on it.
        if first is not _TAKEN and first is not None:
            return _blocking(first)
        return self._context.run(coro.send, value)  # type: ignore[union-attr]

    def throw(self, *exc: Any) -> Any:
        coro = self._coro
        if coro is None:  # cancelled while idle: nothing to hand the cancellation to
            error = exc[1] if len(exc) > 1 and exc[1] is not None else exc[0]
            raise error() if isinstance(error, type) else error
        self._first = _TAKEN
        return self._context.run(coro.throw, *exc)  # type: ignore[union-attr]

    def close(self) -> None:
        if self._coro is not None:
            self._coro.close()

    def __await__(self) -> Any:  # required by the Coroutine ABC; only its task ever drives it
        raise TypeError("a carrier is driven by its task, never awaited")


class EagerStarter:
    """Starts paths whose first step runs user async code: the first step runs here and now
    (``coro.send(None)``), and the path gets a task only if it suspends.

    Why: a task per for_each item or handler costs time, memory and garbage-collector work
    even when the user's ``async def`` never waits. This is Python 3.12's eager task start,
    built for 3.11 (which lacks it) and kept on 3.12+ so that every version behaves alike: a
    path that never suspends costs there what the interpreter's eager task costs, and one that
    suspends a few µs more (bench/eager_start.py). What user code may rely on is kept as a task
    would give it:

    * ``asyncio.current_task()`` during the first step is the task that goes on with the
      path if it suspends (``asyncio.timeout``, ``TaskGroup`` and the execution's scope
      remember it, and cancel it later): a *carrier*, created idle in advance. A path that
      finishes without suspending hands it nothing, and the next path runs in the same one;
    * the path runs in a context of its own, a copy of the caller's as a task would get, and
      the carrier runs every later step of the path in that same context;
    * an exception of the first step reaches the caller at once, as if it had awaited it.

    One starter serves one ``_gather``; ``close()`` ends its idle carrier.
    """

    __slots__ = ("_loop", "_task", "_carrier")

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._carrier: _Carrier | None = None

    def start(self, coro: Any) -> asyncio.Task[Any] | None:
        """Run ``coro``'s first step; None if that finished it, else the task that goes on with it."""
        context = contextvars.copy_context()
        loop = self._loop
        caller = _current_task(loop)
        if caller is None:
            return self.start_in(coro, context)
        _leave_task(loop, caller)
        try:
            return self.start_in(coro, context)
        finally:
            _enter_task(loop, caller)

    def start_in(self, coro: Any, context: contextvars.Context) -> asyncio.Task[Any] | None:
        """``start`` in ``context``, called where no task runs (a callback of the loop)."""
        loop = self._loop
        task = self._task
        if task is None or task.done() or task.cancelling():  # a carrier user code cancelled is not reused
            self._carrier = _Carrier()
            task = self._task = loop.create_task(self._carrier)
        _enter_task(loop, task)
        try:
            first = context.run(coro.send, None)
        except StopIteration:
            return None
        finally:
            _leave_task(loop, task)
        self._carrier.take(coro, first, context)  # type: ignore[union-attr]  # set with _task
        self._task = self._carrier = None
        return task

    @property
    def carrier(self) -> asyncio.Task[Any] | None:
        """The idle carrier task, if any (while a first step runs, the current task)."""
        return self._task

    def close(self) -> None:
        """End the idle carrier, if any (it finishes at the loop's next turn)."""
        if self._task is not None:
            self._task.cancel()
            self._task = self._carrier = None


def _ready_queue(loop: asyncio.AbstractEventLoop) -> deque[Any] | None:
    """The queue of callbacks ready to run of asyncio's own loops, where a piece waits as the
    ``asyncio.Handle`` of ``call_soon`` would, without making one (a third of a hop's cost);
    None for other loops (uvloop), which get ``call_soon``."""
    ready = getattr(loop, "_ready", None) if isinstance(loop, asyncio.BaseEventLoop) else None
    return ready if isinstance(ready, deque) else None


class _Piece:
    """A piece of work queued on an ``EagerQueue``, and the loop callback that starts it: the
    loop runs it as it runs a ``Handle`` (``_run``, ``_cancelled``, and ``_callback``, which a
    debug loop names in its slow-callback warning)."""

    __slots__ = ("coro", "unstarted", "context", "_queue", "_cancelled")

    def __init__(self, coro: Any, unstarted: Any, context: contextvars.Context, queue: EagerQueue):
        self.coro = coro
        self.unstarted = unstarted
        self.context = context
        self._queue = queue
        self._cancelled = False

    @property
    def _callback(self) -> Callable[[], None]:
        return self._queue._start_next

    def cancel(self) -> None:
        self._cancelled = True

    def __repr__(self) -> str:  # what a debug loop's slow-callback warning shows
        return f"<EagerQueue piece {getattr(self.coro, '__qualname__', self.coro)!r}>"

    def _run(self) -> None:
        if self._cancelled:  # only a loop without a ready queue calls a dropped piece
            return
        try:
            self._queue._start_next()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # as a Handle reports a callback's failure
            self._queue.loop.call_exception_handler({"message": f"Exception in callback {self._callback!r}",
                                                     "exception": exc, "handle": self})


class EagerQueue:
    """Work queued to start at the loop's next turn, as tasks created now would start, but each
    piece started eagerly there (``EagerStarter``): a piece that never suspends costs no task.
    A piece that suspends goes on in its carrier task, handed to ``on_suspended``.

    Each piece is a callback of the loop of its own (``_Piece``), so pieces start in the order
    queued and interleave with other callbacks as tasks' first steps would. Every step of a
    piece runs in the one context it was queued with (not a copy: a contextvar token set before
    a wait must reset after it). ``on_drained`` is called whenever no piece is left to start.
    """

    __slots__ = ("loop", "_ready", "_pieces", "_starter", "_on_suspended", "_on_drained")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_suspended: Callable[[asyncio.Task[Any]], None],
                 on_drained: Callable[[], None]):
        self.loop = loop  # read-only
        self._ready = _ready_queue(loop)
        self._pieces: deque[_Piece] = deque()  # in the order they run
        self._starter = EagerStarter(loop)
        self._on_suspended = on_suspended
        self._on_drained = on_drained

    def __bool__(self) -> bool:
        """Whether a piece waits to start."""
        return bool(self._pieces)

    def put(self, coro: Any, unstarted: Any, context: contextvars.Context) -> None:
        """Queue ``coro``; called on the loop's own thread, while it runs."""
        piece = _Piece(coro, unstarted, context, self)
        self._pieces.append(piece)
        if self._ready is not None:
            self._ready.append(piece)  # what call_soon does with the Handle it makes
        else:
            self.loop.call_soon(piece._run)

    def drop(self) -> list[tuple[Any, Any]]:
        """Take out every piece not started yet: [(coroutine, unstarted)]."""
        dropped = []
        for piece in self._pieces:
            piece.cancel()
            dropped.append((piece.coro, piece.unstarted))
        self._pieces.clear()
        if _current_task(self.loop) is not self._starter.carrier:  # one running a piece: _start_next ends it
            self._starter.close()
        return dropped

    def _start_next(self) -> None:
        pieces = self._pieces
        piece = pieces.popleft()  # the loop runs pieces in the order queued
        try:
            task = self._starter.start_in(piece.coro, piece.context)
            if task is not None:
                self._on_suspended(task)
        except asyncio.CancelledError:  # it ended cancelled in its first step, as a task may
            pass
        finally:
            if not pieces:
                self._starter.close()  # nothing follows at once: no idle carrier waits for it
                self._on_drained()


class TaskJoin:
    """The tasks of one ``_gather``: wait until all have finished, or the first one fails.

    Lighter than ``asyncio.gather`` for many paths: one future and one callback for all of
    them, and only the tasks still running are kept, so a finished path is freed at once.
    """

    __slots__ = ("_pending", "_waiter", "_error", "_on_done")

    def __init__(self) -> None:
        self._pending: set[asyncio.Task[Any]] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._on_done = self._task_done  # one bound method for every task

    def add(self, task: asyncio.Task[Any]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._on_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        # Retrieved for every task, so that none is reported as "exception never retrieved".
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        if error is not None and self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done() and (error is not None or not self._pending):
            waiter.set_result(None)

    async def wait(self) -> None:
        """Return once every task has finished; raise the first failure as soon as it happens."""
        if self._pending and self._error is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._error is not None:
            raise self._error

    async def cancel_all(self) -> None:
        """Cancel the tasks still running and wait until they have finished their cleanup."""
        tasks = list(self._pending)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
