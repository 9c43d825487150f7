"""What a person reads on a watch panel, taken from the HTML the widgets hold (not from the panel's
own bookkeeping), and a check that it agrees with the execution it watches.

The HTML is parsed for text only (tables as rows of cell texts, badges as words), so styling
changes do not break it.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from triggerflow_nb.export.html import preview


class _Text(HTMLParser):
    """Tables as rows of cell texts; every <span>'s text; the plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.spans: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._span: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span":
            self._span = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "span" and self._span is not None:
            self.spans.append("".join(self._span))
            self._span = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._span is not None:
            self._span.append(data)


def parse(html: str) -> _Text:
    reader = _Text()
    reader.feed(html)
    return reader


def table_body(html: str) -> list[list[str]]:
    """The rows of the first table in ``html`` without its heading row; [] when there is no table."""
    tables = parse(html).tables
    return tables[0][1:] if tables else []


def disagreements(panel: Any) -> list[str]:
    """Every way the panel's widgets contradict its execution right now (empty: they agree)."""
    execution = panel.execution
    problems: list[str] = []

    badges = set(parse(panel.header.widget.value).spans)
    for word in (execution.lifecycle_state, execution.status):
        if word not in badges:
            problems.append(f"header shows {sorted(badges)}, the execution is {word}")

    state = execution.result.get_state()
    shown = [tuple(row) for row in table_body(panel.state.table.value)]
    expected = [(key, preview(value, 70)) for key, value in state.items()]
    if sorted(shown) != sorted(expected):
        problems.append(f"state table shows {shown}, the execution holds {expected}")

    resources = [row[0] for row in table_body(panel.resources.widget.value)]
    if sorted(resources) != sorted(execution.runtime_resources.keys()):
        problems.append(f"resources table shows {resources}, the execution has {execution.runtime_resources.keys()}")

    pending = sorted(execution.get_pending_interrupts())
    rows = sorted(panel.interrupts.rows)
    visible = panel.interrupts.widget.layout.display != "none"
    if rows != pending or visible != bool(pending):
        problems.append(f"interrupts show {rows} (visible={visible}), pending are {pending}")
    for interrupt_id in pending:
        row = panel.interrupts.rows.get(interrupt_id)
        if row is not None and (row.button.disabled or row.button.description != "Continue"):
            problems.append(f"the Continue button of {interrupt_id!r} is not ready: {row.button.description!r}")

    stream_text = "".join(parse(panel.stream.widget.value).text)
    count = execution.stream_length
    if f"{count} item" not in stream_text:
        problems.append(f"stream says {stream_text[:60]!r}, the execution has {count} items")

    graph = panel.graph
    if graph is not None and graph._layout is not None:
        expected_svg = graph._layout.colour(execution.node_status(), panel.run_counts.counts)
        if expected_svg not in graph.value:
            problems.append(f"graph is coloured for another status than {execution.node_status()}")
    return problems
