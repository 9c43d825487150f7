"""Text exports of a flow's graph: Graphviz DOT and Mermaid, both printed from one drawing."""

from .dot import to_dot
from .mermaid import to_mermaid

__all__ = ["to_dot", "to_mermaid"]
