"""The engine's eager start against the interpreter's own (Python 3.12+), per started path.

A for_each item or an event handler starts as a path whose first step runs at once. On
every supported Python the engine does it with ``EagerStarter`` (runtime/tasks.py): the
first step runs in an idle carrier task, and a task is only spent on a path that suspends.
Python 3.12 added ``asyncio.Task(coro, eager_start=True)``, which always makes a task. Two
workloads, N paths each, started one after the other and then awaited together:

* ``finishes``: the path returns without suspending (an ``async def`` chunk that only
  writes state: the common case);
* ``suspends``: the path awaits ``asyncio.sleep(0)`` once.

Prints µs of CPU time per path (``time.process_time``: other work on a loaded machine does
not inflate it) for each starter available on this interpreter, best of 9:

    .venv/bin/python bench/eager_start.py [N]
    .venv-3.13/bin/python bench/eager_start.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triggerflow_nb.runtime.tasks import EagerStarter  # noqa: E402


async def _finishes(box: list[int]) -> None:
    box[0] += 1


async def _suspends(box: list[int]) -> None:
    await asyncio.sleep(0)
    box[0] += 1


async def _timed(start, path, n: int) -> float:
    """CPU seconds for ``start(coro)`` of ``n`` paths and the wait for those that suspended;
    ``start`` returns the path's task, or None when its first step finished it."""
    box = [0]
    started = time.process_time()
    waiting = [task for task in (start(path(box)) for _ in range(n)) if task is not None and not task.done()]
    if waiting:
        await asyncio.gather(*waiting)
    elapsed = time.process_time() - started
    assert box[0] == n
    return elapsed


async def _engine(path, n: int) -> float:
    starter = EagerStarter(asyncio.get_running_loop())
    try:
        return await _timed(starter.start, path, n)
    finally:
        starter.close()


async def _interpreter(path, n: int) -> float:
    loop = asyncio.get_running_loop()
    return await _timed(lambda coro: asyncio.Task(coro, loop=loop, eager_start=True), path, n)  # type: ignore[call-arg]


async def _plain_task(path, n: int) -> float:
    return await _timed(asyncio.get_running_loop().create_task, path, n)


async def main(n: int) -> None:
    starters = {"EagerStarter": _engine, "create_task": _plain_task}
    if sys.version_info >= (3, 12):
        starters["Task(eager_start=True)"] = _interpreter
    print(f"Python {sys.version.split()[0]}, {n} paths, µs per path (best of 9)")
    for workload, path in (("finishes", _finishes), ("suspends", _suspends)):
        for name, run in starters.items():
            best = min([await run(path, n) for _ in range(9)])
            print(f"  {workload:9s} {name:24s} {best / n * 1e6:6.3f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
