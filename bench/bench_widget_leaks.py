"""Widgets left alive by closed watch panels and by store.browse() refreshes (issue 25, items 7 and 8).

    .venv/bin/python bench/bench_widget_leaks.py [--panels 200] [--rows 100 3000] [--refreshes 5] [--json]

No front end: widgets talk to the comm package's default comm. "Live widgets" is the size of
ipywidgets' registry of open widget models (``ipywidgets.Widget.widgets``): a widget stays in it,
and so in memory with its comm, until it is closed.

Panels: N runs of a flow that pauses on an approval (so the panel has a Continue row), is
continued and closes, each watched by a panel (graph included) that is closed afterwards.
Reported: live widgets before/after, Python memory (tracemalloc, after a gc) and RSS growth.

Browser: a SQLite store holding R saved executions; ``store.browse(limit=R)``, then
``--refreshes`` refreshes; reported: the time of one refresh (best and mean), live widgets
after the first and the last refresh, and after ``close()``.
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import resource
import sys
import tempfile
import time
import tracemalloc
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "store"))

import ipywidgets  # noqa: E402

from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData  # noqa: E402


def live_widgets() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return len(ipywidgets.Widget.widgets)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def approval_flow() -> TriggerFlow:
    flow = TriggerFlow(name="bench-approval")

    @flow.chunk
    async def record(data: TriggerFlowRuntimeData):
        await data.async_set_state("request", data.input)
        data.put_into_stream({"got": data.input})
        return data.input

    @flow.chunk
    async def ask(data: TriggerFlowRuntimeData):
        await data.async_pause_for(type="approval", payload={"amount": 5}, resume_to="next")

    @flow.chunk
    async def finish(data: TriggerFlowRuntimeData):
        await data.async_set_state("decision", data.input)

    flow.to(record).to(ask).to(finish)
    return flow


def panels(count: int) -> dict[str, float]:
    flow = approval_flow()

    def one_run(i: int) -> None:
        execution = flow.create_execution(auto_close=False)
        panel = execution.watch()
        execution.start({"n": i})
        execution.continue_with(next(iter(execution.get_pending_interrupts())), "approved")
        execution.close()
        panel.close()

    one_run(-1)  # warm up: imports, the one Graphviz layout cache, ...
    gc.collect()
    tracemalloc.start()
    before_widgets, before_py, before_rss = live_widgets(), tracemalloc.get_traced_memory()[0], rss_mb()
    start = time.perf_counter()
    for i in range(count):
        one_run(i)
    seconds = time.perf_counter() - start
    gc.collect()
    after_widgets, after_py, after_rss = live_widgets(), tracemalloc.get_traced_memory()[0], rss_mb()
    tracemalloc.stop()
    return {"panels": count, "widgets_before": before_widgets, "widgets_after": after_widgets,
            "widgets_left": after_widgets - before_widgets, "python_mb_growth": (after_py - before_py) / 2**20,
            "rss_mb_growth": after_rss - before_rss, "seconds": seconds}


def browser(rows: int, refreshes: int) -> dict[str, float]:
    from approval_flow import build_flow, paused_execution, snapshot_like

    from triggerflow_nb.store import SQLiteStore, save_execution

    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(str(pathlib.Path(folder) / "bench.db"))
        base = paused_execution(build_flow())
        save_execution(base, store)
        snapshot = store.get(base.id).snapshot
        for i in range(rows - 1):
            store.put(snapshot_like(snapshot, f"run-{i:05d}"))
        gc.collect()
        before = live_widgets()
        made = time.perf_counter()
        view = store.browse(limit=rows)
        first_seconds = time.perf_counter() - made
        after_first = live_widgets()
        times = []
        for _ in range(refreshes):
            start = time.perf_counter()
            view.refresh()
            times.append(time.perf_counter() - start)
        after_last = live_widgets()
        shown = len(view.summaries)
        view.close()
        gc.collect()
        after_close = live_widgets()
        store.close()
    return {"rows": rows, "shown": shown, "refreshes": refreshes, "build_s": first_seconds,
            "refresh_best_s": min(times), "refresh_mean_s": sum(times) / len(times),
            "widgets_made_by_browser": after_first - before,
            "widgets_added_by_refreshes": after_last - after_first, "widgets_left_after_close": after_close - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panels", type=int, default=200)
    parser.add_argument("--rows", type=int, nargs="*", default=[100, 3000])
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {"panels": panels(args.panels) if args.panels else None,
               "browser": [browser(rows, args.refreshes) for rows in args.rows]}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    if results["panels"]:
        p = results["panels"]
        print(f"{p['panels']} watched runs, each panel closed: {p['widgets_left']} widgets left alive "
              f"({p['widgets_before']} -> {p['widgets_after']}), python memory +{p['python_mb_growth']:.1f} MB, "
              f"RSS +{p['rss_mb_growth']:.1f} MB, {p['seconds']:.1f} s")
    for b in results["browser"]:
        print(f"browse() of {b['rows']} rows: build {b['build_s']:.3f} s, refresh best {b['refresh_best_s']:.3f} s "
              f"mean {b['refresh_mean_s']:.3f} s; widgets: {b['widgets_made_by_browser']} made, "
              f"+{b['widgets_added_by_refreshes']} after {b['refreshes']} refreshes, "
              f"{b['widgets_left_after_close']} left after close()")


if __name__ == "__main__":
    main()
