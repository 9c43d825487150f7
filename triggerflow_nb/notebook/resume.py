"""The panel's Continue button: read the typed payload, then resume the interrupt without blocking the kernel.

The payload text is parsed as JSON and, if it is not JSON, taken as the plain string;
it is never evaluated as Python. The resume runs as a task on the event loop the
execution lives on, so the kernel stays responsive (and the panel keeps updating)
while the resumed path runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Callable
from typing import Any

from .._loop_bridge import run_sync
from .coalesce import running_loop


def parse_payload(text: str) -> Any:
    """JSON if it parses (``{"ok": true}``, ``42``, ``"quoted"``), else the raw text; empty means None."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


Done = Callable[[BaseException | None], None]


def schedule_resume(execution: Any, interrupt_id: str, payload: Any, done: Done,
                    home_loop: asyncio.AbstractEventLoop | None, owner: set) -> Any:
    """Start ``execution.async_continue_with(interrupt_id, payload)``; call ``done(error or None)`` at the end.

    On a running loop (a button click in a kernel) the resume becomes a task kept in
    ``owner`` until it finishes. Called from another thread while the execution's loop
    runs, it is handed to that loop. With no loop running at all (plain Python) it runs
    to completion here, as any synchronous call would.
    """
    return schedule_call(execution.async_continue_with(interrupt_id, payload), done, home_loop, owner)


def schedule_call(coro: Any, done: Done, home_loop: asyncio.AbstractEventLoop | None, owner: set) -> Any:
    """Run ``coro`` for a button (see ``schedule_resume``) and call ``done(error or None)`` at the end."""
    loop = running_loop()
    if loop is not None:
        task = loop.create_task(coro)
        owner.add(task)
        task.add_done_callback(lambda t: _settled(owner, t, done))
        return task
    if home_loop is not None and home_loop.is_running() and not home_loop.is_closed():
        future = asyncio.run_coroutine_threadsafe(coro, home_loop)
        owner.add(future)
        future.add_done_callback(lambda f: _settled(owner, f, done))
        return future
    try:
        run_sync(coro)
    except Exception as exc:
        done(exc)
    else:
        done(None)
    return None


def _error_of(future: asyncio.Future[Any] | concurrent.futures.Future[Any]) -> BaseException | None:
    if future.cancelled():
        return asyncio.CancelledError("the resume was cancelled")
    return future.exception()


def _settled(owner: set[Any], finished: Any, done: Callable[[BaseException | None], Any]) -> None:
    owner.discard(finished)
    done(_error_of(finished))
