"""Coalescing: many "something changed" marks become at most one flush per interval.

The runtime may publish thousands of events a second; the front end needs a few
updates a second. A mark flushes at once when the last flush is at least one
interval old, else it schedules one trailing flush (``loop.call_later``) that
picks up everything marked meanwhile. Marks cost one attribute check while a
trailing flush is already due.

A flush runs in an empty ``contextvars`` context. ipykernel takes the parent request
of every message (comm messages included) from a context variable; in an empty
context it falls back to the kernel's latest request. Without this, a flush made by
work that a finished cell started would be filed under that finished cell, and a
notebook runner (nbclient) would drop it, losing widgets from the saved notebook.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable

from ..errors import InvalidArgumentError


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


logger = logging.getLogger("triggerflow_nb")


class Coalescer:
    def __init__(self, flush: Callable[[], None], interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic):
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
            raise InvalidArgumentError(f"the update interval must be a number of seconds >= 0, got {interval!r}")
        self._flush = flush
        self.interval = float(interval)
        self._clock = clock
        self._last = float("-inf")
        self._handle: asyncio.TimerHandle | None = None
        self._handle_loop: asyncio.AbstractEventLoop | None = None
        self.flush_count = 0

    def mark(self) -> None:
        """Something changed: flush now if the last flush is old enough, else once later."""
        if self._handle is not None:
            if running_loop() is self._handle_loop:
                return
            # The trailing flush waits on a loop that is not running now (plain Python between two
            # synchronous calls): it may never come, so do not wait for it.
            self.cancel()
        now = self._clock()
        if now - self._last >= self.interval:
            self._run(now)
            return
        loop = running_loop()
        if loop is None:
            # No loop to wait on (plain synchronous code): there is no front end to flood either.
            self._run(now)
            return
        self._handle = loop.call_later(self._last + self.interval - now, self._trailing)
        self._handle_loop = loop

    def flush_now(self) -> None:
        """Flush at once, dropping any pending trailing flush (used on close)."""
        self.cancel()
        self._run(self._clock())

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _trailing(self) -> None:
        self._handle = None
        self._run(self._clock())

    def _run(self, now: float) -> None:
        self._last = now
        self.flush_count += 1
        try:
            contextvars.Context().run(self._flush)
        except Exception as exc:
            logger.warning("a notebook view failed to update: %r", exc)
