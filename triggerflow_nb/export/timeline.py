"""An execution's steps on a timeline: one bar per chunk run, one lane per run going on at once.

Pure rendering of plain values (the facade hands the bars in from the step history), so it
draws the same in a notebook, a static HTML page or a script. Bars are laid out greedily:
each goes into the first lane free when it starts, so a chain is one lane and a for_each of
ten items running together is ten. Failed runs are red, paused ones blue, running ones
yellow (the graph's palette); a pause is the gap until the path goes on.

Two clocks: seconds since the execution was created, or, in reproducible mode (where
displays show no times), steps: a bar runs from its own number to the number of steps
begun when it ended, so the picture is the order of events and the same on every run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

from .palette import STATUS_COLOURS

# A step's status as the history says it, to the graph's colour of a node in that state.
_FILLS = {"completed": STATUS_COLOURS["done"], "failed": STATUS_COLOURS["failed"],
          "paused": STATUS_COLOURS["waiting"], "cancelled": STATUS_COLOURS["cancelled"],
          "running": STATUS_COLOURS["running"]}
_WIDTH = 720
_LABELS = 70  # the lane names' column
_LANE = 22
_TOP = 8
_AXIS = 26


@dataclass(frozen=True)
class Bar:
    seq: int
    chunk: str
    status: str
    start: float
    end: float
    error: str | None = None


class Timeline:
    """What ``execution.timeline()`` returns: an SVG picture in a notebook, a text listing elsewhere."""

    def __init__(self, bars: list[Bar], clock: Literal["seconds", "steps"]):
        self.bars = sorted(bars, key=lambda bar: (bar.start, bar.seq))
        self.clock = clock
        self.lanes = _lanes(self.bars)

    def lane_of(self, seq: int) -> int:
        return next(index for index, lane in enumerate(self.lanes) if any(bar.seq == seq for bar in lane))

    def to_svg(self) -> str:
        if not self.bars:
            return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='30'>"
                    f"<text x='4' y='19' font-family='sans-serif' font-size='12'>no step has run yet</text></svg>")
        low = min(bar.start for bar in self.bars)
        high = max(bar.end for bar in self.bars)
        span = (high - low) or 1.0
        scale = (_WIDTH - _LABELS - 10) / span
        height = _TOP + _LANE * len(self.lanes) + _AXIS
        parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{height}' "
                 f"font-family='sans-serif' font-size='11'>"]
        for index, lane in enumerate(self.lanes):
            y = _TOP + _LANE * index
            parts.append(f"<text x='4' y='{y + 15}' fill='#555'>lane {index + 1}</text>")
            for bar in lane:
                x = _LABELS + (bar.start - low) * scale
                width = max(2.0, (bar.end - bar.start) * scale)
                tip = f"step {bar.seq}: {bar.chunk} {bar.status}" + (f" ({bar.error})" if bar.error else "")
                parts.append(
                    f"<g><title>{html.escape(tip)}</title><rect x='{x:.1f}' y='{y + 2}' width='{width:.1f}' "
                    f"height='{_LANE - 4}' rx='3' fill='{_FILLS.get(bar.status, '#ffffff')}' stroke='#666'/>")
                if width > 7 * len(bar.chunk) + 6:
                    parts.append(f"<text x='{x + 4:.1f}' y='{y + 15}'>{html.escape(bar.chunk)}</text>")
                parts.append("</g>")
        axis_y = _TOP + _LANE * len(self.lanes) + 16
        parts.append(f"<text x='{_LABELS}' y='{axis_y}' fill='#555'>{html.escape(self._axis(low, high))}</text>")
        parts.append("</svg>")
        return "".join(parts)

    def _axis(self, low: float, high: float) -> str:
        if self.clock == "steps":
            return f"{len(self.bars)} step(s) in the order they began and ended (times hidden in reproducible mode)"
        return f"{(high - low) * 1000:.1f} ms from the first step's start to the last one's end"

    def _repr_html_(self) -> str:
        return f"<div class='tfnb-timeline'>{self.to_svg()}</div>"

    def __repr__(self) -> str:
        lines = [f"Timeline: {len(self.bars)} step(s) in {len(self.lanes)} lane(s)"]
        for index, lane in enumerate(self.lanes):
            runs = ", ".join(f"{bar.seq} {bar.chunk} ({bar.status})" for bar in lane)
            lines.append(f"  lane {index + 1}: {runs}")
        return "\n".join(lines)


def _lanes(bars: list[Bar]) -> list[list[Bar]]:
    """Greedy interval partitioning: each bar (by start) into the first lane that is free by then."""
    lanes: list[list[Bar]] = []
    ends: list[float] = []
    for bar in bars:
        for index, end in enumerate(ends):
            if end <= bar.start:
                lanes[index].append(bar)
                ends[index] = bar.end
                break
        else:
            lanes.append([bar])
            ends.append(bar.end)
    return lanes
