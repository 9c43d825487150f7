"""Stores for the store tests: a fresh SQLite file per test, and one real PostgreSQL server
per session (emptied before each test; see pg_fixture.py for the CI=true rule).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helper modules, also for child processes

from pg_fixture import pg_dsn  # noqa: E402, F401  (offered to the store tests)
from specs import StoreSpec, open_store  # noqa: E402

KINDS = ["sqlite", "postgres"]


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
