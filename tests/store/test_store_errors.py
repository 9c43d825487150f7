"""What a store says when the database or the input is bad: ids that break the id rule, rows
damaged on disk, a locked or full SQLite file, a PostgreSQL connection the server dropped.
Each is a typed StoreError that says what to do, and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like
from specs import open_store, raw

from triggerflow_nb.errors import InvalidSnapshotError
from triggerflow_nb.store import (
    CorruptRowError,
    ExecutionNotFoundError,
    InvalidIdError,
    StoreConfigError,
    StoreFullError,
    StoreLockedError,
    StoreUnavailableError,
    WriteInDoubtError,
)

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
    ("state_keys", "[" * 100_000 + "]" * 100_000,
     "not JSON: maximum recursion depth exceeded while decoding a JSON array from a unicode string"),
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


def test_a_snapshot_nested_deeper_than_json_reads_is_a_corrupt_row_and_the_others_read(store, spec):
    store.put(snap("a"))
    store.put(snap("bad"))
    raw(spec, "UPDATE tfnb_executions SET snapshot = ? WHERE execution_id = 'bad'",
        ('{"execution_id": ' + "[" * 100_000 + "]" * 100_000 + "}",))
    with pytest.raises(CorruptRowError) as err:
        store.get("bad")
    assert str(err.value) == ("the stored snapshot of execution 'bad' is unreadable (not JSON: maximum recursion "
                              f"depth exceeded while decoding a JSON array from a unicode string); {LEFT_AS_IS}")
    assert [(s.execution_id, s.unreadable) for s in store.list()] == [("bad", None), ("a", None)]
    assert store.get("a").snapshot == snap("a")


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
@pytest.mark.parametrize("column, damage, detail", [
    ("snapshot", "CAST(X'7b2261223aff7d' AS TEXT)", "the column holds bytes that are not UTF-8 text"),
    ("waiting", "CAST(X'5b5dff' AS TEXT)", "the column holds bytes that are not UTF-8 text"),
    ("snapshot", "X'7b7d'", "the column holds bytes, not JSON text"),
    ("state_keys", "X'5b5d'", "the column holds bytes, not JSON text"),
])
def test_bytes_a_damaged_sqlite_page_holds_are_reported_for_that_row_alone(store, spec, column, damage, detail):
    """Only SQLite can hold these: PostgreSQL checks the type and the encoding of every value."""
    store.put(snap("a"))
    store.put(snap("bad"))
    raw(spec, f"UPDATE tfnb_executions SET {column} = {damage} WHERE execution_id = 'bad'")
    what = "snapshot" if column == "snapshot" else f"summary column {column!r}"
    message = f"the stored {what} of execution 'bad' is unreadable ({detail}); {LEFT_AS_IS}"
    assert [(s.execution_id, s.unreadable) for s in store.list()] == [
        ("bad", None if column == "snapshot" else message), ("a", None)]
    with pytest.raises(CorruptRowError) as err:
        store.get("bad")
    assert str(err.value) == message
    assert store.get("a").snapshot == snap("a")


# -- SQLite: locked, full ----------------------------------------------------------------------------------

LOCKED = ("stayed locked by another connection for longer than its busy timeout (0.1 s), so nothing was written: "
          "try again, open the store with a longer busy_timeout=, or end the transaction that holds the lock "
          "(another connection inside BEGIN IMMEDIATE or EXCLUSIVE)")


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
@pytest.mark.parametrize("begin", ["BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"])
def test_a_store_locked_longer_than_its_busy_timeout_refuses_each_write_and_writes_nothing(spec, begin):
    with open_store(spec, busy_timeout=0.1) as store:
        store.put(snap("a"))
        store.put(snap("leased"))
        lease = store.claim("leased", "w", 60)
        holder = sqlite3.connect(spec.where, isolation_level=None)
        holder.execute(begin)  # held across every call below, each of which waits 0.1 s for it
        try:
            writes = [lambda: store.put(snap("b")), lambda: store.put(snap("a", n=2), expected_version=1),
                      lambda: store.put(snap("leased", n=2), lease=lease), lambda: store.claim("a", "w2", 5),
                      lambda: store.renew(lease), lambda: store.release(lease), lambda: store.delete("a"),
                      lambda: store.prune(keep_latest=0, include_pending=True),
                      lambda: store.next_runnable("expense-approval", "w2", 5),
                      lambda: asyncio.run(store.async_put(snap("c"))),
                      lambda: open_store(spec, busy_timeout=0.1)]  # opening sets up the tables: a write too
            for write in writes:
                with pytest.raises(StoreLockedError) as err:
                    write()
                assert str(err.value) == f"SQLiteStore({spec.where!r}) {LOCKED}"
            assert store.get("a").version == 1  # WAL: reading goes on while another connection writes
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert [(s.execution_id, s.version, s.lease_owner) for s in store.list()] == [
            ("leased", 1, "w"), ("a", 1, None)]
        assert store.get("a").snapshot == snap("a") and store.renew(lease).fence == lease.fence
        assert store.put(snap("b")) == 1  # the lock is gone: the same call goes through


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
def test_a_full_store_refuses_the_save_that_does_not_fit_and_keeps_every_acknowledged_one(spec):
    """SQLite's own cap on the file (PRAGMA max_page_count) stands in for a full disk: the same
    SQLITE_FULL, on any machine, without mounting a small filesystem."""
    full = (f"SQLiteStore({spec.where!r}) is full (database or disk is full), so nothing was written: free disk "
            f"space or delete old executions (store.prune(...), store.delete(id)), then try again")
    acknowledged = {}
    with open_store(spec) as store:
        store.put(snap("a"))
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]  # the cap holds for this connection only
        store._conn.execute(f"PRAGMA max_page_count = {pages + 6}")
        for number in range(100):
            execution_id = f"r{number}"
            try:
                store.put(snap(execution_id, blob=astral(600, seed=number)))
            except StoreFullError as err:
                assert str(err) == full
                break
            acknowledged[execution_id] = snap(execution_id, blob=astral(600, seed=number))
        else:
            pytest.fail("100 saves fitted under the cap")
        assert len(acknowledged) >= 1
        with pytest.raises(ExecutionNotFoundError):
            store.get(execution_id)  # the refused save left no row behind
        with pytest.raises(StoreFullError, match=re.escape(full)):
            store.put(snap("a", blob=astral(5000, seed=0)), expected_version=1)
        assert store.get("a").version == 1 and store.get("a").snapshot == snap("a")
        assert store.integrity_check() == "ok"
        first = next(iter(acknowledged))
        store.delete(first)  # room again: the refused save now fits
        del acknowledged[first]
        assert store.put(snap(execution_id, blob=astral(600, seed=number))) == 1
        acknowledged[execution_id] = snap(execution_id, blob=astral(600, seed=number))
    with open_store(spec) as reopened:  # every save that returned is on disk
        for execution_id, saved in acknowledged.items():
            assert reopened.get(execution_id).snapshot == saved
        assert reopened.get("a").snapshot == snap("a")
        assert len(reopened.list(limit=1000)) == len(acknowledged) + 1
        assert reopened.integrity_check() == "ok"


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
def test_any_other_sqlite_failure_is_a_typed_error_that_says_nothing_was_written(store, spec):
    store.put(snap("a"))
    raw(spec, "ALTER TABLE tfnb_executions RENAME TO moved_away")  # as a careless admin would
    message = (f"SQLiteStore({spec.where!r}) failed (no such table: tfnb_executions), so nothing was written: "
               f"check the file, its directory and the disk, then try again")
    for call in (lambda: store.get("a"), lambda: store.list(), lambda: store.put(snap("b"))):
        with pytest.raises(StoreUnavailableError) as err:
            call()
        assert str(err.value) == message
    raw(spec, "ALTER TABLE moved_away RENAME TO tfnb_executions")
    assert [s.execution_id for s in store.list()] == ["a"]


# -- PostgreSQL: a dropped connection ---------------------------------------------------------------------

def drop_connections(dsn: str) -> int:
    """What a server restart, a failover or an admin does to the store: end its backend."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as admin:
        return end_other_backends(admin)


