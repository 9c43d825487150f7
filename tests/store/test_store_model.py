"""Random sequences of store calls (hypothesis state machine) against a plain-Python model of
the contract: versions, leases, fences, expiry, deletes. Run on both stores."""

from __future__ import annotations

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from specs import FakeClock, open_store

from triggerflow_nb.store import (
    ExecutionExistsError,
    ExecutionNotFoundError,
    LeaseHeldError,
    LeaseLostError,
    VersionConflictError,
)

BASE = paused_execution(build_flow()).save()
IDS = st.sampled_from(["a", "b"])
OWNERS = st.sampled_from(["w1", "w2"])


class StoreModel(RuleBasedStateMachine):
    spec = None  # set per backend

    def __init__(self):
        super().__init__()
        self.clock = FakeClock()
        self.store = open_store(self.spec, clock=self.clock)
        self.store._call("DELETE FROM tfnb_executions", ())  # rows (and leases) of the previous example
        self.rows: dict[str, dict] = {}  # the model: id -> version, owner, until, fence, n
        self.leases: list = []
        self.n = 0

    def teardown(self):
        self.store.close()

    def _live(self, row) -> bool:
        return row["owner"] is not None and row["until"] >= self.clock.now

    def _expect(self, expected_error, call):
        if expected_error is None:
            return call()
        with pytest.raises(expected_error):
            call()
        return None

    @rule(execution_id=IDS)
    def create(self, execution_id):
        self.n += 1
        error = ExecutionExistsError if execution_id in self.rows else None
        got = self._expect(error, lambda: self.store.put(snapshot_like(BASE, execution_id, n=self.n)))
        if error is None:
            assert got == 1
            self.rows[execution_id] = {"version": 1, "owner": None, "until": None,
                                       "fence": int(self.clock.now * 1_000_000), "n": self.n}

    @rule(execution_id=IDS, expected=st.integers(1, 4))
    def put_without_lease(self, execution_id, expected):
        self.n += 1
        row = self.rows.get(execution_id)
        if row is None:
            error = ExecutionNotFoundError
        elif self._live(row):
            error = LeaseHeldError
        elif row["version"] != expected:
            error = VersionConflictError
        else:
            error = None
        got = self._expect(error, lambda: self.store.put(snapshot_like(BASE, execution_id, n=self.n),
                                                         expected_version=expected))
        if error is None:
            row["version"] += 1
            row["n"] = self.n
            assert got == row["version"]

    def _lease_error(self, lease, *, needs_live: bool):
        row = self.rows.get(lease.execution_id)
        if row is None:
            return ExecutionNotFoundError
        if row["fence"] != lease.fence or row["owner"] != lease.owner:
            return LeaseLostError
        if needs_live and row["until"] < self.clock.now:
            return LeaseLostError
        return None

    @rule(data=st.data())
    def put_under_lease(self, data):
        if not self.leases:
            return
        lease = data.draw(st.sampled_from(self.leases))
        self.n += 1
        error = self._lease_error(lease, needs_live=True)
        got = self._expect(error, lambda: self.store.put(snapshot_like(BASE, lease.execution_id, n=self.n),
                                                         lease=lease))
        if error is None:
            row = self.rows[lease.execution_id]
            row["version"] += 1
            row["n"] = self.n
            assert got == row["version"]

    @rule(execution_id=IDS, owner=OWNERS, ttl=st.sampled_from([1.0, 5.0, 30.0]))
    def claim(self, execution_id, owner, ttl):
        row = self.rows.get(execution_id)
        error = ExecutionNotFoundError if row is None else LeaseHeldError if self._live(row) else None
        lease = self._expect(error, lambda: self.store.claim(execution_id, owner, ttl))
        if error is None:
            row.update(owner=owner, until=self.clock.now + ttl, fence=row["fence"] + 1)
            assert (lease.fence, lease.until, lease.version) == (row["fence"], row["until"], row["version"])
            self.leases.append(lease)

    @rule(data=st.data())
    def release(self, data):
        if not self.leases:
            return
        lease = data.draw(st.sampled_from(self.leases))
        error = self._lease_error(lease, needs_live=False)
        self._expect(error, lambda: self.store.release(lease))
        if error is None:
            self.rows[lease.execution_id].update(owner=None, until=None)

    @rule(data=st.data(), ttl=st.sampled_from([2.0, 20.0]))
    def renew(self, data, ttl):
        if not self.leases:
            return
        lease = data.draw(st.sampled_from(self.leases))
        error = self._lease_error(lease, needs_live=True)
        renewed = self._expect(error, lambda: self.store.renew(lease, ttl))
        if error is None:
            self.rows[lease.execution_id]["until"] = self.clock.now + ttl
            assert renewed.until == self.clock.now + ttl
            self.leases.append(renewed)

    @rule(execution_id=IDS)
    def delete(self, execution_id):
        row = self.rows.get(execution_id)
        error = ExecutionNotFoundError if row is None else LeaseHeldError if self._live(row) else None
        self._expect(error, lambda: self.store.delete(execution_id))
        if error is None:
            del self.rows[execution_id]
            # A row re-created within the same microsecond could meet its old fences again (the fake
            # clock makes that likely here; a real clock does not): forget the old row's leases.
            self.leases = [lease for lease in self.leases if lease.execution_id != execution_id]

    @rule(seconds=st.sampled_from([0.5, 3.0, 10.0, 40.0]))
    def wait(self, seconds):
        self.clock.advance(seconds)

    @invariant()
    def store_matches_model(self):
        listed = {s.execution_id: s for s in self.store.list()}
        assert sorted(listed) == sorted(self.rows)
        for execution_id, row in self.rows.items():
            stored = self.store.get(execution_id)
            assert (stored.version, stored.lease_owner, stored.lease_until) == (row["version"], row["owner"],
                                                                                row["until"])
            assert stored.snapshot["state"]["n"] == row["n"]
            assert listed[execution_id].version == row["version"]


@pytest.mark.timeout(240)
def test_random_call_sequences_follow_the_model(spec):
    machine = type("Machine", (StoreModel,), {"spec": spec})
    run_state_machine_as_test(machine, settings=settings(max_examples=40, stateful_step_count=30, deadline=None))
