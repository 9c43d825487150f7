"""The runtime stream: items chunks put while running, readable in order by any reader.

Items are kept for the life of the execution, so a reader that starts late still
receives every item from the first. The stream ends when the execution closes. A
sub-flow's stream passes every item on to its parent's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Protocol

from ..errors import LifecycleError
from ..observe import Channel, StreamItem
from .status import CLOSED, LifecycleState

_running_loop = asyncio._get_running_loop  # None in a thread without a loop (a chunk's worker thread)


class StreamOwner(Protocol):
    """What the stream reads of its execution's lifecycle (``Lifecycle``, which creates it)."""

    state: LifecycleState
    home_loop: asyncio.AbstractEventLoop | None


class RuntimeStream:
    __slots__ = ("items", "closed", "parent", "_waiters", "_owner", "_lifecycle", "_channel")

    def __init__(self, owner: str, lifecycle: StreamOwner, channel: Channel) -> None:
        self.items: list[Any] = []
        self.closed = False
        self.parent: RuntimeStream | None = None  # a sub-flow's stream: its parent step's execution's
        self._waiters: list[asyncio.Future[None]] = []
        self._owner = owner
        self._lifecycle = lifecycle
        self._channel = channel

    def put_item(self, item: Any) -> None:
        """A chunk's (or a caller's) put: refused once closed; from a worker thread, handed to the loop."""
        lifecycle = self._lifecycle
        if lifecycle.state == CLOSED:
            raise LifecycleError(f"cannot put into the stream of execution {self._owner}: it is closed")
        loop = lifecycle.home_loop
        if _running_loop() is None and loop is not None and loop.is_running():
            # From a chunk's worker thread while the loop runs: readers wait on that loop, and
            # only a call made thread-safe wakes it (else they would see the item at its next turn).
            loop.call_soon_threadsafe(self.put_item, item)
            return
        index = self.put(item)
        if self._channel.active:
            self._channel.publish(StreamItem(self._owner, index, item))
        parent = self.parent
        if parent is not None and parent._lifecycle.state != CLOSED:
            parent.put_item(item)

    def last(self, count: int | None) -> list[Any]:
        """The items put so far (the ``count`` last ones only, if given), without waiting."""
        items = self.items
        return list(items if count is None else items[max(len(items) - count, 0):])

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


async def items_after(stream: RuntimeStream, timeout: float | None, begin: Callable[[], Any]) -> AsyncIterator[Any]:
    """The stream's items as they come; ``begin()`` runs first, when the reader starts (it may start the run)."""
    begin()
    async for item in stream.iterate(timeout):
        yield item


def read_synchronously(agen: AsyncIterator[Any], run: Callable[[Coroutine[Any, Any, Any]], Any]) -> Iterator[Any]:
    """The items of ``agen`` for a sync reader: each step run by ``run`` on the execution's loop."""
    try:
        while True:
            try:
                yield run(_next_item(agen))
            except StopAsyncIteration:
                return
    finally:  # a reader that stops early must not leave the generator suspended
        run(agen.aclose())  # type: ignore[attr-defined]  # an async generator


async def _next_item(agen: AsyncIterator[Any]) -> Any:
    return await agen.__anext__()
