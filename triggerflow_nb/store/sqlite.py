"""``SQLiteStore``: the default store, on the standard library's sqlite3.

WAL lets readers run while one process writes; the busy timeout makes concurrent writers
wait instead of failing. Good for any number of processes and kernels on ONE machine; do
not put the file on a network filesystem (its locks are not reliable there).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import Any, Optional

from .errors import (
    StoreConfigError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreUnavailableError,
    WriteInDoubtError,
)
from .sql_store import SCHEMA_VERSION, TABLE, SQLStore, Write

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  execution_id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, flow_fingerprint TEXT NOT NULL,
  status TEXT NOT NULL, lifecycle_state TEXT NOT NULL,
  waiting TEXT NOT NULL, pending_count INTEGER NOT NULL,
  state_keys TEXT NOT NULL, resource_keys TEXT NOT NULL,
  version INTEGER NOT NULL, created_at REAL NOT NULL, saved_at REAL NOT NULL,
  owner TEXT, lease_until REAL, fence INTEGER NOT NULL DEFAULT 0,
  snapshot TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS {TABLE}_by_flow ON {TABLE} (flow_name, saved_at, execution_id);
CREATE INDEX IF NOT EXISTS {TABLE}_by_saved ON {TABLE} (saved_at, execution_id);
CREATE TABLE IF NOT EXISTS tfnb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO tfnb_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
"""

DURABILITY = {"full": "FULL", "normal": "NORMAL"}

# SQLite's primary result codes (the low byte of an extended code) that a store reports by name.
BUSY, LOCKED, IOERR, FULL = 5, 6, 10, 13
_CODE_OF_MESSAGE = {"database is locked": BUSY, "database table is locked": LOCKED, "disk I/O error": IOERR,
                    "database or disk is full": FULL}  # before Python 3.11 the error carries no code


def _lenient_text(raw: bytes) -> str:
    """Text that is not UTF-8 (a damaged page) reads back with lone surrogates instead of failing
    the whole query: the damaged row is then reported as corrupt and the others are read."""
    return raw.decode("utf-8", "surrogateescape")


class SQLiteStore(SQLStore):
    """Executions in one SQLite file.

    ``durability="full"`` (default) syncs every commit to disk; ``"normal"`` syncs at WAL
    checkpoints, which survives a killed process but may lose the last commits on power loss.
    """

    def __init__(self, path: str | os.PathLike[str], *, durability: str = "full", busy_timeout: float = 30.0,
                 clock: Optional[Callable[[], float]] = None):
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise StoreConfigError(f"SQLiteStore(path) takes a file path (str or pathlib.Path), got {path!r}")
        if durability not in DURABILITY:
            raise StoreConfigError(f"durability must be 'full' or 'normal', got {durability!r}")
        super().__init__(clock)
        self.path = os.fspath(path)
        self.durability = durability
        self.busy_timeout = busy_timeout
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreConfigError(f"cannot open SQLite store {self.path!r}: {exc}; check the directory exists "
                                   f"and is writable") from None
        self._conn.text_factory = _lenient_text
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={DURABILITY[durability]}")
            self._conn.executescript(_DDL)
            found = self._conn.execute("SELECT value FROM tfnb_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if _primary_code(exc) in (BUSY, LOCKED):  # setting up the tables needs the write lock once
                raise StoreLockedError(repr(self), busy_timeout) from None
            raise StoreConfigError(f"{self.path!r} is not a usable triggerflow_nb store ({exc}); point "
                                   f"SQLiteStore at a new file or at one this package created") from None
        if found is None or found[0] != str(SCHEMA_VERSION):
            self._conn.close()
            raise StoreConfigError(f"store {self.path!r} has schema version {found and found[0]!r}; this "
                                   f"triggerflow_nb reads version {SCHEMA_VERSION}: upgrade the package")

    def _run(self, sql: str, params: tuple[Any, ...], write: Optional[Write]) -> tuple[int, list[tuple[Any, ...]]]:
        try:
            cursor = self._conn.execute(sql, params)
            try:
                rows = cursor.fetchall() if cursor.description else []
                # With RETURNING, rowcount is only final once the rows are fetched.
                return (len(rows) if cursor.description and sql.lstrip().upper().startswith(("UPDATE", "DELETE"))
                        else cursor.rowcount), rows
            finally:
                cursor.close()
        except sqlite3.OperationalError as exc:
            raise self._refused(exc, write) from None

    def _refused(self, exc: sqlite3.OperationalError, write: Optional[Write]) -> StoreError:
        """The StoreError for a failed statement. Each statement is its own transaction, which
        SQLite rolls back when it fails: only a disk I/O error leaves a write in doubt (the
        commit may have reached the log before the sync failed)."""
        code = _primary_code(exc)
        if code in (BUSY, LOCKED):
            return StoreLockedError(repr(self), self.busy_timeout)
        if code == FULL:
            return StoreFullError(repr(self))
        if code == IOERR and write is not None:
            return WriteInDoubtError(repr(self), f"hit a disk I/O error ({exc})", write.action, write.execution_id)
        return StoreUnavailableError(repr(self), f"failed ({exc}), so nothing was written",
                                     "check the file, its directory and the disk, then try again")

    def integrity_check(self) -> str:
        """SQLite's own page and index check: ``"ok"`` when the file is sound."""
        return self._call("PRAGMA integrity_check", ())[1][0][0]

    def close(self) -> None:
        with self._lock:  # waits for a statement another thread is running
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


def _primary_code(exc: sqlite3.Error) -> Optional[int]:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return code & 0xFF if isinstance(code, int) else _CODE_OF_MESSAGE.get(str(exc))
