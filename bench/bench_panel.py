"""What a live watch panel costs a chatty run: 10,000 state writes, with and without a panel.

    .venv/bin/python bench/bench_panel.py [--runs 7] [--json]

There is no front end here. Every message a widget would send goes through
``BaseComm.publish_msg`` of the comm that ipywidgets 8 gets from ``comm.create_comm``
(looked up at call time), so replacing that factory with a counting comm counts every
``comm_open`` and every ``comm_msg`` (trait update) the panel would put on the wire.

Each run is a fresh execution: ``execution.start()`` to ``close()`` is timed; building
the panel (widgets, the one Graphviz layout) happens before the clock starts, as it
does when a cell shows ``execution.watch()`` before the run. The flow writes 10,000
times over 20 keys and lets the event loop run every 100 writes, as a flow doing real
I/O would, so the panel's coalesced flushes happen during the run. The best of
``--runs`` alternating runs is kept for each side.

A third side, a subscriber that does nothing but asks for every event (one per write),
shows what per-write events would cost; the panel does not take them: it follows state
through ``execution.track_state_changes`` (a dict check per write) and other events.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import comm  # noqa: E402
from comm.base_comm import BaseComm  # noqa: E402

from triggerflow_nb import TriggerFlow  # noqa: E402

WRITES = 10_000
KEYS = 20
YIELD_EVERY = 100
TARGET = 0.90  # with a panel, at least 90% of the speed without one


class CountingComm(BaseComm):
    """A comm with no front end that counts what it would send, by message type."""

    counts: collections.Counter = collections.Counter()

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        CountingComm.counts[msg_type] += 1


def chatty_flow(pause: float = 0.0) -> TriggerFlow:
    """10,000 writes; every 100 writes the chunk awaits ``pause`` seconds (0: just lets the loop run)."""
    flow = TriggerFlow(name="chatty")

    async def write_a_lot(data):
        for i in range(WRITES):
            await data.async_set_state(f"key_{i % KEYS}", i)
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(pause)
        return WRITES

    flow.to(write_a_lot)
    return flow


def one_run(flow: TriggerFlow, observer: str) -> tuple[float, collections.Counter, int]:
    """Time one execution with ``observer``: "none", "bare" (a subscriber that does nothing) or "panel"."""
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch() if observer == "panel" else None
    if observer == "bare":
        execution.channel.subscribe(lambda event: None)
    CountingComm.counts = collections.Counter()
    started = time.perf_counter()
    execution.start(None)
    snapshot = execution.close()
    elapsed = time.perf_counter() - started
    counts = collections.Counter(CountingComm.counts)
    assert snapshot[f"key_{KEYS - 1}"] == WRITES - 1, snapshot
    flushes = panel._coalescer.flush_count - 1 if panel is not None else 0  # minus the one at creation
    if panel is not None:
        panel.close()
    return elapsed, counts, flushes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs on each side (default 7)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="await this long every 100 writes, like a flow doing I/O (default 0)")
    args = parser.parse_args()

    comm.create_comm = lambda *a, **kw: CountingComm(*a, **kw)  # the choke point of every widget message
    flow = chatty_flow(args.pause_ms / 1000)
    for observer in ("none", "bare", "panel"):  # warm-up: imports, the first layout, caches
        one_run(flow, observer)

    runs: dict[str, list] = {"none": [], "bare": [], "panel": []}
    for _ in range(args.runs):
        for observer, timings in runs.items():
            timings.append(one_run(flow, observer))
    best = {observer: min(timings, key=lambda r: r[0]) for observer, timings in runs.items()}
    without, bare = best["none"][0], best["bare"][0]
    with_panel, counts, flushes = best["panel"]
    speed = without / with_panel
    result = {
        "writes": WRITES,
        "pause_ms_every_100_writes": args.pause_ms,
        "runs": args.runs,
        "without_panel_s": round(without, 4),
        "with_panel_s": round(with_panel, 4),
        "with_bare_subscriber_s": round(bare, 4),
        "speed_with_panel": round(speed, 3),
        "speed_with_bare_subscriber": round(without / bare, 3),
        "target": TARGET,
        "pass": speed >= TARGET,
        "comm_messages_during_run": sum(counts.values()),
        "comm_messages_by_type": dict(counts),
        "panel_flushes_during_run": flushes,
        "state_events_during_run": WRITES,
    }
    if args.json:
        print(json.dumps(result))
        return
    paced = f", pausing {args.pause_ms:g} ms every {YIELD_EVERY}" if args.pause_ms else ""
    print(f"{WRITES:,} state writes over {KEYS} keys{paced}, best of {args.runs} runs each")
    print(f"  without a panel          : {without * 1000:8.1f} ms")
    print(f"  with a panel             : {with_panel * 1000:8.1f} ms")
    print(f"  speed with panel         : {speed:8.1%} of without (target >= {TARGET:.0%}): "
          f"{'PASS' if result['pass'] else 'FAIL'}")
    print(f"  with a bare subscriber   : {bare * 1000:8.1f} ms = {without / bare:.1%} of without: what "
          f"{WRITES:,} per-write events would cost (the panel does not take them)")
    print(f"  comm messages            : {result['comm_messages_during_run']} during the run "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
          f"from {flushes} flushes, for {WRITES:,} state writes")


if __name__ == "__main__":
    main()
