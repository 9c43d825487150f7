"""Cells queued all at once, as JupyterLab's "Run All Cells" (or fast Shift+Enter) sends them.

nbclient sends one cell, waits for its reply, then sends the next. JupyterLab's Run All
puts every execute_request on the kernel's shell channel at once, so requests arrive
while a cell is inside a synchronous engine call (``flow.start(...)``) that runs the
kernel's event loop re-entrantly. ipykernel >= 7 runs every request in one shared
contextvars Context; a re-entrant loop that steps the next request's task inside that
entered Context kills the task ("cannot enter context ... is already entered") and the
cell never runs: the notebook hangs at [*]. This test sends the requests the way
JupyterLab does and requires every one of them to finish, in order, without errors.
"""

from __future__ import annotations

import queue
import time

import pytest
from jupyter_client.manager import start_new_kernel

CELLS = [
    "import asyncio\nfrom triggerflow_nb import TriggerFlow\nflow = TriggerFlow(name='queued')",
    "@flow.chunk\nasync def slow(data):\n    await asyncio.sleep(0.2)\n    await data.async_set_state('seen', data.input)\n"
    "    return data.input\n\nchain = flow.to(slow)",
    "print(flow.start('first'))",
    "execution = flow.create_execution(auto_close=False)\npanel = execution.watch()",
    "execution.start('second')\nprint(execution.status)",
    "print(execution.close())",
    "print(await flow.async_start('third'))",
    "print('after all')",
]
EXPECTED_STDOUT = [
    "", "", "{'seen': 'first'}\n", "", "idle\n", "{'seen': 'second'}\n", "{'seen': 'third'}\n", "after all\n",
]
DEADLINE = 60  # seconds for all the cells together
STALL = 10     # seconds without a reply after which the rest will not come


@pytest.mark.timeout(120)
def test_cells_sent_all_at_once_all_run(tmp_path):
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), startup_timeout=60)
    try:
        msg_ids = [kc.execute(source) for source in CELLS]  # no waiting in between: "Run All"
        index = {msg_id: i for i, msg_id in enumerate(msg_ids)}
        stdout = [""] * len(CELLS)
        errors: list[str] = []
        replies: dict[int, str] = {}
        deadline = time.monotonic() + DEADLINE
        progress = time.monotonic()
        while len(replies) < len(CELLS) and time.monotonic() < min(deadline, progress + STALL):
            try:
                reply = kc.get_shell_msg(timeout=0.5)
            except queue.Empty:
                pass
            else:
                i = index.get(reply["parent_header"].get("msg_id"))
                if i is not None:
                    replies[i] = reply["content"]["status"]
                    progress = time.monotonic()
            while True:
                try:
                    msg = kc.get_iopub_msg(timeout=0.01)
                except queue.Empty:
                    break
                i = index.get(msg["parent_header"].get("msg_id"))
                if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout" and i is not None:
                    stdout[i] += msg["content"]["text"]
                elif msg["msg_type"] == "stream" and msg["content"]["name"] == "stderr":
                    errors.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
        # Output of the last cell may trail its reply by a moment.
        end = time.monotonic() + 2
        while time.monotonic() < end:
            try:
                msg = kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            i = index.get(msg["parent_header"].get("msg_id"))
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout" and i is not None:
                stdout[i] += msg["content"]["text"]
            elif msg["msg_type"] == "stream" and msg["content"]["name"] == "stderr":
                errors.append(msg["content"]["text"])

        never_ran = [CELLS[i].splitlines()[0] for i in range(len(CELLS)) if i not in replies]
        assert not never_ran, f"cells that never ran: {never_ran}; the kernel said: {errors}"
        assert [replies[i] for i in range(len(CELLS))] == ["ok"] * len(CELLS), (replies, errors)
        assert not errors, errors
        assert stdout == EXPECTED_STDOUT
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
