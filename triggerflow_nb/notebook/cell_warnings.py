"""Warnings raised from notebook cells name the cell, as IPython's tracebacks do.

In a kernel, code typed in cell ``In[3]`` is compiled under a temporary file name
(``/tmp/ipykernel_12345/2621341917.py``): a warning printed with it says nothing a
reader can use and differs on every run. Once installed (when ``triggerflow_nb`` is
imported inside IPython), a warning whose file is a cell reads
``Cell In[3], line 6: RuntimeWarning: ...``; every other warning is formatted as before.
"""

from __future__ import annotations

import linecache
import sys
import warnings
from typing import Any


def install() -> bool:
    """Route ``warnings.formatwarning`` through ``format_warning``; True if it is (now) in place.

    Does nothing outside IPython. Safe to call again: it never wraps itself twice.
    """
    if _cell_label_source() is None:
        return False
    current = warnings.formatwarning
    if getattr(current, "_names_cells", False):
        return True
    warnings.formatwarning = _make_formatter(current)
    return True


def cell_location(filename: str, lineno: int) -> str | None:
    """``"Cell In[3], line 6"`` when ``filename`` is a cell of this IPython session, else None."""
    compiler = _cell_label_source()
    if compiler is None:
        return None
    label = compiler.format_code_name(filename)
    if not label:
        return None
    kind, name = label
    return f"{kind} {name}, line {lineno}"


def _make_formatter(previous: Any) -> Any:
    def format_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                       line: str | None = None) -> str:
        where = cell_location(filename, lineno)
        if where is None:
            return str(previous(message, category, filename, lineno, line))
        source = linecache.getline(filename, lineno) if line is None else line
        text = f"{where}: {category.__name__}: {message}\n"
        return text + (f"  {source.strip()}\n" if source and source.strip() else "")

    format_warning._names_cells = True  # type: ignore[attr-defined]
    return format_warning


def _cell_label_source() -> Any:
    # Never imports IPython: only a session that is already running has cells to name.
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    compiler = getattr(shell, "compile", None)
    return compiler if callable(getattr(compiler, "format_code_name", None)) else None
