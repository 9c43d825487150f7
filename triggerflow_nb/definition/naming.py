"""How a handler becomes a stable chunk name."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any


def handler_name(handler: Callable[..., Any], predecessor: str, registered: dict[Any, str]) -> str:
    """A chunk name for ``handler`` placed after ``predecessor``.

    A function registered under a name of its own (``@flow.chunk("name")``, recorded per
    flow in ``registered``) keeps that name; other named functions use ``__name__``.
    Lambdas have no name, so they get one derived from where they sit: the node
    they follow and their line/column in the cell. Re-running the same cell gives
    the same names, and two lambdas in one chain stay distinct.
    """
    try:
        explicit = registered.get(handler)
    except TypeError:  # an unhashable callable object
        explicit = None
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
