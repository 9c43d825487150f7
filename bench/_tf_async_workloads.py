"""The async TriggerFlow workloads: chunks written as ``async def`` that await their state
writes and emits, the way flows calling LLMs, HTTP services or databases are written.

Like ``_tf_workloads.py`` they use only the public API shared by agently's TriggerFlow and
``triggerflow_nb``, so both engines run exactly this code. Sizes past the first of a
series are skipped (``null`` plus a note) when the smaller runs project them beyond
``PEER_BUDGET_S``; that only ever happens to the slow peer.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from typing import Any

from _benchlib import Recorder, check, run_async, state_of, timed_best, timed_once

CHAIN_LEN = 50
EMIT_SIZES = (2_000, 10_000, 50_000)
FOR_EACH_SIZES = (1_000, 10_000, 100_000)
CONCURRENT = 10_000
INFLIGHT_ITEMS = 100_000
PEAK_ITEMS = 1_000_000  # the issue's own measure: an async for_each this long, unbounded
PEER_BUDGET_S = 60.0  # a larger size whose projection exceeds this is skipped
GATE_TIMEOUT_S = 120.0  # the in-flight workload gives up (null) if the items never all start


def _too_slow(rec: Recorder, key: str, per_unit_us: float | None, units: int, growth: float = 1.0) -> bool:
    """Skip ``key`` (null plus a note) if ``units`` at the smaller size's cost, times the growth
    seen so far, would take longer than the budget."""
    if per_unit_us is None:
        rec.set(key, None)
        rec.note(key, "skipped: the smaller run of this series failed")
        return True
    projected = per_unit_us * max(growth, 1.0) * units / 1e6
    if projected > PEER_BUDGET_S:
        rec.set(key, None)
        rec.note(key, f"skipped: projected {projected:.0f}s at {per_unit_us:,.0f} µs/unit (budget {PEER_BUDGET_S:.0f}s)")
        return True
    return False


def async_chain_flow(flow_cls: Any, name: str) -> Any:
    """CHAIN_LEN async chunks in a row, each awaiting one state write ``n`` and handing on ``input + 1``."""
    flow = flow_cls(name=name)

    def make_step(index: int) -> Any:
        async def step(d):
            await d.async_set_state("n", d.input)
            return d.input + 1

        step.__name__ = f"step_{index}"  # one chunk per step (a chunk is known by its name)
        return step

    chain = flow
    for index in range(CHAIN_LEN):
        chain = chain.to(make_step(index))
    return flow


def async_chain_50(rec: Recorder, flow_cls: Any) -> None:
    """50 async chunks in a row, each awaiting one state write."""
    with rec.guard("async_chain_50"):
        flow = async_chain_flow(flow_cls, "bench_async_chain")
        last: dict[str, Any] = {}

        def run():
            last["snapshot"] = flow.start(0)

        rec.set("async_chain_50", timed_best(run, units_per_run=CHAIN_LEN))
        n = state_of(last["snapshot"], "n")
        check(rec, "async_chain_50", n == CHAIN_LEN - 1, f"last state write n={n!r} != {CHAIN_LEN - 1}")


def _emit_loop_flow(flow_cls: Any, iterations: int, awaited: bool) -> Any:
    flow = flow_cls(name=f"bench_async_emit_{'awaited' if awaited else 'nowait'}_{iterations}")

    async def kick(d):
        if awaited:
            await d.async_emit("Tick", 1)
        else:
            d.emit_nowait("Tick", 1)

    async def tick(d):
        n = d.input
        await d.async_set_state("n", n)
        if n < iterations:
            if awaited:
                await d.async_emit("Tick", n + 1)
            else:
                d.emit_nowait("Tick", n + 1)

    flow.to(kick)
    flow.when("Tick").to(tick)
    return flow


def async_emit_loops(rec: Recorder, flow_cls: Any) -> None:
    """A when("Tick") handler that writes state and emits Tick again, N times: with
    ``emit_nowait`` (each iteration detached) and with ``await async_emit`` (each emit
    returns when its handlers have finished, so the iterations nest)."""
    for awaited in (False, True):
        series = "async_emit" if awaited else "async_emit_nowait"
        smallest: float | None = None
        for size in EMIT_SIZES:
            key = f"{series}_{size}"
            if size != EMIT_SIZES[0] and _too_slow(rec, key, smallest, size):
                continue
            with rec.guard(key):
                flow = _emit_loop_flow(flow_cls, size, awaited)
                last: dict[str, Any] = {}

                def run(flow=flow, last=last):
                    last["snapshot"] = flow.start(0)

                if size == EMIT_SIZES[0]:
                    value = timed_best(run, units_per_run=size, min_batch_s=0.0)
                    smallest = value
                else:
                    gc.collect()
                    value = timed_once(run, units_per_run=size)
                rec.set(key, value)
                n = state_of(last["snapshot"], "n")
                check(rec, key, n == size, f"final n {n!r} != {size}")


def async_for_each(rec: Recorder, flow_cls: Any) -> None:
    """for_each whose item handler is an ``async def`` that awaits a state write."""
    flow = flow_cls(name="bench_async_for_each")

    async def item(d):
        await d.async_set_state("last", d.input)
        return d.input * 2

    async def store(d):
        await d.async_set_state("count", len(d.input))
        await d.async_set_state("total", sum(d.input))

    flow.to(lambda d: d.input).for_each().to(item).end_for_each().to(store)
    per_item: dict[int, float] = {}
    for size in FOR_EACH_SIZES:
        key = f"async_for_each_{size}"
        if size != FOR_EACH_SIZES[0]:
            first = per_item.get(FOR_EACH_SIZES[0])
            growth = (per_item[FOR_EACH_SIZES[1]] / first) ** 1.5 if first and FOR_EACH_SIZES[1] in per_item else 1.0
            if _too_slow(rec, key, per_item.get(FOR_EACH_SIZES[0]), size, growth):
                continue
        with rec.guard(key):
            items = list(range(size))
            last: dict[str, Any] = {}

            def run(items=items, last=last):
                last["snapshot"] = flow.start(items)

            if size == FOR_EACH_SIZES[0]:
                per_item[size] = timed_best(run, units_per_run=size, min_batch_s=0.0)
            else:
                gc.collect()
                per_item[size] = timed_once(run, units_per_run=size)
            rec.set(key, per_item[size])
            count, total = state_of(last["snapshot"], "count"), state_of(last["snapshot"], "total")
            check(rec, key, count == size and total == size * (size - 1), f"count={count!r} total={total!r}")


def async_concurrent(rec: Recorder, flow_cls: Any, per_execution_hint: float | None) -> None:
    """10,000 executions of two async chunks, started together and gathered."""
    key = f"async_concurrent_{CONCURRENT}"
    if per_execution_hint is not None and _too_slow(rec, key, per_execution_hint, CONCURRENT):
        return
    with rec.guard(key):
        flow = flow_cls(name="bench_async_concurrent")

        async def first(d):
            await d.async_set_state("a", d.input)
            return d.input + 1

        async def second(d):
            await d.async_set_state("b", d.input)
            return d.input + 1

        flow.to(first).to(second)

        async def run(n: int) -> list[Any]:
            return await asyncio.gather(*(flow.async_start(i) for i in range(n)))

        warm = run_async(run(20))
        check(rec, key, [state_of(s, "b") for s in warm] == list(range(1, 21)), "wrong outputs")
        gc.collect()
        t = time.perf_counter()
        run_async(run(CONCURRENT))
        rec.set(key, (time.perf_counter() - t) / CONCURRENT * 1e6)


def _items_within_budget(items_n: int, per_item_hint: float | None, floor: int) -> int:
    """``items_n``, or fewer (not under ``floor``) when an engine's µs per item says the run
    would take past the peer budget (agently's async for_each is that slow)."""
    if per_item_hint is not None and per_item_hint * items_n / 1e6 > PEER_BUDGET_S:
        return max(floor, int(PEER_BUDGET_S * 1e6 / per_item_hint / 4))
    return items_n


async def _peak_bytes_of_run(flow: Any, items: list[int]) -> int:
    """tracemalloc's peak during ``flow.async_start(items)``, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    await flow.async_start(items)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def async_inflight_bytes(rec: Recorder, flow_cls: Any, per_item_hint: float | None) -> None:
    """Peak memory per in-flight item: every item of an async for_each waits on one shared
    future until the last item has started, so all of them are alive at once. tracemalloc's
    peak, minus what was allocated before the run, divided by the number of items."""
    key = "async_inflight_bytes"
    items_n = _items_within_budget(INFLIGHT_ITEMS, per_item_hint, floor=100)
    with rec.guard(key):
        flow = flow_cls(name="bench_async_inflight")
        box: dict[str, Any] = {}

        async def hold(d):
            box["started"] += 1
            gate = box["gate"]
            if box["started"] == box["n"]:
                gate.set_result(None)  # the last item to start releases every other one
            else:
                await gate
            return d.input

        flow.to(lambda d: d.input).for_each().to(hold).end_for_each()

        async def body(n: int) -> int:
            loop = asyncio.get_running_loop()
            box.update(started=0, n=n, gate=loop.create_future())
            watchdog = loop.call_later(GATE_TIMEOUT_S, lambda: box["gate"].done() or box["gate"].set_result(None))
            peak = await _peak_bytes_of_run(flow, list(range(n)))
            watchdog.cancel()
            return peak

        run_async(body(100))  # warm-up: lazy imports and caches
        peak = run_async(body(items_n))
        if box["started"] != items_n:
            raise RuntimeError(f"only {box['started']} of {items_n} items started")
        rec.set(key, peak / items_n)
        rec.note(key, f"tracemalloc peak over {items_n:,} async for_each items in flight at once "
                      "(each awaits one shared future until the last item starts)")


def async_for_each_peak_bytes(rec: Recorder, flow_cls: Any, per_item_hint: float | None) -> None:
    """Peak memory per item of one unbounded async for_each over 1,000,000 items whose handler
    awaits a state write (it never has to wait): tracemalloc's peak minus what was allocated
    before the run (the input list), per item. Includes the list of results it hands on."""
    key = "async_for_each_peak_bytes"
    items_n = _items_within_budget(PEAK_ITEMS, per_item_hint, floor=1_000)
    with rec.guard(key):
        flow = flow_cls(name="bench_async_for_each_peak")

        async def item(d):
            await d.async_set_state("last", d.input)
            return d.input

        flow.to(lambda d: d.input).for_each().to(item).end_for_each().to(lambda d: len(d.input))

        run_async(_peak_bytes_of_run(flow, list(range(100))))  # warm-up: lazy imports and caches
        rec.set(key, run_async(_peak_bytes_of_run(flow, list(range(items_n)))) / items_n)
        rec.note(key, f"tracemalloc peak of one async for_each over {items_n:,} items (handler awaits a state "
                      "write, never suspends), results list included")


def run_async_workloads(rec: Recorder, flow_cls: Any) -> None:
    async_chain_50(rec, flow_cls)
    async_emit_loops(rec, flow_cls)
    async_for_each(rec, flow_cls)
    async_concurrent(rec, flow_cls, rec.results.get("concurrent_500"))
    async_inflight_bytes(rec, flow_cls, rec.results.get("async_for_each_1000"))
    async_for_each_peak_bytes(rec, flow_cls, rec.results.get("async_for_each_1000"))
