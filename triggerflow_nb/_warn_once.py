"""Warn once per process per API, for deprecated compatibility names."""

from __future__ import annotations

import warnings

_already_warned: set[str] = set()


def warn_deprecated_once(api: str, message: str, stacklevel: int = 3) -> None:
    if api in _already_warned:
        return
    _already_warned.add(api)
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)
