"""``PostgresStore``: the same semantics on a PostgreSQL server, through psycopg 3.

Use it when workers on several machines share executions. psycopg is imported when a
store is opened, so the package works without it (``pip install 'triggerflow_nb[postgres]'``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Optional

from .errors import StoreConfigError, StoreUnavailableError, WriteInDoubtError
from .sql_store import SCHEMA_VERSION, TABLE, SQLStore, Write

_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  execution_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, flow_fingerprint TEXT NOT NULL,
  status TEXT NOT NULL, lifecycle_state TEXT NOT NULL,
  waiting TEXT NOT NULL, pending_count INTEGER NOT NULL,
  state_keys TEXT NOT NULL, resource_keys TEXT NOT NULL,
  version BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL, saved_at DOUBLE PRECISION NOT NULL,
  owner TEXT, lease_until DOUBLE PRECISION, fence BIGINT NOT NULL DEFAULT 0,
  snapshot TEXT NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_flow ON {TABLE} (flow_name, saved_at, execution_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_by_saved ON {TABLE} (saved_at, execution_id)",
    "CREATE TABLE IF NOT EXISTS tfnb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO tfnb_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING",
]
# Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog: serialize set-up.
_SETUP_LOCK = zlib.crc32(b"triggerflow_nb.store schema")
READ_TRIES = 3  # a read that finds its connection dropped reconnects and is sent again, this many times in all


class PostgresStore(SQLStore):
    """Executions in a PostgreSQL database. Snapshots are JSON text, exactly as saved.

    A connection the server dropped is opened again on the next call: a read is sent again,
    a write that was in flight raises WriteInDoubtError (it may have landed; get() tells).

    Lease times come from this process's clock (``time.time``): keep the workers' clocks in
    sync (NTP) when they run on several machines.
    """

    _pick_lock = " FOR UPDATE SKIP LOCKED"  # concurrent workers pick different executions, without waiting

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0, clock: Optional[Callable[[], float]] = None):
        if not isinstance(dsn, str) or not dsn:
            raise StoreConfigError(f"PostgresStore(dsn) takes a libpq connection string, got {dsn!r}")
        try:
            import psycopg
        except ImportError:
            raise StoreConfigError("PostgresStore needs psycopg 3: pip install 'triggerflow_nb[postgres]'") from None
        super().__init__(clock)
        self.dsn = dsn
        self.connect_timeout = max(1, int(connect_timeout))
        try:
            self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            raise StoreConfigError(f"cannot connect to PostgreSQL ({_safe(dsn)}): {str(exc).strip()}; check the "
                                   f"server is running and the dsn's host, port, user and database") from None
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            for statement in _DDL:
                self._conn.execute(statement)
            found = self._conn.execute("SELECT value FROM tfnb_meta WHERE key = 'schema_version'").fetchone()
        if found is None or found[0] != str(SCHEMA_VERSION):
            self._conn.close()
            raise StoreConfigError(f"store at {_safe(dsn)} has schema version {found and found[0]!r}; this "
                                   f"triggerflow_nb reads version {SCHEMA_VERSION}: upgrade the package")

    def _run(self, sql: str, params: tuple[Any, ...], write: Optional[Write]) -> tuple[int, list[tuple[Any, ...]]]:
        import psycopg

        cause = ""
        for _ in range(1 if write else READ_TRIES):
            if self._connection_lost():
                self._reconnect()
            try:
                cursor = self._conn.execute(sql.replace("?", "%s"), params)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.rowcount, rows
            except psycopg.OperationalError as exc:
                cause = _first_line(exc)
                if not self._connection_lost():  # the server refused this statement alone; autocommit rolled it back
                    raise StoreUnavailableError(repr(self), f"refused the statement ({cause}), so nothing was "
                                                f"written", "try again; if it keeps failing, read the server's "
                                                "log") from None
                if write is not None:  # sent, then the connection broke: it may have committed
                    raise WriteInDoubtError(repr(self), f"lost its connection ({cause})", write.action,
                                            write.execution_id) from None
        raise StoreUnavailableError(repr(self), f"lost its connection on each of {READ_TRIES} tries ({cause}), so "
                                    f"nothing was read", "check the server and the network, then try again")

    def _connection_lost(self) -> bool:
        return bool(self._conn.closed or self._conn.broken)

    def _reconnect(self) -> None:
        """A new connection in place of one the server dropped; nothing has been sent on it yet."""
        import psycopg

        try:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            raise StoreUnavailableError(repr(self), f"lost its connection and cannot open a new one "
                                        f"({_first_line(exc)}), so nothing was sent",
                                        "check the server is running and reachable, then try again") from None

    def close(self) -> None:
        with self._lock:  # waits for a statement another thread is running
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({_safe(self.dsn)!r})"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _safe(dsn: str) -> str:
    """The dsn without its password, for messages."""
    import re

    return re.sub(r"(password\s*=\s*)\S+|(://[^:/@]+:)[^@]+@", lambda m: (m.group(1) or m.group(2)) + "***"
                  + ("" if m.group(1) else "@"), dsn)
