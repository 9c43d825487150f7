"""Turning a snapshot into the columns of a row, and back.

The summary columns are filled from the snapshot at write time so that listing never
reads a body. Snapshots are stored as JSON text exactly as ``json.dumps`` wrote them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..errors import InvalidSnapshotError
from ..persistence.saved import SCHEMA_VERSION, SNAPSHOT_KIND, SavedExecution
from .errors import CorruptRowError, StoreConfigError


def snapshot_of(execution_or_snapshot: Any) -> dict[str, Any]:
    """Accept an execution (saved now) or the dict its ``save()`` returned."""
    if isinstance(execution_or_snapshot, dict):
        return execution_or_snapshot
    save = getattr(execution_or_snapshot, "save", None)
    if callable(save) and hasattr(execution_or_snapshot, "get_pending_interrupts"):
        snapshot = save()
        # A loaded execution gets a new id; its row stays the one it was loaded from.
        snapshot["execution_id"] = getattr(execution_or_snapshot, "loaded_from", None) or snapshot["execution_id"]
        return snapshot
    raise InvalidSnapshotError(
        f"put() takes an execution or the dict its save() returned, got {type(execution_or_snapshot).__name__}"
    )


def validated(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Check the snapshot against the schema before it reaches a row; a refused one writes nothing."""
    if snapshot.get("schema_version") != SCHEMA_VERSION or snapshot.get("kind") != SNAPSHOT_KIND:
        raise InvalidSnapshotError(
            f"not a saved execution of schema version {SCHEMA_VERSION} (schema_version="
            f"{snapshot.get('schema_version')!r}, kind={snapshot.get('kind')!r}): store what execution.save() returns"
        )
    from ..persistence.schema import validate_shape  # pydantic is paid for here, not on import

    try:
        validate_shape(snapshot)
    except InvalidSnapshotError as exc:
        raise InvalidSnapshotError(str(exc).replace("corrupt snapshot:", "corrupt snapshot, not stored:", 1)) from None
    if not snapshot["execution_id"]:
        raise InvalidSnapshotError("corrupt snapshot, not stored: execution_id is empty")
    from .base import check_id, storable_text

    for field in ("execution_id", "flow_name"):  # the indexed columns: the one id rule
        check_id(snapshot[field], f"snapshot not stored: its {field}")
    for field in ("flow_fingerprint", "status"):
        if not storable_text(snapshot[field]):
            raise InvalidSnapshotError(
                f"snapshot not stored: its {field} {snapshot[field]!r} contains a NUL character or a lone "
                f"surrogate, which stores cannot keep as a column; use printable text for ids and names")
    return snapshot


def encode(snapshot: dict[str, Any]) -> str:
    try:
        return json.dumps(snapshot, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidSnapshotError(
            f"snapshot of execution {snapshot.get('execution_id')!r} is not plain JSON ({exc}); store what "
            f"execution.save() returns, with live objects kept in runtime_resources"
        ) from None


def decode(execution_id: str, text: Any) -> SavedExecution:
    value = _json_column(execution_id, "snapshot", text)
    if not isinstance(value, dict) or value.get("execution_id") != execution_id:
        raise CorruptRowError(execution_id, "the JSON is not this execution's snapshot")
    return SavedExecution(value)


def _json_column(execution_id: str, column: str, text: Any) -> Any:
    from .base import storable_text

    if not isinstance(text, str):
        raise CorruptRowError(execution_id, f"the column holds {type(text).__name__}, not JSON text", column)
    if not storable_text(text):  # bytes that were not UTF-8, read back leniently (see SQLiteStore)
        raise CorruptRowError(execution_id, "the column holds bytes that are not UTF-8 text", column)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # nested deeper than the decoder goes: unreadable too
        raise CorruptRowError(execution_id, f"not JSON: {exc}", column) from None


def summary_column(execution_id: str, column: str, text: Any) -> tuple[Any, ...]:
    """A summary column read back: ``waiting`` as (interrupt id, type) pairs, ``state_keys`` and
    ``resource_keys`` as names. A damaged one raises CorruptRowError naming the column."""
    value = _json_column(execution_id, column, text)
    if column == "waiting":
        if isinstance(value, list) and all(_is_pair(item) for item in value):
            return tuple(tuple(item) for item in value)
        raise CorruptRowError(execution_id, "the JSON is not a list of [interrupt id, type] pairs", column)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise CorruptRowError(execution_id, "the JSON is not a list of names", column)


def _is_pair(item: Any) -> bool:
    return isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)


def summary_columns(snapshot: dict[str, Any]) -> dict[str, Any]:
    waiting = [[i["id"], i["type"]] for i in snapshot["interrupts"] if i["status"] == "waiting"]
    return {
        "flow_name": snapshot["flow_name"],
        "flow_fingerprint": snapshot["flow_fingerprint"],
        "status": snapshot["status"],
        "lifecycle_state": snapshot["lifecycle_state"],
        "waiting": json.dumps(waiting),
        "pending_count": len(waiting),
        "state_keys": json.dumps(list(snapshot["state"])),
        "resource_keys": json.dumps(list(snapshot["resource_keys"])),
    }


# Keyset paging: the cursor is the (saved_at, id) of the last row shown, opaque to callers.

def encode_cursor(saved_at: float, execution_id: str) -> str:
    raw = json.dumps([saved_at, execution_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: Any) -> tuple[float, str]:
    try:
        saved_at, execution_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)) or not isinstance(execution_id, str):
            raise ValueError
        return float(saved_at), execution_id
    except Exception:
        raise StoreConfigError(
            f"cursor {cursor!r} was not made by this store: pass the next_cursor of the previous list() page"
        ) from None
