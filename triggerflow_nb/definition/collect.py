"""Wiring a collect: several independent paths each deliver one value; the join hands on them all.

A collect named ``name`` is one join node (``collect[name]``, kind ``collect``) plus one
arrival node per branch (``collect[name]<-branch``, kind ``collect_branch``). A path that
ends in ``.collect(name, branch)`` runs into its arrival node; the arrival's only
successor is the join, and what is chained after any ``.collect(name, ...)`` call hangs
off the join. The join's arms list the branches in the order they were declared: that
is the key order of the dict the join hands on.
"""

from __future__ import annotations

from .._validate import non_empty_str, one_of
from ..errors import FlowDefinitionError
from .graph import (
    COLLECT,
    COLLECT_BRANCH,
    COLLECT_MODES,
    EVENT,
    Branch,
    FlowGraph,
    Node,
    collect_node_id,
    collected_event,
)


def declare_branch(graph: FlowGraph, name: str, branch_id: str, mode: str) -> Node:
    """The arrival node of ``branch_id`` in collect ``name``, creating the join and arrival as needed.

    Several paths may deliver under one branch id (the newest value counts), so a re-run
    cell simply finds its branch again.
    """
    non_empty_str(".collect(collection_name=...)", name)
    non_empty_str(".collect(branch_id=...)", branch_id)
    one_of(".collect(mode=...)", mode, COLLECT_MODES)
    join_id = collect_node_id(name)
    join = graph.nodes.get(join_id)
    if join is None:
        join = graph.add_node(Node(join_id, COLLECT, name, mode=mode))
    elif join.kind != COLLECT:
        raise FlowDefinitionError(f"{join_id!r} already names a {join.kind} node; choose another collection name")
    elif join.mode != mode:
        raise FlowDefinitionError(
            f"collect {name!r} was declared with mode={join.mode!r}, here with mode={mode!r}: every "
            f".collect({name!r}, ...) shares one mode (to change it, re-create the flow and wire it again)"
        )
    arrival_id = f"{join_id}<-{branch_id}"
    arrival = graph.nodes.get(arrival_id)
    if arrival is None:
        arrival = graph.add_node(Node(arrival_id, COLLECT_BRANCH, branch_id))
        graph.add_edge(arrival_id, join_id)
        join.branches.append(Branch(label=branch_id, tail=arrival_id))
        graph.version += 1
    return arrival


def check_collects(flow_name: str, graph: FlowGraph) -> None:
    """Refuse a collect that cannot join anything, and a ``when({"collect": ...})`` that listens to nothing."""
    for node in graph.nodes.values():
        if node.kind == COLLECT and len(node.branches) < 2:
            only = node.branches[0].label if node.branches else None
            raise FlowDefinitionError(
                f"flow {flow_name!r}: collect {node.label!r} has one branch only ({only!r}), so it would just pass "
                f"that value on: end another path with .collect({node.label!r}, '<branch id>'), or use .to() instead"
            )
        if node.kind == EVENT:
            for event in node.events:
                for name in _collect_names(graph, event):
                    raise FlowDefinitionError(
                        f"flow {flow_name!r}: when({{'collect': {name!r}}}) listens to a collect this flow does not "
                        f"have: end two or more paths with .collect({name!r}, '<branch id>')"
                    )


def _collect_names(graph: FlowGraph, event: str) -> list[str]:
    """The collect name ``event`` waits for, if it is a collect's event and no such collect exists."""
    prefix = collected_event("")
    if not event.startswith(prefix):
        return []
    name = event[len(prefix):]
    return [] if collect_node_id(name) in graph.nodes else [name]
