"""The contract every execution store keeps: the same tests, run on SQLite and on a real
PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from specs import FakeClock, open_store, raw

from triggerflow_nb.errors import InvalidSnapshotError, TriggerFlowError
from triggerflow_nb.store import (
    CorruptRowError,
    ExecutionExistsError,
    ExecutionNotFoundError,
    Lease,
    LeaseHeldError,
    LeaseLostError,
    StoreConfigError,
    VersionConflictError,
)

FLOW = build_flow()
BASE = paused_execution(FLOW).save()  # a real paused snapshot: one pending 'approval' interrupt


def snap(execution_id: str, **state):
    return snapshot_like(BASE, execution_id, **state)


def closed_snap(execution_id: str, flow_name: str | None = None):
    s = snap(execution_id)
    s.update(status="completed", lifecycle_state="closed")
    for i in s["interrupts"]:
        i.update(status="resumed", resumed_at=i["created_at"] + 1, input=None, continuation=[])
    if flow_name:
        s["flow_name"] = flow_name
    return s

ID_RULE = "; ids and names are 1 to 255 characters of text without NUL characters or lone surrogates: use one that keeps it"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def timed(spec, clock):
    """A store whose clock the test moves by hand."""
    opened = open_store(spec, clock=clock)
    yield opened
    opened.close()


# -- create / get ------------------------------------------------------------------------------------

def test_put_creates_version_1_and_get_returns_the_snapshot_exactly(store, spec):
    execution = paused_execution(FLOW)
    saved = execution.save()
    assert store.put(saved) == 1
    stored = store.get(execution.id)
    assert stored.version == 1 and stored.execution_id == execution.id
    assert stored.snapshot == saved
    assert json.dumps(stored.snapshot) == json.dumps(saved)  # same keys in the same order
    assert stored.lease_owner is None and stored.lease_until is None
    # stored as JSON text, never a pickle
    (text,) = raw(spec, "SELECT snapshot FROM tfnb_executions WHERE execution_id = ?", (execution.id,))[0]
    assert json.loads(text) == saved and text.startswith("{")


def test_put_takes_an_execution_and_saves_it_now(store):
    execution = paused_execution(FLOW)
    assert store.put(execution) == 1
    assert store.get(execution.id).snapshot["state"] == {"request": {"who": "Ana", "amount": 120}}


def test_create_of_an_existing_id_is_refused_and_the_row_is_unchanged(store):
    store.put(snap("run-1", n=1))
    with pytest.raises(ExecutionExistsError) as err:
        store.put(snap("run-1", n=2))
    assert str(err.value) == ("execution 'run-1' is already in the store (version 1); an id is created once: pass "
                              "expected_version=1 to update it, or delete it first")
    assert err.value.current_version == 1 and isinstance(err.value, TriggerFlowError)
    assert store.get("run-1").snapshot["state"]["n"] == 1
    with pytest.raises(ExecutionExistsError, match="execution 'run-1' is already in the store \\(version 1\\)"):
        store.create(snap("run-1", n=3))
    assert store.create(snap("run-2")) == 1
    assert asyncio.run(store.async_create(snap("run-3"))) == 1
    assert store.get("run-1").snapshot["state"]["n"] == 1


def test_get_of_an_unknown_id_is_a_typed_keyerror(store):
    with pytest.raises(ExecutionNotFoundError) as err:
        store.get("nope")
    assert isinstance(err.value, KeyError)
    assert str(err.value) == ("cannot get: no execution 'nope' in the store; list the store (store.list()) for the "
                              "ids it holds, or put() the execution first")


# -- optimistic version check --------------------------------------------------------------------------

def test_a_stale_put_is_refused_with_the_current_version_and_changes_nothing(store):
    store.put(snap("run-1", n=1))
    assert store.put(snap("run-1", n=2), expected_version=1) == 2
    with pytest.raises(VersionConflictError) as err:
        store.put(snap("run-1", n=3), expected_version=1)
    assert (err.value.expected_version, err.value.current_version) == (1, 2)
    assert str(err.value) == ("execution 'run-1' was saved by someone else since version 1 (the store holds version "
                              "2): get() it again and redo your change, or pass expected_version=2 to overwrite it")
    stored = store.get("run-1")
    assert (stored.version, stored.snapshot["state"]["n"]) == (2, 2)
    assert store.put(snap("run-1", n=3), expected_version=2) == 3


def test_update_of_a_missing_id_is_not_found(store):
    with pytest.raises(ExecutionNotFoundError, match="cannot save with expected_version or a lease: no execution 'x'"):
        store.put(snap("x"), expected_version=1)


def test_a_corrupt_snapshot_is_refused_before_anything_is_written(store):
    bad = snap("run-1")
    bad["interrupts"][0]["status"] = "sleeping"
    with pytest.raises(InvalidSnapshotError, match=r"corrupt snapshot, not stored: interrupts\.0\.status"):
        store.put(bad)
    with pytest.raises(InvalidSnapshotError, match="not a saved execution of schema version 2"):
        store.put({"execution_id": "run-1"})
    with pytest.raises(InvalidSnapshotError, match="put\\(\\) takes an execution or the dict its save\\(\\) returned, got str"):
        store.put("run-1")
    nan = snap("run-1", x=float("nan"))
    with pytest.raises(InvalidSnapshotError):
        store.put(nan)
    assert len(store.list()) == 0


@pytest.mark.parametrize("bad", [0, -1, True, 1.0, "1"])
def test_expected_version_must_be_none_or_a_positive_int(store, bad):
    with pytest.raises(StoreConfigError, match=re.escape(f"expected_version must be None (create) or a version >= 1 "
                                                         f"from put()/get(), got {bad!r}")):
        store.put(snap("run-1"), expected_version=bad)


# -- listing -------------------------------------------------------------------------------------------

def test_list_returns_summaries_newest_first_with_every_field(timed, clock):
    execution_ids = []
    for n in range(3):
        timed.put(snap(f"run-{n}", n=n))
        execution_ids.append(f"run-{n}")
        clock.advance(1)
    timed.put(closed_snap("done-1"))
    lease = timed.claim("run-0", "worker-1", ttl=30)
    page = timed.list()
    assert [s.execution_id for s in page] == ["done-1", "run-2", "run-1", "run-0"]
    assert page.next_cursor is None
    first = page[3]
    interrupt_id = BASE["interrupts"][0]["id"]
    assert (first.flow_name, first.status, first.lifecycle_state) == ("expense-approval", "waiting", "open")
    assert first.pending_interrupts == ((interrupt_id, "approval"),)
    assert first.state_keys == ("request", "n") and first.resource_keys == ("mailer",)
    assert first.version == 1 and first.saved_at == 1_800_000_000.0
    assert (first.lease_owner, first.lease_until) == ("worker-1", lease.until)
    assert first.lease_text(clock.now) == "held by worker-1 for 30 s more"
    assert page[0].pending_interrupts == () and page[0].lease_text(clock.now) == "free"
    assert not hasattr(first, "snapshot")


def test_list_filters_by_flow_status_pending_and_age(timed, clock):
    timed.put(snap("a"))
    clock.advance(100)
    timed.put(closed_snap("b"))
    timed.put(closed_snap("c", flow_name="other-flow"))
    ids = lambda **f: [s.execution_id for s in timed.list(**f)]  # noqa: E731
    assert ids(flow="expense-approval") == ["b", "a"]
    assert ids(flow="other-flow") == ["c"]
    assert ids(status="waiting") == ["a"]
    assert ids(status="completed") == ["c", "b"]
    assert ids(has_pending=True) == ["a"]
    assert ids(has_pending=False) == ["c", "b"]
    assert ids(older_than=50) == ["a"]
    assert ids(flow="expense-approval", has_pending=False) == ["b"]
    assert ids(flow="missing") == []


def test_list_pages_with_a_keyset_cursor_even_when_saves_share_a_timestamp(timed, clock):
    for n in range(7):
        timed.put(snap(f"run-{n}"))
        if n % 2:
            clock.advance(1)  # pairs share a saved_at: the id breaks the tie
    seen, cursor, sizes = [], None, []
    while True:
        page = timed.list(limit=3, cursor=cursor)
        seen += [s.execution_id for s in page]
        sizes.append(len(page))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == ["run-6", "run-5", "run-4", "run-3", "run-2", "run-1", "run-0"]


@pytest.mark.parametrize("bad", [0, -5, 10_001, True, "10", None])
def test_list_limit_is_checked(store, bad):
    with pytest.raises(StoreConfigError, match=re.escape(f"limit must be an int from 1 to 10000, got {bad!r}")):
        store.list(limit=bad)


@pytest.mark.parametrize("bad", ["garbage", "W1s=", "WzEsIDJd"])
def test_a_cursor_not_made_by_the_store_is_refused(store, bad):
    with pytest.raises(StoreConfigError, match="was not made by this store: pass the next_cursor"):
        store.list(cursor=bad)


# -- delete and prune ------------------------------------------------------------------------------------

def test_delete_removes_and_refuses_unknown_leased_or_stale(store):
    store.put(snap("a"))
    store.put(snap("b"))
    store.put(snap("b"), expected_version=1)
    lease = store.claim("a", "worker-1", ttl=30)
    with pytest.raises(LeaseHeldError, match="execution 'a' is leased by 'worker-1'"):
        store.delete("a")
    with pytest.raises(VersionConflictError, match="since version 1 \\(the store holds version 2\\)"):
        store.delete("b", expected_version=1)
    store.delete("b", expected_version=2)
    store.release(lease)
    store.delete("a")
    assert len(store.list()) == 0
    with pytest.raises(ExecutionNotFoundError, match="cannot delete: no execution 'a'"):
        store.delete("a")


def test_prune_keeps_the_newest_per_flow_and_never_leased_or_paused_rows(timed, clock):
    for n in range(5):
        timed.put(closed_snap(f"done-{n}"))
        timed.put(closed_snap(f"other-{n}", flow_name="other-flow"))
        clock.advance(1)
    timed.put(snap("paused-old"))  # pending interrupt, newest
    lease = timed.claim("done-0", "worker-1", ttl=1000)
    deleted = timed.prune(keep_latest=2, flow="expense-approval")
    # newest per flow: paused-old, done-4 kept; done-0 is leased; done-1..3 go
    assert deleted == ["done-1", "done-2", "done-3"]
    assert timed.prune(keep_latest=3) == ["other-0", "other-1"]
    timed.release(lease)
    assert timed.prune(older_than=0) == ["done-0", "done-4", "other-2", "other-3", "other-4"]
    assert [s.execution_id for s in timed.list()] == ["paused-old"]
    assert timed.prune(older_than=0, include_pending=True) == []  # saved this very second: not older
    clock.advance(1)
    assert timed.prune(older_than=0, include_pending=True) == ["paused-old"]


def test_prune_by_age_uses_the_save_time(timed, clock):
    timed.put(closed_snap("old"))
    clock.advance(3600)
    timed.put(closed_snap("new"))
    clock.advance(10)
    assert timed.prune(older_than=3000) == ["old"]
    assert [s.execution_id for s in timed.list()] == ["new"]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "prune() needs keep_latest=N and/or older_than=seconds"),
    ({"keep_latest": -1}, "keep_latest must be an int >= 0 (executions kept per flow), got -1"),
    ({"keep_latest": "2"}, "keep_latest must be an int >= 0 (executions kept per flow), got '2'"),
    ({"older_than": -1}, "older_than must be a finite number of seconds >= 0, got -1"),
    ({"older_than": float("inf")}, "older_than must be a finite number of seconds >= 0, got inf"),
    ({"older_than": 1, "include_pending": "yes"}, "include_pending must be True or False, got 'yes'"),
])
def test_prune_arguments_are_checked(store, kwargs, message):
    store.put(closed_snap("a"))
    with pytest.raises(StoreConfigError) as err:
        store.prune(**kwargs)
    assert str(err.value).startswith(message)
    assert len(store.list()) == 1


# -- leases and fencing -----------------------------------------------------------------------------------

def test_claim_is_exclusive_until_released(timed, clock):
    timed.put(snap("run-1"))
    lease = timed.claim("run-1", "worker-1", ttl=30)
    assert lease == Lease("run-1", "worker-1", int(clock.now * 1_000_000) + 1, clock.now + 30, 1, 30.0)
    for owner in ("worker-2", "worker-1"):
        with pytest.raises(LeaseHeldError) as err:
            timed.claim("run-1", owner, ttl=30)
        assert str(err.value) == ("execution 'run-1' is leased by 'worker-1' for 30.0 s more: wait for it to "
                                  "release (or for the lease to expire), or work on another execution")
    timed.release(lease)
    assert timed.claim("run-1", "worker-2", ttl=5).fence == lease.fence + 1


def released_before_each_look(store, lease, turns):
    """Make ``store``'s follow-up read (after a refused claim or delete) release ``lease`` just before it
    looks, so the lease the statement met is gone; for ``turns - 1`` more turns another worker leases the
    row again right after the look, so the next try meets a lease too. Returns the list of looks."""
    look, leases, looks = store._row_state, [lease], []

    def row_state_after_a_release(execution_id):
        store.release(leases.pop())
        row = look(execution_id)
        looks.append(row)
        if len(looks) < turns:
            leases.append(store.claim(execution_id, f"worker-{len(looks) + 2}", ttl=30))
        return row

    store._row_state = row_state_after_a_release
    return looks


@pytest.mark.parametrize("action", ["claim", "delete", "save"])
def test_a_lease_that_ends_between_the_statement_and_the_look_is_tried_again(store, action):
    """The refused statement met worker-1's lease; by the follow-up read it was released. That is no
    version conflict (the version never moved): the claim, delete or save is tried again and succeeds."""
    store.put(snap("run-1"))
    looks = released_before_each_look(store, store.claim("run-1", "worker-1", ttl=30), turns=1)
    if action == "claim":
        lease = store.claim("run-1", "worker-2", ttl=30, expected_version=1)
        assert (lease.owner, lease.version) == ("worker-2", 1)
    elif action == "delete":
        store.delete("run-1", expected_version=1)
        assert len(store.list()) == 0
    else:
        assert store.put(snap("run-1", n=2), expected_version=1) == 2
    assert len(looks) == 1


def test_a_row_leased_again_on_every_try_is_reported_busy_not_conflicting(store):
    from triggerflow_nb.store import StoreBusyError

    store.put(snap("run-1"))
    looks = released_before_each_look(store, store.claim("run-1", "worker-1", ttl=30), turns=99)
    with pytest.raises(StoreBusyError) as err:
        store.claim("run-1", "worker-2", ttl=30)
    assert str(err.value) == ("cannot claim for 'worker-2': execution 'run-1' was leased and released again on "
                              "each of 3 tries; other workers are taking turns on it, so try again in a moment")
    assert [row[1] for row in looks] == [None, None, None]  # free at every look, leased at every try
    assert store.get("run-1").lease_owner == "worker-5"  # taken right after the third look


def test_claim_of_an_unknown_id_is_not_found(store):
    with pytest.raises(ExecutionNotFoundError, match="cannot claim for 'w': no execution 'ghost'"):
        store.claim("ghost", "w", ttl=1)


def test_an_expired_lease_is_taken_over_and_the_zombie_cannot_save_renew_or_release(timed, clock):
    timed.put(snap("run-1", n=1))
    zombie = timed.claim("run-1", "worker-1", ttl=10)
    clock.advance(11)
    fresh = timed.claim("run-1", "worker-2", ttl=10)
    assert fresh.fence == zombie.fence + 1
    with pytest.raises(LeaseLostError) as err:
        timed.put(snap("run-1", n=666), expected_version=1, lease=zombie)
    assert str(err.value) == (f"lease of 'worker-1' on execution 'run-1' (fence {zombie.fence}) is no longer valid: "
                              f"the execution was claimed again (fence {fresh.fence}, by 'worker-2'). Nothing was "
                              f"written; claim() the execution again and reload it before saving")
    with pytest.raises(LeaseLostError, match=f"fence {zombie.fence}"):
        timed.renew(zombie)
    with pytest.raises(LeaseLostError, match=f"fence {zombie.fence}"):
        timed.release(zombie)
    assert timed.get("run-1").snapshot["state"]["n"] == 1
    assert timed.put(snap("run-1", n=2), expected_version=1, lease=fresh) == 2
    assert timed.get("run-1").lease_owner == "worker-2"  # saving keeps the lease; release gives it back


def test_an_expired_lease_cannot_save_even_if_nobody_took_over(timed, clock):
    timed.put(snap("run-1"))
    lease = timed.claim("run-1", "worker-1", ttl=10)
    clock.advance(15)
    with pytest.raises(LeaseLostError, match=r"is no longer valid: it expired 5\.0 s ago"):
        timed.put(snap("run-1", n=1), lease=lease)
    with pytest.raises(LeaseLostError, match="it expired 5.0 s ago"):
        timed.renew(lease)
    timed.release(lease)  # still ours by fence: giving it back is harmless
    assert timed.get("run-1").version == 1


def test_renew_extends_from_now_and_saves_under_a_lease_need_no_version(timed, clock):
    timed.put(snap("run-1"))
    lease = timed.claim("run-1", "worker-1", ttl=10)
    clock.advance(8)
    renewed = timed.renew(lease)
    assert renewed.until == clock.now + 10 and renewed.fence == lease.fence
    assert timed.renew(renewed, ttl=100).until == clock.now + 100
    clock.advance(50)
    assert timed.put(snap("run-1", n=5), lease=renewed) == 2
    with pytest.raises(LeaseHeldError, match="leased by 'worker-1' for 50.0 s more"):
        timed.put(snap("run-1", n=6), expected_version=2)  # not the holder
    timed.release(renewed)
    with pytest.raises(LeaseLostError, match="it was released"):
        timed.put(snap("run-1", n=7), lease=renewed)
    assert timed.put(snap("run-1", n=7), expected_version=2) == 3


def test_a_lease_from_a_deleted_row_does_not_fit_a_recreated_one(timed, clock):
    timed.put(snap("run-1"))
    old = timed.claim("run-1", "worker-1", ttl=5)
    timed.release(old)
    timed.delete("run-1")
    clock.advance(0.001)
    timed.put(snap("run-1", n=1))
    new = timed.claim("run-1", "worker-1", ttl=5)
    assert new.fence > old.fence
    with pytest.raises(LeaseLostError, match="the execution was claimed again"):
        timed.put(snap("run-1", n=2), lease=old)
    assert timed.get("run-1").snapshot["state"]["n"] == 1


def test_a_lease_for_another_execution_is_refused(store):
    store.put(snap("a"))
    store.put(snap("b"))
    lease = store.claim("a", "w", ttl=5)
    with pytest.raises(StoreConfigError, match="the lease is for execution 'a', the snapshot is of 'b'"):
        store.put(snap("b"), lease=lease)


@pytest.mark.parametrize("owner, ttl, message", [
    ("", 1, "owner must be a non-empty string, got ''" + ID_RULE),
    (None, 1, "owner must be a non-empty string, got None" + ID_RULE),
    ("w", 0, "ttl must be a finite number of seconds > 0, got 0"),
    ("w", -3, "ttl must be a finite number of seconds > 0, got -3"),
    ("w", float("nan"), "ttl must be a finite number of seconds > 0, got nan"),
    ("w", "60", "ttl must be a finite number of seconds > 0, got '60'"),
    ("w", True, "ttl must be a finite number of seconds > 0, got True"),
])
def test_claim_arguments_are_checked(store, owner, ttl, message):
    store.put(snap("a"))
    with pytest.raises(StoreConfigError) as err:
        store.claim("a", owner, ttl)
    assert str(err.value) == message
    assert store.get("a").lease_owner is None


def test_renew_and_release_take_a_lease(store):
    with pytest.raises(StoreConfigError, match="lease must be the Lease that claim\\(\\) returned, got dict"):
        store.renew({"execution_id": "a"})
    with pytest.raises(StoreConfigError, match="got str"):
        store.release("a")


# -- worker loop ------------------------------------------------------------------------------------------

def test_next_runnable_claims_the_oldest_free_paused_execution_of_the_flow(timed, clock):
    timed.put(snap("p1"))
    clock.advance(1)
    timed.put(snap("p2"))
    clock.advance(1)
    timed.put(snap("p3"))
    timed.put(closed_snap("done"))
    other = snap("elsewhere")
    other["flow_name"] = "other-flow"
    timed.put(other)
    timed.claim("p1", "someone", ttl=100)
    first = timed.next_runnable("expense-approval", "worker-1", ttl=30)
    second = timed.next_runnable("expense-approval", "worker-2", ttl=30)
    assert (first.execution_id, first.owner, first.fence) == ("p2", "worker-1", 1_800_000_001_000_000 + 1)
    assert second.execution_id == "p3"
    assert timed.next_runnable("expense-approval", "worker-3", ttl=30) is None
    clock.advance(101)  # p1's lease expired: it is runnable again
    assert timed.next_runnable("expense-approval", "worker-3", ttl=30).execution_id == "p1"
    assert timed.next_runnable("other-flow", "worker-3", ttl=30).execution_id == "elsewhere"


# -- damage and odd inputs --------------------------------------------------------------------------------

def test_a_corrupt_row_is_reported_and_can_be_deleted(store, spec):
    store.put(snap("good"))
    store.put(snap("bad"))
    raw(spec, "UPDATE tfnb_executions SET snapshot = ? WHERE execution_id = ?", ('{"truncated": ', "bad"))
    with pytest.raises(CorruptRowError) as err:
        store.get("bad")
    assert str(err.value).startswith("the stored snapshot of execution 'bad' is unreadable (not JSON: ")
    assert str(err.value).endswith("the row was left as it is: delete it with store.delete('bad') or restore it "
                                   "from a backup")
    raw(spec, "UPDATE tfnb_executions SET snapshot = ? WHERE execution_id = ?", (json.dumps(snap("good")), "bad"))
    with pytest.raises(CorruptRowError, match="the JSON is not this execution's snapshot"):
        store.get("bad")
    assert sorted(s.execution_id for s in store.list()) == ["bad", "good"]
    store.delete("bad")
    assert store.get("good").version == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.dictionaries(st.text(min_size=1, max_size=10), JSON, max_size=5),
       execution_id=st.text(min_size=1, max_size=40))
def test_any_json_state_and_any_id_round_trip_exactly(store, state, execution_id):
    saved = snapshot_like(BASE, execution_id)
    saved["state"] = state
    if "\x00" in execution_id:  # PostgreSQL cannot keep it in a column: both stores refuse it alike
        with pytest.raises(InvalidSnapshotError, match="its execution_id .* contains a NUL character"):
            store.put(saved)
        return
    try:
        store.delete(execution_id)
    except ExecutionNotFoundError:
        pass
    assert store.put(saved) == 1
    got = store.get(execution_id)
    assert got.snapshot == saved and json.dumps(got.snapshot) == json.dumps(saved)
    assert store.list(limit=10_000).items[0].state_keys == tuple(state) or len(store.list(limit=10_000)) > 1


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800"])
def test_names_no_backend_can_keep_are_refused_alike(store, bad):
    with pytest.raises(InvalidSnapshotError, match="its execution_id .* contains a NUL character or a lone surrogate"):
        store.put(snap(bad))
    flowless = snap("ok")
    flowless["flow_name"] = bad
    with pytest.raises(InvalidSnapshotError, match="its flow_name .* contains a NUL character"):
        store.put(flowless)
    store.put(snap("ok"))
    with pytest.raises(StoreConfigError, match="owner .* contains a NUL character or a lone surrogate"):
        store.claim("ok", bad, 5)
    with pytest.raises(StoreConfigError, match="flow .* contains a NUL character"):
        store.list(flow=bad)
    assert [s.execution_id for s in store.list()] == ["ok"]


def test_async_twins_do_the_same(store):
    async def main():
        assert await store.async_put(snap("a")) == 1
        lease = await store.async_claim("a", "w", 30)
        first_fence = lease.fence
        assert await store.async_put(snap("a", n=1), lease=lease) == 2
        lease = await store.async_renew(lease, 60)
        await store.async_release(lease)
        got = await store.async_get("a")
        page = await store.async_list(flow="expense-approval")
        runnable = await store.async_next_runnable("expense-approval", "w2", 30)
        await store.async_release(runnable)
        await store.async_delete("a")
        return got.snapshot["state"]["n"], [s.execution_id for s in page], runnable.fence - first_fence

    assert asyncio.run(main()) == (1, ["a"], 1)
    assert len(store.list()) == 0  # the async delete deleted


def test_a_store_used_as_a_context_manager_is_closed_on_leaving_it(spec):
    with open_store(spec) as store:
        store.put(snap("a"))
    with pytest.raises(StoreConfigError, match=r"is closed; open a new store to keep using it$"):
        store.list()
    with open_store(spec) as again:
        assert [s.execution_id for s in again.list()] == ["a"]


def test_a_lease_is_shown_held_up_to_its_last_instant_as_the_store_counts_it(store):
    store.put(snap("a"))
    lease = store.claim("a", "w", 30)
    [summary] = store.list()
    assert summary.lease_text(lease.until - 5) == "held by w for 5 s more"
    assert summary.lease_text(lease.until) == "held by w for 0 s more"  # a save under it is still accepted
    assert summary.lease_text(lease.until + 2) == "expired (was w)"


def test_a_store_shows_its_twenty_newest_executions(spec):
    clock = FakeClock()
    with open_store(spec, clock=clock) as store:
        for n in range(21):
            store.put(snap(f"run-{n:02d}"))
            clock.advance(1)
        text = store._repr_mimebundle_()["text/plain"]
    assert text.splitlines()[0] == f"{store!r}: 20 newest execution(s)"
    assert "run-20" in text and "run-01" in text and "run-00" not in text
