"""The ``pg_dsn`` fixture: one real PostgreSQL server per session, for every suite that needs one.

Without PostgreSQL binaries the tests that use it skip on a developer machine but FAIL under
CI=true: a silently skipped backend proves nothing. A conftest imports it to offer it.
"""

from __future__ import annotations

import os

import pytest
from pg_server import PgServer, server_bin_dir
from specs import StoreSpec


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


def empty_store_spec(request, tmp_path) -> StoreSpec:
    """For a fixture parametrized over "sqlite" and "postgres": where an empty store lives (a
    fresh SQLite file, or the session's PostgreSQL server with the store's tables dropped)."""
    if request.param == "sqlite":
        return StoreSpec("sqlite", str(tmp_path / "executions.db"))
    dsn = request.getfixturevalue("pg_dsn")
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS tfnb_executions, tfnb_meta")
    return StoreSpec("postgres", dsn)
