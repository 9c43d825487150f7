"""Errors raised by execution stores.

All derive from :class:`triggerflow_nb.errors.TriggerFlowError`; each message names the
execution (and owner, version or fence involved) and says what to do next.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import InvalidSnapshotError, TriggerFlowError


class StoreError(TriggerFlowError, RuntimeError):
    """Base class of every execution-store error."""


class StoreBrowserUnavailableError(StoreError, ImportError):
    """``store.browse()`` without its table: ipywidgets is missing, or the notebook layer provided no views."""


class StoreConfigError(StoreError, TypeError, ValueError):
    """A bad argument to a store call (wrong type, out of range) or a store that cannot open."""


class InvalidIdError(StoreConfigError, InvalidSnapshotError):
    """An execution id, flow name, owner or status breaks the one id rule every store keeps.

    Also an ``InvalidSnapshotError``: ``put()`` of a snapshot whose id or flow name breaks the
    rule is refused before anything is written."""

    def __init__(self, what: str, value: Any, problem: str, rule: str):
        self.what = what
        self.value = value
        super().__init__(f"{what} {problem}; {rule}: use one that keeps it")


class ExecutionExistsError(StoreError):
    """``put(..., expected_version=None)`` creates; the id is already in the store."""

    def __init__(self, execution_id: str, current_version: int):
        self.execution_id = execution_id
        self.current_version = current_version
        super().__init__(
            f"execution {execution_id!r} is already in the store (version {current_version}); an id is created "
            f"once: pass expected_version={current_version} to update it, or delete it first"
        )


class ExecutionNotFoundError(StoreError, KeyError):
    """No row for this execution id."""

    def __init__(self, execution_id: str, action: str):
        self.execution_id = execution_id
        self.message = (f"cannot {action}: no execution {execution_id!r} in the store; list the store "
                        f"(store.list()) for the ids it holds, or put() the execution first")
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self.message


class VersionConflictError(StoreError):
    """Someone saved this execution since the version you expected."""

    def __init__(self, execution_id: str, expected_version: int, current_version: int):
        self.execution_id = execution_id
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            f"execution {execution_id!r} was saved by someone else since version {expected_version} (the store "
            f"holds version {current_version}): get() it again and redo your change, or pass "
            f"expected_version={current_version} to overwrite it"
        )


class LeaseHeldError(StoreError):
    """Another owner holds a live lease on the execution."""

    def __init__(self, execution_id: str, owner: str, until: float, now: float):
        self.execution_id = execution_id
        self.owner = owner
        self.until = until
        super().__init__(
            f"execution {execution_id!r} is leased by {owner!r} for {max(0.0, until - now):.1f} s more: wait "
            f"for it to release (or for the lease to expire), or work on another execution"
        )


class LeaseLostError(StoreError):
    """The lease was released, expired or taken over; a save under it is refused."""

    def __init__(self, execution_id: str, owner: str, fence: int, why: str):
        self.execution_id = execution_id
        self.owner = owner
        self.fence = fence
        super().__init__(
            f"lease of {owner!r} on execution {execution_id!r} (fence {fence}) is no longer valid: {why}. "
            f"Nothing was written; claim() the execution again and reload it before saving"
        )


class StoreBusyError(StoreError):
    """Every try found the row leased, and every follow-up read found it free again."""

    def __init__(self, execution_id: str, action: str, tries: int):
        self.execution_id = execution_id
        super().__init__(
            f"cannot {action}: execution {execution_id!r} was leased and released again on each of {tries} "
            f"tries; other workers are taking turns on it, so try again in a moment"
        )


class CorruptRowError(StoreError):
    """A stored row does not hold a readable JSON snapshot, or one of its summary columns is damaged."""

    def __init__(self, execution_id: str, detail: str, column: str = "snapshot"):
        self.execution_id = execution_id
        self.column = column
        what = "snapshot" if column == "snapshot" else f"summary column {column!r}"
        super().__init__(
            f"the stored {what} of execution {execution_id!r} is unreadable ({detail}); the row was left as "
            f"it is: delete it with store.delete({execution_id!r}) or restore it from a backup"
        )


class StoreUnavailableError(StoreError):
    """The database could not carry out a call: locked, full, unreachable, or an I/O error."""

    def __init__(self, store: str, problem: str, advice: str):
        self.store = store
        super().__init__(f"{store} {problem}: {advice}")


class StoreLockedError(StoreUnavailableError):
    """Another connection held the SQLite file's write lock for longer than the busy timeout."""

    def __init__(self, store: str, busy_timeout: float):
        self.busy_timeout = busy_timeout
        super().__init__(
            store, f"stayed locked by another connection for longer than its busy timeout ({busy_timeout:g} s), "
                   f"so nothing was written",
            "try again, open the store with a longer busy_timeout=, or end the transaction that holds the lock "
            "(another connection inside BEGIN IMMEDIATE or EXCLUSIVE)")


class StoreFullError(StoreUnavailableError):
    """The database or its disk is full; the statement was rolled back."""

    def __init__(self, store: str):
        super().__init__(store, "is full (database or disk is full), so nothing was written",
                         "free disk space or delete old executions (store.prune(...), store.delete(id)), then try "
                         "again")


class WriteInDoubtError(StoreUnavailableError):
    """A write was sent, then the connection broke (or the disk failed) before its answer came back."""

    def __init__(self, store: str, broke: str, action: str, execution_id: Optional[str]):
        self.execution_id = execution_id
        where = f" (execution {execution_id!r})" if execution_id is not None else ""
        check = (f"get({execution_id!r}) to see whether it landed (its version and lease)" if execution_id
                 is not None else "list() the store to see whether it landed")
        super().__init__(store, f"{broke} during {action}{where}, so it may or may not have been applied",
                         f"{check} before you redo it")
