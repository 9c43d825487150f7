"""Stores for the store tests: a fresh SQLite file per test, and one real PostgreSQL server
per session (emptied before each test; see pg_fixture.py for the CI=true rule).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helper modules, also for child processes

from pg_fixture import empty_store_spec, pg_dsn  # noqa: E402, F401  (offered to the store tests)
from specs import StoreSpec, open_store  # noqa: E402

KINDS = ["sqlite", "postgres"]


@pytest.fixture(params=KINDS)
def spec(request, tmp_path) -> StoreSpec:
    """Where a store lives, as something a child process can open too."""
    return empty_store_spec(request, tmp_path)


@pytest.fixture
def store(spec):
    opened = open_store(spec)
    yield opened
    opened.close()
