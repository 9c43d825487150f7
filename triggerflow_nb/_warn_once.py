"""Warn once per process per API, for deprecated compatibility names."""

from __future__ import annotations

import warnings
from typing import Any

_already_warned: set[str] = set()


def warn_deprecated_once(api: str, message: str, stacklevel: int = 3) -> None:
    if api in _already_warned:
        return
    _already_warned.add(api)
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)


def ignore_wait_for_result(call: str, value: Any, instead: str) -> None:
    """``wait_for_result=`` is accepted by the entry points TriggerFlow code calls with it, and ignored:
    deprecated there, it warns once per process per entry point (at its caller's line)."""
    if value is not None:
        warn_deprecated_once(f"{call}(wait_for_result)", f"{call}(wait_for_result=...) is deprecated and ignored: "
                                                         f"{instead}", stacklevel=4)
