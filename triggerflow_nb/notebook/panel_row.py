"""Panels side by side: ``side_by_side(a.watch(), b.watch())``, e.g. two runs racing on flow_data.

A plain ``HBox`` of panels would fall back to ``HBox(children=(ExecutionPanel(...`` where
widgets cannot be drawn; this row carries its panels' static fallbacks next to each
other, refreshed whenever one of its panels refreshes its own.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..errors import InvalidArgumentError
from ..runtime.execution import Execution
from .panel import ExecutionPanel, watch
from .static_fallback import StaticFallback
from .widget_tree import close_tree


class PanelRow(StaticFallback, widgets.HBox):
    """Execution panels next to each other; each takes an equal share of the width and wraps when narrow."""

    def __init__(self, panels: tuple[ExecutionPanel, ...]):
        self.panels = panels
        for panel in panels:
            panel.layout.flex = "1 1 420px"
            panel.layout.min_width = "0"
            panel.layout.margin = "0 12px 0 0"
            panel.add_fallback_container(self)
        super().__init__(children=panels, layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))

    def close(self) -> None:
        """Close the row and every panel in it (each stops following its execution); twice is harmless."""
        close_tree(self)

    def static_bundle(self) -> dict[str, str]:
        bundles = [panel.static_bundle() for panel in self.panels]
        cells = "".join(f'<div style="flex:1 1 420px;min-width:0;margin:0 12px 0 0">{b["text/html"]}</div>'
                        for b in bundles)
        rule = "\n" + "-" * 72 + "\n"
        row_style = "display:flex;flex-wrap:wrap;align-items:flex-start"
        return {"text/html": f'<div class="tf-static-row" style="{row_style}">{cells}</div>',
                "text/plain": rule.join(b["text/plain"] for b in bundles)}


def side_by_side(*panels: Any) -> PanelRow:
    """Show execution panels (``execution.watch()``) next to each other, e.g. two concurrent runs.

    Return it as a cell's last value or pass it to ``display``. Executions may be given
    instead of panels: each then gets a new panel.
    """
    if len(panels) < 2:
        raise InvalidArgumentError(f"side_by_side() takes two or more panels (execution.watch()), got {len(panels)}")
    shown: list[ExecutionPanel] = []
    for panel in panels:
        if isinstance(panel, Execution):
            panel = watch(panel)
        elif not isinstance(panel, ExecutionPanel):
            raise InvalidArgumentError(
                f"side_by_side() takes execution panels (execution.watch()) or executions, got {type(panel).__name__}")
        if any(panel is other for other in shown):
            raise InvalidArgumentError("side_by_side() got the same panel twice; a widget shows in one place per row")
        shown.append(panel)
    return PanelRow(tuple(shown))
