"""Execution stores: many saved executions in SQLite (default) or PostgreSQL, listed without
their bodies, saved with a version check, and resumed by exactly one owner under a lease.

Importing this package loads neither psycopg nor any notebook module.
"""

from .base import ExecutionStore
from .errors import (
    CorruptRowError,
    ExecutionExistsError,
    ExecutionNotFoundError,
    InvalidIdError,
    LeaseHeldError,
    LeaseLostError,
    StoreBrowserUnavailableError,
    StoreBusyError,
    StoreConfigError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreUnavailableError,
    VersionConflictError,
    WriteInDoubtError,
)
from .postgres import PostgresStore
from .records import Lease, Page, StoredExecution, Summary
from .resume import (
    async_load_execution,
    async_resume,
    async_save_execution,
    load_execution,
    resume,
    save_execution,
    stored_version,
)
from .sqlite import SQLiteStore

__all__ = [
    "CorruptRowError", "ExecutionExistsError", "ExecutionNotFoundError", "ExecutionStore", "InvalidIdError",
    "Lease", "LeaseHeldError", "LeaseLostError", "Page", "PostgresStore", "SQLiteStore",
    "StoreBrowserUnavailableError", "StoreBusyError", "StoreConfigError", "StoreError", "StoreFullError",
    "StoreLockedError", "StoreUnavailableError", "StoredExecution", "Summary", "VersionConflictError",
    "WriteInDoubtError", "async_load_execution", "async_resume", "async_save_execution", "load_execution",
    "resume", "save_execution", "stored_version",
]
