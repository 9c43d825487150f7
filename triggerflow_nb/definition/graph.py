"""The flow graph as plain data.

One model, several readers: the runtime walks it, the exporters (blueprint,
Mermaid, DOT) print it, and the notebook draws it.

Nodes are keyed by a stable id. Chunk nodes use the chunk's name, so re-running
the same wiring finds the same nodes, and ``add_edge`` ignores an edge it already
has: a notebook cell run twice never duplicates the graph.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from . import cell_claims
from .item_executor import ItemExecutor

START = "start"
CHUNK = "chunk"
EVENT = "event"  # `when(...)`: one event, or an and/or join of several
IF = "if"
MATCH = "match"
BATCH = "batch"
FOR_EACH = "for_each"
SUB_FLOW = "sub_flow"
SIDE_BRANCH = "side_branch"  # runs its one arm on the value and lets the main path go on with the same value
COLLECT = "collect"  # the join of a collect: its arms name the branches (label = branch id, tail = arrival)
COLLECT_BRANCH = "collect_branch"  # where one path delivers to a collect; label = branch id, successor = the join

START_ID = "$start"

WHEN_MODES = ("simple", "and", "or", "simple_or")
HIT_FIRST = "hit_first"
HIT_ALL = "hit_all"
MATCH_MODES = (HIT_FIRST, HIT_ALL)
FILLED_AND_UPDATE = "filled_and_update"
FILLED_THEN_EMPTY = "filled_then_empty"
COLLECT_MODES = (FILLED_AND_UPDATE, FILLED_THEN_EMPTY)

# Internal event names. A chunk finishing and a state key being written are events too
# (``when(chunk)``, ``when({"state": key})``); these prefixes keep them apart from the
# events users name. They are built and read here only.
_CHUNK_DONE = "$chunk:"
_STATE_WRITTEN = "$state:"
_COLLECTED = "$collect:"


def chunk_done_event(chunk: str) -> str:
    """The internal event fired when chunk (or sub-flow step) ``chunk`` finishes."""
    return _CHUNK_DONE + chunk


def state_written_event(key: str) -> str:
    """The internal event fired when state ``key`` is written."""
    return _STATE_WRITTEN + key


def collected_event(name: str) -> str:
    """The internal event fired when collect ``name`` has a value from every branch (``when({"collect": name})``)."""
    return _COLLECTED + name


def collect_node_id(name: str) -> str:
    """The id of collect ``name``'s join node."""
    return f"collect[{name}]"


def collect_name(join_id: str) -> str:
    """The collection name of a collect's join node id (the inverse of ``collect_node_id``)."""
    return join_id[len("collect["):-1]


def chunk_of_event(event: str) -> str | None:
    """The chunk whose finishing ``event`` names, or None for any other event."""
    return event[len(_CHUNK_DONE):] if event.startswith(_CHUNK_DONE) else None


def collect_of_event(event: str) -> str | None:
    """The join node id of the collect whose firing ``event`` names, or None for any other event."""
    return collect_node_id(event[len(_COLLECTED):]) if event.startswith(_COLLECTED) else None


def describe_event(event: str) -> str:
    """How a person reads an event name in a picture: ``x done``, ``state x set``, or the name itself."""
    if event.startswith(_CHUNK_DONE):
        return f"{event[len(_CHUNK_DONE):]} done"
    if event.startswith(_STATE_WRITTEN):
        return f"state {event[len(_STATE_WRITTEN):]} set"
    if event.startswith(_COLLECTED):
        return f"collect {event[len(_COLLECTED):]} filled"
    return event


@runtime_checkable
class SubFlowDefinition(Protocol):
    """What a sub-flow node holds: another flow definition (named by a protocol, not imported)."""

    @property
    def name(self) -> str: ...

    @property
    def flow_graph(self) -> FlowGraph: ...


@dataclass
class Branch:
    """One arm of an if/match/batch block, or the body of a for_each.

    ``entry`` is the first node of the arm (None for an empty arm, which passes
    its input through); ``tail`` is its last node, recorded for drawing.
    """

    label: str
    entry: str | None = None
    tail: str | None = None
    predicate: Callable[[Any], Any] | None = None  # if/elif and predicate cases; None for else
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
    # event nodes: "simple" | "and" | "or" | "simple_or"; match: HIT_FIRST | HIT_ALL; collect: COLLECT_MODES
    mode: str = "simple"
    # if / match / batch arms and the for_each body (one Branch)
    branches: list[Branch] = field(default_factory=list)
    concurrency: int | None = None
    # batch / for_each: where items run (e.g. triggerflow_nb.distributed.DaskExecutor); None runs them
    # here. A run-time choice: not part of the fingerprint, the blueprint or a saved snapshot.
    executor: ItemExecutor | None = None
    # sub-flow nodes
    sub_flow: SubFlowDefinition | None = None
    capture: dict[str, Any] | None = None
    write_back: dict[str, Any] | None = None
    # The event fired when this node (a chunk or sub-flow step) finishes, built once: it is
    # looked up after every step of a flow that listens to anything.
    done_event: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.done_event = chunk_done_event(self.id)


