"""A store's address as plain data, so that child processes can open the same store."""

from __future__ import annotations

from typing import Any, NamedTuple


class StoreSpec(NamedTuple):
    kind: str  # "sqlite" or "postgres"
    where: str  # file path or dsn


def open_store(spec: StoreSpec, **options: Any):
    from triggerflow_nb.store import PostgresStore, SQLiteStore

    if spec.kind == "sqlite":
        return SQLiteStore(spec.where, **options)
    return PostgresStore(spec.where, **options)
