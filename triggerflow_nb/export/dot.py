"""Graphviz DOT text for a flow, printed from the drawing (pure Python, no graphviz import).

``dot_body`` is the one writer: ``to_dot`` wraps its lines in ``digraph { ... }``, and the
notebook hands the very same lines to ``graphviz.Digraph(body=...)``, so the text you export
is the text that is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..definition.flow import FlowDefinition
from ..errors import InvalidArgumentError
from .drawing import Drawing, DrawnNode, Group, draw
from .palette import LEGEND_TITLES, NOT_RUN, STATUS_COLOURS, status_colour

_FONT = "Helvetica"

# kind -> (shape attributes, fill when no status applies; None keeps the node default)
_SHAPES: dict[str, tuple[str, str | None]] = {
    "start": ('shape=circle fixedsize=true width=0.6 fontcolor="#ffffff" fontsize=9', "#333333"),
    "chunk": ("", None),
    "event": ("shape=hexagon", "#ede4fb"),
    "if": ("shape=diamond", "#fff8e6"),
    "match": ("shape=diamond", "#fff8e6"),
    "batch": ("shape=trapezium", "#eef3f8"),
    "for_each": ("shape=trapezium", "#eef3f8"),
    "sub_flow": ("shape=component", "#eef3f8"),
    "collect": ("shape=invtrapezium", "#eef3f8"),
    "side_branch": ("shape=point width=0.09", "#4a5568"),  # a point shows no label
}

_GROUP_STYLES: dict[str, str] = {
    "batch": 'style="rounded,dashed" color="#7a8ca3"',
    "for_each": 'style="rounded,dashed" color="#7a8ca3"',
    "sub_flow": 'style="rounded" color="#7a8ca3" bgcolor="#f8fafc"',
}

LEGEND_KEY = "$legend"


def to_dot(flow: FlowDefinition, execution: Any = None) -> str:
    """The flow as DOT text; given an execution, chunks are coloured by status and a legend is added."""
    return "digraph {\n" + "".join(dot_body(flow, execution)) + "}\n"


def dot_body(flow: FlowDefinition, execution: Any = None, *, svg_id_prefix: str | None = None) -> list[str]:
    """The statements inside ``digraph { }``, one per line (each ends with a newline).

    ``svg_id_prefix`` gives every node that can have a status an ``id`` attribute
    (``<prefix><n>``, see ``status_node_ids``) so a rendered SVG can be recoloured in place.
    """
    statuses = None
    if execution is not None:
        if execution.flow is not flow:
            raise InvalidArgumentError(
                f"execution {execution.id} belongs to flow {execution.flow.name!r}, not {flow.name!r}: "
                f"draw it with its own flow (execution.flow.graph(execution))"
            )
        statuses = execution.node_status()
    return write_dot_body(draw(flow), statuses, svg_id_prefix=svg_id_prefix)


def write_dot_body(drawing: Drawing, statuses: Mapping[str, str] | None, *,
                   svg_id_prefix: str | None = None) -> list[str]:
    """Print a drawing. ``statuses`` (node id -> status) colours the nodes; None draws the bare flow."""
    ids = status_node_ids(drawing, svg_id_prefix) if svg_id_prefix is not None else {}
    lines = [
        f"\tgraph [label={_q(drawing.title)} labelloc=t fontname={_q(_FONT)} fontsize=14 rankdir=TB "
        f"nodesep=0.3 ranksep=0.35]\n",
        f'\tnode [fontname={_q(_FONT)} fontsize=11 shape=box style="rounded,filled" '
        f'fillcolor="#ffffff" color="#4a5568" margin="0.12,0.04" height=0.3]\n',
        f'\tedge [fontname={_q(_FONT)} fontsize=9 color="#4a5568" arrowsize=0.7]\n',
    ]
    _write_group(drawing, drawing.root, statuses, ids, lines, "\t")
    for edge in drawing.edges:
        attrs = []
        if edge.label:
            attrs.append(f"label={_q(edge.label)}")
        if edge.dashed:
            attrs.append("style=dashed")
        suffix = f" [{' '.join(attrs)}]" if attrs else ""
        lines.append(f"\t{_id(edge.source)} -> {_id(edge.target)}{suffix}\n")
    if statuses is not None:
        lines.append(_legend_line())
    return lines


def status_node_ids(drawing: Drawing, prefix: str) -> dict[str, str]:
    """Drawn node key -> the SVG element id ``dot_body(svg_id_prefix=prefix)`` gives it."""
    keys = [n.key for n in drawing.nodes.values() if n.status_id is not None]
    return {key: f"{prefix}{index}" for index, key in enumerate(keys)}


def _write_group(drawing: Drawing, group: Group, statuses: Mapping[str, str] | None, ids: dict[str, str],
                 lines: list[str], indent: str) -> None:
    for key in group.nodes:
        lines.append(f"{indent}{_node_statement(drawing.nodes[key], statuses, ids.get(key))}\n")
    for child in group.groups:
        lines.append(f"{indent}subgraph {_id('cluster_' + child.key)} {{\n")
        inner = indent + "\t"
        lines.append(f"{inner}graph [label={_q(child.label)} fontsize=10 {_GROUP_STYLES[child.kind]}]\n")
        _write_group(drawing, child, statuses, ids, lines, inner)
        lines.append(f"{indent}}}\n")


def _node_statement(node: DrawnNode, statuses: Mapping[str, str] | None, svg_id: str | None) -> str:
    attrs = [f"label={_q(node.label)}"]
    shape, fill = _SHAPES.get(node.kind, ("", None))
    if shape:
        attrs.append(shape)
    if statuses is not None and node.status_id is not None:
        status = statuses.get(node.status_id) or NOT_RUN
        attrs.append(f"fillcolor={_q(status_colour(status))}")
    elif fill is not None:
        attrs.append(f"fillcolor={_q(fill)}")
    if svg_id is not None:
        attrs.append(f"id={_q(svg_id)}")
    return f"{_id(node.key)} [{' '.join(attrs)}]"


def _legend_line() -> str:
    cells = "".join(
        f'<td bgcolor="{colour}">{_html(LEGEND_TITLES.get(status, status))}</td>'
        for status, colour in STATUS_COLOURS.items()
    )
    table = f'<table border="0" cellborder="1" cellspacing="0" cellpadding="3"><tr>{cells}</tr></table>'
    return f"\t{_id(LEGEND_KEY)} [label=<{table}> shape=plaintext style=solid fontsize=9]\n"


def _id(text: str) -> str:
    """A node id, quoted like any string: ids are only matched, never displayed, so the
    doubled backslashes (needed so no id ends in an odd run that eats the quote) are harmless."""
    return _q(text)


def _q(text: str) -> str:
    """A quoted DOT string. Doubling backslashes keeps label text literal (``\\N`` is not the node name)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
