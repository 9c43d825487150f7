"""for_each/batch progress in the panel, read like tqdm: ``translate: 8/20 [00:03<00:04, 2.5 it/s]``.

The runtime publishes ``FanOutProgress`` when a fan-out starts (0 done) and each time one
more item finishes. The section keeps, per activation, the counts and when it was first
and last seen, and shows one bar per block: its name, items done over items started
(summed over the block's activations), the time since its first activation started,
the time left at the rate so far, and that rate. Times come from the panel's clock, not
from the events (they carry none), so they are as exact as the coalescing interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from ..export.html import esc
from ..reproducibility import TIME_HIDDEN, shows_wall_clock


def clock_text(seconds: float) -> str:
    """``MM:SS``, or ``H:MM:SS`` from an hour on (tqdm's way)."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def rate_text(done: int, elapsed: float) -> str:
    """Items per second (seconds per item when slower than one a second); ``?`` before any is done."""
    if done <= 0 or elapsed <= 0:
        return "? it/s"
    rate = done / elapsed
    return f"{_number(rate)} it/s" if rate >= 1 else f"{_number(1 / rate)} s/it"


def _number(value: float) -> str:
    """Three significant digits, never in exponent form (2500, 124, 2.5, 0.333)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def meter_text(done: int, total: int, elapsed: float) -> str:
    """``done/total [elapsed<remaining, rate]``; the remaining time is ``?`` until an item is done.

    In reproducible mode the times are left out: they differ on every run."""
    if not shows_wall_clock():
        return f"{done}/{total} [{TIME_HIDDEN}]"
    remaining = "?" if done <= 0 or elapsed <= 0 else clock_text((total - done) * elapsed / done)
    return f"{done}/{total} [{clock_text(elapsed)}<{remaining}, {rate_text(done, elapsed)}]"


@dataclass
class _Activation:
    node_id: str
    done: int
    total: int
    started: float
    last: float  # when it was last heard of: its end, once done == total


@dataclass(frozen=True)
class BlockProgress:
    """One block's progress, summed over its activations."""

    label: str
    done: int
    total: int
    elapsed: float

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def text(self) -> str:
        return f"{self.label}: {meter_text(self.done, self.total, self.elapsed)}"


class ProgressSection:
    """One bar and one tqdm-like line per batch/for_each block of the execution."""

    def __init__(self, flow: Any = None, clock: Callable[[], float] = time.monotonic):
        self._flow = flow
        self._clock = clock
        self._activations: dict[str, _Activation] = {}
        self.bars: dict[str, widgets.IntProgress] = {}
        self.meters: dict[str, widgets.HTML] = {}
        self._rows: dict[str, widgets.HBox] = {}
        self.widget = widgets.VBox()

    def note(self, activation_id: str, node_id: str, done: int, total: int) -> None:
        """A FanOutProgress arrived: cheap bookkeeping only; ``update`` draws."""
        now = self._clock()
        known = self._activations.get(activation_id)
        if known is None:
            self._activations[activation_id] = _Activation(node_id, done, total, now, now)
        else:
            known.done, known.total, known.last = done, total, now

    def replace_all(self, progress: dict[str, tuple[str, int, int]]) -> None:
        """Start over from ``execution.fan_out_progress()`` (a panel opened late, a load, a retry)."""
        self._activations = {}
        for activation_id, (node_id, done, total) in progress.items():
            self.note(activation_id, node_id, done, total)

    def label(self, node_id: str) -> str:
        """The block's name (``name=`` given to for_each/batch, else the kind of block)."""
        graph = getattr(self._flow, "_graph", None)
        node = graph.nodes.get(node_id) if graph is not None else None
        return node.label if node is not None else node_id

    def blocks(self) -> dict[str, BlockProgress]:
        """Per node id, in the order the blocks first started."""
        now = self._clock()
        grouped: dict[str, list[_Activation]] = {}
        for activation in self._activations.values():
            grouped.setdefault(activation.node_id, []).append(activation)
        shown: dict[str, BlockProgress] = {}
        for node_id, activations in grouped.items():
            done = sum(a.done for a in activations)
            total = sum(a.total for a in activations)
            start = min(a.started for a in activations)
            end = max(a.last for a in activations) if done >= total else now
            shown[node_id] = BlockProgress(self.label(node_id), done, total, end - start)
        return shown

    def update(self) -> None:
        for node_id, block in self.blocks().items():
            bar = self.bars.get(node_id)
            if bar is None:
                bar = self.bars[node_id] = widgets.IntProgress(
                    min=0, description=block.label[:24], style={"description_width": "initial"})
                self.meters[node_id] = widgets.HTML()
                self._rows[node_id] = widgets.HBox(children=(bar, self.meters[node_id]))
            bar.max = max(block.total, 1)
            bar.value = block.done
            bar.bar_style = "success" if block.finished else "info"
            self.meters[node_id].value = (f'<span style="font-family:var(--jp-code-font-family, monospace);'
                                          f'font-size:12px">{esc(meter_text(block.done, block.total, block.elapsed))}'
                                          f"</span>")
        rows = tuple(self._rows.values())
        if self.widget.children != rows:
            self.widget.children = rows

    def lines(self) -> list[str]:
        """The same progress as text, for the static fallback."""
        return [block.text() for block in self.blocks().values()]
