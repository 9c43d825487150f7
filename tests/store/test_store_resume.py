"""Executions and stores: save, load, resume under a lease, on both stores."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from approval_flow import Mailer, build_flow, paused_execution
from specs import FakeClock, open_store

from triggerflow_nb.errors import InterruptError, MissingResourceError
from triggerflow_nb.store import (
    LeaseHeldError,
    LeaseLostError,
    StoreConfigError,
    VersionConflictError,
    async_load_execution,
    async_resume,
    async_save_execution,
    load_execution,
    resume,
    save_execution,
    stored_version,
)

FLOW = build_flow()
REQUEST = {"who": "Ana", "amount": 120}


def uninterrupted_close() -> dict:
    execution = paused_execution(FLOW, REQUEST, Mailer("baseline"))
    execution.continue_with(next(iter(execution.get_pending_interrupts())), "approved")
    return execution.close()


def test_resume_continues_in_a_fresh_execution_and_stores_the_same_close_snapshot(store):
    paused = paused_execution(FLOW, REQUEST)
    assert save_execution(paused, store) == 1
    worker_mailer = Mailer("worker")
    resumed = resume(FLOW, store, paused.id, owner="worker-1", runtime_resources={"mailer": worker_mailer},
                     payload="approved")
    assert worker_mailer.sent == [("finance@example.com", "expense approved")]
    assert resumed.status == "completed" and resumed.is_closed()
    stored = store.get(paused.id)
    assert (stored.version, stored.lease_owner) == (2, None)  # saved once, lease given back
    assert stored_version(resumed, store) == 2
    assert stored.snapshot["state"] == uninterrupted_close() == resumed.get_state()
    assert (stored.snapshot["status"], stored.snapshot["lifecycle_state"]) == ("completed", "closed")
    assert store.list()[0].pending_interrupts == ()


def test_a_second_resumer_is_refused_before_any_chunk_runs(store):
    paused = paused_execution(FLOW, REQUEST)
    save_execution(paused, store)
    holder = store.claim(paused.id, "worker-1", ttl=60)
    late_mailer = Mailer("late")
    with pytest.raises(LeaseHeldError, match=f"execution '{paused.id}' is leased by 'worker-1'"):
        resume(FLOW, store, paused.id, owner="worker-2", runtime_resources={"mailer": late_mailer}, payload="ok")
    assert late_mailer.sent == []
    assert store.get(paused.id).version == 1
    store.release(holder)
    resume(FLOW, store, paused.id, owner="worker-2", runtime_resources={"mailer": late_mailer}, payload="ok")
    with pytest.raises(InterruptError, match="waits on no interrupt: there is nothing to resume"):
        resume(FLOW, store, paused.id, owner="worker-3", runtime_resources={"mailer": late_mailer})
    assert late_mailer.sent == [("finance@example.com", "expense ok")]
    assert store.get(paused.id).lease_owner is None  # released after the refusal too


def test_save_execution_tracks_the_version_and_refuses_a_stale_copy(store):
    execution = paused_execution(FLOW, REQUEST)
    assert save_execution(execution, store) == 1
    assert save_execution(execution, store) == 2  # the same object: its own version is checked
    copy = load_execution(FLOW, store, execution.id, runtime_resources={"mailer": Mailer("copy")})
    assert stored_version(copy, store) == 2
    execution.set_state("note", "edited in kernel A")
    assert save_execution(execution, store) == 3
    copy.set_state("note", "edited in kernel B")
    with pytest.raises(VersionConflictError, match="since version 2 \\(the store holds version 3\\)"):
        save_execution(copy, store)
    assert store.get(execution.id).snapshot["state"]["note"] == "edited in kernel A"
    assert save_execution(copy, store, expected_version=3) == 4  # an explicit overwrite
    assert store.get(execution.id).snapshot["state"]["note"] == "edited in kernel B"


def test_load_without_resources_outside_a_notebook_names_the_missing_key(store):
    paused = paused_execution(FLOW, REQUEST)
    save_execution(paused, store)
    with pytest.raises(MissingResourceError, match="missing runtime resource 'mailer'"):
        load_execution(FLOW, store, paused.id, prompt=False)


def two_pauses():
    from triggerflow_nb import TriggerFlow

    flow = TriggerFlow(name="two-pauses")

    async def first(data):
        await data.async_pause_for(type="first", resume_to="next")

    async def second(data):
        await data.async_pause_for(type="second", resume_to="next")

    flow.to(first, name="first")
    flow.to(second, name="second")
    return flow


def test_several_pending_interrupts_need_an_interrupt_id_and_nothing_runs_without_one(store):
    flow = two_pauses()
    paused = flow.create_execution(auto_close=False)
    paused.start(None)
    save_execution(paused, store)
    first, second = paused.get_pending_interrupts()
    with pytest.raises(InterruptError) as err:
        resume(flow, store, paused.id, owner="w")
    assert str(err.value) == (f"execution {paused.id} waits on 2 interrupts {[first, second]}: pass "
                              f"interrupt_id= to say which one to resume")
    assert store.get(paused.id).version == 1 and store.get(paused.id).lease_owner is None
    with pytest.raises(InterruptError, match="no interrupt 'unknown'"):
        resume(flow, store, paused.id, owner="w", interrupt_id="unknown")
    resumed = resume(flow, store, paused.id, owner="w", interrupt_id=second)
    assert list(resumed.get_pending_interrupts()) == [first] and not resumed.is_closed()  # one left: stays open
    assert store.list()[0].pending_interrupts == ((first, "first"),)
    with pytest.raises(StoreConfigError, match="store must be an ExecutionStore"):
        resume(flow, {}, paused.id, owner="w")


def test_a_worker_whose_lease_was_taken_over_cannot_save_its_late_result(spec):
    clock = FakeClock()
    store = open_store(spec, clock=clock)
    paused = paused_execution(FLOW, REQUEST)
    save_execution(paused, store)
    zombie = store.claim(paused.id, "worker-1", ttl=10)
    clock.advance(30)  # worker-1 stalled (GC pause, lost network); its lease ran out
    fresh = store.claim(paused.id, "worker-2", ttl=10)
    late = load_execution(FLOW, store, paused.id, runtime_resources={"mailer": Mailer("zombie")})
    late.continue_with(next(iter(late.get_pending_interrupts())), "zombie says yes")
    with pytest.raises(LeaseLostError, match="fence \\d+\\) is no longer valid: the execution was claimed again"):
        save_execution(late, store, lease=zombie)
    assert store.get(paused.id).version == 1 and store.get(paused.id).lease_owner == "worker-2"
    store.release(fresh)
    store.close()


def saved_slow_run(store, name: str, go_on: threading.Event):
    """A run of a flow that pauses and then waits (in a thread) for ``go_on``, saved while it
    waits on the pause; with the event its slow chunk sets when it starts."""
    from triggerflow_nb import TriggerFlow

    flow = TriggerFlow(name=name)
    started = threading.Event()

    @flow.chunk
    async def ask(data):
        await data.async_pause_for(type="go", resume_to="next")

    @flow.chunk
    async def slow(data):
        started.set()
        await asyncio.to_thread(go_on.wait, 20)
        await data.async_set_state("done", True)

    flow.to(ask).to(slow)
    paused = flow.create_execution(auto_close=False)
    paused.start(None)
    save_execution(paused, store)
    return flow, started, paused


def test_the_heartbeat_keeps_a_long_resume_leased(store):
    """A resumed chunk that outlives the ttl keeps its lease: the heartbeat renews it."""
    release = threading.Event()
    flow, started, paused = saved_slow_run(store, "slow", release)
    outcome = {}
    # ttl 1 s, renewed every 1/3 s: a loaded 2-core CI machine can stall a renewal for a good
    # fraction of a 0.3 s ttl, which failed this test once without any fault in the heartbeat.
    thread = threading.Thread(target=lambda: outcome.update(e=resume(flow, store, paused.id, owner="w", ttl=1.0)))
    thread.start()
    assert started.wait(10)
    for _ in range(4):  # 4 ttl's long: without renewal another worker could take it
        threading.Event().wait(1.0)
        with pytest.raises(LeaseHeldError):
            store.claim(paused.id, "thief", ttl=5)
    release.set()
    thread.join(10)
    assert outcome["e"].get_state() == {"done": True}
    assert store.get(paused.id).version == 2


def test_async_twins(store):
    async def main():
        paused = paused_execution(FLOW, REQUEST)
        assert await async_save_execution(paused, store) == 1
        loaded = await async_load_execution(FLOW, store, paused.id, runtime_resources={"mailer": Mailer("l")})
        assert stored_version(loaded, store) == 1
        mailer = Mailer("async")
        done = await async_resume(FLOW, store, paused.id, owner="a", runtime_resources={"mailer": mailer},
                                  payload="approved")
        return done.get_state(), mailer.sent

    state, sent = asyncio.run(main())
    assert state == uninterrupted_close() and sent == [("finance@example.com", "expense approved")]


def test_a_worker_loop_resumes_under_the_lease_next_runnable_took(store):
    ids = [save_execution(paused_execution(FLOW, {"who": w, "amount": 1}), store) and None for w in "ABC"]
    assert ids == [None, None, None]
    mailer, done = Mailer("loop"), []
    while (lease := store.next_runnable("expense-approval", "worker-1", ttl=30)) is not None:
        done.append(resume(FLOW, store, lease.execution_id, owner="worker-1", lease=lease,
                           runtime_resources={"mailer": mailer}, payload="ok").get_state()["request"]["who"])
    assert sorted(done) == ["A", "B", "C"] and len(mailer.sent) == 3
    assert [s.status for s in store.list()] == ["completed"] * 3
    assert all(s.lease_owner is None for s in store.list())
    other = store.claim(store.list()[0].execution_id, "x", ttl=5)
    with pytest.raises(StoreConfigError, match="lease= must be the Lease of owner 'worker-2'"):
        resume(FLOW, store, other.execution_id, owner="worker-2", lease=other)


def _slow_resume_under_a_locked_store(tmp_path, hold: float):
    """Resume (ttl 1.5 s, renewals every 0.5 s) a chunk that runs while another connection holds
    the SQLite write lock for ``hold`` seconds, then 1.5 s more: past the ttl, had renewals stopped.

    The lock starts as soon as the chunk does, a moment after the claim: a hold of 0.8 s then
    covers the first renewal (at 0.5 s) and ends before the lease would (1.5 s) while that moment
    stays under 0.5 s, however loaded the machine."""
    import sqlite3

    from triggerflow_nb.store import SQLiteStore

    store = SQLiteStore(tmp_path / "busy.db", busy_timeout=0.05)
    go_on = threading.Event()
    flow, started, paused = saved_slow_run(store, "busy", go_on)
    outcome = {}

    def run():
        try:
            outcome["execution"] = resume(flow, store, paused.id, owner="w", ttl=1.5)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(10)
    other = sqlite3.connect(tmp_path / "busy.db", timeout=5, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a hiccup: another process holds the write lock
    threading.Event().wait(hold)
    other.execute("ROLLBACK")
    other.close()
    threading.Event().wait(1.5)
    go_on.set()
    thread.join(20)
    assert not thread.is_alive()
    return store, paused.id, outcome


def test_a_store_hiccup_longer_than_one_renewal_keeps_the_lease(tmp_path, caplog):
    """Renewals that meet a locked store are tried again while the lease lasts (before, the
    heartbeat stopped at the first failure and the finished result was refused)."""
    store, execution_id, outcome = _slow_resume_under_a_locked_store(tmp_path, hold=0.8)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["execution"].get_state() == {"done": True}
    assert (store.get(execution_id).version, store.get(execution_id).lease_owner) == (2, None)
    [record] = [r for r in caplog.records if r.name == "triggerflow_nb"]
    assert re.fullmatch(
        rf"execution {execution_id}: \d+ lease renewal\(s\) of 'w' failed \(StoreLockedError: .* the last\), "
        r"a later one got through; the result was saved", record.getMessage(), re.S)
    store.close()


def test_a_lease_that_expires_while_the_store_is_locked_says_so_when_the_save_is_refused(tmp_path):
    store, execution_id, outcome = _slow_resume_under_a_locked_store(tmp_path, hold=2.2)
    error = outcome["error"]
    assert isinstance(error, LeaseLostError)
    [note] = error.__notes__
    assert re.fullmatch(r"\d+ lease renewal\(s\) of 'w' failed \(.* the last\), then (the lease expired before a "
                        r"renewal got through|the store refused the renewal)", note, re.S)
    assert store.get(execution_id).version == 1  # the waiting run is kept, to be resumed again
    store.close()


class NotAStore:
    """Has the calls a store has, but is no ExecutionStore: refused before any of them is made."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"{name} called on something that is not a store")
        return record


