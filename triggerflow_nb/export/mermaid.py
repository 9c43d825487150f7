"""A Mermaid flowchart of a flow, printed from the same drawing as the DOT export.

Mermaid ids must be plain words, so nodes are numbered ``n0, n1, ...`` and groups
``g0, g1, ...`` in drawing order; the chunk names are in the labels.
"""

from __future__ import annotations

from ..definition.flow import FlowDefinition
from .drawing import Drawing, Group, draw

# kind -> (opening, closing) bracket pair of the Mermaid node shape
_SHAPES: dict[str, tuple[str, str]] = {
    "start": ("([", "])"),
    "chunk": ("[", "]"),
    "event": ("{{", "}}"),
    "if": ("{", "}"),
    "match": ("{", "}"),
    "batch": ("[/", "\\]"),
    "for_each": ("[/", "\\]"),
    "sub_flow": ("[[", "]]"),
    "collect": ("[\\", "/]"),
    "side_branch": ("((", "))"),
}


def to_mermaid(flow: FlowDefinition) -> str:
    """The flow as Mermaid ``flowchart TD`` text."""
    return write_mermaid(draw(flow))


def write_mermaid(drawing: Drawing) -> str:
    ids = {key: f"n{index}" for index, key in enumerate(drawing.nodes)}
    lines = ["flowchart TD"]
    group_counter = iter(range(1_000_000))
    _write_group(drawing, drawing.root, ids, lines, "    ", group_counter)
    for edge in drawing.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_escape(edge.label)}"|' if edge.label else ""
        lines.append(f"    {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


def _write_group(drawing: Drawing, group: Group, ids: dict[str, str], lines: list[str], indent: str,
                 group_counter) -> None:
    for key in group.nodes:
        node = drawing.nodes[key]
        opening, closing = _SHAPES.get(node.kind, ("[", "]"))
        lines.append(f'{indent}{ids[key]}{opening}"{_escape(node.label)}"{closing}')
    for child in group.groups:
        lines.append(f'{indent}subgraph g{next(group_counter)} ["{_escape(child.label)}"]')
        _write_group(drawing, child, ids, lines, indent + "    ", group_counter)
        lines.append(f"{indent}end")


def _escape(text: str) -> str:
    # Inside a quoted Mermaid label, entity codes are the way to write a quote or a '#'.
    return text.replace("#", "#35;").replace('"', "#quot;").replace("\n", " ")
