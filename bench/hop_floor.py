"""What one hop of detached work costs, without the walk: the floor under ``emit_nowait``.

Three chains of N hops, each hop scheduling the next: a bare ``loop.call_soon`` callback, a
bare asyncio task, and a piece of work through ``TaskScope.spawn_detached`` (the queue an
execution's ``emit_nowait`` uses; an emit walked directly adds no wrapper around the piece).
Prints µs per hop.

    .venv/bin/python bench/hop_floor.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triggerflow_nb.runtime.scope import TaskScope  # noqa: E402


async def _chain(schedule, n: int) -> float:
    """Seconds for ``n`` hops, each scheduled by ``schedule(hop, index)`` from the one before."""
    done = asyncio.get_running_loop().create_future()

    def hop(index: int) -> None:
        if index < n:
            schedule(hop, index + 1)
        else:
            done.set_result(None)

    started = time.perf_counter()
    schedule(hop, 0)
    await done
    return time.perf_counter() - started


async def main(n: int) -> None:
    loop = asyncio.get_running_loop()
    scope = TaskScope("hop-floor", never_ran=lambda unstarted: None)

    async def as_coroutine(hop, index):
        hop(index)

    rows = {
        "call_soon": lambda hop, index: loop.call_soon(hop, index),
        "task": lambda hop, index: loop.create_task(as_coroutine(hop, index)),
        "spawn_detached": lambda hop, index: scope.spawn_detached(as_coroutine(hop, index), None),
    }
    for name, schedule in rows.items():
        best = min([await _chain(schedule, n) for _ in range(3)])
        print(f"{name:15s} {best / n * 1e6:6.2f} µs per hop")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
