"""Write a saved execution to a JSON file and read it back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError, InvalidSnapshotError
from .saved import SavedExecution


def save_to_file(saved: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write atomically (a temporary file, then rename) so a crash never leaves half a snapshot."""
    if not isinstance(saved, dict):
        raise InvalidArgumentError(
            f"save_to_file() takes the dict that execution.save() returned, got {type(saved).__name__}"
        )
    try:  # strict JSON: no NaN or Infinity, which other readers refuse
        text = json.dumps(saved, indent=1, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidSnapshotError(f"cannot write {path}: the snapshot is not strict JSON ({exc})") from None
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def load_from_file(path: str | os.PathLike[str]) -> SavedExecution:
    target = Path(path)
    try:
        data = json.loads(target.read_bytes().decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise InvalidSnapshotError(f"{target} is not a saved execution: not UTF-8 text ({exc.reason} at byte "
                                   f"{exc.start})") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise InvalidSnapshotError(f"{target} is not a saved execution: invalid JSON ({exc})") from None
    except RecursionError:
        raise InvalidSnapshotError(f"{target} is not a saved execution: nested too deeply to read") from None
    if not isinstance(data, dict):
        raise InvalidSnapshotError(f"{target} is not a saved execution: it holds a JSON {type(data).__name__}")
    return SavedExecution(data)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