NOT_A_STORE = "store must be an ExecutionStore (SQLiteStore(path), PostgresStore(dsn)), got NotAStore"


@pytest.mark.parametrize("call", [
    lambda flow, paused, other: save_execution(paused, other),
    lambda flow, paused, other: asyncio.run(async_save_execution(paused, other)),
    lambda flow, paused, other: load_execution(flow, other, paused.id),
    lambda flow, paused, other: asyncio.run(async_load_execution(flow, other, paused.id)),
    lambda flow, paused, other: resume(flow, other, paused.id, owner="w"),
    lambda flow, paused, other: asyncio.run(async_resume(flow, other, paused.id, owner="w")),
], ids=["save", "async_save", "load", "async_load", "resume", "async_resume"])
def test_every_store_call_refuses_what_is_not_a_store_before_calling_it(call):
    paused = paused_execution(FLOW, REQUEST)
    other = NotAStore()
    with pytest.raises(StoreConfigError) as err:
        call(FLOW, paused, other)
    assert str(err.value) == NOT_A_STORE and other.calls == []


def test_a_resumed_execution_goes_on_with_its_history_and_the_store_keeps_it(store):
    paused = paused_execution(FLOW, REQUEST)
    before = paused.history()
    save_execution(paused, store)
    resumed = resume(FLOW, store, paused.id, owner="worker-1", runtime_resources={"mailer": Mailer("worker")},
                     payload="approved")
    steps = resumed.history()
    assert [s.as_dict() for s in steps[:2]] == [s.as_dict() for s in before]  # kept as saved
    assert [(s.seq, s.chunk, s.status) for s in steps] == [
        (0, "record_request", "completed"), (1, "ask_approval", "paused"), (2, "notify_finance", "completed")]
    stored = store.get(paused.id).snapshot["history"]
    assert [step["seq"] for step in stored["steps"]] == [s.seq for s in steps]
    for step in steps:  # state_at works on what the store gave back, through the resume
        assert resumed.state_at(step.seq) == load_execution(FLOW, store, paused.id,
                                                            runtime_resources={"mailer": Mailer("x")}).state_at(step.seq)
