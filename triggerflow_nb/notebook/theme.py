"""Colours of the notebook views, as JupyterLab CSS variables (with a light fallback for other viewers).

Badges and notices sit on a pastel background in both the light and the dark theme
(JupyterLab's ``--jp-*-color3`` are light in both), so their text is a fixed dark ink
rather than the theme's font colour, which is white in the dark theme. Neutral badges
use the theme's own layout and font colours and follow it.
"""

from __future__ import annotations

from ..export.html import esc

DARK_INK = "#1a1a1a"  # on pastel backgrounds, whatever the theme

NEUTRAL = ("var(--jp-layout-color2, #eeeeee)", "var(--jp-ui-font-color1, rgba(0, 0, 0, 0.87))")
SUCCESS = ("var(--jp-success-color3, #c8e6c9)", DARK_INK)
WARN = ("var(--jp-warn-color3, #ffe0b2)", DARK_INK)
INFO = ("var(--jp-info-color3, #b2ebf2)", DARK_INK)
ERROR = ("var(--jp-error-color3, #ffcdd2)", DARK_INK)

STATUS_COLOURS = {
    "created": NEUTRAL, "running": WARN, "waiting": INFO, "idle": NEUTRAL,
    "completed": SUCCESS, "failed": ERROR, "cancelled": NEUTRAL,
}
LIFECYCLE_COLOURS = {"open": SUCCESS, "sealed": WARN, "closed": NEUTRAL}

MUTED = "var(--jp-ui-font-color2, #616161)"  # secondary text: notes, ids, empty tables
ACCENT = "var(--jp-warn-color0, #b7791f)"  # the short notes next to section headings


def theme_badge(text: str, colours: tuple[str, str]) -> str:
    background, ink = colours
    return (f'<span class="tf-badge" style="background:{background};color:{ink};border-radius:8px;'
            f'padding:1px 8px;margin-left:4px;font-size:11px">{esc(text)}</span>')


def status_badge(status: str) -> str:
    return theme_badge(status, STATUS_COLOURS.get(status, NEUTRAL))


def lifecycle_badge(lifecycle: str) -> str:
    return theme_badge(lifecycle, LIFECYCLE_COLOURS.get(lifecycle, NEUTRAL))


def notice_colours(level: str) -> tuple[str, str]:
    return ERROR if level == "error" else WARN
