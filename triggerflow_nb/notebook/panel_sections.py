"""The sections of the watch panel, each a few standard ipywidgets plus an ``update`` method.

Sections never subscribe to anything: the panel decides when they update (its
coalesced flush) and tells them what changed. An update assigns trait values;
assigning a value equal to the current one sends nothing to the front end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets

from ..export.html import esc, pretty, preview, table
from .panel_static import start_input_html
from .theme import ACCENT, MUTED, lifecycle_badge, notice_colours, status_badge
from .widget_tree import close_tree

_MISSING = object()


def _column(basis: str = "260px") -> widgets.Layout:
    """The layout of one of the three layer columns (a fresh one each: layouts are widgets).

    The row they sit in wraps: a column never shrinks below ``basis`` (``auto``: its content's
    width), so on a narrow page the last columns move to a line of their own instead of
    being cut.
    """
    return widgets.Layout(flex=f"1 1 {basis}", min_width="240px", margin="0 12px 4px 0", overflow="auto")


def _heading(title: str, note: str = "") -> str:
    extra = f' <span style="color:{ACCENT};font-size:11px">{esc(note)}</span>' if note else ""
    return f'<div style="font-weight:600;margin:4px 0">{esc(title)}{extra}</div>'


class HeaderSection:
    """Flow name, execution id, lifecycle and status badges, and the close reason once closed."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()

    def update(self, execution: Any) -> None:
        lifecycle, status = execution.lifecycle_state, execution.status
        line = (f'<b>{esc(execution.flow.name)}</b> <code style="font-size:11px">{esc(execution.id)}</code>'
                f"{lifecycle_badge(lifecycle)}{status_badge(status)}{start_input_html(execution)}")
        meta = execution.result.get_meta()
        if meta.get("close_reason"):
            line += f'<div style="color:{MUTED};font-size:11px">{esc(meta["close_reason"])}</div>'
        self.widget.value = f"<div>{line}</div>"


class StateSection:
    """Every state key in one table of short previews; pick a key to expand its full value.

    A fixed handful of widgets however many keys there are: a run writing a thousand keys
    does not open a thousand widgets in the front end, and an expanded value stays
    expanded while the table updates.
    """

    MAX_ROWS = 200  # beyond this the table says how many more keys there are; the picker has them all

    def __init__(self, execution: Any) -> None:
        self._execution = execution
        self.previews: dict[str, str] = {}  # key -> one-line preview, in first-write order
        self.table = widgets.HTML()
        self.picker = widgets.Dropdown(options=(), value=None, description="expand",
                                       layout=widgets.Layout(width="95%"))
        self.detail = widgets.HTML()
        self._replacing_options = False
        self.picker.observe(self._picked, names="value")
        self.widget = widgets.VBox(
            children=(widgets.HTML(_heading("state", "this execution; saved")), self.table, self.picker,
                      self.detail),
            layout=_column("300px"),
        )

    def update(self, keys: Iterable[str] | None) -> None:
        """Refresh ``keys`` (None: every key) from the execution's state."""
        result = self._execution.result
        if keys is None:
            self.previews = {key: preview(value, 70) for key, value in result.get_state().items()}
        else:
            keys = list(keys)
            for key in keys:
                value = result.get_state(key, _MISSING)
                if value is _MISSING:
                    self.previews.pop(key, None)
                else:
                    self.previews[key] = preview(value, 70)
        rows = [[f"<code>{esc(key)}</code>", f"<code>{esc(text)}</code>"]
                for key, text in list(self.previews.items())[: self.MAX_ROWS]]
        more = len(self.previews) - len(rows)
        self.table.value = table(["key", "value"], rows, "no state yet") + (
            f'<div style="color:{MUTED};font-size:11px">… and {more} more keys: pick one below</div>'
            if more > 0 else "")
        names = tuple(self.previews)
        chosen = self.picker.value
        if tuple(self.picker.options) != names:
            self._replacing_options = True  # a new options list resets the value; put it back
            try:
                with self.picker.hold_sync():
                    self.picker.options = names
                    self.picker.value = chosen if chosen in self.previews else None
            finally:
                self._replacing_options = False
            if self.picker.value != chosen:
                self._show(self.picker.value)
                return
        if chosen is not None and (keys is None or chosen in keys):
            self._show(chosen)

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._replacing_options:
            self._show(change["new"])

    def _show(self, key: str | None) -> None:
        if key is None:
            self.detail.value = ""
            return
        value = self._execution.result.get_state(key, _MISSING)
        body = "(deleted)" if value is _MISSING else pretty(value)
        self.detail.value = f'<pre style="margin:0;font-size:11px">{esc(body)}</pre>'


