"""What plain asyncio itself costs on two of issue 14's measures, with no engine at all.

* ``awaited``: a handler that awaits the next handler, N levels deep, each level one
  coroutine and one small object (what a handler and its ``data`` are at the least), with
  a task every 24 levels for a fresh stack (without it, Python's recursion limit ends the
  loop near 1,000 levels). µs per level at 2k / 10k / 50k, and the growth from 2k to 50k,
  with the garbage collector on and off.
* ``inflight``: bytes per waiting item: N tasks, each an ``async def`` that waits on one
  shared future until the last one has started (tracemalloc's peak, as the engine's
  ``async_inflight_bytes`` row measures it). A task is what lets a waiting item see its own
  ``asyncio.current_task()``, be timed out and be cancelled alone.

    .venv/bin/python bench/floors.py
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc

HOP = 24  # the engine's MAX_INLINE_EMIT_DEPTH
SIZES = (2_000, 10_000, 50_000)
INFLIGHT_ITEMS = 20_000


class _Data:
    __slots__ = ("input", "state")

    def __init__(self, value: int, state: dict[str, int]):
        self.input = value
        self.state = state


async def _handler(data: _Data, depth: int, last: int) -> None:
    data.state["n"] = data.input
    if data.input < last:
        following = _Data(data.input + 1, data.state)
        if depth >= HOP:
            await asyncio.get_running_loop().create_task(_handler(following, 0, last))
        else:
            await _handler(following, depth + 1, last)


def _awaited_us_per_level(levels: int, collect: bool) -> float:
    best = float("inf")
    for _ in range(7 if levels == SIZES[0] else 3):
        gc.collect()
        if not collect:
            gc.disable()
        try:
            started = time.perf_counter()
            asyncio.run(_handler(_Data(1, {}), 0, levels))
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best / levels * 1e6


async def _inflight_peak(items: int) -> int:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()
    started = [0]

    async def hold(index: int) -> int:
        started[0] += 1
        if started[0] == items:
            gate.set_result(None)
        else:
            await gate
        return index

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tasks = [loop.create_task(hold(index)) for index in range(items)]
    results = [await task for task in tasks]
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert results == list(range(items))
    return peak


def main() -> None:
    for collect in (True, False):
        figures = [_awaited_us_per_level(levels, collect) for levels in SIZES]
        sizes = " / ".join(f"{levels // 1000}k" for levels in SIZES)
        shown = " / ".join(f"{value:.2f}" for value in figures)
        print(f"awaited, gc {'on ' if collect else 'off'}: {shown} µs per level at {sizes}; "
              f"growth {figures[-1] / figures[0]:.2f}x")
    asyncio.run(_inflight_peak(100))  # warm-up
    per_item = asyncio.run(_inflight_peak(INFLIGHT_ITEMS)) / INFLIGHT_ITEMS
    print(f"inflight: {per_item:.0f} bytes per waiting item ({INFLIGHT_ITEMS:,} tasks)")


if __name__ == "__main__":
    main()
