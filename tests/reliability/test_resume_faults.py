"""Faults injected into resume() and async_resume() of a stored waiting execution: the run is never lost.

A stored execution waits on an interrupt; a worker resumes it (sync or async, on SQLite or the
real PostgreSQL server) and a fault strikes at a random point of the continued path:

* ``KeyboardInterrupt`` (the notebook's Interrupt button) or a ``RuntimeError`` raised in a chunk;
* the awaiting task cancelled after a random delay (``asyncio.wait_for``);
* the lease renewals failing for a random time: the database locked by another connection
  (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL row lock with the store's ``lock_timeout`` short),
  or ``renew()`` raising an error that is not a ``StoreError``;
* a second resumer racing the first;
* the lease taken over after it expired (a second worker resumes while the first is stuck).

Afterwards nobody holds the lease, the row grew by at most one version, and it is

(a) the waiting version exactly as stored, which a clean second resume completes to the
    uninterrupted run's close snapshot, or
(b) completed, with exactly that close snapshot, or
(c) failed with the chunk's error, when the fault was an exception raised in a chunk;

never idle with nothing pending. Each call raises only what its fault explains.
``TF_FAULT_EXAMPLES`` sets the number of examples per store (CI keeps it small).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from specs import StoreSpec, open_store, raw

from triggerflow_nb import ChunkError, InterruptError, TriggerFlow
from triggerflow_nb.store import (
    LeaseHeldError,
    LeaseLostError,
    PostgresStore,
    SQLiteStore,
    StoreUnavailableError,
    async_resume,
    resume,
    save_execution,
)

EXAMPLES = int(os.environ.get("TF_FAULT_EXAMPLES", "40"))
# A property is one pytest test however many examples run: its hang guard (pytest-timeout,
# 300 s per test) grows with them, or a long run is cut as a hang halfway through.
pytestmark = pytest.mark.timeout(300 + 2 * EXAMPLES)
BOUND = 20.0  # no call here needs anywhere near this long: reaching it means a hang
FLOW_NAME = "resume-faults"
PAYLOAD = "go"
TIMES = ("created_at", "started_at", "closed_at", "saved_at", "resumed_at")


class Hook:
    """The runtime resource every step calls with its index: where a fault strikes."""

    def __init__(self, pause: float = 0.0, at: Optional[int] = None,
                 strike: Optional[Callable[[int], Awaitable[None]]] = None):
        self.pause, self.at, self.strike = pause, at, strike

    async def __call__(self, index: int) -> None:
        await asyncio.sleep(self.pause)
        if index == self.at and self.strike is not None:
            await self.strike(index)


@functools.cache
def gated_flow(before: int, after: int) -> TriggerFlow:
    """Steps s0.. up to a pause (run at the start), then the steps a resume runs; each calls the hook."""
    flow = TriggerFlow(name=FLOW_NAME)

    def step(index: int):
        async def run(data):
            await data.require_resource("hook")(index)
            await data.async_append_state("trail", [index, data.input])
            return data.input

        run.__name__ = f"s{index}"
        return run

    async def ask(data):
        await data.async_pause_for(type="go", resume_to="next")

    chain = flow
    for index in range(before):
        chain = chain.to(step(index))
    chain = chain.to(ask)
    for index in range(before, before + after):
        chain = chain.to(step(index))
    return flow


def essence(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without what differs between two runs of the same work: ids and times (its steps' too)."""
    kept = {key: value for key, value in snapshot.items() if key not in (*TIMES, "execution_id")}
    kept["interrupts"] = [{key: value for key, value in interrupt.items() if key not in (*TIMES, "id")}
                          for interrupt in snapshot["interrupts"]]
    kept["history"] = {**snapshot["history"], "steps": [
        {key: value for key, value in step.items() if key not in ("started_at", "duration")}
        for step in snapshot["history"]["steps"]]}
    return kept


@functools.cache
def close_snapshot(before: int, after: int) -> str:
    """The uninterrupted run's close snapshot (its essence, as JSON), run in memory."""
    execution = gated_flow(before, after).create_execution(auto_close=False, runtime_resources={"hook": Hook()})
    execution.start(None)
    [interrupt] = execution.get_pending_interrupts()
    execution.continue_with(interrupt, PAYLOAD)
    execution.close()
    return json.dumps(essence(execution.save()), sort_keys=True)