class FlowGraph:
    """Nodes, ordered successor lists, and which event nodes listen to which event."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {START_ID: Node(START_ID, START, "START")}
        self.succ: dict[str, list[str]] = {}
        self.listeners: dict[str, list[str]] = {}  # event name -> event node ids
        self.version = 0  # bumped on every structural change (live graphs redraw on it)
        self.claims = cell_claims.WiringClaims()  # which notebook cell wired what (empty outside IPython)

    def take(self, other: FlowGraph) -> None:
        """Become ``other`` (a graph rebuilt from a blueprint) in place: executions of the flow
        hold this object, and the version moves on, so a live graph redraws."""
        self.nodes, self.succ, self.listeners, self.claims = other.nodes, other.succ, other.listeners, other.claims
        self.version = max(self.version, other.version) + 1

    def add_node(self, node: Node) -> Node:
        """Add ``node``, or return the node of that id already there (wiring re-run finds it)."""
        self.claim(node.id)
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
        cell = cell_claims.current_cell()
        if cell is not None:
            self.claims.edges.setdefault((source, target), set()).add(cell)
        targets = self.succ.setdefault(source, [])
        if target not in targets:
            targets.append(target)
            self.version += 1

    def claim(self, node_id: str) -> None:
        """The running notebook cell wires this node (no-op outside IPython)."""
        cell = cell_claims.current_cell()
        if cell is not None:
            self.claims.nodes.setdefault(node_id, set()).add(cell)

    def forget(self, cell: str) -> set[str]:
        """Take out what only ``cell`` wired; return the ids of the nodes removed.

        A node stays while anything left still refers to it (an edge, an arm of a block
        that stays), so a chunk another cell also wires is kept.
        """
        nodes, edges = self.claims.release(cell)
        for source, target in edges:
            targets = self.succ.get(source)
            if targets is not None and target in targets:
                targets.remove(target)
                if not targets:
                    del self.succ[source]
        doomed = {n for n in nodes if n != START_ID and n in self.nodes}
        while True:  # keep what a node that stays still refers to, until nothing changes
            kept = {n for n in doomed if self._referenced_outside(n, doomed)}
            if not kept:
                break
            doomed -= kept
        for node_id in doomed:
            node = self.nodes.pop(node_id)
            self.succ.pop(node_id, None)
            for event in node.events:
                listening = self.listeners.get(event, [])
                if node_id in listening:
                    listening.remove(node_id)
                if not listening:
                    self.listeners.pop(event, None)
        if nodes or edges:
            self.version += 1
        return doomed

    def _referenced_outside(self, node_id: str, doomed: set[str]) -> bool:
        for source, targets in self.succ.items():
            if source == node_id and any(t not in doomed for t in targets):
                return True
            if node_id in targets and source not in doomed:
                return True
        for other in self.nodes.values():
            if other.id not in doomed and any(arm.entry == node_id or arm.tail == node_id for arm in other.branches):
                return True
        return False

    def successors(self, node_id: str) -> list[str]:
        return self.succ.get(node_id, [])

    def edges(self) -> list[tuple[str, str]]:
        return [(s, t) for s, targets in self.succ.items() for t in targets]

    def chunk_ids(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.kind == CHUNK]

    def describe(self) -> dict[str, Any]:
        """The one canonical description of this graph, as plain data.

        Nodes in insertion order (START left out: every graph has it), edges in
        insertion order, sub-flows nested. The fingerprint hashes it without its
        display-only fields; a blueprint is it plus a version (see persistence).
        Match case values are kept as they are (they may not be JSON).
        """
        nodes = []
        for node in self.nodes.values():
            if node.kind == START:
                continue
            entry: dict[str, Any] = {"id": node.id, "kind": node.kind, "label": node.label}
            if node.kind == EVENT:
                entry["events"] = list(node.events)
                entry["mode"] = node.mode
            elif node.kind == COLLECT or (node.kind == MATCH and node.mode == HIT_ALL):
                entry["mode"] = node.mode  # a hit_first match says nothing: its description predates modes
            if node.branches:
                entry["arms"] = [_describe_arm(node.kind, arm) for arm in node.branches]
            if node.concurrency is not None:
                entry["concurrency"] = node.concurrency
            if node.sub_flow is not None:
                entry["sub_flow"] = {"name": node.sub_flow.name, **node.sub_flow.flow_graph.describe()}
                entry["capture"] = node.capture
                entry["write_back"] = node.write_back
            nodes.append(entry)
        return {"nodes": nodes, "edges": [list(edge) for edge in self.edges()]}

    def fingerprint(self) -> str:
        """Which graph a saved continuation refers to: structure only, never handler code or labels.

        Editing a chunk's body keeps old snapshots loadable; re-wiring does not.
        """
        structure = _without_display(self.describe())
        text = json.dumps(structure, sort_keys=True, separators=(",", ":"), default=repr)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()




def _describe_arm(kind: str, arm: Branch) -> dict[str, Any]:
    entry: dict[str, Any] = {"label": arm.label, "entry": arm.entry, "tail": arm.tail, "default": arm.is_default}
    if arm.predicate_name is not None:
        entry["predicate"] = arm.predicate_name
    if kind == MATCH and not arm.is_default and arm.predicate_name is None:
        entry["case"] = arm.case_value
    return entry


def _without_display(description: dict[str, Any]) -> dict[str, Any]:
    nodes = []
    for node in description["nodes"]:
        node = {k: v for k, v in node.items() if k != "label"}
        if "arms" in node:  # an arm's label is structural: a batch branch's key, an if arm's name
            node["arms"] = [{k: v for k, v in arm.items() if k != "predicate"} for arm in node["arms"]]
        if "sub_flow" in node:
            node["sub_flow"] = {"name": node["sub_flow"]["name"], **_without_display(node["sub_flow"])}
        nodes.append(node)
    return {"nodes": sorted(nodes, key=lambda n: n["id"]), "edges": sorted(description["edges"])}
