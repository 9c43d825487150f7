"""The test set-up itself, and opening stores: a missing PostgreSQL fails under CI, a file
that is not a store is refused by name, listing reads no snapshot body."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like

from triggerflow_nb.store import SQLiteStore, StoreConfigError

HERE = Path(__file__).resolve().parent
BASE = paused_execution(build_flow()).save()


def run_one_postgres_test(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "TFNB_PG_BINDIR": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(HERE / "test_store_conformance.py") + "::test_get_of_an_unknown_id_is_a_typed_keyerror[postgres]"],
        cwd=HERE.parents[1], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.timeout(240)
def test_without_postgresql_binaries_the_postgres_tests_fail_under_ci_and_skip_elsewhere():
    ci = run_one_postgres_test("true")
    assert ci.returncode == 1, ci.stdout
    assert "PostgreSQL server binaries not found: run scripts/setup_postgres.sh" in ci.stdout
    assert "1 error" in ci.stdout or "1 failed" in ci.stdout
    local = run_one_postgres_test("")
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout


def test_a_file_that_is_not_a_store_is_refused_by_name(tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreConfigError, match=f"'{junk}' is not a usable triggerflow_nb store"):
        SQLiteStore(junk)
    assert junk.read_bytes() == b"this is not a database" * 100  # left untouched
    with pytest.raises(StoreConfigError, match="cannot open SQLite store"):
        SQLiteStore(tmp_path / "missing-dir" / "x.db")
    with pytest.raises(StoreConfigError, match="SQLiteStore\\(path\\) takes a file path"):
        SQLiteStore(42)
    with pytest.raises(StoreConfigError, match="durability must be 'full' or 'normal', got 'fast'"):
        SQLiteStore(tmp_path / "x.db", durability="fast")


def test_a_store_written_by_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "x.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE tfnb_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreConfigError, match="has schema version '99'; this triggerflow_nb reads version 1"):
        SQLiteStore(path)


def test_listing_never_reads_a_snapshot_body(tmp_path):
    store = SQLiteStore(tmp_path / "x.db")
    for n in range(5):
        store.put(snapshot_like(BASE, f"run-{n}"))
    columns_read: set[str] = set()

    def spy(action, table, column, *_):
        if action == sqlite3.SQLITE_READ and table == "tfnb_executions":
            columns_read.add(column)
        return sqlite3.SQLITE_OK

    store._conn.set_authorizer(spy)
    page = store.list(limit=2)
    store.list(limit=2, cursor=page.next_cursor, has_pending=True, flow="expense-approval")
    assert "snapshot" not in columns_read and "execution_id" in columns_read
    store.get("run-0")
    assert "snapshot" in columns_read  # the spy does see body reads
    store.close()


def test_a_closed_store_says_so(tmp_path):
    store = SQLiteStore(tmp_path / "x.db")
    store.close()
    with pytest.raises(StoreConfigError, match="is closed; open a new store to keep using it"):
        store.list()


def test_a_postgres_server_that_is_not_there_is_named_without_the_password():
    from triggerflow_nb.store import PostgresStore

    with pytest.raises(StoreConfigError) as err:
        PostgresStore("host=127.0.0.1 port=1 user=app password=s3cret dbname=x", connect_timeout=2)
    message = str(err.value)
    assert message.startswith("cannot connect to PostgreSQL (host=127.0.0.1 port=1 user=app password=*** dbname=x): ")
    assert message.endswith("check the server is running and the dsn's host, port, user and database")
    assert "s3cret" not in message
    with pytest.raises(StoreConfigError) as err:
        PostgresStore("postgresql://app:s3cret@127.0.0.1:1/x", connect_timeout=2)
    assert "postgresql://app:***@127.0.0.1:1/x" in str(err.value) and "s3cret" not in str(err.value)
    with pytest.raises(StoreConfigError, match="PostgresStore\\(dsn\\) takes a libpq connection string, got None"):
        PostgresStore(None)
