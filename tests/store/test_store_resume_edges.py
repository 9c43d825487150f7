"""Edges of save/load/resume on both stores that the store group's mutation run found unpinned."""

from __future__ import annotations

import asyncio
import time

import pytest
from approval_flow import Mailer, build_flow, paused_execution
from specs import raw

from triggerflow_nb.errors import InvalidSnapshotError
from triggerflow_nb.store import (
    VersionConflictError,
    async_load_execution,
    async_resume,
    async_save_execution,
    load_execution,
    resume,
    save_execution,
)
from triggerflow_nb.store.records import Lease
from triggerflow_nb.store.resume import _Heartbeat

FLOW = build_flow()


def test_loaded_and_resumed_executions_never_close_by_themselves(store):
    """A loaded or resumed execution is the caller's to close: an auto-close timer would close it
    while the caller still inspects it, or resumes its other interrupts."""
    paused = paused_execution(FLOW)
    save_execution(paused, store)
    assert load_execution(FLOW, store, paused.id, runtime_resources={"mailer": Mailer("m")}).auto_close is False
    loaded = asyncio.run(async_load_execution(FLOW, store, paused.id, runtime_resources={"mailer": Mailer("m")}))
    assert loaded.auto_close is False
    resumed = asyncio.run(async_resume(FLOW, store, paused.id, owner="w", runtime_resources={"mailer": Mailer("m")},
                                       payload="approved", close_when_done=False))
    assert resumed.auto_close is False and resumed.is_open()


def test_resume_with_close_when_done_false_leaves_a_finished_run_open(store):
    paused = paused_execution(FLOW)
    save_execution(paused, store)
    resumed = resume(FLOW, store, paused.id, owner="w", runtime_resources={"mailer": Mailer("m")},
                     payload="approved", close_when_done=False)
    assert resumed.is_open() and resumed.get_pending_interrupts() == {}
    assert store.get(paused.id).snapshot["lifecycle_state"] == "open"


def test_async_save_checks_the_version_it_is_told(store):
    paused = paused_execution(FLOW)
    assert save_execution(paused, store) == 1
    with pytest.raises(VersionConflictError):
        asyncio.run(async_save_execution(paused, store, expected_version=5))
    assert asyncio.run(async_save_execution(paused, store, expected_version=1)) == 2


def test_put_refuses_an_object_that_only_looks_like_an_execution(store):
    class Saves:
        def save(self):
            raise AssertionError("put() must not call save() of a non-execution")

    with pytest.raises(InvalidSnapshotError) as caught:
        store.put(Saves())
    assert str(caught.value) == "put() takes an execution or the dict its save() returned, got Saves"


def test_put_refuses_a_snapshot_of_another_schema_version_whatever_its_kind(store):
    snapshot = dict(paused_execution(FLOW).save())
    snapshot["schema_version"] = 1
    with pytest.raises(InvalidSnapshotError) as caught:
        store.put(snapshot)
    assert str(caught.value) == ("not a saved execution of schema version 2 (schema_version=1, "
                                 "kind='triggerflow_nb.execution'): store what execution.save() returns")


def test_a_row_with_an_owner_but_no_lease_end_lists_as_free(store, spec):
    paused = paused_execution(FLOW)
    save_execution(paused, store)
    raw(spec, "UPDATE tfnb_executions SET owner = ?, lease_until = NULL WHERE execution_id = ?",
        ("someone", paused.id))
    [summary] = store.list(flow=FLOW.name)
    assert summary.lease_text(time.time()) == "free"


def test_the_heartbeat_thread_is_a_daemon_and_gone_when_its_block_ends():
    """A daemon: a heartbeat stuck in a hung store never keeps a script from exiting. Joined on exit:
    nothing of it runs once the block is over (its pause here lingers 50 ms after the stop)."""
    holder: list[_Heartbeat] = []

    def pause(seconds: float) -> bool:
        stopped = holder[0]._stop.wait(seconds)
        if stopped:
            time.sleep(0.05)
        return stopped

    lease = Lease("e" * 32, "w", 1, time.time() + 60, 1, 60.0)
    beat = _Heartbeat(object(), lease, pause=pause)  # type: ignore[arg-type]  # never renews: 20 s between
    holder.append(beat)
    assert beat._thread.daemon is True
    with beat:
        assert beat._thread.is_alive()
    assert not beat._thread.is_alive()