def end_other_backends(admin) -> int:
    """End every client backend but ``admin``'s own, waiting (at most 10 s each) until each is gone;
    how many there were."""
    ended = admin.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE backend_type = "
                          "'client backend' AND pid <> pg_backend_pid()").fetchall()
    assert all(done for (done,) in ended), ended
    return len(ended)


@pytest.mark.parametrize("spec", ["postgres"], indirect=True)
def test_reads_reconnect_after_the_server_dropped_the_connection(store, spec):
    store.put(snap("a"))
    lease = store.claim("a", "w", 60)
    assert drop_connections(spec.where) == 1
    assert store.get("a").version == 1
    assert drop_connections(spec.where) == 1
    assert [(s.execution_id, s.lease_owner) for s in store.list()] == [("a", "w")]
    assert drop_connections(spec.where) == 1
    assert asyncio.run(store.async_get("a")).lease_owner == "w"
    assert drop_connections(spec.where) == 1
    assert store.get("a").version == 1  # reconnects: the writes after it go through
    assert store.put(snap("b")) == 1 and store.renew(lease).fence == lease.fence
    assert [s.execution_id for s in store.list()] == ["b", "a"]
    # committed, as on the first connection: another connection sees them
    assert raw(spec, "SELECT execution_id, version FROM tfnb_executions ORDER BY execution_id") == [("a", 1), ("b", 1)]


