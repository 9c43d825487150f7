"""Two processes meet through the store: a notebook kernel pauses and saves; a separate
``python -m resume_worker`` process resumes it with its own mailer and finishes; the kernel
then reads the outcome with ``store.get``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

KERNEL_PAUSES = """
import sys, json
sys.path.insert(0, {here!r})
from approval_flow import Mailer, build_flow
from triggerflow_nb.store import SQLiteStore, save_execution
flow = build_flow()
store = SQLiteStore({db!r})
kernel_mailer = Mailer("kernel")
execution = flow.create_execution(auto_close=False, runtime_resources={{"mailer": kernel_mailer}})
execution.start({{"who": "Ana", "amount": 120}})
print(json.dumps({{"id": execution.id, "version": save_execution(execution, store),
                  "status": execution.status}}))
"""

KERNEL_READS = """
stored = store.get(execution.id)
print(json.dumps({"version": stored.version, "status": stored.snapshot["status"],
                  "lifecycle": stored.snapshot["lifecycle_state"], "state": stored.snapshot["state"],
                  "lease": stored.lease_owner, "kernel_mailer_sent": len(kernel_mailer.sent)}))
"""


def stdout_json(cell) -> dict:
    errors = [o for o in cell.outputs if o.output_type == "error" or getattr(o, "name", "") == "stderr"]
    assert errors == [], errors
    text = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.timeout(180)
def test_a_kernel_pauses_a_worker_process_resumes_and_the_kernel_sees_the_result(tmp_path):
    db = str(tmp_path / "executions.db")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(KERNEL_PAUSES.format(here=str(HERE), db=db)),
                nbformat.v4.new_code_cell(KERNEL_READS)]
    client = NotebookClient(nb, kernel_name="python3", timeout=60)
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        paused = stdout_json(nb.cells[0])
        assert (paused["version"], paused["status"]) == (1, "waiting")

        worker = subprocess.run(
            [sys.executable, "-m", "resume_worker", db, paused["id"], "approved"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(HERE)}, capture_output=True, text=True, timeout=60)
        assert worker.returncode == 0, worker.stderr
        assert worker.stderr == ""
        assert json.loads(worker.stdout) == {"sent": [["finance@example.com", "expense approved"]],
                                             "status": "completed", "version": 2}

        client.execute_cell(nb.cells[1], 1)
        seen = stdout_json(nb.cells[1])
    assert seen == {"version": 2, "status": "completed", "lifecycle": "closed",
                    "state": {"request": {"who": "Ana", "amount": 120}, "decision": "approved", "mail_number": 1},
                    "lease": None, "kernel_mailer_sent": 0}
