"""Run a coroutine to completion from synchronous code, inside or outside a running loop.

Jupyter runs every cell inside an already running event loop, where
``asyncio.run`` refuses to work. There the loop is made re-entrant with
nest_asyncio2, so ``flow.start(...)`` in a cell just works and the execution's
tasks live on the kernel's loop (they keep running between cells, which is what
lets a panel update after the cell returns).

In a plain script no loop is running; every sync call then drives one private,
long-lived loop per thread, so an execution started by one sync call can be
continued by the next (a fresh ``asyncio.run`` loop per call would strand its tasks).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._tracebacks import trim
from .errors import LifecycleError, TriggerFlowError

T = TypeVar("T")

_local = threading.local()


def _private_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
        # Nothing can drive it once its thread has ended: closed then (its selector and self-pipe
        # sockets), not left for the garbage collector to find open, one per worker thread.
        weakref.finalize(threading.current_thread(), loop.close)
    return loop


def _make_reentrant(loop: asyncio.AbstractEventLoop) -> None:
    if getattr(loop, "_nest_patched", False):
        return
    # nest_asyncio2, not the original nest_asyncio: ipykernel 7 runs every queued request
    # in one shared context, and when "Run All" queues cells behind a sync call, the
    # original starts the next request inside the nested run, where entering that context
    # fails and the cell never runs. nest_asyncio2 holds it back until the nested run ends.
    import nest_asyncio2

    nest_asyncio2.apply(loop)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, from any synchronous caller.

    Our errors leave with the caller's and the user's frames only (see ``_tracebacks``).
    """
    __tracebackhide__ = True  # IPython hides this frame
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        loop = _private_loop()
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(coro)
        except TriggerFlowError as exc:
            trim(exc)
            raise
    _make_reentrant(loop)
    # A KeyboardInterrupt (a cell interrupted) leaves run_until_complete with the task
    # still scheduled; cancel it so it does not go on running behind the user's back.
    task = asyncio.ensure_future(coro, loop=loop)
    try:
        return loop.run_until_complete(task)
    except BaseException as exc:
        if not task.done():
            task.cancel()
        if isinstance(exc, TriggerFlowError):
            trim(exc)
        raise


def run_on_home(coro: Coroutine[Any, Any, T], home: asyncio.AbstractEventLoop | None, owner: str) -> T:
    """``run_sync`` for an object that lives on the event loop ``home`` (where it started).

    From the thread that runs ``home`` (or drives it as its private loop) this is ``run_sync``.
    From any other thread the work is handed to ``home`` while it runs, and the caller waits
    for the result; when ``home`` is not running, the call is refused rather than run on a
    loop of this thread, where the work would be stranded once the call returned.
    """
    __tracebackhide__ = True  # IPython hides this frame
    if home is None or home.is_closed():
        return run_sync(coro)
    try:
        current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is home or (current is None and getattr(_local, "loop", None) is home):
        return run_sync(coro)
    if home.is_running():
        return asyncio.run_coroutine_threadsafe(coro, home).result()
    coro.close()
    raise LifecycleError(
        f"{owner} lives on the event loop of the thread that started it, and that loop is not running now: "
        f"call it from that thread (or use its async_ form on that loop)"
    )
