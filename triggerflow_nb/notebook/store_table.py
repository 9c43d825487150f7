"""The static view of a store: an escaped HTML table and plain text of the newest summaries.

What a front end without widgets shows (GitHub, nbviewer, an HTML export), and the
``_repr_mimebundle_`` of a store (through ``store_views``). No ipywidgets here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..reproducibility import shows_wall_clock

if TYPE_CHECKING:  # the stores are not imported with the package: only their views are provided
    from ..store.records import Summary

HEADERS = ["id", "flow", "status", "waiting", "state keys", "resources", "version", "saved", "lease"]


def ago(seconds: float) -> str:
    if not shows_wall_clock():
        return "—"  # reproducible mode: an age differs on every run
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def row_cells(summary: Summary, now: float) -> list[str]:
    """Plain-text cells of one row, in HEADERS order."""
    waiting = ", ".join(f"⏸ {kind}" for _, kind in summary.pending_interrupts) or "—"
    status = summary.status if summary.unreadable is None else f"⚠ unreadable ({summary.status})"
    return [summary.execution_id[:12], summary.flow_name, status, waiting,
            ", ".join(summary.state_keys) or "—", ", ".join(summary.resource_keys) or "—",
            str(summary.version), ago(now - summary.saved_at), summary.lease_text(now)]


def render_html(summaries: list[Summary], now: float, title: str) -> str:
    from ..export.html import esc, table

    rows = [[esc(cell) for cell in row_cells(s, now)] for s in summaries]
    return (f'<div style="font-family:sans-serif"><b>{esc(title)}</b>'
            + table(HEADERS, rows, "no executions stored yet") + "</div>")


def render_text(summaries: list[Summary], now: float, title: str) -> str:
    if not summaries:
        return f"{title}\n  no executions stored yet"
    rows = [HEADERS] + [row_cells(s, now) for s in summaries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join([title, *("  " + line for line in lines)])


def static_bundle(store: Any, *, limit: int = 20, summaries: list[Summary] | None = None) -> dict[str, str]:
    now = time.time()
    if summaries is None:
        summaries = list(store.list(limit=limit))
    title = f"{store!r}: {len(summaries)} newest execution(s)"
    return {"text/html": render_html(summaries, now, title), "text/plain": render_text(summaries, now, title)}
