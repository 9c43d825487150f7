"""The TriggerFlow workloads, written once against the public TriggerFlow API.

Agently's TriggerFlow and ``triggerflow_nb`` expose the same API, so both
``workloads_agently.py`` and ``workloads_triggerflow_nb.py`` run exactly this
code; only the few places where an engine needs special handling go through
an :class:`Adapter`.

Every workload is guarded: a failure records ``null`` for its keys and the
error text under ``"errors"`` and the script moves on to the next one.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
from typing import Any

from _benchlib import (
    CONCURRENT_BUDGET_S,
    Recorder,
    async_timed_best,
    check,
    for_each_100k_skip_reason,
    run_async,
    state_of,
    timed_best,
    timed_once,
)
from _tf_async_workloads import run_async_workloads

CHAIN_LEN = 50
EMIT_ITERATIONS = 2_000
STATE_KEYS = 10_000
IDLE_EXECUTIONS = 10_000


class Adapter:
    """Engine-specific hooks; the defaults use only the public API."""

    #: how the 10,000 state keys of the save/load workload are written
    fill_note: str | None = None

    async def fill_state(self, flow_cls: Any, keys: int) -> tuple[Any, Any]:
        """Return ``(flow, execution)``: an open execution holding ``keys`` state keys.

        The default writes them from inside a chunk with ``data.async_set_state``.
        """
        flow = flow_cls(name="bench_save_load")

        async def fill(data):
            for i in range(data.input):
                await data.async_set_state(f"k{i}", i)
            return data.input

        flow.to(fill)
        execution = flow.create_execution(auto_close=False)
        await execution.async_start(keys)
        return flow, execution

    async def close(self, execution: Any) -> None:
        """Close an ``auto_close=False`` execution (whichever spelling exists)."""
        closer = getattr(execution, "async_close", None)
        if closer is not None:
            await closer()
            return
        closer = getattr(execution, "close", None)
        if closer is not None:
            result = closer()
            if asyncio.iscoroutine(result):
                await result


# ---------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------


def chain_50(rec: Recorder, flow_cls: Any) -> None:
    with rec.guard("chain_50"):
        # correctness: a twin flow with one extra chunk that stores the output
        twin = flow_cls(name="bench_chain_check")
        step = twin
        for _ in range(CHAIN_LEN):
            step = step.to(lambda d: d.input + 1)

        async def store(d):
            await d.async_set_state("out", d.input)

        step.to(store)
        out = state_of(twin.start(0), "out")
        check(rec, "chain_50", out == CHAIN_LEN, f"chain output {out!r} != {CHAIN_LEN}")

        flow = flow_cls(name="bench_chain")
        step = flow
        for _ in range(CHAIN_LEN):
            step = step.to(lambda d: d.input + 1)
        rec.set("chain_50", timed_best(lambda: flow.start(0), units_per_run=CHAIN_LEN))


def emit_loop_2000(rec: Recorder, flow_cls: Any) -> None:
    with rec.guard("emit_loop_2000"):
        flow = flow_cls(name="bench_emit_loop")

        async def kick(d):
            await d.async_emit("Tick", 1)

        async def tick(d):
            n = d.input
            await d.async_set_state("n", n)
            if n < EMIT_ITERATIONS:
                await d.async_emit("Tick", n + 1)

        flow.to(kick)
        flow.when("Tick").to(tick)
        last: dict[str, Any] = {}

        def run():
            last["snapshot"] = flow.start(0)

        rec.set("emit_loop_2000", timed_best(run, units_per_run=EMIT_ITERATIONS, min_batch_s=0.0))
        n = state_of(last["snapshot"], "n")
        check(rec, "emit_loop_2000", n == EMIT_ITERATIONS, f"final n {n!r} != {EMIT_ITERATIONS}")


def _for_each_flow(flow_cls: Any) -> Any:
    flow = flow_cls(name="bench_for_each")

    async def store(d):
        # one chunk after the loop, to check the collected list
        await d.async_set_state("count", len(d.input))
        await d.async_set_state("total", sum(d.input))

    flow.to(lambda d: d.input).for_each().to(lambda d: d.input * 2).end_for_each().to(store)
    return flow


def for_each(rec: Recorder, flow_cls: Any) -> None:
    flow = _for_each_flow(flow_cls)
    last: dict[str, Any] = {}

    def runner(n: int):
        items = list(range(n))

        def run():
            last["snapshot"] = flow.start(items)

        return run

    def verify(key: str, n: int) -> None:
        count = state_of(last["snapshot"], "count")
        total = state_of(last["snapshot"], "total")
        check(rec, key, count == n and total == n * (n - 1), f"count={count!r} total={total!r}")

    per_item: dict[int, float] = {}
    with rec.guard("for_each_1000"):
        per_item[1_000] = timed_best(runner(1_000), units_per_run=1_000, min_batch_s=0.0)
        rec.set("for_each_1000", per_item[1_000])
        verify("for_each_1000", 1_000)

    with rec.guard("for_each_10000"):
        per_item[10_000] = timed_once(runner(10_000), units_per_run=10_000)
        rec.set("for_each_10000", per_item[10_000])
        verify("for_each_10000", 10_000)

    skip = for_each_100k_skip_reason(per_item.get(1_000), per_item.get(10_000))
    if skip is not None:
        rec.set("for_each_100000", None)
        rec.note("for_each_100000", skip)
        return
    with rec.guard("for_each_100000"):
        rec.set("for_each_100000", timed_once(runner(100_000), units_per_run=100_000))
        verify("for_each_100000", 100_000)


def _concurrent_flow(flow_cls: Any) -> Any:
    flow = flow_cls(name="bench_concurrent")
    flow.to(lambda d: d.input + 1).to(lambda d: d.input + 1)
    return flow


def concurrent(rec: Recorder, flow_cls: Any) -> None:
    flow = _concurrent_flow(flow_cls)

    def gathered(n: int):
        async def run():
            await asyncio.gather(*(flow.async_start(i) for i in range(n)))

        return run

    async def check_results() -> None:
        twin = flow_cls(name="bench_concurrent_check")

        async def store(d):
            await d.async_set_state("out", d.input)

        twin.to(lambda d: d.input + 1).to(store)
        snaps = await asyncio.gather(*(twin.async_start(i) for i in range(20)))
        outs = [state_of(s, "out") for s in snaps]
        check(rec, "concurrent_500", outs == list(range(1, 21)), f"outputs {outs!r}")

    per_exec_500 = None
    with rec.guard("concurrent_500"):
        run_async(check_results())
        per_exec_500 = run_async(async_timed_best(gathered(500), units_per_run=500, min_batch_s=0.0))
        rec.set("concurrent_500", per_exec_500)

    # Cap the large run: executions do not get cheaper at scale, so the 500 cost
    # gives a lower bound; allow 2x for growth before deciding.
    n = 10_000
    if per_exec_500 is not None and per_exec_500 * 1e-6 * n * 2 > CONCURRENT_BUDGET_S:
        n = 2_000
        rec.set("concurrent_10000", None)
        rec.note(
            "concurrent_10000",
            f"skipped: at {per_exec_500 / 1000:.2f} ms/execution 10,000 executions would exceed "
            f"the {CONCURRENT_BUDGET_S:.0f}s budget; concurrent_2000 is reported instead",
        )
    key = f"concurrent_{n}"
    with rec.guard(key):
        t = time.perf_counter()
        run_async(gathered(n)())
        rec.set(key, (time.perf_counter() - t) / n * 1e6)


def save_load_10000(rec: Recorder, flow_cls: Any, adapter: Adapter) -> None:
    keys = ("save_load_10000", "save_10000", "load_10000")
    with rec.guard(*keys):

        async def body():
            flow, execution = await adapter.fill_state(flow_cls, STATE_KEYS)
            try:
                saved = execution.save()
                restored_probe = flow.create_execution(auto_close=False)
                restored_probe.load(saved)
                got = restored_probe.get_state(f"k{STATE_KEYS - 1}")
                check(rec, "save_load_10000", got == STATE_KEYS - 1, f"restored k{STATE_KEYS - 1} = {got!r}")
                await adapter.close(restored_probe)
                rec.note("save_load_10000", f"saved snapshot is {len(json.dumps(saved, default=str)):,} bytes of JSON")

                # save: best of 3 on the same open execution
                best_save = min(_time_call(execution.save) for _ in range(3))
                # load: best of 3, each into a fresh execution (creation not timed)
                best_load = float("inf")
                for _ in range(3):
                    fresh = flow.create_execution(auto_close=False)
                    best_load = min(best_load, _time_call(lambda: fresh.load(saved)))
                    await adapter.close(fresh)
            finally:
                await adapter.close(execution)
            return best_save * 1e3, best_load * 1e3

        save_ms, load_ms = run_async(body())
        rec.set("save_10000", save_ms)
        rec.set("load_10000", load_ms)
        rec.set("save_load_10000", (save_ms + load_ms) / 2)
        if adapter.fill_note:
            rec.note("save_load_10000", rec.notes["save_load_10000"] + "; " + adapter.fill_note)


def _time_call(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def idle_execution_bytes(rec: Recorder, flow_cls: Any, adapter: Adapter) -> None:
    with rec.guard("idle_execution_bytes"):
        flow = flow_cls(name="bench_idle")
        flow.to(lambda d: d.input + 1)

        async def body():
            # warm-up: first execution pays for lazy imports and caches
            for i in range(3):
                warm = flow.create_execution(auto_close=False)
                await warm.async_start(i)
                await adapter.close(warm)
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            held = []
            t = time.perf_counter()
            for i in range(IDLE_EXECUTIONS):
                execution = flow.create_execution(auto_close=False)
                await execution.async_start(i)
                held.append(execution)
            await asyncio.sleep(0)  # let any follow-up callbacks settle
            elapsed = time.perf_counter() - t
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            rec.note(
                "idle_execution_bytes",
                f"{IDLE_EXECUTIONS:,} started auto_close=False executions held at once "
                f"(tracemalloc); creating+starting them took {elapsed / IDLE_EXECUTIONS * 1e6:.0f} µs each "
                "under tracemalloc",
            )
            for execution in held:
                await adapter.close(execution)
            return used / IDLE_EXECUTIONS

        rec.set("idle_execution_bytes", run_async(body()))


def run_all(rec: Recorder, flow_cls: Any, adapter: Adapter | None = None, only: str | None = None) -> None:
    """Every workload; ``only="sync"`` or ``only="async"`` runs just that half."""
    adapter = adapter or Adapter()
    if only != "sync" and only is not None:
        run_async_workloads(rec, flow_cls)
        return
    chain_50(rec, flow_cls)
    emit_loop_2000(rec, flow_cls)
    for_each(rec, flow_cls)
    concurrent(rec, flow_cls)
    save_load_10000(rec, flow_cls, adapter)
    idle_execution_bytes(rec, flow_cls, adapter)
    if only is None:
        run_async_workloads(rec, flow_cls)
