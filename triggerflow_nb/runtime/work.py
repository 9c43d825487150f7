"""``ExecutionWork``: an execution's side of its task scope.

A root call (start, emit, continue_with, retry) runs in its caller's task, counted in
flight, and its failure becomes the caller's error; detached work is counted when it is
spawned (from the loop, or handed over from a chunk's worker thread); a detached failure
closes the execution.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .._tracebacks import trim
from ..errors import LifecycleError, TriggerFlowError
from .lifecycle import CLEANUP_GRACE, Lifecycle

# What stops a run from outside: an interrupted cell, sys.exit(), a coroutine closed because its
# loop went away (GeneratorExit, where nothing may be awaited). Noted; never a chunk's failure.
INTERRUPTS = (KeyboardInterrupt, SystemExit, GeneratorExit)
_running_loop = asyncio._get_running_loop  # None in a thread without a loop (a chunk's worker thread)


class ExecutionWork:
    """Root calls and detached work of one execution, counted in flight by its lifecycle."""

    __slots__ = ("_lifecycle", "_scope")

    def __init__(self, lifecycle: Lifecycle):
        self._lifecycle = lifecycle
        self._scope = lifecycle.scope

    async def root(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run one externally started piece of work (start, emit, continue) in the caller's task,
        owned by the scope: close() can cut it, and then its caller gets a LifecycleError."""
        lifecycle = self._lifecycle
        entered = self._scope.enter_root()
        lifecycle.enter()
        failed_elsewhere = False
        try:
            return await coro
        except asyncio.CancelledError:
            if self._scope.was_cut(entered[0]):
                task = entered[0]
                if task is not None:
                    task.uncancel()  # the cancellation was ours and ends here
                if lifecycle.error is not None:  # cut because the run failed elsewhere: that is the news
                    failed_elsewhere = True
                    raise lifecycle.error from None
                raise LifecycleError(
                    f"execution {lifecycle.owner} of flow {lifecycle.flow_name!r} was closed while this call was "
                    f"running ({lifecycle.close_reason}); the path it ran was cancelled"
                ) from None
            lifecycle.note_interrupt("CancelledError")
            raise
        except INTERRUPTS as exc:
            lifecycle.note_interrupt(type(exc).__name__)
            raise
        except BaseException as exc:  # an Exception, or any other BaseException a chunk raised
            await lifecycle.fail(exc)
            if isinstance(exc, TriggerFlowError):  # an async caller sees its own and the chunk's frames
                trim(exc)
            raise
        finally:
            lifecycle.leave()
            self._scope.exit_root(entered)
            if failed_elsewhere:
                # The failure's close waited for this call to leave; the caller hears of the failure
                # once that close is done (cleanup run, environments released) and the failed path's
                # own task has ended, not while they run.
                await lifecycle.wait_closed()
                await self._scope.wait_quiet(CLEANUP_GRACE)

    def spawn(self, detached: Coroutine[Any, Any, Any], unstarted: Coroutine[Any, Any, Any]) -> None:
        """Run detached work (an ``emit_nowait``, a sync chunk's emit or write), owned by this
        execution: ``detached`` is a detached walk or ``GraphWalker.detached_dispatch``, which end by
        ``Lifecycle.leave()``. ``unstarted`` is what to close if it never starts: the work
        ``detached_dispatch`` wraps (closing an unstarted wrapper cannot close what it holds), else
        ``detached`` itself."""
        if _running_loop() is None:  # a chunk's worker thread (asyncio.to_thread): hand it to the loop
            self._spawn_from_thread(detached, unstarted)
            return
        self._lifecycle.enter()  # counted now, so auto-close cannot slip in before it starts
        self._scope.spawn_detached(detached, unstarted)

    def _spawn_from_thread(self, detached: Coroutine[Any, Any, Any], unstarted: Coroutine[Any, Any, Any]) -> None:
        """``spawn`` for a thread without a loop: the work is handed to the execution's loop. The
        chunk that runs the thread is still in flight meanwhile, so nothing settles before it lands."""
        loop = self._lifecycle.home_loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self.spawn, detached, unstarted)
                return
            except RuntimeError:  # the loop was closed
                pass
        detached.close()
        unstarted.close()
        raise LifecycleError(
            f"execution {self._lifecycle.owner} cannot take work from this thread: its event loop is not running "
            f"(emit or write from the chunk itself, or from a thread while the chunk that started it still runs)"
        )

    async def detached_failed(self, exc: BaseException) -> bool:
        """Nobody awaits detached work: its failure closes the execution. A cancellation and an
        interrupt go on up (False), the interrupt noted first."""
        if isinstance(exc, asyncio.CancelledError):
            return False
        if isinstance(exc, INTERRUPTS):
            self._lifecycle.note_interrupt(type(exc).__name__)
            return False
        await self._lifecycle.fail(exc)
        return True
