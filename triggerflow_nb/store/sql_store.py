"""The store logic shared by SQLite and PostgreSQL: every save, claim, renew, release and
delete is ONE conditional SQL statement, so two processes can never both pass a check.

When a statement changes no row, the row is read once to say *why* (conflict, lease held,
lease lost, missing). That read only builds the error message; it never decides a write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

from .. import _store_views
from .base import ExecutionStore, check_id, check_lease, check_seconds, check_version
from .errors import (
    CorruptRowError,
    ExecutionExistsError,
    ExecutionNotFoundError,
    LeaseHeldError,
    LeaseLostError,
    StoreBrowserUnavailableError,
    StoreBusyError,
    StoreConfigError,
    VersionConflictError,
)
from .records import Lease, Page, StoredExecution, Summary
from .snapshot_rows import (
    decode,
    decode_cursor,
    encode,
    encode_cursor,
    snapshot_of,
    summary_column,
    summary_columns,
    validated,
)

TABLE = "tfnb_executions"
SCHEMA_VERSION = 1
MAX_LIMIT = 10_000

SUMMARY_FIELDS = ("flow_name", "flow_fingerprint", "status", "lifecycle_state", "waiting", "pending_count",
                  "state_keys", "resource_keys")
LIST_COLUMNS = ("execution_id, flow_name, flow_fingerprint, status, lifecycle_state, waiting, state_keys, "
                "resource_keys, version, saved_at, owner, lease_until")
JSON_SUMMARY = ("waiting", "state_keys", "resource_keys")  # summary columns holding JSON lists
FREE = "(owner IS NULL OR lease_until < ?)"  # nobody holds a live lease
FREED_RETRIES = 3  # a claim, delete or save refused by a lease that ended before we looked tries again


class Write(NamedTuple):
    """What a writing statement does: named in the error when its outcome is in doubt."""

    action: str  # "claim for 'w'", "delete", ...
    execution_id: Optional[str]  # the row to get() to see whether it landed; None: list() the store


class SQLStore(ExecutionStore):
    """Subclasses provide ``_run(sql, params, write) -> (rowcount, rows)`` on an autocommit
    connection (``write`` is None for a read), turning driver errors into StoreErrors."""

    # Appended to the candidate sub-select of next_runnable (PostgreSQL: FOR UPDATE SKIP LOCKED).
    _pick_lock = ""


    def browse(self, *, flows: Any = None, runtime_resources: Optional[dict[str, Any]] = None,
               owner: Optional[str] = None, limit: int = 50) -> Any:
        """A table of the stored executions with Inspect / Load / Resume here / Delete per row.

        The table is the notebook layer's (ipywidgets): ``import triggerflow_nb`` provides it."""
        views = _store_views.provided()
        if views is None:
            raise StoreBrowserUnavailableError(
                "store.browse() shows the notebook layer's ipywidgets table, and it was never provided (a "
                "complete `import triggerflow_nb` provides it): list the store without widgets with store.list()")
        return views.browser(self, flows=flows, runtime_resources=runtime_resources, owner=owner, limit=limit)

    def __init__(self, clock: Optional[Callable[[], float]] = None):
        self._clock = clock or time.time
        self._lock = threading.Lock()  # one connection per store; calls from threads take turns
        self._closed = False

    # -- plumbing -----------------------------------------------------------------------------------
    def _run(self, sql: str, params: tuple[Any, ...], write: Optional[Write]) -> tuple[int, list[tuple[Any, ...]]]:
        raise NotImplementedError

    def _call(self, sql: str, params: tuple[Any, ...],
              write: Optional[Write] = None) -> tuple[int, list[tuple[Any, ...]]]:
        with self._lock:  # close() takes it too: a connection closed under a running statement crashes sqlite3
            if self._closed:
                raise StoreConfigError(f"{self!r} is closed; open a new store to keep using it")
            return self._run(sql, params, write)

    def _row_state(self, execution_id: str) -> Optional[tuple[int, Optional[str], Optional[float], int]]:
        _, rows = self._call(f"SELECT version, owner, lease_until, fence FROM {TABLE} WHERE execution_id = ?",
                             (execution_id,))
        return rows[0] if rows else None

    # -- writing ------------------------------------------------------------------------------------
    def put(self, execution: Any, *, expected_version: Optional[int] = None, lease: Optional[Lease] = None) -> int:
        expected_version = check_version(expected_version)
        if lease is not None:
            check_lease(lease)
        snapshot = validated(snapshot_of(execution))
        execution_id = snapshot["execution_id"]
        if lease is not None and lease.execution_id != execution_id:
            raise StoreConfigError(f"the lease is for execution {lease.execution_id!r}, the snapshot is of "
                                   f"{execution_id!r}: save each execution under its own lease")
        body = encode(snapshot)
        columns = summary_columns(snapshot)
        if expected_version is None and lease is None:
            return self._create(execution_id, columns, body, self._clock())
        sets = ", ".join(f"{name} = ?" for name in SUMMARY_FIELDS)
        update = f"UPDATE {TABLE} SET {sets}, snapshot = ?, saved_at = ?, version = version + 1 WHERE "
        if lease is None:
            rows = self._on_unleased_row(
                execution_id, expected_version, "save with expected_version or a lease",
                lambda where, now: (f"{update}{where} RETURNING version", (*columns.values(), body, now)))
            return int(rows[0][0])
        now = self._clock()
        where, params = "execution_id = ? AND owner = ? AND fence = ? AND lease_until >= ?", \
            [execution_id, lease.owner, lease.fence, now]
        if expected_version is not None:
            where += " AND version = ?"
            params.append(expected_version)
        count, rows = self._call(f"{update}{where} RETURNING version", (*columns.values(), body, now, *params),
                                 Write(f"save under the lease of {lease.owner!r}", execution_id))
        if count == 1:
            return int(rows[0][0])
        raise self._why_lease_cannot_save(execution_id, expected_version, lease, now)

    def _create(self, execution_id: str, columns: dict[str, Any], body: str, now: float) -> int:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        count, _ = self._call(
            f"INSERT INTO {TABLE} (execution_id, {names}, version, created_at, saved_at, fence, snapshot) "
            f"VALUES (?, {marks}, 1, ?, ?, ?, ?) ON CONFLICT (execution_id) DO NOTHING",
            # Fences of a re-created id start above every fence of the deleted row it replaces
            # (they start at the creation time in microseconds), so an old lease never matches.
            (execution_id, *columns.values(), now, now, int(now * 1_000_000), body),
            Write("create", execution_id),
        )
        if count == 1:
            return 1
        row = self._row_state(execution_id)
        raise ExecutionExistsError(execution_id, row[0] if row else 0)

    def _why_lease_cannot_save(self, execution_id: str, expected: Optional[int], lease: Lease,
                               now: float) -> Exception:
        row = self._row_state(execution_id)
        if row is None:
            return ExecutionNotFoundError(execution_id, "save with expected_version or a lease")
        version, owner, until, fence = row
        lost = self._lease_problem(lease, owner, until, fence, now)
        if lost:
            return LeaseLostError(execution_id, lease.owner, lease.fence, lost)
        return VersionConflictError(execution_id, expected if expected is not None else version, version)

    def _on_unleased_row(self, execution_id: str, expected_version: Optional[int], action: str,
                         statement: Callable[[str, float], tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Run ``statement(where, now)`` (its SQL and leading parameters) on the row of
        ``execution_id`` while nobody holds a live lease on it, at ``expected_version`` when given;
        its rows. Matching nothing, raise why: not found, leased, or saved since. A row found free
        at that version after all had a lease that ended in between (another worker finished):
        the statement is tried again, up to FREED_RETRIES times."""
        for _ in range(FREED_RETRIES):
            now = self._clock()
            where, params = _unleased_row(execution_id, now, expected_version)
            sql, leading = statement(where, now)
            count, rows = self._call(sql, (*leading, *params), Write(action, execution_id))
            if count == 1:
                return rows
            row = self._row_state(execution_id)
            if row is None:
                raise ExecutionNotFoundError(execution_id, action)
            version, owner, until, _ = row
            if owner is not None and until is not None and until >= now:
                raise LeaseHeldError(execution_id, owner, until, now)
            if expected_version is not None and expected_version != version:
                raise VersionConflictError(execution_id, expected_version, version)
        raise StoreBusyError(execution_id, action, FREED_RETRIES)

    @staticmethod
    def _lease_problem(lease: Lease, owner: Optional[str], until: Optional[float], fence: int,
                       now: float) -> Optional[str]:
        if fence != lease.fence:
            return f"the execution was claimed again (fence {fence}, by {owner!r})" if owner else \
                f"the execution was claimed again since (fence {fence})"
        if owner is None:
            return "it was released"
        if until is not None and until < now:
            return f"it expired {now - until:.1f} s ago"
        return None

    def delete(self, execution_id: str, *, expected_version: Optional[int] = None) -> None:
        check_id(execution_id)
        expected_version = check_version(expected_version)
        self._on_unleased_row(execution_id, expected_version, "delete",
                              lambda where, now: (f"DELETE FROM {TABLE} WHERE {where}", ()))

    def prune(self, *, keep_latest: Optional[int] = None, older_than: Optional[float] = None,
              flow: Optional[str] = None, include_pending: bool = False) -> list[str]:
        if keep_latest is None and older_than is None:
            raise StoreConfigError("prune() needs keep_latest=N and/or older_than=seconds; it never deletes "
                                   "everything by default (use delete(id) for one execution)")
        if keep_latest is not None and (isinstance(keep_latest, bool) or not isinstance(keep_latest, int)
                                        or keep_latest < 0):
            raise StoreConfigError(f"keep_latest must be an int >= 0 (executions kept per flow), got {keep_latest!r}")
        if flow is not None:
            check_id(flow, "flow")
        if not isinstance(include_pending, bool):
            raise StoreConfigError(f"include_pending must be True or False, got {include_pending!r}")
        now = self._clock()
        where: list[str] = [FREE]
        params: list[Any] = [now]
        if not include_pending:
            where.append("pending_count = 0")  # a paused run waits for a person: keep it unless asked
        if flow is not None:
            where.append("flow_name = ?")
            params.append(flow)
        if older_than is not None:
            where.append("saved_at < ?")
            params.append(now - check_seconds(older_than, "older_than", allow_zero=True))
        if keep_latest is not None:
            where.append(
                f"execution_id IN (SELECT execution_id FROM (SELECT execution_id, ROW_NUMBER() OVER "
                f"(PARTITION BY flow_name ORDER BY saved_at DESC, execution_id DESC) AS newest FROM {TABLE}) "
                f"ranked WHERE newest > ?)")
            params.append(keep_latest)
        _, rows = self._call(f"DELETE FROM {TABLE} WHERE {' AND '.join(where)} RETURNING execution_id",
                             tuple(params), Write("prune", None))
        return sorted(r[0] for r in rows)

    # -- reading ------------------------------------------------------------------------------------
    def get(self, execution_id: str) -> StoredExecution:
        check_id(execution_id)
        _, rows = self._call(
            f"SELECT version, saved_at, owner, lease_until, {', '.join(JSON_SUMMARY)}, snapshot FROM {TABLE} "
            f"WHERE execution_id = ?", (execution_id,))
        if not rows:
            raise ExecutionNotFoundError(execution_id, "get")
        version, saved_at, owner, until, *summary, body = rows[0]
        for column, text in zip(JSON_SUMMARY, summary, strict=True):
            summary_column(execution_id, column, text)  # a damaged summary is refused like a damaged body
        return StoredExecution(execution_id, int(version), float(saved_at), decode(execution_id, body), owner,
                               None if until is None else float(until))

    def list(self, *, flow: Optional[str] = None, status: Optional[str] = None, has_pending: Optional[bool] = None,
             older_than: Optional[float] = None, limit: int = 50, cursor: Optional[str] = None) -> Page:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise StoreConfigError(f"limit must be an int from 1 to {MAX_LIMIT}, got {limit!r}; page with cursor=")
        where: list[str] = []
        params: list[Any] = []
        if flow is not None:
            where.append("flow_name = ?")
            params.append(check_id(flow, "flow"))
        if status is not None:
            where.append("status = ?")
            params.append(check_id(status, "status"))
        if has_pending is not None:
            if not isinstance(has_pending, bool):
                raise StoreConfigError(f"has_pending must be None, True or False, got {has_pending!r}")
            where.append("pending_count > 0" if has_pending else "pending_count = 0")
        if older_than is not None:
            where.append("saved_at < ?")
            params.append(self._clock() - check_seconds(older_than, "older_than", allow_zero=True))
        if cursor is not None:
            saved_at, last_id = decode_cursor(cursor)
            where.append("(saved_at < ? OR (saved_at = ? AND execution_id < ?))")
            params += [saved_at, saved_at, last_id]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        _, rows = self._call(
            f"SELECT {LIST_COLUMNS} FROM {TABLE} {clause} ORDER BY saved_at DESC, execution_id DESC LIMIT ?",
            (*params, limit + 1))
        items = tuple(_summary(r) for r in rows[:limit])
        more = len(rows) > limit
        return Page(items, encode_cursor(items[-1].saved_at, items[-1].execution_id) if more else None)

    # -- ownership ----------------------------------------------------------------------------------
    def claim(self, execution_id: str, owner: str, ttl: float = 60.0, *,
              expected_version: Optional[int] = None) -> Lease:
        check_id(execution_id)
        check_id(owner, "owner")
        ttl = check_seconds(ttl, "ttl")
        expected_version = check_version(expected_version)
        rows = self._on_unleased_row(
            execution_id, expected_version, f"claim for {owner!r}",
            lambda where, now: (f"UPDATE {TABLE} SET owner = ?, lease_until = ?, fence = fence + 1 WHERE {where} "
                                f"RETURNING fence, lease_until, version", (owner, now + ttl)))
        fence, until, version = rows[0]
        return Lease(execution_id, owner, int(fence), float(until), int(version), ttl)

    def renew(self, lease: Lease, ttl: Optional[float] = None) -> Lease:
        check_lease(lease)
        ttl = lease.ttl if ttl is None else check_seconds(ttl, "ttl")
        now = self._clock()
        new_until = now + ttl
        count, rows = self._call(
            f"UPDATE {TABLE} SET lease_until = ? WHERE execution_id = ? AND owner = ? AND fence = ? "
            f"AND lease_until >= ? RETURNING version",
            (new_until, lease.execution_id, lease.owner, lease.fence, now),
            Write(f"renew of the lease of {lease.owner!r}", lease.execution_id))
        if count == 1:
            return Lease(lease.execution_id, lease.owner, lease.fence, new_until, int(rows[0][0]), ttl)
        raise self._lost(lease, now, "renew")

    def release(self, lease: Lease) -> None:
        check_lease(lease)
        now = self._clock()
        # An expired lease nobody took over may still be given back: the fence proves it is ours.
        count, _ = self._call(
            f"UPDATE {TABLE} SET owner = NULL, lease_until = NULL WHERE execution_id = ? AND owner = ? AND fence = ?",
            (lease.execution_id, lease.owner, lease.fence),
            Write(f"release of the lease of {lease.owner!r}", lease.execution_id))
        if count != 1:
            raise self._lost(lease, now, "release")

    def _lost(self, lease: Lease, now: float, action: str) -> Exception:
        row = self._row_state(lease.execution_id)
        if row is None:
            return ExecutionNotFoundError(lease.execution_id, f"{action} the lease of {lease.owner!r}")
        _, owner, until, fence = row
        why = self._lease_problem(lease, owner, until, fence, now) or "it changed while this call ran"
        return LeaseLostError(lease.execution_id, lease.owner, lease.fence, why)

    def next_runnable(self, flow: str, owner: str, ttl: float = 60.0) -> Optional[Lease]:
        check_id(flow, "flow")
        check_id(owner, "owner")
        ttl = check_seconds(ttl, "ttl")
        for _ in range(5):  # a pick taken by a concurrent plain claim() between sub-select and update: pick again
            now = self._clock()
            count, rows = self._call(
                f"UPDATE {TABLE} SET owner = ?, lease_until = ?, fence = fence + 1 WHERE execution_id = ("
                f"SELECT execution_id FROM {TABLE} WHERE flow_name = ? AND lifecycle_state = 'open' "
                f"AND pending_count > 0 AND {FREE} ORDER BY saved_at, execution_id LIMIT 1{self._pick_lock}) "
                f"AND {FREE} RETURNING execution_id, fence, lease_until, version",
                (owner, now + ttl, flow, now, now), Write(f"next_runnable for {owner!r}", None))
            if count == 1:
                execution_id, fence, until, version = rows[0]
                return Lease(execution_id, owner, int(fence), float(until), int(version), ttl)
            _, left = self._call(
                f"SELECT 1 FROM {TABLE} WHERE flow_name = ? AND lifecycle_state = 'open' AND pending_count > 0 "
                f"AND {FREE} LIMIT 1", (flow, now))
            if not left:
                return None
        return None


def _unleased_row(execution_id: str, now: float, expected_version: Optional[int]) -> tuple[str, list[Any]]:
    """WHERE clause and parameters for the row of ``execution_id`` while nobody holds a live
    lease on it (and at ``expected_version``, when given): what claim, delete and a save without
    a lease may touch."""
    where, params = f"execution_id = ? AND {FREE}", [execution_id, now]
    if expected_version is not None:
        where += " AND version = ?"
        params.append(expected_version)
    return where, params


def _summary(row: tuple[Any, ...]) -> Summary:
    """One listed row. A damaged summary column does not hide the others: the row is listed with
    that field empty and ``unreadable`` saying what get() will raise."""
    (execution_id, flow_name, fingerprint, status, lifecycle, waiting, state_keys, resource_keys, version,
     saved_at, owner, until) = row
    fields: dict[str, tuple[Any, ...]] = {}
    unreadable: Optional[str] = None
    for column, text in zip(JSON_SUMMARY, (waiting, state_keys, resource_keys), strict=True):
        try:
            fields[column] = summary_column(execution_id, column, text)
        except CorruptRowError as exc:
            fields[column] = ()
            unreadable = unreadable or str(exc)
    return Summary(
        execution_id=execution_id, flow_name=flow_name, flow_fingerprint=fingerprint, status=status,
        lifecycle_state=lifecycle, pending_interrupts=fields["waiting"], state_keys=fields["state_keys"],
        resource_keys=fields["resource_keys"], version=int(version), saved_at=float(saved_at), lease_owner=owner,
        lease_until=None if until is None else float(until), unreadable=unreadable,
    )
