"""What a picture of a flow shows: the graph model turned into nodes, groups and labelled edges.

The DOT and Mermaid writers both print this one description, so they cannot drift
apart from each other or from the graph that the runtime walks.

Reading the graph model for drawing:

* an if/match block points at the first node of each arm, labelled with its condition;
  the last node of every arm (or the block itself, for an empty arm or when nothing
  matches) points at what follows ``end_condition()`` / ``end_match()``;
* a batch or for_each block and everything its arms reach form a group (a cluster);
* a sub-flow step is a group holding the child flow's own drawing;
* a ``when`` node listening for a chunk to finish gets a dashed edge from that chunk;
* a collect is one join node naming its branches; a path that ends in ``.collect(name, id)``
  points at it with an edge labelled by its branch id (the arrival nodes are not drawn);
* a side branch is a small point on the main path with a dashed edge to its handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..definition.flow import FlowDefinition
from ..definition.graph import (
    BATCH,
    CHUNK,
    COLLECT,
    COLLECT_BRANCH,
    EVENT,
    FOR_EACH,
    HIT_ALL,
    IF,
    MATCH,
    SIDE_BRANCH,
    START,
    SUB_FLOW,
    FlowGraph,
    Node,
    SubFlowDefinition,
    chunk_of_event,
    collect_of_event,
    describe_event,
)

_BLOCKS = (IF, MATCH, BATCH, FOR_EACH)
_FAN_OUTS = (BATCH, FOR_EACH)
_GROUP_LABELS = {BATCH: "parallel branches", FOR_EACH: "per item"}


@dataclass(frozen=True)
class DrawnNode:
    key: str  # unique in the drawing; a sub-flow's nodes are prefixed "<sub-flow node id>/"
    label: str
    kind: str
    status_id: str | None  # the id ``execution.node_status()`` reports it under; None: never has a status


@dataclass(frozen=True)
class DrawnEdge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Group:
    key: str  # the key of the block or sub-flow node that heads it ("" for the root)
    label: str
    kind: str  # "flow" (the root), "batch", "for_each" or "sub_flow"
    nodes: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)


@dataclass
class Drawing:
    title: str
    nodes: dict[str, DrawnNode]  # in drawing order
    root: Group
    edges: list[DrawnEdge]


def draw(flow: FlowDefinition) -> Drawing:
    """Describe ``flow`` for a picture; deterministic for a given wiring."""
    root = Group("", flow.name, "flow")
    drawing = Drawing(flow.name, {}, root, [])
    _draw_into(drawing, flow, root, prefix="", drawing_stack=(flow,))
    return drawing


def _draw_into(drawing: Drawing, flow: SubFlowDefinition, container: Group, prefix: str,
               drawing_stack: tuple[SubFlowDefinition, ...]) -> None:
    graph = flow.flow_graph
    top_level = not prefix  # only the outermost flow's nodes match the execution's node_status()
    groups = _groups(graph, container, prefix, drawing_stack)
    owner = _innermost_fan_out(graph)

    def home(node_id: str) -> Group:
        """The group a node is drawn in: its innermost fan-out, else the container."""
        return groups[owner[node_id]] if node_id in owner else container

    for node in graph.nodes.values():
        if node.kind == COLLECT_BRANCH:  # drawn as the labelled edge into its collect
            continue
        key = prefix + node.id
        status_id = node.id if top_level and node.kind not in (START, EVENT, SIDE_BRANCH) else None
        drawing.nodes[key] = DrawnNode(key, _node_label(node, drawing_stack), node.kind, status_id)
        (groups.get(node.id) or home(node.id)).nodes.append(key)
    for node in graph.nodes.values():
        drawing.edges.extend(_edges(graph, node, prefix, drawn_as_group=node.id in groups))

    # Children last, so that a flow's own nodes and edges read first in the exports.
    for node in graph.nodes.values():
        child = node.sub_flow
        if node.kind == SUB_FLOW and node.id in groups and child is not None:
            _draw_into(drawing, child, groups[node.id], f"{prefix}{node.id}/", drawing_stack + (child,))


def _start_id(graph: FlowGraph) -> str:
    return next(n.id for n in graph.nodes.values() if n.kind == START)


def _groups(graph: FlowGraph, container: Group, prefix: str,
            drawing_stack: tuple[SubFlowDefinition, ...]) -> dict[str, Group]:
    """A group per fan-out and per sub-flow not drawn already, each placed in its parent group."""
    groups: dict[str, Group] = {}
    for node in graph.nodes.values():
        if node.kind in _FAN_OUTS:
            groups[node.id] = Group(prefix + node.id, _GROUP_LABELS[node.kind], node.kind)
        elif node.kind == SUB_FLOW and node.sub_flow is not None and node.sub_flow not in drawing_stack:
            groups[node.id] = Group(prefix + node.id, f"sub-flow {node.sub_flow.name}", SUB_FLOW)
    owner = _innermost_fan_out(graph)
    for node_id, group in groups.items():
        parent = groups[owner[node_id]] if node_id in owner else container
        if _is_nested_in(parent, group):  # a pathological loop of fan-outs: keep the picture finite
            parent = container
        parent.groups.append(group)
    return groups


def _edge(graph: FlowGraph, source: str, target: str, label: str, prefix: str) -> DrawnEdge:
    """An edge to ``target``; one into a collect's arrival goes to the collect, labelled by the branch id."""
    node = graph.nodes.get(target)
    if node is not None and node.kind == COLLECT_BRANCH:
        join = graph.succ[target][0]
        branch = next((arm.label for arm in graph.nodes[join].branches if arm.tail == target), node.label)
        return DrawnEdge(prefix + source, prefix + join, f"{label} → {branch}" if label else branch)
    return DrawnEdge(prefix + source, prefix + target, label)


