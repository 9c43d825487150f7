"""close() while another thread's statement runs waits for it, then closes; later calls are refused.

sqlite3 crashes the interpreter (a segmentation fault) when its connection is closed under a
running statement: a worker thread still claiming or releasing (a cancelled async_resume's
thread) while the notebook closes the store did exactly that.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.store import SQLiteStore, StoreConfigError, save_execution


def test_close_waits_for_a_statement_running_in_another_thread(tmp_path):
    path = str(tmp_path / "executions.db")
    flow = TriggerFlow(name="closing")
    flow.to(lambda data: data.set_state("x", 1), name="step")
    store = SQLiteStore(path, busy_timeout=10.0)
    execution = flow.create_execution(auto_close=False)
    execution.start(None)
    save_execution(execution, store)

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the claim below waits on this lock, inside its statement
    outcome: list[object] = []

    def claim() -> None:
        try:
            outcome.append(store.claim(execution.id, "worker", 30))
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=claim)
    worker.start()
    time.sleep(0.2)  # not a timing assertion: the claim is now (most likely) waiting in SQLite
    closer = threading.Thread(target=store.close)
    closer.start()
    time.sleep(0.1)
    holder.execute("ROLLBACK")
    holder.close()
    worker.join(10)
    closer.join(10)
    assert not worker.is_alive() and not closer.is_alive()
    [lease] = outcome
    assert getattr(lease, "owner", None) == "worker", lease  # the running claim finished before the close
    with pytest.raises(StoreConfigError, match=r"is closed; open a new store to keep using it$"):
        store.get(execution.id)
