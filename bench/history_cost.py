"""What the step history costs: every workload with history on and off, interleaved.

Executions record a step history by default (``flow.create_execution(history=True)``;
``flow.start()`` keeps none). The issue's bounds: on costs at most 10 % against off on a
sync and an async chain of 50 chunks and on an emit loop, at most 200 bytes per step plus
the values written, and a 100,000-item for_each stays flat per item. Rows:

* ``history_chain_50``: 50 sync chunks ``d.input + 1``, µs per chunk;
* ``history_async_chain_50``: 50 ``async def`` chunks, each awaits
  ``d.async_set_state("n", d.input)`` and returns ``d.input + 1``, µs per chunk;
* ``history_emit_loop_2000``: one chunk calls ``d.emit_nowait("tick", i)`` 2,000 times, a
  ``when({"event": "tick"})`` chunk handles each, µs per iteration;
* ``history_bytes_per_step``: what a closed execution still holds (tracemalloc, after a
  full collection) after a for_each of 10,000 sync items, each returning its own input (a
  small int that both runs share, so no value is counted), history on minus off, per step;
* ``history_for_each_1000`` / ``_100000``: for_each whose item is ``async def item(d):
  return d.input * 2``, µs per item; the flatness target is 100,000 against 1,000 with
  history on (the default ``history_limit`` keeps the last 10,000 steps, trimmed in batches).

Every run of a workload is ``create_execution(auto_close=False, history=...)``, ``await
async_start(...)`` and ``await async_close()``, in one event loop. On and off alternate
batch by batch (ABBA, so neither always goes first) after a full collection each; the best
batch of each counts. A batch repeats the run for about ``BATCH_S`` (the 100,000-item
for_each: one run). Time is this process's CPU time (``time.process_time``, as in
``eager_start.py``): on a loaded 2-core machine, wall time mostly measures the other work.

    .venv/bin/python bench/history_cost.py

Prints one JSON object on stdout: each row's ``_off``, ``_on`` and ``_ratio`` (on ÷ off),
and ``targets`` with PASS / FAIL. ``bench/run.py --only history`` runs it and prints a table.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import sys
import time
import tracemalloc
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# Import the package from this checkout even when it is not pip-installed.
sys.path.insert(1, os.path.dirname(HERE))

from _benchlib import Recorder, check, log, stdout_to_stderr  # noqa: E402
from _tf_async_workloads import async_chain_flow  # noqa: E402

CHAIN_LEN = 50
EMIT_ITERATIONS = 2_000
BYTES_ITEMS = 10_000
FOR_EACH_SIZES = (1_000, 100_000)

ROUNDS = 25  # batches of each variant for the small workloads (best counts)
LARGE_ROUNDS = 7  # runs of each variant for the 100,000-item for_each
BATCH_S = 0.03  # a small workload's batch lasts about this long
BYTES_ROUNDS = 3  # tracemalloc figures are near-deterministic: the least of 3 of each

RATIO_LIMIT = 1.10  # on ÷ off, the three timing rows
BYTES_LIMIT = 200.0  # bytes per step, on minus off
FLATNESS_LIMIT = 1.15  # for_each 100,000 ÷ 1,000 items, history on

# CPU time of this process: time other processes take from it (mutation runs, a loaded 2-core
# machine) does not count; a run here never waits on anything but the CPU.
CLOCK = time.process_time

TIMING_ROWS = ("history_chain_50", "history_async_chain_50", "history_emit_loop_2000")
VARIANTS = (False, True)  # history off, on


# ---------------------------------------------------------------------------
# one run of a workload
# ---------------------------------------------------------------------------


async def run_once(flow: Any, history: bool, value: Any) -> Any:
    execution = flow.create_execution(auto_close=False, history=history)
    await execution.async_start(value)
    await execution.async_close()
    return execution


async def ab_best(run: Callable[[bool], Awaitable[Any]], *, units: int, rounds: int = ROUNDS,
                  batch_s: float = BATCH_S) -> dict[bool, float]:
    """Best µs per unit of ``run(history)`` for history off and on, batches interleaved ABBA."""
    reps = {}
    for history in VARIANTS:  # warm-up, and the batch size from it
        started = CLOCK()
        await run(history)
        first = CLOCK() - started
        reps[history] = max(1, math.ceil(batch_s / first)) if first > 0 else 1
    per_batch = max(reps.values())  # the same batch for both: neither pays less per-batch overhead
    best = {history: math.inf for history in VARIANTS}
    for index in range(rounds):
        for history in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
            gc.collect()  # no batch pays for the garbage of the one before
            started = CLOCK()
            for _ in range(per_batch):
                await run(history)
            best[history] = min(best[history], (CLOCK() - started) / per_batch)
    return {history: best[history] / units * 1e6 for history in VARIANTS}


def record_pair(rec: Recorder, row: str, figures: dict[bool, float]) -> None:
    rec.set(f"{row}_off", figures[False])
    rec.set(f"{row}_on", figures[True])
    rec.set(f"{row}_ratio", figures[True] / figures[False])


# ---------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------


async def chain_50(rec: Recorder, flow_cls: Any) -> None:
    row = "history_chain_50"
    with rec.guard(row):
        flow = flow_cls(name="bench_history_chain")
        step = flow
        for _ in range(CHAIN_LEN):
            step = step.to(lambda d: d.input + 1)
        steps = (await run_once(flow, True, 0)).history()
        check(rec, row, len(steps) == CHAIN_LEN and steps[-1].result == CHAIN_LEN,
              f"{len(steps)} steps, last result {steps[-1].result if steps else None!r}")
        record_pair(rec, row, await ab_best(lambda history: run_once(flow, history, 0), units=CHAIN_LEN))


async def async_chain_50(rec: Recorder, flow_cls: Any) -> None:
    row = "history_async_chain_50"
    with rec.guard(row):
        flow = async_chain_flow(flow_cls, "bench_history_async_chain")
        execution = await run_once(flow, True, 0)
        steps = execution.history()
        check(rec, row, len(steps) == CHAIN_LEN and execution.get_state("n") == CHAIN_LEN - 1
              and sum(len(s.writes) for s in steps) == CHAIN_LEN,
              f"{len(steps)} steps, n={execution.get_state('n')!r}")
        record_pair(rec, row, await ab_best(lambda history: run_once(flow, history, 0), units=CHAIN_LEN))


async def emit_loop_2000(rec: Recorder, flow_cls: Any) -> None:
    row = "history_emit_loop_2000"
    with rec.guard(row):
        flow = flow_cls(name="bench_history_emit_loop")
        handled = [0]

        def kick(d):
            for i in range(EMIT_ITERATIONS):
                d.emit_nowait("tick", i)

        def on_tick(d):
            handled[0] += 1
            return d.input

        flow.to(kick)
        flow.when({"event": "tick"}).to(on_tick)  # an event named like a chunk is refused: the dict form
        steps = (await run_once(flow, True, 0)).history()
        check(rec, row, handled[0] == EMIT_ITERATIONS and len(steps) == EMIT_ITERATIONS + 1
              and len(steps[0].emits) == EMIT_ITERATIONS,
              f"{handled[0]} handled, {len(steps)} steps")
        record_pair(rec, row, await ab_best(lambda history: run_once(flow, history, 0), units=EMIT_ITERATIONS))


async def _held_bytes(flow: Any, items: list[int], history: bool) -> tuple[int, Any]:
    """What a closed execution of ``flow`` over ``items`` still holds, and the execution."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    execution = await run_once(flow, history, items)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held, execution