IN_DOUBT = [
    (lambda store, lease: store.put(snap("b")), "create", "b"),
    (lambda store, lease: store.put(snap("a", n=2), expected_version=1), "save with expected_version or a lease", "a"),
    (lambda store, lease: store.put(snap("leased", n=2), lease=lease), "save under the lease of 'w'", "leased"),
    (lambda store, lease: store.claim("a", "w2", 5), "claim for 'w2'", "a"),
    (lambda store, lease: store.renew(lease), "renew of the lease of 'w'", "leased"),
    (lambda store, lease: store.release(lease), "release of the lease of 'w'", "leased"),
    (lambda store, lease: store.delete("a"), "delete", "a"),
    (lambda store, lease: store.prune(keep_latest=0, include_pending=True), "prune", None),
    (lambda store, lease: store.next_runnable("expense-approval", "w2", 5), "next_runnable for 'w2'", None),
]


@pytest.mark.parametrize("spec", ["postgres"], indirect=True)
@pytest.mark.parametrize("write, action, execution_id", IN_DOUBT, ids=[case[1] for case in IN_DOUBT])
def test_a_write_in_flight_when_the_connection_drops_is_reported_in_doubt(store, spec, write, action, execution_id):
    store.put(snap("a"))
    store.put(snap("leased"))
    lease = store.claim("leased", "w", 60)
    assert drop_connections(spec.where) == 1
    with pytest.raises(WriteInDoubtError) as err:
        write(store, lease)
    where = f" (execution {execution_id!r})" if execution_id else ""
    check = (f"get({execution_id!r}) to see whether it landed (its version and lease)" if execution_id
             else "list() the store to see whether it landed")
    assert str(err.value) == (f"{store!r} lost its connection (terminating connection due to administrator "
                              f"command) during {action}{where}, so it may or may not have been applied: {check} "
                              f"before you redo it")
    assert err.value.execution_id == execution_id
    # The server ended the backend before the statement reached it: here it did not land.
    assert [(s.execution_id, s.version, s.lease_owner) for s in store.list()] == [
        ("leased", 1, "w"), ("a", 1, None)]
    assert store.renew(lease).fence == lease.fence
    write(store, lease)  # the store reconnected: the same call goes through


@pytest.mark.parametrize("spec", ["postgres"], indirect=True)
def test_a_server_that_takes_no_connections_is_a_typed_error_until_it_does(store, spec):
    import psycopg

    store.put(snap("a"))
    port = re.search(r"port=(\d+)", spec.where).group(1)
    elsewhere = spec.where.replace("dbname=postgres", "dbname=template1")  # a database may not lock itself out
    with psycopg.connect(elsewhere, autocommit=True) as admin:
        admin.execute("ALTER DATABASE postgres ALLOW_CONNECTIONS false")
        try:
            assert end_other_backends(admin) == 1
            for call in (lambda: store.get("a"), lambda: store.put(snap("b"))):
                with pytest.raises(StoreUnavailableError) as err:
                    call()
                assert str(err.value) == (
                    f"{store!r} lost its connection and cannot open a new one (connection failed: connection to "
                    f"server at \"127.0.0.1\", port {port} failed: FATAL:  database \"postgres\" is not currently "
                    f"accepting connections), so nothing was sent: check the server is running and reachable, "
                    f"then try again")
        finally:
            admin.execute("ALTER DATABASE postgres ALLOW_CONNECTIONS true")
    assert store.get("a").version == 1 and store.put(snap("b")) == 1


@pytest.mark.parametrize("spec", ["postgres"], indirect=True)
def test_a_statement_the_server_cancels_is_a_typed_error_and_writes_nothing(store, spec):
    import psycopg

    store.put(snap("a"))
    with psycopg.connect(spec.where, autocommit=True) as admin, ThreadPoolExecutor(1) as pool:
        with admin.transaction():
            admin.execute("LOCK TABLE tfnb_executions IN ACCESS EXCLUSIVE MODE")
            pending = pool.submit(store.put, snap("b"))
            deadline = time.monotonic() + 30
            while not admin.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = "
                                    "'Lock' AND pid <> pg_backend_pid()").fetchall():
                assert time.monotonic() < deadline, "the store's save never waited for the lock"
                time.sleep(0.01)
            with pytest.raises(StoreUnavailableError) as err:
                pending.result(timeout=30)
    assert str(err.value) == (f"{store!r} refused the statement (canceling statement due to user request), so "
                              f"nothing was written: try again; if it keeps failing, read the server's log")
    with pytest.raises(ExecutionNotFoundError):
        store.get("b")
    assert store.put(snap("b")) == 1  # the connection was kept
