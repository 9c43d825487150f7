"""A fingerprint of a flow definition: which graph a snapshot's continuation refers to.

Computed from the graph model (node ids, kinds, arms, events, edges), not from
handler code, so editing a chunk's body keeps old snapshots loadable while
re-wiring the flow does not.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..definition.flow import TriggerFlow


def describe_graph(flow: "TriggerFlow") -> dict[str, Any]:
    """A canonical, JSON-compatible description of the flow's structure."""
    graph = flow._graph
    nodes = []
    for node in sorted(graph.nodes.values(), key=lambda n: n.id):
        entry: dict[str, Any] = {"id": node.id, "kind": node.kind}
        if node.events:
            entry["events"] = list(node.events)
            entry["mode"] = node.mode
        if node.branches:
            entry["arms"] = [
                {"label": b.label, "entry": b.entry, "tail": b.tail, "default": b.is_default,
                 "case": repr(b.case_value) if node.kind == "match" and not b.is_default else None}
                for b in node.branches
            ]
        if node.concurrency is not None:
            entry["concurrency"] = node.concurrency
        if node.sub_flow is not None:
            entry["sub_flow"] = {"name": node.sub_flow.name, "fingerprint": fingerprint(node.sub_flow),
                                 "capture": node.capture, "write_back": node.write_back}
        nodes.append(entry)
    return {"nodes": nodes, "edges": sorted([list(e) for e in graph.edges()])}


def fingerprint(flow: "TriggerFlow") -> str:
    text = json.dumps(describe_graph(flow), sort_keys=True, separators=(",", ":"), default=repr)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
