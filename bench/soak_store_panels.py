"""Soak: executions saved to a store, each watched by a live panel that is then closed.

    .venv/bin/python bench/soak_store_panels.py --executions 100000 [--every 10000] [--json out.json]

Each round runs one execution of a three-chunk flow (async chunks that await state writes, one
emit to a branch) watched by ``execution.watch()`` (the panel with its graph), saves it into a
SQLite store (``save_execution``), closes it and closes the panel. Every ``--every`` rounds it
prints the rounds per second, RSS after a collection, the executions and panels still alive
and the number of open widgets (``ipywidgets.Widget.widgets``). Memory must stay flat: a panel, widget, execution
or snapshot kept alive per round shows as steady growth. No front end: widgets talk to the comm
package's default comm, as in a script. Not a test: it prints figures for the notes.
"""

from __future__ import annotations

import argparse
import gc
import json
import pathlib
import sys
import tempfile
import time
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import ipywidgets  # noqa: E402

from triggerflow_nb import TriggerFlow  # noqa: E402
from triggerflow_nb.store import SQLiteStore, save_execution  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_widgets() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ipywidgets 8 deprecates reading the registry
        return len(ipywidgets.Widget.widgets)


def alive() -> dict[str, int]:
    """Executions and panels still reachable (after a collection): should stay at most one each."""
    from triggerflow_nb.notebook.panel import ExecutionPanel
    from triggerflow_nb.runtime.execution import Execution

    counts = {"executions": 0, "panels": 0}
    for obj in gc.get_objects():
        if isinstance(obj, Execution):
            counts["executions"] += 1
        elif isinstance(obj, ExecutionPanel):
            counts["panels"] += 1
    return counts


def build_flow() -> TriggerFlow:
    flow = TriggerFlow(name="soak-store-panels")

    async def fetch(data):
        await data.async_set_state("fetched", data.input)
        return data.input + 1

    async def clean(data):
        await data.async_set_state("cleaned", data.input)
        await data.async_emit("audit", data.input)
        return data.input * 2

    async def report(data):
        await data.async_set_state("report", data.input)

    flow.to(fetch).to(clean).to(report)
    flow.when("audit").to(lambda data: data.append_state("audit", data.input), name="audit_log")
    return flow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()

    flow = build_flow()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(pathlib.Path(tmp) / "soak.db", durability="normal")
        started = last = time.perf_counter()
        for round_number in range(1, args.executions + 1):
            execution = flow.create_execution(auto_close=False)
            panel = execution.watch()  # the default panel: graph included, updates coalesced
            execution.start(round_number)
            execution.close()
            save_execution(execution, store)
            panel.close()
            if round_number % args.every == 0 or round_number == args.executions:
                gc.collect()
                now = time.perf_counter()
                row = {"executions": round_number, "per_second": args.every / (now - last),
                       "rss_mb": round(rss_mb(), 1), "alive": alive(), "open_widgets": open_widgets()}
                last = now
                rows.append(row)
                print(json.dumps(row), flush=True)
        store.close()
    total = time.perf_counter() - started
    first, final = rows[0], rows[-1]
    print(f"{args.executions} executions in {total:.0f} s; RSS {first['rss_mb']} -> {final['rss_mb']} MB, "
          f"alive {first['alive']} -> {final['alive']}, open widgets {first['open_widgets']} -> "
          f"{final['open_widgets']}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "seconds": total}, indent=1))


if __name__ == "__main__":
    main()
