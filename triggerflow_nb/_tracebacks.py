"""Errors reach the caller with the user's frames, not the engine's.

A chunk's error travels through the walker, the execution, asyncio and the sync
bridge before the caller sees it: printed whole, that is some ninety lines of which
the user wrote two. ``trim`` rebuilds the traceback of the error and of every error
in its chain (``__cause__``, ``__context__``) from the frames outside this package,
asyncio and nest_asyncio2, and keeps the whole one on the error:
``triggerflow_nb.errors.full_traceback(error)`` prints everything.

IPython also hides the few bridge frames left above (``__tracebackhide__``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from types import TracebackType

from .errors import FULL_TRACEBACK, exception_chain

_TRIMMED = "__triggerflow_trimmed_traceback__"  # the traceback as trimmed last
_NEVER = object()

_INTERNAL = tuple(
    os.path.dirname(os.path.abspath(module.__file__ or "")) + os.sep
    for module in (asyncio, concurrent.futures)
) + (os.path.dirname(os.path.abspath(__file__)) + os.sep,)


def is_internal(filename: str) -> bool:
    return filename.startswith(_INTERNAL) or os.path.basename(filename).startswith("nest_asyncio")


def trim(error: BaseException) -> None:
    """Drop internal frames from ``error``'s traceback and its chain's (idempotent)."""
    for exc in exception_chain(error):
        _trim_one(exc)


def _trim_one(exc: BaseException) -> None:
    # Trimmed before (raised again, or trimmed at two levels): the traceback now runs through new
    # outer frames into the head of what was trimmed then; the full one is those frames + the old full.
    previous = getattr(exc, _TRIMMED, _NEVER)  # None when everything was trimmed away
    entries: list[TracebackType] = []
    tb = exc.__traceback__
    while tb is not None and tb is not previous:
        entries.append(tb)
        tb = tb.tb_next
    again = tb is previous
    user = [entry for entry in entries if not is_internal(entry.tb_frame.f_code.co_filename)]
    if not again and len(user) == len(entries):
        return  # nothing of ours in it
    try:
        full = _chain(entries, getattr(exc, FULL_TRACEBACK) if again else None)
        trimmed = _chain(user, previous if again else None)  # type: ignore[arg-type]
        setattr(exc, FULL_TRACEBACK, full)
        setattr(exc, _TRIMMED, trimmed)
    except AttributeError:  # an exception type that takes no attributes: leave it whole
        return
    exc.__traceback__ = trimmed


def _chain(entries: list[TracebackType], tail: TracebackType | None) -> TracebackType | None:
    for entry in reversed(entries):
        tail = TracebackType(tail, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return tail
