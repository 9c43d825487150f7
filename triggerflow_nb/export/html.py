"""Turning values into short, safe text for the notebook views.

Everything shown in HTML goes through ``html.escape``; long values are cut so a
big state value cannot flood the front end.
"""

from __future__ import annotations

import html
import json
from typing import Any

ELLIPSIS = "…"


def to_text(value: Any, *, indent: int | None = None) -> str:
    """JSON when the value is JSON-compatible (state always is), else its repr."""
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False)
    except (TypeError, ValueError):
        try:
            return repr(value)
        except Exception as exc:
            return f"<{type(value).__name__}: repr failed: {exc!r}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def preview(value: Any, limit: int = 80) -> str:
    """One line, at most ``limit`` characters."""
    return truncate(" ".join(to_text(value).split()), limit)


def pretty(value: Any, limit: int = 20_000) -> str:
    """Indented, at most ``limit`` characters (the cut is marked)."""
    text = to_text(value, indent=2)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n{ELLIPSIS} ({len(text) - limit:,} more characters not shown)"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    """An HTML table from already-escaped cells; ``empty`` (plain text) when there are no rows."""
    if not rows:
        return f'<div style="color:var(--jp-ui-font-color2, #718096);font-style:italic">{esc(empty)}</div>'
    head = "".join(f'<th style="text-align:left;padding:2px 8px 2px 0;border-bottom:1px solid '
                   f'var(--jp-border-color2, #e0e0e0)">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:2px 8px 2px 0;vertical-align:top">{cell}</td>' for cell in row)
        + "</tr>"
        for row in rows
    )
    return f'<table style="border-collapse:collapse;font-size:12px"><tr>{head}</tr>{body}</table>'