class FlakyRenewals:
    """A real store whose renew() raises ``error`` while ``failing`` is set: a network or driver hiccup."""

    failing: threading.Event
    error: Exception

    def renew(self, lease, ttl=None):
        if self.failing.is_set():
            raise self.error
        return super().renew(lease, ttl)  # type: ignore[misc]


class FlakySQLiteStore(FlakyRenewals, SQLiteStore):
    pass


class FlakyPostgresStore(FlakyRenewals, PostgresStore):
    pass


def flaky_store(spec: StoreSpec, error: Exception) -> Any:
    store = (FlakySQLiteStore if spec.kind == "sqlite" else FlakyPostgresStore)(spec.where)
    store.failing, store.error = threading.Event(), error
    return store


def impatient_store(spec: StoreSpec) -> Any:
    """A store that gives up on a locked database at once (20 ms), so that a renewal fails."""
    if spec.kind == "sqlite":
        return SQLiteStore(spec.where, busy_timeout=0.02)
    return PostgresStore(f"{spec.where} options='-c lock_timeout=20'")


@contextmanager
def database_locked(spec: StoreSpec, execution_id: str) -> Iterator[None]:
    """Another connection holds the lock a renewal needs: SQLite's write lock, or the row's lock."""
    if spec.kind == "sqlite":
        conn = sqlite3.connect(spec.where, isolation_level=None, timeout=BOUND)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    with psycopg.connect(spec.where) as conn:  # a transaction until rollback
        conn.execute("SELECT 1 FROM tfnb_executions WHERE execution_id = %s FOR UPDATE", (execution_id,))
        try:
            yield
        finally:
            conn.rollback()


class Bounded:
    """A call in its own thread, as a worker runs it; ``result()`` fails the test if it does not end in BOUND."""

    def __init__(self, call: Callable[[], Any], gate: Optional[threading.Barrier] = None):
        self.raised: Optional[BaseException] = None
        self._call, self._gate = call, gate
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            if self._gate is not None:
                self._gate.wait()
            self._call()
        except BaseException as exc:  # KeyboardInterrupt included: it is what we look at
            self.raised = exc
        finally:
            # A run cut by KeyboardInterrupt leaves suspended coroutines behind; finalized here, in
            # this thread, not by a garbage collection that happens to run inside the main thread's
            # ast.parse (pytest importing a module), where CPython 3.11.7 then fails that parse with
            # "AST constructor recursion depth mismatch".
            gc.collect()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def result(self) -> Optional[BaseException]:
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), f"a resume did not end within {BOUND} s"
        return self.raised


async def until_done(worker: Bounded) -> None:
    """Wait, inside a chunk, for another worker's call to end (bounded)."""
    deadline = time.monotonic() + BOUND
    while worker.alive():
        assert time.monotonic() < deadline, f"a resume did not end within {BOUND} s"
        await asyncio.sleep(0.01)


@dataclass
class Trial:
    spec: StoreSpec
    mode: str  # "sync" or "async"
    before: int
    after: int
    execution_id: str = ""
    stored_text: str = ""

    @property
    def flow(self) -> TriggerFlow:
        return gated_flow(self.before, self.after)

    def call(self, store: Any, owner: str, hook: Hook, *, ttl: float = 30.0,
             cancel_after: Optional[float] = None) -> Callable[[], Any]:
        """resume() or async_resume() of the stored run (the async one under wait_for)."""
        resources = {"hook": hook}
        if self.mode == "sync":
            return lambda: resume(self.flow, store, self.execution_id, owner=owner, runtime_resources=resources,
                                  payload=PAYLOAD, ttl=ttl)

        async def awaited() -> Any:
            return await asyncio.wait_for(
                async_resume(self.flow, store, self.execution_id, owner=owner, runtime_resources=resources,
                             payload=PAYLOAD, ttl=ttl), BOUND if cancel_after is None else cancel_after)

        return lambda: asyncio.run(awaited())

    def resumed(self, store: Any, hook: Hook, **options: Any) -> Optional[BaseException]:
        """What one worker's resume raised (None: it returned)."""
        try:
            return Bounded(self.call(store, "worker-1", hook, **options)).result()
        finally:
            store.close()

    def row_text(self) -> str:
        [(text,)] = raw(self.spec, "SELECT snapshot FROM tfnb_executions WHERE execution_id = ?",
                        (self.execution_id,))
        return text


