"""How a handler becomes a stable chunk name."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

# Set by @flow.chunk("name") so that `.to(fn)` finds the registered name.
CHUNK_NAME_ATTR = "__triggerflow_chunk_name__"


def handler_name(handler: Callable[..., Any], predecessor: str) -> str:
    """A chunk name for ``handler`` placed after ``predecessor``.

    Named functions keep their ``__name__`` (or the name given to @flow.chunk).
    Lambdas have no name, so they get one derived from where they sit: the node
    they follow and their line/column in the cell. Re-running the same cell gives
    the same names, and two lambdas in one chain stay distinct.
    """
    explicit = getattr(handler, CHUNK_NAME_ATTR, None)
    if explicit:
        return explicit
    name = getattr(handler, "__name__", None) or type(handler).__name__
    if name != "<lambda>":
        return name
    code = handler.__code__
    col = next(iter(code.co_positions()), (0, 0, 0, 0))[2] if hasattr(code, "co_positions") else 0
    digest = hashlib.sha1(f"{predecessor}|{code.co_firstlineno}|{col}".encode()).hexdigest()[:6]
    return f"<lambda:{digest}>"


def callable_label(fn: Callable[..., Any] | None) -> str:
    if fn is None:
        return "else"
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "λ" if name == "<lambda>" else name
