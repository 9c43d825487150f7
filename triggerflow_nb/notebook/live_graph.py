"""The live graph: an ``ipywidgets.HTML`` holding the flow's SVG, coloured by the execution's node status.

Running ``dot`` costs tens of milliseconds, far too much to repeat on every status
change of a busy run. Status never changes the layout, only fills, so the SVG is laid
out once per graph version (every node that can have a status carries an SVG id) and
each refresh splices the current status colours into that layout: a string join.
"""

from __future__ import annotations

import functools
from typing import Any

import ipywidgets as widgets

from ..export.dot import status_node_ids, write_dot_body
from ..export.drawing import draw
from ..export.html import esc
from ..export.palette import status_colour
from ..export.svg import GraphvizUnavailable, fallback_text, render_svg
from ..observe import (
    ChunkFailed,
    ChunkFinished,
    ChunkStarted,
    ExecutionClosed,
    FanOutProgress,
    InterruptOpened,
    InterruptResumed,
)
from ..reproducibility import new_token
from .coalesce import Coalescer
from .panel_static import graph_bundle
from .static_fallback import StaticFallback
from .widget_tree import close_tree

_STATUS_EVENTS = (ChunkStarted, ChunkFinished, ChunkFailed, InterruptOpened, InterruptResumed, FanOutProgress)


class StatusLayout:
    """An SVG cut at each status node's fill and at the end of its label, ready to be joined with
    current colours and run counts (``summarize ×2``)."""

    def __init__(self, svg: str, fills: list[tuple[str, int, int]], label_ends: list[tuple[str, int]] | None = None):
        # fills: (node status id, start, end) of each fill value; label_ends: (node status id, position)
        cuts = sorted([(start, end, status_id, True) for status_id, start, end in fills]
                      + [(at, at, status_id, False) for status_id, at in label_ends or ()])
        self.pieces: list[str] = []
        self.cuts: list[tuple[str, bool]] = []  # (status id, True: a fill / False: after a label)
        cursor = 0
        for start, end, status_id, is_fill in cuts:
            self.pieces.append(svg[cursor:start])
            self.cuts.append((status_id, is_fill))
            cursor = end
        self.pieces.append(svg[cursor:])

    def colour(self, statuses: dict[str, str], runs: dict[str, int] | None = None) -> str:
        out = [self.pieces[0]]
        for (status_id, is_fill), piece in zip(self.cuts, self.pieces[1:], strict=False):
            if is_fill:
                out.append(status_colour(statuses.get(status_id)))
            elif runs and runs.get(status_id, 0) > 1:
                out.append(f'<tspan font-size="9"> ×{runs[status_id]}</tspan>')
            out.append(piece)
        return "".join(out)


# Laid out under this stand-in prefix, then given the widget's own: one ``dot`` run serves every
# panel of a flow version (a notebook re-runs its watch cell; a store browser opens many panels).
# Same length as a real prefix ("tf" + 8 hex digits + "n"), and never one: z is no hex digit.
_LAYOUT_PREFIX = "tfzzzzzzzzn"


@functools.lru_cache(maxsize=32)
def _laid_out(dot_body: tuple[str, ...]) -> str:
    return render_svg(list(dot_body))


def layout_flow(flow: Any, id_prefix: str) -> StatusLayout:
    """Render the flow once with every node "not run", and find where each status node's fill is."""
    drawing = draw(flow)
    body = tuple(write_dot_body(drawing, {}, svg_id_prefix=_LAYOUT_PREFIX))
    svg = _laid_out(body).replace(_LAYOUT_PREFIX, id_prefix)
    fills: list[tuple[str, int, int]] = []
    label_ends: list[tuple[str, int]] = []
    for key, svg_id in status_node_ids(drawing, id_prefix).items():
        group = svg.find(f'<g id="{svg_id}" class="node">')
        if group < 0:
            continue
        end_of_group = svg.find("</g>", group)
        attr = svg.find(' fill="', group, end_of_group)
        if attr < 0:
            continue
        start = attr + len(' fill="')
        status_id = drawing.nodes[key].status_id
        if status_id is not None:
            fills.append((status_id, start, svg.index('"', start)))
            label_end = svg.rfind("</text>", start, end_of_group)  # the last line of the label
            if label_end >= 0:
                label_ends.append((status_id, label_end))
    return StatusLayout(svg, fills, label_ends)


class LiveGraph(StaticFallback, widgets.HTML):
    """The flow's graph, recoloured as the execution runs.

    With ``subscribe=True`` it follows the execution by itself (coalesced to at most one
    redraw per ``interval``); the watch panel passes ``subscribe=False`` and calls
    ``refresh()`` from its own coalesced flush. Displayed on its own, its output also carries
    the coloured graph as static HTML/text (refreshed when the execution closes).
    """

    def __init__(self, execution: Any, *, subscribe: bool = True, interval: float = 0.1):
        super().__init__()
        self.execution = execution
        self._id_prefix = f"tf{new_token('graph ids')[:8]}n"  # unique per widget: several graphs may share a page
        self._layout: StatusLayout | None = None
        self._layout_version: int | None = None
        self._fallback_reason: str | None = None
        self._unsubscribe = None
        self.runs: dict[str, int] = {}  # node id -> ChunkStarted seen while following
        self.refresh()
        if subscribe and not execution.is_closed():
            self._coalescer = Coalescer(self.refresh, interval)
            self._unsubscribe = execution.channel.subscribe(self._on_event)

    def refresh(self, runs: dict[str, int] | None = None) -> None:
        """Redraw if the wiring or any node status changed (assigning an equal value sends nothing).

        ``runs``: how often each node ran; a node that ran more than once is labelled ``name ×N``.
        Without it, the runs this graph counted itself (when it follows the execution).
        """
        if runs is None:
            runs = self.runs
        flow = self.execution.flow
        version = flow.flow_graph.version
        if version != self._layout_version:
            self._layout_version = version
            try:
                self._layout = layout_flow(flow, self._id_prefix)
                self._fallback_reason = None
            except GraphvizUnavailable as exc:
                self._layout = None
                self._fallback_reason = exc.reason
        statuses = self.execution.node_status()
        if self._layout is not None:
            self.value = f'<div style="overflow:auto;max-height:640px">{self._layout.colour(statuses, runs)}</div>'
        else:
            body = write_dot_body(draw(flow), statuses)
            self.value = f'<pre style="font-size:11px">{esc(fallback_text(self._fallback_reason or "", body))}</pre>'

    def _on_event(self, event: Any) -> None:
        if self._unsubscribe is None:  # stopped during this very event's delivery
            return
        if type(event) is ChunkStarted:
            self.runs[event.node_id] = self.runs.get(event.node_id, 0) + 1
        if isinstance(event, _STATUS_EVENTS):
            self._coalescer.mark()
        elif isinstance(event, ExecutionClosed):
            self._coalescer.flush_now()
            self.stop()
            self.refresh_static_fallback()

    def static_bundle(self) -> dict[str, str]:
        return graph_bundle(self.execution)

    def stop(self) -> None:
        """Stop following the execution (the picture stays as it is)."""
        unsubscribe = getattr(self, "_unsubscribe", None)  # close() may run on a half-built widget
        if unsubscribe is not None:
            unsubscribe()
            self._unsubscribe = None
            self._coalescer.cancel()

    def _before_close(self) -> None:
        self.stop()

    def close(self) -> None:
        """Stop following and close the widget with its layout and style (closing twice is harmless)."""
        close_tree(self)