class FlowDataSection:
    def __init__(self) -> None:
        self.widget = widgets.HTML(layout=_column("220px"))

    def update(self, flow: Any) -> None:
        values = flow.peek_flow_data()
        rows = [[f"<code>{esc(k)}</code>", esc(preview(v, 60))] for k, v in values.items()]
        self.widget.value = (_heading("flow_data", "shared by all executions, not saved")
                             + table(["key", "value"], rows, "no flow_data"))


class ResourcesSection:
    def __init__(self) -> None:
        # As wide as its table: the resource types are the lesson, so they wrap to a new line, never clip.
        self.widget = widgets.HTML(layout=_column("auto"))

    def update(self, execution: Any) -> None:
        described = execution.runtime_resources.describe()
        rows = [
            [f"<code>{esc(key)}</code>", f"<code>{esc(info.get('type', '?'))}</code>", esc(info.get("level", "")),
             "managed" if info.get("managed") else "unmanaged"]
            for key, info in described.items()
        ]
        self.widget.value = (_heading("runtime_resources", "live, not saved")
                             + table(["key", "type", "level", ""], rows, "no resources"))


class StreamSection:
    """The last ``limit`` items of the runtime stream."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.widget = widgets.HTML()

    def update(self, execution: Any) -> None:
        total = execution.stream_length
        first = max(total - self.limit, 0)
        shown = "".join(f"<li>{esc(preview(item, 200))}</li>" for item in execution.get_stream_items(self.limit))
        note = f"{total} item{'s' if total != 1 else ''}" + (f", last {self.limit} shown" if first else "")
        listing = f'<ol start="{first + 1}" style="margin:0;font-size:12px">{shown}</ol>' if total else ""
        self.widget.value = _heading("runtime stream", note) + listing


class InterruptRow:
    def __init__(self, interrupt: dict[str, Any], on_continue: Callable[[InterruptRow], None]):
        self.interrupt_id = interrupt["id"]
        self.info = widgets.HTML(
            f"<b>{esc(interrupt.get('type'))}</b> in <code>{esc(interrupt.get('chunk'))}</code> "
            f"<span style='color:{MUTED};font-size:11px'>id {esc(self.interrupt_id)}, "
            f"resumes to {esc(preview(interrupt.get('resume_to'), 40))}</span><br>"
            f"payload: <code>{esc(preview(interrupt.get('payload'), 200))}</code>"
        )
        self.payload = widgets.Text(placeholder='reply: JSON (e.g. {"approved": true}) or plain text',
                                    layout=widgets.Layout(width="60%"))
        self.button = widgets.Button(description="Continue", button_style="primary",
                                     tooltip="execution.continue_with(interrupt id, reply)")
        self.button.on_click(lambda _button: on_continue(self))
        self.widget = widgets.VBox(children=(self.info, widgets.HBox(children=(self.payload, self.button))))


class InterruptsSection:
    def __init__(self, on_continue: Callable[[InterruptRow], None]) -> None:
        self._on_continue = on_continue
        self.rows: dict[str, InterruptRow] = {}
        self.body = widgets.VBox()
        self.widget = widgets.VBox(children=(widgets.HTML(_heading("pending interrupts")), self.body))

    def update(self, execution: Any) -> None:
        pending = execution.get_pending_interrupts()
        gone = [self.rows.pop(i) for i in [i for i in self.rows if i not in pending]]
        for interrupt_id, interrupt in pending.items():
            if interrupt_id not in self.rows:
                self.rows[interrupt_id] = InterruptRow(interrupt, self._on_continue)
        self.body.children = tuple(self.rows[i].widget for i in pending)
        self.widget.layout.display = "" if pending else "none"
        close_tree(*(row.widget for row in gone))  # a resumed interrupt's row is closed, not just hidden


class NoticesSection:
    """Errors and warnings that teach: rejected state writes, failed chunks, flow_data races."""

    def __init__(self, keep: int = 20) -> None:
        self._notices: deque[tuple[str, str]] = deque(maxlen=keep)
        self._standing: dict[str, str] = {}  # warnings that stay while their cause lasts, by topic
        self.widget = widgets.HTML()

    def add(self, level: str, text: str) -> None:
        self._notices.append((level, text))

    def set_standing(self, topic: str, text: str) -> None:
        self._standing[topic] = text

    def entries(self) -> list[tuple[str, str]]:
        """(level, text) of what the section shows: standing warnings first, then the latest notices."""
        return [("warning", text) for text in self._standing.values()] + list(self._notices)

    def update(self) -> None:
        parts = [_notice("warning", text) for text in self._standing.values()]
        parts += [_notice(level, text) for level, text in self._notices]
        self.widget.value = "".join(parts)


def _notice(level: str, text: str) -> str:
    (background, ink), mark = notice_colours(level), ("✖" if level == "error" else "⚠")
    return (f'<div class="tf-notice" style="background:{background};color:{ink};padding:4px 8px;margin:2px 0;'
            f'border-radius:4px;font-size:12px;white-space:pre-wrap">{mark} {esc(text)}</div>')