async def bytes_per_step(rec: Recorder, flow_cls: Any) -> None:
    row = "history_bytes_per_step"
    with rec.guard(row):
        flow = flow_cls(name="bench_history_bytes")
        # Each item returns its own input: the ints are the input list's, allocated before the
        # baseline and shared by both runs, so the difference is the history's own structure.
        flow.for_each().to(lambda d: d.input).end_for_each()
        items = list(range(BYTES_ITEMS))
        for history in VARIANTS:  # warm-up: lazy imports and caches
            await run_once(flow, history, items)
        held = {history: math.inf for history in VARIANTS}
        steps = 0
        for index in range(BYTES_ROUNDS):
            for history in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
                used, execution = await _held_bytes(flow, items, history)
                held[history] = min(held[history], used)
                if history:
                    steps = len(execution.history())
                del execution
        check(rec, row, steps == BYTES_ITEMS, f"{steps} steps recorded, {BYTES_ITEMS} expected")
        rec.set(f"{row}_off", held[False] / BYTES_ITEMS)
        rec.set(f"{row}_on", held[True] / BYTES_ITEMS)
        rec.set(row, (held[True] - held[False]) / BYTES_ITEMS)
        rec.note(row, f"a closed execution after a for_each of {BYTES_ITEMS:,} sync items, tracemalloc after "
                      f"a full collection, least of {BYTES_ROUNDS}: {held[True]:,.0f} bytes held with history "
                      f"on, {held[False]:,.0f} off; (on - off) / {BYTES_ITEMS:,} steps")


