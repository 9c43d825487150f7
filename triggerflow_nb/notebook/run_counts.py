"""How often each node ran, as a panel shows it: ``fetch ×1 · clean ×1 · summarize ×2``.

Counted from the ``ChunkStarted`` events a view receives, so the runtime pays
nothing for it when nobody watches; a view opened after a run started counts
from then on (and says so).
"""

from __future__ import annotations

import ipywidgets as widgets

from ..export.html import esc


class RunCountsSection:
    def __init__(self, counted_from_start: bool) -> None:
        self.counts: dict[str, int] = {}
        self.counted_from_start = counted_from_start
        self.widget = widgets.HTML()

    def started(self, node_id: str) -> None:
        self.counts[node_id] = self.counts.get(node_id, 0) + 1

    def update(self) -> None:
        if not self.counts:
            self.widget.value = ""
            return
        parts = " · ".join(
            f"<code>{esc(node)}</code> ×{count}" if count < 2 else f"<b><code>{esc(node)}</code> ×{count}</b>"
            for node, count in self.counts.items())
        since = "" if self.counted_from_start else " (since this panel opened)"
        self.widget.value = f'<div style="font-size:12px;margin:2px 0">runs{since}: {parts}</div>'
