"""The runtime stream: items chunks put while running, readable in order by any reader.

Items are kept for the life of the execution, so a reader that starts late still
receives every item from the first. The stream ends when the execution closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


class RuntimeStream:
    __slots__ = ("items", "closed", "_waiters")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.closed = False
        self._waiters: list[asyncio.Future[None]] = []

    def put(self, item: Any) -> int:
        self.items.append(item)
        self._wake()
        return len(self.items) - 1

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def iterate(self, timeout: float | None) -> AsyncIterator[Any]:
        """Yield every item from the first; stop at close, or after ``timeout`` seconds with no new item."""
        index = 0
        while True:
            if index < len(self.items):
                yield self.items[index]
                index += 1
                continue
            if self.closed:
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return
