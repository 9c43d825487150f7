"""A failed chunk on the panel: one line with where in the user's code it raised, the traceback
of the user's frames behind a click, and a Retry button (``execution.retry(chunk)``).

The line names the user's innermost frame: ``Cell In[4], line 3`` for code from a notebook
cell (as IPython's own tracebacks name it), else ``file.py:3``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .._tracebacks import is_internal, trim
from ..export.html import esc
from .widget_tree import close_tree


def user_error(error: BaseException) -> BaseException:
    """What the user's code raised: a ChunkError's original, else the error itself."""
    original = getattr(error, "original", None)
    return original if isinstance(original, BaseException) else error


def where_raised(error: BaseException) -> str | None:
    """``Cell In[4], line 3`` or ``path/file.py:3``: the innermost frame outside the engine."""
    tb = error.__traceback__
    last = None
    while tb is not None:
        if not is_internal(tb.tb_frame.f_code.co_filename):
            last = tb
        tb = tb.tb_next
    if last is None:
        return None
    return place(last.tb_frame.f_code.co_filename, last.tb_lineno)


def place(filename: str, line: int) -> str:
    shell = _shell()
    compiler = getattr(shell, "compile", None)
    name = getattr(compiler, "format_code_name", None)
    named = name(filename) if callable(name) else None
    if named:  # ("Cell", "In[4]") for code compiled from a cell
        return f"{named[0]} {named[1]}, line {line}"
    return f"{filename}:{line}"


def user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` with the engine's frames left out."""
    trim(error)
    return "".join(traceback.format_exception(error))


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


class FailureRow:
    def __init__(self, node_id: str, error: BaseException | None, summary: str,
                 on_retry: Callable[[FailureRow], None]):
        self.node_id = node_id
        raised = user_error(error) if error is not None else None
        where = where_raised(raised) if raised is not None else None
        at = f" at {where}" if where else ""
        self.text = f"chunk {node_id!r} failed{at}: {summary}"
        line = f"✖ {self.text}"
        details = ""
        if raised is not None:
            details = (f'<details><summary style="cursor:pointer;font-size:11px">traceback (your code)</summary>'
                       f'<pre style="font-size:11px;margin:2px 0">{esc(user_traceback(raised))}</pre></details>')
        self.info = widgets.HTML(f'<div style="font-size:12px;white-space:pre-wrap">{esc(line)}</div>{details}')
        self.button = widgets.Button(
            description="Retry", button_style="warning",
            tooltip=f"execution.retry({node_id!r}): run it again, after fixing its code, from the state before it")
        self.button.on_click(lambda _button: on_retry(self))
        self.message = widgets.HTML()
        self.widget = widgets.VBox(children=(self.info, widgets.HBox(children=(self.button, self.message))))


class FailuresSection:
    """Failed chunks, one row each; the Retry button shows while retry() can re-run that chunk."""

    def __init__(self, on_retry: Callable[[FailureRow], None]) -> None:
        self._on_retry = on_retry
        self.rows: dict[str, FailureRow] = {}
        self.widget = widgets.VBox()

    def add(self, node_id: str, error: BaseException | None, summary: str) -> None:
        if node_id not in self.rows:  # one line per chunk, however often its failure is reported
            self.rows[node_id] = FailureRow(node_id, error, summary, self._on_retry)

    def clear(self) -> None:
        """Drop every row (a retry started over) and close their widgets."""
        dropped, self.rows = self.rows, {}
        self.widget.children = ()
        close_tree(*(row.widget for row in dropped.values()))

    def entries(self) -> list[tuple[str, str]]:
        """(level, text) per failed chunk, for the static fallback (which adds the ✖ itself)."""
        return [("error", row.text) for row in self.rows.values()]

    def update(self, execution: Any) -> None:
        retryable = execution.retryable_chunk()
        for node_id, row in self.rows.items():
            row.button.layout.display = "" if node_id == retryable else "none"
        self.widget.children = tuple(row.widget for row in self.rows.values())
