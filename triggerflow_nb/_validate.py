"""Argument checks shared by every public call, each raising ``InvalidArgumentError``.

One home for the checks that were written several times with different error types:
a positive count, a number of seconds, a flag. Bools are refused where numbers are
wanted (``True`` is an int to Python, never a sensible count), and so are NaN and
the infinities (a NaN timeout compares false with everything and waits forever).
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidArgumentError


def positive_int(what: str, value: Any, *, allow_none: bool = False) -> int | None:
    """``value`` if it is an int >= 1 (or None when allowed), else a typed error naming ``what``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        expected = "None or a positive int" if allow_none else "a positive int"
        raise InvalidArgumentError(f"{what} must be {expected}, got {value!r}")
    return value


def seconds(what: str, value: Any, *, allow_none: bool = False, inf_is_none: bool = False) -> float | None:
    """``value`` as a finite number of seconds >= 0 (or None when allowed), else a typed error.

    ``inf_is_none``: ``math.inf`` means no limit, the same as None (for limits that None lifts).
    """
    if value is None and allow_none:
        return None
    if inf_is_none and not isinstance(value, bool) and isinstance(value, (int, float)) and value == math.inf:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < 0):
        expected = "a finite number of seconds >= 0"
        if allow_none:
            expected = f"None {'(or math.inf: no limit) ' if inf_is_none else ''}or {expected}"
        raise InvalidArgumentError(f"{what} must be {expected}, got {value!r}")
    return float(value)


def flag(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be True or False, got {value!r}")
    return value


def one_of(what: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgumentError(f"{what} must be one of {choices}, got {value!r}")
    return value


def non_empty_str(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{what} must be a non-empty string, got {value!r}")
    return value
