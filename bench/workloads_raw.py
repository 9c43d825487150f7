"""Raw asyncio baselines: the floor no TriggerFlow engine can beat.

Runs with any Python >= 3.10 (standard library only):

    python3 bench/workloads_raw.py

* chain_50        50 steps in sequence, each one ``asyncio.create_task`` of an
                  ``async def step(x): return x + 1`` awaited before the next.
* emit_loop_2000  2,000 iterations, each scheduling the next handler as a task
                  and awaiting it (the bare cost of "emit, then handle").
* concurrent_500  500 gathered tasks, each awaiting two step tasks in turn.
* concurrent_10000 the same with 10,000 tasks.
"""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _benchlib import Recorder, async_timed_best, emit, run_async  # noqa: E402

CHAIN_LEN = 50
EMIT_ITERATIONS = 2_000


async def step(x: int) -> int:
    return x + 1


async def chain(length: int) -> int:
    value = 0
    for _ in range(length):
        value = await asyncio.create_task(step(value))
    return value


async def emit_loop(iterations: int) -> int:
    state = {"n": 0}

    async def tick(n: int) -> None:
        state["n"] = n

    for n in range(1, iterations + 1):
        await asyncio.create_task(tick(n))
    return state["n"]


async def two_steps(x: int) -> int:
    x = await asyncio.create_task(step(x))
    return await asyncio.create_task(step(x))


async def concurrent(n: int) -> None:
    await asyncio.gather(*(two_steps(i) for i in range(n)))


async def measure(rec: Recorder) -> None:
    assert await chain(CHAIN_LEN) == CHAIN_LEN
    assert await emit_loop(EMIT_ITERATIONS) == EMIT_ITERATIONS
    rec.set("chain_50", await async_timed_best(lambda: chain(CHAIN_LEN), units_per_run=CHAIN_LEN))
    rec.set(
        "emit_loop_2000",
        await async_timed_best(lambda: emit_loop(EMIT_ITERATIONS), units_per_run=EMIT_ITERATIONS),
    )
    rec.set("concurrent_500", await async_timed_best(lambda: concurrent(500), units_per_run=500))
    rec.set(
        "concurrent_10000",
        await async_timed_best(lambda: concurrent(10_000), units_per_run=10_000, min_batch_s=0.0),
    )


def main() -> None:
    rec = Recorder("raw_asyncio")
    run_async(measure(rec))
    emit(rec)


if __name__ == "__main__":
    main()
