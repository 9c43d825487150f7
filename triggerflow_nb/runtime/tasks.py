"""Task primitives of the walker: paths started inline, and what their tasks drive.

A concurrent path starts inline (in the caller's task) and gets a task of its own
only once it first suspends; ``StartedInline`` is what such a task then steps. See
``GraphWalker._start_inline`` for why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
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


def close_unstarted(pending: Iterator[Any]) -> None:
    """Close the coroutines a failed _gather never started (a generator of them just stops)."""
    if isgenerator(pending):
        pending.close()
    else:
        for coro in pending:
            coro.close()