def _edges(graph: FlowGraph, node: Node, prefix: str, drawn_as_group: bool) -> list[DrawnEdge]:
    key = prefix + node.id
    successors = graph.succ.get(node.id, [])
    edges: list[DrawnEdge] = []
    if node.kind == COLLECT_BRANCH:
        return edges
    if node.kind in _BLOCKS:
        for arm in node.branches:
            if arm.entry is not None:
                edges.append(_edge(graph, node.id, arm.entry, arm.label, prefix))
        leaving = _exits(graph, node.id, set())
        for target in successors:
            for source, label in leaving:
                edges.append(_edge(graph, source, target, label, prefix))
        return edges
    if node.kind == SIDE_BRANCH:
        for arm in node.branches:
            if arm.entry is not None:
                edges.append(DrawnEdge(key, prefix + arm.entry, "side", dashed=True))
    if node.kind == SUB_FLOW and drawn_as_group and node.sub_flow is not None:
        edges.append(DrawnEdge(key, f"{key}/{_start_id(node.sub_flow.flow_graph)}", "runs", dashed=True))
    for target in successors:
        edges.append(_edge(graph, node.id, target, "", prefix))
    if node.kind == EVENT:
        for event in node.events:
            chunk = chunk_of_event(event)
            if chunk is not None and chunk in graph.nodes:
                edges.append(DrawnEdge(prefix + chunk, key, "done", dashed=True))
            join = collect_of_event(event)
            if join is not None and join in graph.nodes:
                edges.append(DrawnEdge(prefix + join, key, "filled", dashed=True))
    return edges


def _is_nested_in(group: Group, ancestor: Group) -> bool:
    if group is ancestor:
        return True
    return any(_is_nested_in(group, child) for child in ancestor.groups)


def _innermost_fan_out(graph: FlowGraph) -> dict[str, str]:
    """node id -> the innermost batch/for_each whose arms reach it.

    Innermost = the fan-out with the smallest reach among those reaching the node,
    which does not depend on the order in which the blocks were wired.
    """
    reach: dict[str, set[str]] = {}
    for node in graph.nodes.values():
        if node.kind in _FAN_OUTS:
            reach[node.id] = _arm_reach(graph, node.id)
    owner: dict[str, str] = {}
    for block_id, reached in reach.items():
        for node_id in reached:
            current = owner.get(node_id)
            if current is None or len(reached) < len(reach[current]):
                owner[node_id] = block_id
    return owner


def _arm_reach(graph: FlowGraph, block_id: str) -> set[str]:
    """Every node reachable inside the arms of ``block_id`` (not following an arm past its tail)."""
    block = graph.nodes[block_id]
    tails = {arm.tail for arm in block.branches if arm.tail is not None}
    stack = [arm.entry for arm in reversed(block.branches) if arm.entry is not None]
    seen: set[str] = set()
    while stack:
        node_id = stack.pop()
        if node_id in seen or node_id == block_id or node_id not in graph.nodes:
            continue
        seen.add(node_id)
        node = graph.nodes[node_id]
        following = [arm.entry for arm in node.branches if arm.entry is not None]
        if node_id not in tails:
            following += graph.succ.get(node_id, [])
        stack.extend(reversed(following))
    return seen


def _exits(graph: FlowGraph, node_id: str, visiting: set[str]) -> list[tuple[str, str]]:
    """Where control leaves when a path through ``node_id`` ends: (node, edge label) pairs.

    For a chunk that is the chunk itself; for a block, the exits of its arms' tails, plus
    the block itself for an arm that is empty or for when no arm matches.
    """
    node = graph.nodes[node_id]
    if node.kind not in _BLOCKS or not node.branches or node_id in visiting:
        return [(node_id, "")]
    visiting = visiting | {node_id}
    out: list[tuple[str, str]] = []
    for arm in node.branches:
        if arm.entry is None:
            out.append((node_id, arm.label))
        elif arm.tail is not None and arm.tail in graph.nodes:
            out.extend(_exits(graph, arm.tail, visiting))
    if node.kind in (IF, MATCH) and not any(arm.is_default for arm in node.branches):
        out.append((node_id, "otherwise"))
    return list(dict.fromkeys(out))  # drop repeats, keep order


def _node_label(node: Node, drawing_stack: tuple[SubFlowDefinition, ...]) -> str:
    kind = node.kind
    if kind == START:
        return "START"
    if kind == CHUNK:
        return node.label
    if kind == COLLECT:
        return f"collect {node.label}: {', '.join(arm.label for arm in node.branches)}"
    if kind == SIDE_BRANCH:
        return "side branch"
    if kind == EVENT:
        names = [describe_event(e) for e in node.events]
        if node.mode == "simple":
            return f"when {names[0]}"
        quantifier = "all" if node.mode == "and" else "any"
        return f"when {quantifier} of: {', '.join(names)}"
    if kind in _FAN_OUTS:
        text = kind if node.concurrency is None else f"{kind}, {node.concurrency} at a time"
        # Where the items run is worth seeing on the graph (e.g. "for_each on Dask").
        return text if node.executor is None else f"{text} on {node.executor.label}"
    if kind == SUB_FLOW and node.sub_flow is not None:
        child = node.sub_flow.name
        text = f"sub-flow {child}" if node.label == child else f"{node.label} (sub-flow {child})"
        return text + (", drawn above" if node.sub_flow in drawing_stack else "")
    if kind == MATCH and node.mode == HIT_ALL:
        return "match all"
    return kind  # if / match