# -- the faults: each runs the resume and returns the row outcomes its result allows ------------------

def chunk_interrupted(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    async def interrupt(index: int) -> None:
        raise KeyboardInterrupt

    hook.strike = interrupt
    raised = trial.resumed(open_store(trial.spec), hook)
    assert type(raised) is KeyboardInterrupt, raised
    return {"waiting"}


def chunk_raises(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    async def breaks(index: int) -> None:
        raise RuntimeError(f"step {index} broke")

    hook.strike = breaks
    raised = trial.resumed(open_store(trial.spec), hook)
    assert type(raised) is ChunkError, raised
    assert str(raised) == f"chunk 's{hook.at}' raised RuntimeError: step {hook.at} broke"
    return {"failed"}


def cancelled(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    delay = data.draw(st.floats(min_value=0.0, max_value=0.08), label="cancel after")
    raised = trial.resumed(open_store(trial.spec), hook, cancel_after=delay)
    if raised is None:
        return {"completed"}
    assert type(raised) is TimeoutError, raised
    return {"waiting", "completed"}  # cut anywhere, the final save's thread included


def renewals_fail(trial: Trial, data: st.DataObject, hook: Hook, store: Any,
                  failing: Callable[[], Any]) -> set[str]:
    """Renewals fail while the strike lasts (inside the chunk, so the final save and release get
    through): a short spell is ridden out, a longer one than the lease loses it."""
    ttl = data.draw(st.sampled_from([0.3, 0.5]), label="ttl")
    spell = data.draw(st.floats(min_value=0.0, max_value=2 * ttl), label="renewals fail for")

    async def strike(index: int) -> None:
        with failing():
            await asyncio.sleep(spell)

    hook.strike = strike
    raised = trial.resumed(store, hook, ttl=ttl)
    if raised is None:
        return {"completed"}
    assert type(raised) is LeaseLostError, raised
    notes = getattr(raised, "__notes__", [])
    assert all("lease renewal(s) of 'worker-1' failed" in note for note in notes), notes
    return {"waiting"}


def database_locked_for_a_while(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    return renewals_fail(trial, data, hook, impatient_store(trial.spec),
                         lambda: database_locked(trial.spec, trial.execution_id))


def renew_raises(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    error = data.draw(st.sampled_from([OSError("network is unreachable"), ValueError("garbled reply"),
                                       StoreUnavailableError("the store", "hiccuped", "try again")]),
                      label="renew raises")
    store = flaky_store(trial.spec, error)

    @contextmanager
    def failing() -> Iterator[None]:
        store.failing.set()
        try:
            yield
        finally:
            store.failing.clear()

    return renewals_fail(trial, data, hook, store, failing)


def racing(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    gate = threading.Barrier(2, timeout=BOUND)
    stores = [open_store(trial.spec) for _ in range(2)]
    try:
        workers = [Bounded(trial.call(store, f"worker-{n}", Hook(hook.pause)), gate)
                   for n, store in enumerate(stores, 1)]
        raised = [worker.result() for worker in workers]
    finally:
        for store in stores:
            store.close()
    assert raised.count(None) == 1, raised  # exactly one resumes; the other is refused before any chunk runs
    [loser] = [r for r in raised if r is not None]
    if type(loser) is LeaseHeldError:
        event("racer refused: lease held")
    else:  # it came after the winner had finished
        assert type(loser) is InterruptError, loser
        assert str(loser) == f"execution {trial.execution_id} waits on no interrupt: there is nothing to resume"
        event("racer refused: nothing to resume")
    return {"completed"}


def taken_over(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    """The first worker gets stuck with its renewals failing; once its lease has expired a second
    worker takes the run over and finishes it. The first one's late result is refused."""
    store = flaky_store(trial.spec, OSError("network is unreachable"))
    second: list[Bounded] = []

    def take_over() -> None:
        with open_store(trial.spec) as own:
            deadline = time.monotonic() + BOUND
            while (own.get(trial.execution_id).lease_until or 0) >= time.time():
                assert time.monotonic() < deadline, "the stuck worker's lease never expired"
                time.sleep(0.01)
            resume(trial.flow, own, trial.execution_id, owner="worker-2", runtime_resources={"hook": Hook()},
                   payload=PAYLOAD, ttl=30.0)

    async def stuck(index: int) -> None:
        store.failing.set()
        second.append(Bounded(take_over))
        await until_done(second[0])

    hook.strike = stuck
    raised = trial.resumed(store, hook, ttl=0.3)
    assert second[0].result() is None
    assert type(raised) is LeaseLostError, raised
    return {"completed"}


def untroubled(trial: Trial, data: st.DataObject, hook: Hook) -> set[str]:
    assert trial.resumed(open_store(trial.spec), hook) is None
    return {"completed"}


SYNC_FAULTS = [chunk_interrupted, chunk_raises, database_locked_for_a_while, renew_raises, racing, taken_over,
               untroubled]
FAULTS = {"sync": SYNC_FAULTS, "async": [*SYNC_FAULTS, cancelled]}


def outcome(trial: Trial, checker: Any, hook: Hook) -> str:
    """The row's state after a faulted resume: 'waiting' (untouched), 'completed' or 'failed'."""
    stored = checker.get(trial.execution_id)
    assert (stored.lease_owner, stored.lease_until) == (None, None), "a lease was left held"
    if stored.version == 1:
        assert trial.row_text() == trial.stored_text, "the waiting version was rewritten in place"
        pending = {s.execution_id for s in checker.list(flow=FLOW_NAME, has_pending=True, limit=10_000)}
        assert trial.execution_id in pending, "the waiting run dropped out of list(has_pending=True)"
        return "waiting"
    assert stored.version == 2, f"one resume saved {stored.version - 1} versions"
    status = stored.snapshot["status"]
    if status == "failed":
        assert stored.snapshot["error"] == f"ChunkError: chunk 's{hook.at}' raised RuntimeError: step {hook.at} broke"
        assert stored.snapshot["lifecycle_state"] == "closed"
    else:
        assert status == "completed", f"the row was left {status!r}"
        assert json.dumps(essence(stored.snapshot), sort_keys=True) == close_snapshot(trial.before, trial.after)
    return str(status)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
@given(data=st.data())
def test_a_faulted_resume_leaves_the_run_waiting_completed_or_failed(store_spec, data):
    mode = data.draw(st.sampled_from(["sync", "async"]), label="mode")
    trial = Trial(store_spec, mode, data.draw(st.integers(0, 2), label="steps before the pause"),
                  data.draw(st.integers(1, 4), label="steps after it"))
    fault = data.draw(st.sampled_from(FAULTS[mode]), label="fault")
    hook = Hook(pause=data.draw(st.sampled_from([0.0, 0.001, 0.004]), label="each step sleeps"),
                at=data.draw(st.integers(trial.before, trial.before + trial.after - 1), label="strikes at step"))
    with open_store(store_spec) as checker:
        paused = trial.flow.create_execution(auto_close=False, runtime_resources={"hook": Hook()})
        paused.start(None)
        assert save_execution(paused, checker) == 1
        trial.execution_id = paused.id
        trial.stored_text = trial.row_text()

        allowed = fault(trial, data, hook)
        found = outcome(trial, checker, hook)
        assert found in allowed, f"{fault.__name__} left the row {found}, expected one of {sorted(allowed)}"
        event(f"{mode} {fault.__name__}: {found}")
        if found == "waiting":  # a clean second resume completes it
            assert Bounded(trial.call(checker, "rescuer", Hook())).result() is None
            assert outcome(trial, checker, Hook()) == "completed"
        checker.delete(trial.execution_id)  # keeps list() short for the next examples