async def for_each_flatness(rec: Recorder, flow_cls: Any) -> None:
    small, large = FOR_EACH_SIZES
    with rec.guard(f"history_for_each_{small}", f"history_for_each_{large}"):
        flow = flow_cls(name="bench_history_for_each")

        async def item(d):
            return d.input * 2

        flow.to(lambda d: d.input).for_each().to(item).end_for_each()
        figures = {}
        for size, rounds, batch_s in ((small, ROUNDS, BATCH_S), (large, LARGE_ROUNDS, 0.0)):
            items = list(range(size))
            figures[size] = await ab_best(lambda history, items=items: run_once(flow, history, items),
                                          units=size, rounds=rounds, batch_s=batch_s)
            record_pair(rec, f"history_for_each_{size}", figures[size])
        last = (await run_once(flow, True, list(range(large)))).history()
        check(rec, f"history_for_each_{large}", len(last) == 10_000 and last[-1].result == 2 * (large - 1),
              f"{len(last)} steps kept, last result {last[-1].result if last else None!r}")
        rec.set("history_for_each_flatness", figures[large][True] / figures[small][True])
        rec.set("history_for_each_flatness_off", figures[large][False] / figures[small][False])
        rec.note(f"history_for_each_{large}", f"best of {LARGE_ROUNDS} runs of each; with history on the "
                                              "execution keeps its last 10,000 steps (the default "
                                              "history_limit), trimmed in batches")


# ---------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """(row, target, value, limit, PASS | FAIL | n.a.) for each bound of the issue."""
    out = []

    def add(row: str, target: str, value: Any, limit: float) -> None:
        known = isinstance(value, (int, float))
        out.append({"row": row, "target": target, "value": value, "limit": limit,
                    "result": "n.a." if not known else ("PASS" if value <= limit else "FAIL")})

    for row in TIMING_ROWS:
        add(row, f"on ÷ off ≤ {RATIO_LIMIT:.2f}", results.get(f"{row}_ratio"), RATIO_LIMIT)
    add("history_bytes_per_step", f"on − off ≤ {BYTES_LIMIT:.0f} bytes per step",
        results.get("history_bytes_per_step"), BYTES_LIMIT)
    add(f"history_for_each_{FOR_EACH_SIZES[1]}", f"÷ {FOR_EACH_SIZES[0]:,} items, history on, ≤ {FLATNESS_LIMIT:.2f}",
        results.get("history_for_each_flatness"), FLATNESS_LIMIT)
    return out


async def run_all(rec: Recorder, flow_cls: Any) -> None:
    await chain_50(rec, flow_cls)
    await async_chain_50(rec, flow_cls)
    await emit_loop_2000(rec, flow_cls)
    await bytes_per_step(rec, flow_cls)
    await for_each_flatness(rec, flow_cls)


def main() -> None:
    rec = Recorder("triggerflow_nb history")
    with stdout_to_stderr(), warnings.catch_warnings():
        import triggerflow_nb
        from triggerflow_nb import TriggerFlow
        from triggerflow_nb.errors import HistoryLimitWarning

        # the 100,000-item for_each runs past the default history_limit on purpose
        warnings.simplefilter("ignore", HistoryLimitWarning)
        rec.meta["version"] = getattr(triggerflow_nb, "__version__", None)
        rec.meta["package"] = os.path.dirname(triggerflow_nb.__file__)
        log(f"history_cost: triggerflow_nb from {rec.meta['package']}")
        asyncio.run(run_all(rec, TriggerFlow))
    out = rec.dump()
    out["targets"] = targets(rec.results)
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
