"""Stores for the store tests: a fresh SQLite file per test, and one real PostgreSQL server
per session (emptied before each test). Without PostgreSQL binaries the PostgreSQL tests
skip on a developer machine but FAIL under CI=true: a silently skipped backend proves nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helper modules, also for child processes

from pg_server import PgServer, server_bin_dir  # noqa: E402
from specs import StoreSpec, open_store  # noqa: E402

KINDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_dsn():
    bin_dir = server_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL server binaries not found: run scripts/setup_postgres.sh (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = PgServer(bin_dir).start()
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture(params=KINDS)
def spec(request, tmp_path) -> StoreSpec:
    """Where a store lives, as something a child process can open too."""
    if request.param == "sqlite":
        return StoreSpec("sqlite", str(tmp_path / "executions.db"))
    dsn = request.getfixturevalue("pg_dsn")
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS tfnb_executions, tfnb_meta")
    return StoreSpec("postgres", dsn)


@pytest.fixture
def store(spec):
    opened = open_store(spec)
    yield opened
    opened.close()
