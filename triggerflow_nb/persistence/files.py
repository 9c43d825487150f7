"""Write a saved execution to a JSON file and read it back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidSnapshotError
from .saved import SavedExecution


def save_to_file(saved: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write atomically (a temporary file, then rename) so a crash never leaves half a snapshot."""
    if not isinstance(saved, dict):
        raise TypeError(f"save_to_file() takes the dict that execution.save() returned, got {type(saved).__name__}")
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(saved, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)
    return target


def load_from_file(path: str | os.PathLike[str]) -> SavedExecution:
    target = Path(path)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidSnapshotError(f"{target} is not a saved execution: invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidSnapshotError(f"{target} is not a saved execution: it holds a JSON {type(data).__name__}")
    return SavedExecution(data)
