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


class FakeClock:
    """A clock the test moves by hand, for lease expiry and age filters without sleeping."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def raw(spec: StoreSpec, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Reach into the backing database, as a broken disk or a careless admin would."""
    if spec.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(spec.where, isolation_level=None) as conn:
            return conn.execute(sql, params).fetchall()
    import psycopg

    with psycopg.connect(spec.where, autocommit=True) as conn:
        cur = conn.execute(sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []
