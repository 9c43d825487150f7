"""The auto-close countdown on the panel: ``auto-closing in 7 s`` and why.

An execution made with ``auto_close=True`` (the default) closes after
``auto_close_timeout`` seconds of idleness, and ``execution.start()`` waits for that
close before it returns: the cell stays busy while nothing seems to happen. The
countdown says what is going on and how to avoid the wait. It ticks once a second on
the kernel's loop while the timer runs, and hides when the timer is gone.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from typing import Any

import ipywidgets as widgets

from ..export.html import esc
from .coalesce import running_loop


class AutoCloseCountdown:
    def __init__(self, execution: Any) -> None:
        self._execution = execution
        self._tick: asyncio.TimerHandle | None = None
        self.widget = widgets.HTML()

    def started(self) -> None:
        """The auto-close timer was (re)started: show the countdown and keep it current."""
        self.update()

    def update(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        execution = self._execution
        remaining = execution.auto_close_in() if not execution.is_closed() else None
        if remaining is None:
            self.widget.value = ""
            return
        seconds = math.ceil(remaining)
        text = (f"⏳ auto-closing in {seconds} s: the execution is idle, and auto_close closes it after "
                f"auto_close_timeout={execution.auto_close_timeout:g} s (start() returns once it has closed). "
                f"Keep it open with flow.create_execution(auto_close=False), then close() it yourself.")
        self.widget.value = f'<div style="font-size:12px;color:#4a5568;margin:2px 0">{esc(text)}</div>'
        loop = running_loop()
        if loop is not None:  # the next whole second; in an empty context, as panel flushes run (see coalesce)
            delay = remaining - (seconds - 1) if seconds > 0 else 0.05
            self._tick = loop.call_later(max(delay, 0.05), self.update, context=contextvars.Context())

    def cancel(self) -> None:
        """Stop ticking (the panel is closing): the widget keeps its text."""
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def stop(self) -> None:
        self.cancel()
        self.widget.value = ""
