"""The ``pg_dsn`` fixture: one real PostgreSQL server per session, for every suite that needs one.

Without PostgreSQL binaries the tests that use it skip on a developer machine but FAIL under
CI=true: a silently skipped backend proves nothing. A conftest imports it to offer it.
"""

from __future__ import annotations

import os

import pytest
from pg_server import PgServer, server_bin_dir


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
