"""Per-item cost of for_each at 1,000, 10,000 and 100,000 items.

    .venv/bin/python bench/bench_for_each.py            # the numbers
    .venv/bin/python bench/bench_for_each.py --profile  # plus a cProfile of the 100,000 run

The flow is ``flow.to(lambda d: d.input).for_each().to(lambda d: d.input * 2).end_for_each()``
followed by one chunk that checks the collected list. The contract asks that the cost per
item does not grow with the number of items; the target is a 100k/1k ratio of at most 1.5x.

Timing: ``time.perf_counter`` around ``flow.start(items)``, after one warm-up run; best
of 3 for 1,000 and 10,000 items, one run for 100,000. A full garbage collection runs
before each timed run, so that no run pays for the previous one's garbage (the collector
still runs as usual inside the runs: its cost is part of what is measured).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triggerflow_nb import TriggerFlow  # noqa: E402

TARGET_RATIO = 1.5


def make_flow() -> TriggerFlow:
    flow = TriggerFlow(name="bench_for_each")

    def check(d):
        n = len(d.input)
        assert d.input[:3] == [0, 2, 4][:n] and d.input[-1:] == ([(n - 1) * 2] if n else []), "wrong results"
        return n

    flow.to(lambda d: d.input).for_each().to(lambda d: d.input * 2).end_for_each().to(check)
    return flow


def time_run(flow: TriggerFlow, n: int) -> float:
    """Seconds for one flow.start() over ``n`` items."""
    items = list(range(n))
    gc.collect()
    t0 = time.perf_counter()
    flow.start(items)
    return time.perf_counter() - t0


def best_us_per_item(flow: TriggerFlow, n: int, repeats: int) -> float:
    return min(time_run(flow, n) for _ in range(repeats)) * 1e6 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the 100,000-item run")
    args = parser.parse_args()

    flow = make_flow()
    time_run(flow, 1_000)  # warm-up: imports, first-call caches
    results = {}
    for n, repeats in ((1_000, 3), (10_000, 3), (100_000, 1)):
        results[n] = best_us_per_item(flow, n, repeats)
        print(f"for_each {n:>7,} items: {results[n]:7.2f} µs/item")
    ratio = results[100_000] / results[1_000]
    verdict = "ok" if ratio <= TARGET_RATIO else "MISSES the target"
    print(f"100k/1k ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        time_run(flow, 100_000)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
