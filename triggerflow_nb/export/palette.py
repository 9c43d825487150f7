"""Chunk status colours, shared by the DOT export, the live graph and the panel legend."""

from __future__ import annotations

NOT_RUN = "not run"

# Order matters: it is the order of the legend.
STATUS_COLOURS: dict[str, str] = {
    NOT_RUN: "#ffffff",
    "running": "#ffe08a",
    "done": "#b7e4c7",
    "failed": "#f4a6a6",
    "waiting": "#a9d6f5",
    "cancelled": "#d9d9d9",
}

LEGEND_TITLES: dict[str, str] = {"waiting": "waiting (interrupt)"}


def status_colour(status: str | None) -> str:
    """The fill for a node status as ``execution.node_status()`` reports it (None: not run)."""
    return STATUS_COLOURS.get(status or NOT_RUN, STATUS_COLOURS[NOT_RUN])
