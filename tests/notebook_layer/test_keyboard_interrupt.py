"""What a KeyboardInterrupt (the kernel's stop button) leaves behind when it cuts a running start().

A real kernel is interrupted (SIGINT through the kernel manager) while a cell runs a
flow whose only chunk takes 30 s: a blocking (sync) chunk and an awaiting (async) one,
through ``flow.start()`` and through ``execution.start()``. A later cell reports the
execution's lifecycle, status and node status.

What must hold: the cell gets the KeyboardInterrupt and the kernel stays usable; the cut
chunk is marked cancelled; an execution someone holds stays open to inspect; the one
that flow.start() made (no handle) is closed as cancelled; and a run that was cut short
is never reported as completed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading

import nbformat
import pytest
from nbclient import NotebookClient

SETUP = """
import asyncio, json, time
from triggerflow_nb import TriggerFlow

def report(ex):
    meta = ex.result.get_meta()
    return json.dumps({"lifecycle": ex.lifecycle_state, "status": ex.status, "nodes": ex.node_status(),
                       "error": meta["error"], "reason": meta["close_reason"], "inflight": ex._lifecycle.inflight})

def capture(flow):
    made = []
    create = flow.create_execution
    def create_execution(**options):
        made.append(create(**options))
        return made[-1]
    flow.create_execution = create_execution  # flow.start() creates its execution through this
    return made

def sleepy(data):
    time.sleep(30)

async def napping(data):
    await asyncio.sleep(30)

sync_flow = TriggerFlow(name="sync-long"); sync_flow.to(sleepy); sync_made = capture(sync_flow)
async_flow = TriggerFlow(name="async-long"); async_flow.to(napping); async_made = capture(async_flow)
"""

# (cell interrupted, cell that reports afterwards)
CASES = {
    "flow.start, sync chunk": ("sync_flow.start(1)", "sync_made[-1]"),
    "flow.start, async chunk": ("async_flow.start(1)", "async_made[-1]"),
    "execution.start, sync chunk": ("ex_sync = sync_flow.create_execution(auto_close=False)\nex_sync.start(1)",
                                    "ex_sync"),
    "execution.start, async chunk": ("ex_async = async_flow.create_execution(auto_close=False)\n"
                                     "ex_async.start(1)", "ex_async"),
    # auto-close on: 0.5 s after the interrupt the execution is idle long enough to close by itself
    "execution.start, auto-close": ("ex_auto = async_flow.create_execution(auto_close_timeout=0.5)\n"
                                    "ex_auto.start(1)", "ex_auto"),
}
INTERRUPT_AFTER = 1.5  # seconds into the 30 s chunk


def _interrupt(kernel_manager) -> None:
    """Send SIGINT to the kernel, as the stop button does (nbclient's manager is async: await it here)."""
    result = kernel_manager.interrupt_kernel()
    if inspect.isawaitable(result):
        asyncio.run(result)


@pytest.fixture(scope="module")
def outcomes():
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell(SETUP)]
    interrupted = set()
    for run, handle in CASES.values():
        interrupted.add(len(cells))
        cells.append(nbformat.v4.new_code_cell(run))
        cells.append(nbformat.v4.new_code_cell(f"await asyncio.sleep(1.0)\nprint(report({handle}))"))
    cells.append(nbformat.v4.new_code_cell("print('still responsive', 6 * 7)"))
    nb.cells = cells
    client = NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=True)
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            timer = None
            if index in interrupted:
                timer = threading.Timer(INTERRUPT_AFTER, _interrupt, (client.km,))
                timer.start()
            try:
                client.execute_cell(cell, index)
            finally:
                if timer is not None:
                    timer.cancel()
    results = {}
    for offset, name in enumerate(CASES):
        run_cell, report_cell = nb.cells[1 + 2 * offset], nb.cells[2 + 2 * offset]
        errors = [o["ename"] for o in run_cell.outputs if o.output_type == "error"]
        text = "".join(o.get("text", "") for o in report_cell.outputs if o.output_type == "stream")
        results[name] = {"errors": errors, **json.loads(text)}
    results["after"] = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return results


def test_the_interrupt_reaches_the_cell_and_the_kernel_stays_usable(outcomes):
    for name in CASES:
        assert outcomes[name]["errors"] == ["KeyboardInterrupt"], name
        assert outcomes[name]["inflight"] == 0, name  # nothing is counted as still running
        assert list(outcomes[name]["nodes"].values()) == ["cancelled"], name  # the cut chunk says so
        assert outcomes[name]["error"] is None, name  # the interrupt is not an error of the run
    assert outcomes["after"] == "still responsive 42\n"


def test_without_auto_close_the_interrupted_execution_stays_open_to_inspect(outcomes):
    for name in ("execution.start, sync chunk", "execution.start, async chunk"):
        assert (outcomes[name]["lifecycle"], outcomes[name]["status"]) == ("open", "idle"), name


def test_an_interrupted_flow_start_still_closes_its_execution(outcomes):
    for name in ("flow.start, sync chunk", "flow.start, async chunk"):
        assert outcomes[name]["lifecycle"] == "closed", name
        assert outcomes[name]["status"] == "cancelled", name


def test_an_interrupted_run_is_not_reported_completed(outcomes):
    outcome = outcomes["execution.start, auto-close"]
    assert outcome["lifecycle"] == "closed"
    assert outcome["status"] != "completed", outcome["reason"]
