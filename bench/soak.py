"""Soak: mixed executions for a while; executions per second and memory at start and end.

    .venv/bin/python bench/soak.py --seconds 120

Each round runs, on one event loop: a plain chain, a for_each, an emit/when branch, a run
that pauses and is saved, loaded into a fresh execution and continued, a run closed with a
timeout while a chunk still sleeps, and a run whose chunk fails. Memory (RSS) should stay
flat: a leak of tasks, executions or snapshots shows as growth from the first minute on.
Not a test: it prints figures for the benchmark notes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from triggerflow_nb import ChunkError, TriggerFlow  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_flows() -> dict[str, TriggerFlow]:
    chain = TriggerFlow(name="soak-chain")

    async def add(data):
        await data.async_set_state("n", data.input + 1)
        return data.input + 1

    chain.to(add, name="add1").to(add, name="add2").to(add, name="add3")

    fan = TriggerFlow(name="soak-fan")
    items = fan.to(lambda data: data.input, name="items")
    items.for_each().to(lambda data: data.input * 2).end_for_each().to(lambda data: data.set_state("sum", sum(data.input)))

    events = TriggerFlow(name="soak-events")
    events.when("tick").to(lambda data: data.append_state("ticks", data.input))

    async def emit_some(data):
        for i in range(3):
            await data.async_emit("tick", i)

    events.to(emit_some)

    pausing = TriggerFlow(name="soak-pause")

    async def ask(data):
        await data.async_pause_for(type="approval", interrupt_id="ask")

    pausing.to(ask).to(lambda data: data.set_state("answer", data.input))

    slow = TriggerFlow(name="soak-slow")

    async def sleeps(data):
        await asyncio.sleep(10)

    slow.to(sleeps)

    failing = TriggerFlow(name="soak-fail")
    failing.to(lambda data: 1 / 0)
    return {"chain": chain, "fan": fan, "events": events, "pausing": pausing, "slow": slow, "failing": failing}


async def one_round(flows: dict[str, TriggerFlow]) -> int:
    await flows["chain"].async_start(0)
    await flows["fan"].async_start(list(range(20)))
    await flows["events"].async_start(None)
    paused = flows["pausing"].create_execution(auto_close=False)
    await paused.async_start(None)
    saved = paused.save()
    await paused.async_close(pending_interrupts="cancel")
    restored = flows["pausing"].create_execution(auto_close=False)
    await restored.async_load(saved)
    await restored.async_continue_with("ask", "yes")
    assert await restored.async_close() == {"answer": "yes"}
    slow = flows["slow"].create_execution(auto_close=False)
    runner = asyncio.ensure_future(slow.async_start(None))
    await asyncio.sleep(0)
    await slow.async_close(timeout=0.001)
    try:
        await runner
    except Exception:
        pass
    try:
        await flows["failing"].async_start(None)
    except ChunkError:
        pass
    return 7  # executions per round


async def soak(seconds: float) -> None:
    flows = build_flows()
    for _ in range(50):  # warm up caches and imports before the first reading
        await one_round(flows)
    gc.collect()
    start_rss, began, done, minute = rss_mb(), time.perf_counter(), 0, 1
    print(f"start: RSS {start_rss:.1f} MB", flush=True)
    while time.perf_counter() - began < seconds:
        done += await one_round(flows)
        if time.perf_counter() - began >= 60 * minute:
            print(f"{minute} min: {done / (time.perf_counter() - began):,.0f} executions/s, RSS {rss_mb():.1f} MB",
                  flush=True)
            minute += 1
    gc.collect()
    took = time.perf_counter() - began
    print(f"end: {done:,} executions in {took:.0f} s = {done / took:,.0f} executions/s; "
          f"RSS {start_rss:.1f} -> {rss_mb():.1f} MB; tasks alive {len(asyncio.all_tasks()) - 1}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0)
    asyncio.run(soak(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
