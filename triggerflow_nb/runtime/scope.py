"""``TaskScope``: one owner for everything an execution runs (trio's nursery is the model).

Two kinds of work run for an execution:

* work it starts itself (``emit_nowait`` handlers, a sync chunk's emit, the auto-close
  timer's close, a resumed path from the notebook): ``spawn`` creates a task and keeps it;
  ``spawn_detached`` queues the work for the loop's next turn, starts it there eagerly, and
  keeps a task only for work that suspends;
* root calls (``start``, ``emit``, ``continue_with``) that run in their *caller's* task:
  ``enter_root``/``exit_root`` record that task for the duration of the call.

Closing cancels both kinds (``cancel_all``) and then waits, with a deadline, until none
is left (``wait_quiet``), so that a chunk's ``finally`` runs before its environment is
released, and nothing of the execution runs after ``close()`` returns. A root whose
path was cut this way is told by ``was_cut`` (its caller gets a typed error, not a bare
cancellation). ``inside`` says whether the current context runs this execution's work:
``close()`` from there would wait for itself.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, cast

from .tasks import EagerQueue

# Ids of the executions whose work runs in the current context (a root call or an owned task),
# each once: a chain of 50,000 emit_nowait handlers spawning each other must not grow it.
_running: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("triggerflow_nb_running", default=())


def _not_started(task: asyncio.Task[Any]) -> bool:
    """Whether ``task``'s coroutine has not taken its first step yet (ours are all coroutines)."""
    return inspect.getcoroutinestate(cast(Coroutine[Any, Any, Any], task.get_coro())) == inspect.CORO_CREATED


