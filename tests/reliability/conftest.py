"""Stores for the reliability properties, on the store tests' helpers (tests/store): SQLite files,
and the real PostgreSQL server of ``pg_dsn`` (skipped without binaries on a developer machine,
a failure under CI=true).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "store"))

from pg_fixture import empty_store_spec, pg_dsn  # noqa: E402, F401  (offered to the store properties)
from specs import StoreSpec  # noqa: E402

STORE_KINDS = ["sqlite", "postgres"]


@pytest.fixture(params=STORE_KINDS)
def store_spec(request, tmp_path) -> StoreSpec:
    """Where an empty store lives, for one test and all its examples."""
    return empty_store_spec(request, tmp_path)
