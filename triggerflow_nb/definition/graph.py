"""The flow graph as plain data.

One model, several readers: the runtime walks it, the exporters (blueprint,
Mermaid, DOT) print it, and the notebook draws it.

Nodes are keyed by a stable id. Chunk nodes use the chunk's name, so re-running
the same wiring finds the same nodes, and ``add_edge`` ignores an edge it already
has: a notebook cell run twice never duplicates the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

START = "start"
CHUNK = "chunk"
EVENT = "event"  # `when(...)`: one event, or an and/or join of several
IF = "if"
MATCH = "match"
BATCH = "batch"
FOR_EACH = "for_each"
SUB_FLOW = "sub_flow"

START_ID = "$start"


@dataclass
class Branch:
    """One arm of an if/match/batch block, or the body of a for_each.

    ``entry`` is the first node of the arm (None for an empty arm, which passes
    its input through); ``tail`` is its last node, recorded for drawing.
    """

    label: str
    entry: str | None = None
    tail: str | None = None
    predicate: Callable[[Any], Any] | None = None  # if/elif; None for else
    predicate_name: str | None = None
    case_value: Any = None  # match
    is_default: bool = False  # else_condition / case_else


@dataclass
class Node:
    id: str
    kind: str
    label: str
    # event nodes
    events: tuple[str, ...] = ()
    mode: str = "simple"  # "simple" | "and" | "or"
    # if / match / batch arms and the for_each body (one Branch)
    branches: list[Branch] = field(default_factory=list)
    concurrency: int | None = None
    # batch / for_each: where items run (an ItemExecutor, see triggerflow_nb.distributed); None runs them
    # here. A run-time choice: not part of the fingerprint, the blueprint or a saved snapshot.
    executor: Any = None
    # sub-flow nodes
    sub_flow: Any = None
    capture: dict[str, Any] | None = None
    write_back: dict[str, Any] | None = None


class FlowGraph:
    """Nodes, ordered successor lists, and which event nodes listen to which event."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {START_ID: Node(START_ID, START, "START")}
        self.succ: dict[str, list[str]] = {}
        self.listeners: dict[str, list[str]] = {}  # event name -> event node ids
        self.version = 0  # bumped on every structural change (live graphs redraw on it)

    def add_node(self, node: Node) -> Node:
        existing = self.nodes.get(node.id)
        if existing is not None:
            return existing
        self.nodes[node.id] = node
        if node.kind == EVENT:
            for event in node.events:
                self.listeners.setdefault(event, []).append(node.id)
        self.version += 1
        return node

    def add_edge(self, source: str, target: str) -> None:
        targets = self.succ.setdefault(source, [])
        if target not in targets:
            targets.append(target)
            self.version += 1

    def successors(self, node_id: str) -> list[str]:
        return self.succ.get(node_id, [])

    def edges(self) -> list[tuple[str, str]]:
        return [(s, t) for s, targets in self.succ.items() for t in targets]

    def chunk_ids(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.kind == CHUNK]