class TaskScope:
    __slots__ = ("_owner", "_owned", "_roots", "_cut", "_changed", "_never_ran", "_queue")

    def __init__(self, owner_id: str, never_ran: Callable[[Any], None] | None = None):
        self._owner = owner_id
        # task -> None, or for a detached task (spawn_detached) what to hand ``never_ran`` if it is
        # cancelled before its first step. Made on first use: most executions never spawn a task.
        self._owned: dict[asyncio.Task[Any], Any] | None = None
        self._never_ran = never_ran
        self._roots: dict[asyncio.Task[Any], int] = {}  # caller task -> nesting depth of root calls
        self._cut: set[asyncio.Task[Any]] | None = None
        self._changed: asyncio.Event | None = None  # made on demand: only closing waits on it
        self._queue: EagerQueue | None = None  # detached work (spawn_detached), made on first use

    # -- owned tasks ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task of the execution's own; the scope holds it until it ends."""
        task = self._create(coro, None)
        task.add_done_callback(self.forget)
        return task

    def spawn_detached(self, coro: Coroutine[Any, Any, Any], unstarted: Any) -> None:
        """Run ``coro`` from the loop's next turn on, as a task created now would, in a copy of the
        current context, but without a task of its own unless it suspends (``EagerQueue``):
        ``emit_nowait`` chains spawn a piece of work per emit, and a task costs a good part of it.
        A piece that suspends is owned, in its carrier task, until it ends. If ``cancel_all``
        comes before a piece started, ``unstarted`` goes to ``never_ran``.
        """
        loop = asyncio.get_running_loop()
        queue = self._queue
        if queue is None or (queue.loop is not loop and not queue):  # first use, or the execution moved loops
            queue = self._queue = EagerQueue(loop, self._own_suspended, self._notify)
        elif queue.loop is not loop:  # pieces still wait on another thread's loop: a task here, as before
            self._create(coro, unstarted).add_done_callback(self.forget)
            return
        running = _running.get()
        context = contextvars.copy_context()
        if self._owner not in running:
            context.run(_running.set, (*running, self._owner))
        queue.put(coro, unstarted, context)

    def _own_suspended(self, task: asyncio.Task[Any]) -> None:
        if self._owned is None:
            self._owned = {}
        self._owned[task] = None
        task.add_done_callback(self.forget)

    def _create(self, coro: Coroutine[Any, Any, Any], unstarted: Any) -> asyncio.Task[Any]:
        running = _running.get()
        if self._owner in running:  # work of this execution spawning more: the context says so already
            task = asyncio.get_running_loop().create_task(coro)
        else:
            token = _running.set((*running, self._owner))
            try:
                task = asyncio.get_running_loop().create_task(coro)  # copies the context set above
            finally:
                _running.reset(token)
        if self._owned is None:
            self._owned = {}
        self._owned[task] = unstarted
        return task

    def forget(self, task: asyncio.Task[Any] | None) -> None:
        """``task`` has ended: no longer owned."""
        if self._owned is not None:
            self._owned.pop(task, None)  # type: ignore[arg-type]  # None is never a key
        self._notify()

    # -- root calls ------------------------------------------------------------------------------

    def enter_root(self) -> tuple[asyncio.Task[Any] | None, contextvars.Token[tuple[str, ...]]]:
        task = asyncio.current_task()
        if task is not None:
            self._roots[task] = self._roots.get(task, 0) + 1
        return task, _running.set((*_running.get(), self._owner))

    def exit_root(self, entered: tuple[asyncio.Task[Any] | None, contextvars.Token[tuple[str, ...]]]) -> None:
        task, token = entered
        try:
            _running.reset(token)
        except ValueError:  # left from another context (a path that moved into a task): nothing to undo
            pass
        if task is not None:
            depth = self._roots.get(task, 0) - 1
            if depth > 0:
                self._roots[task] = depth
            else:
                self._roots.pop(task, None)
                if self._cut is not None:
                    self._cut.discard(task)
                self._notify()

    def was_cut(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether ``cancel_all`` cut the root call running in ``task``."""
        return task is not None and self._cut is not None and task in self._cut

    # -- closing ---------------------------------------------------------------------------------

    def inside(self) -> bool:
        """Whether the current context runs this execution's work."""
        return self._owner in _running.get()

    def cancel_all(self) -> None:
        """Cancel every owned task and every root call in flight, except the current task."""
        current = asyncio.current_task()
        self._drop_queued()
        owned = self._owned or {}
        for task, unstarted in list(owned.items()):
            if task is current:
                continue
            task.cancel()
            if unstarted is not None and _not_started(task):
                # Its coroutine never runs now (the cancellation closes it at its first step), so
                # nothing in it will forget the task or undo what spawning it did: do it here.
                del owned[task]
                if self._never_ran is not None:
                    self._never_ran(unstarted)
        for task in list(self._roots):
            if task is not current and not task.done():
                if self._cut is None:
                    self._cut = set()
                self._cut.add(task)
                task.cancel()

    def _drop_queued(self) -> None:
        """Detached work that has not started never will: hand it to ``never_ran``."""
        if self._queue is None:
            return
        for coro, unstarted in self._queue.drop():
            coro.close()  # never started: closing it only marks it done (no "never awaited" warning)
            if self._never_ran is not None:
                self._never_ran(unstarted)

    def busy(self, besides: asyncio.Task[Any] | None = None) -> bool:
        """Whether work other than the current task's (and ``besides``') is still running."""
        if self._queue:
            return True
        if not self._owned and not self._roots:
            return False
        current = asyncio.current_task()
        return (any(t is not current and t is not besides for t in self._owned or ())
                or any(t is not current and t is not besides for t in self._roots))

    async def wait_quiet(self, timeout: float | None, besides: asyncio.Task[Any] | None = None) -> bool:
        """Wait until ``busy(besides)`` is False, at most ``timeout`` seconds; whether it got there."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.busy(besides):
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                # Out of time, but one turn of the loop lets just-cancelled work run its cleanup.
                await asyncio.sleep(0)
                return not self.busy(besides)
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return not self.busy(besides)
        return True

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def tasks(self) -> set[asyncio.Task[Any]]:
        """The owned tasks still alive (for tests and diagnostics)."""
        return {t for t in self._owned or () if not t.done()}
