"""What a store says when the database or the input is bad: ids that break the id rule, rows
damaged on disk, a locked or full SQLite file, a PostgreSQL connection the server dropped.
Each is a typed StoreError that says what to do, and nothing acknowledged is lost."""

from __future__ import annotations

import random

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like
from specs import StoreSpec, open_store, raw

from triggerflow_nb.errors import InvalidSnapshotError
from triggerflow_nb.store import CorruptRowError, ExecutionNotFoundError, InvalidIdError, StoreConfigError

FLOW = build_flow()
BASE = paused_execution(FLOW).save()  # a real paused snapshot: one pending 'approval' interrupt
RULE = "ids and names are 1 to 255 characters of text without NUL characters or lone surrogates: use one that keeps it"


def snap(execution_id: str, **state):
    return snapshot_like(BASE, execution_id, **state)


def astral(count: int, seed: int) -> str:
    """Text of four-byte UTF-8 characters that does not compress: the worst case for an index entry."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x10000, 0x2FFFF)) for _ in range(count))


# -- the id rule --------------------------------------------------------------------------------------

def test_an_id_longer_than_the_rule_is_refused_alike_before_the_database(store):
    store.put(snap("a"))
    long_id = astral(10_000, seed=1)  # PostgreSQL's index cannot hold it; SQLite would keep it
    with pytest.raises(InvalidIdError) as err:
        store.put(snap(long_id))
    assert str(err.value) == f"snapshot not stored: its execution_id {long_id[:40]!r}... is 10000 characters long; {RULE}"
    assert isinstance(err.value, InvalidSnapshotError) and isinstance(err.value, StoreConfigError)
    too_long = "x" * 256
    for call, what in [(lambda: store.get(too_long), "execution_id"),
                       (lambda: store.delete(too_long), "execution_id"),
                       (lambda: store.claim(too_long, "w", 5), "execution_id"),
                       (lambda: store.claim("a", too_long, 5), "owner"),
                       (lambda: store.list(flow=too_long), "flow"),
                       (lambda: store.next_runnable("expense-approval", too_long, 5), "owner")]:
        with pytest.raises(InvalidIdError) as err:
            call()
        assert str(err.value) == f"{what} {'x' * 40!r}... is 256 characters long; {RULE}"
    flowless = snap("b")
    flowless["flow_name"] = too_long
    with pytest.raises(InvalidIdError, match=r"^snapshot not stored: its flow_name 'x+'\.\.\. is 256 characters long"):
        store.put(flowless)
    assert [s.execution_id for s in store.list()] == ["a"]  # nothing else reached a row
    assert store.get("a").version == 1 and store.get("a").lease_owner is None


def test_the_longest_id_and_flow_name_the_rule_allows_are_kept_by_every_store(store):
    longest = snap(astral(255, seed=2))
    longest["flow_name"] = astral(255, seed=3)
    assert store.put(longest) == 1
    assert store.get(longest["execution_id"]).snapshot == longest
    [summary] = store.list(flow=longest["flow_name"])
    assert summary.execution_id == longest["execution_id"]
    lease = store.claim(longest["execution_id"], astral(255, seed=4), 5)
    store.release(lease)
    store.delete(longest["execution_id"])
    with pytest.raises(ExecutionNotFoundError):
        store.get(longest["execution_id"])


# -- damaged rows -------------------------------------------------------------------------------------

LEFT_AS_IS = "the row was left as it is: delete it with store.delete('bad') or restore it from a backup"
FIELD = {"waiting": "pending_interrupts", "state_keys": "state_keys", "resource_keys": "resource_keys"}


@pytest.mark.parametrize("column, damage, detail", [
    ("waiting", "not json", "not JSON: Expecting value: line 1 column 1 (char 0)"),
    ("waiting", '[["only an id"]]', "the JSON is not a list of [interrupt id, type] pairs"),
    ("state_keys", '{"n": 1}', "the JSON is not a list of names"),
    ("resource_keys", "[1, 2]", "the JSON is not a list of names"),
])
def test_a_damaged_summary_column_marks_its_row_and_the_others_are_listed(store, spec, column, damage, detail):
    for execution_id in ("a", "bad", "c"):
        store.put(snap(execution_id, n=1))
    raw(spec, f"UPDATE tfnb_executions SET {column} = ? WHERE execution_id = ?", (damage, "bad"))
    message = f"the stored summary column {column!r} of execution 'bad' is unreadable ({detail}); {LEFT_AS_IS}"
    page = store.list()
    assert [(s.execution_id, s.unreadable) for s in page] == [("c", None), ("bad", message), ("a", None)]
    good, bad = page[2], page[1]
    assert getattr(bad, FIELD[column]) == () and getattr(good, FIELD[column]) != ()
    for field in set(FIELD.values()) - {FIELD[column]}:
        assert getattr(bad, field) == getattr(good, field)
    assert [s.execution_id for s in store.list(has_pending=True)] == ["c", "bad", "a"]
    with pytest.raises(CorruptRowError) as err:
        store.get("bad")
    assert str(err.value) == message and (err.value.execution_id, err.value.column) == ("bad", column)
    assert store.get("a").snapshot == snap("a", n=1)
    shown = store._repr_mimebundle_()["text/plain"]
    assert shown.count("⚠ unreadable (waiting)") == 1 and "bad" in shown
    browser = store.browse()
    assert [s.execution_id for s in browser.summaries] == ["c", "bad", "a"]
    browser.close()
    store.delete("bad")
    assert [s.execution_id for s in store.list()] == ["c", "a"]


@pytest.fixture
def sqlite_spec(tmp_path):
    return StoreSpec("sqlite", str(tmp_path / "executions.db"))


@pytest.mark.parametrize("column, damage, detail", [
    ("snapshot", "CAST(X'7b2261223aff7d' AS TEXT)", "the column holds bytes that are not UTF-8 text"),
    ("waiting", "CAST(X'5b5dff' AS TEXT)", "the column holds bytes that are not UTF-8 text"),
    ("snapshot", "X'7b7d'", "the column holds bytes, not JSON text"),
    ("state_keys", "X'5b5d'", "the column holds bytes, not JSON text"),
])
def test_bytes_a_damaged_sqlite_page_holds_are_reported_for_that_row_alone(sqlite_spec, column, damage, detail):
    """Only SQLite can hold these: PostgreSQL checks the type and the encoding of every value."""
    with open_store(sqlite_spec) as store:
        store.put(snap("a"))
        store.put(snap("bad"))
        raw(sqlite_spec, f"UPDATE tfnb_executions SET {column} = {damage} WHERE execution_id = 'bad'")
        what = "snapshot" if column == "snapshot" else f"summary column {column!r}"
        message = f"the stored {what} of execution 'bad' is unreadable ({detail}); {LEFT_AS_IS}"
        assert [(s.execution_id, s.unreadable) for s in store.list()] == [
            ("bad", None if column == "snapshot" else message), ("a", None)]
        with pytest.raises(CorruptRowError) as err:
            store.get("bad")
        assert str(err.value) == message
        assert store.get("a").snapshot == snap("a")
