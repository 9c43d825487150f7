"""One event loop per worker process, in a thread of its own, for async code on workers.

Async handlers and async resource providers all run on this loop, so a resource that
is bound to the loop that made it (an HTTP session, a pool) keeps working across batches
and across the worker's task threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def worker_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="triggerflow_nb-worker-loop", daemon=True).start()
            _loop = loop
        return _loop


def run_on_worker_loop(awaitable: Awaitable[Any]) -> Any:
    """Run ``awaitable`` on the worker's loop from a task thread and wait for its result."""

    async def wrap() -> Any:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(wrap(), worker_loop()).result()
