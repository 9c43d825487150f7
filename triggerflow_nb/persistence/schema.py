"""Validating a snapshot's shape: the one shape ``runtime.snapshot`` writes down, checked by pydantic.

Imported on load only (pydantic costs an import a plain save should not pay).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import InvalidSnapshotError
from ..runtime.snapshot import ExecutionSnapshot

_ADAPTER: TypeAdapter[ExecutionSnapshot] = TypeAdapter(ExecutionSnapshot)


def validate_shape(saved: dict[str, Any]) -> ExecutionSnapshot:
    try:
        return _ADAPTER.validate_python(saved)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:10])
        raise InvalidSnapshotError(f"corrupt snapshot: {problems}") from None
    except RecursionError:
        raise InvalidSnapshotError("corrupt snapshot: nested too deeply to read") from None
