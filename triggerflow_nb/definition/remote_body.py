"""Which for_each/batch bodies an item executor can run: a plain chain of chunks, nothing else.

A chunk that pauses, emits or has a side path needs the notebook process (interrupts,
events and joins live there), so such bodies are refused with a message saying what is
supported. Checked when the block is closed and again at fan-out, because wiring can be
added later in another cell. Pure: it reads the graph only, so the definition checks it
without importing the executors (``triggerflow_nb.distributed``).
"""

from __future__ import annotations

from ..errors import RemoteBodyError
from .graph import BATCH, CHUNK, FlowGraph, Node

_SUPPORTED = ("only a plain chain of chunks (.to(a).to(b)...) can run on an executor; run nested blocks, "
              "sub-flows, pauses and event branches after end_for_each(), or drop executor= to run it here")


def remote_body(graph: FlowGraph, block: Node) -> list[tuple[str, ...]]:
    """The chunk ids of each arm (one for a for_each), checked; handlers are looked up at fan-out."""
    bodies = []
    for arm in block.branches:
        chain: list[str] = []
        node_id = arm.entry
        while node_id is not None:
            node = graph.nodes[node_id]
            if node.kind != CHUNK:
                article = "an" if node.kind[0] in "aeiou" else "a"
                raise RemoteBodyError(f"{block.id!r} has {article} {node.kind} block {node_id!r} in its body: "
                                      f"{_SUPPORTED}")
            if "$chunk:" + node_id in graph.listeners:
                raise RemoteBodyError(
                    f"{block.id!r}: a when() branch listens to body chunk {node_id!r}, but chunk events are not "
                    f"sent from workers: {_SUPPORTED}")
            chain.append(node_id)
            successors = graph.succ.get(node_id, [])
            if node_id == arm.tail:
                if successors:
                    raise RemoteBodyError(f"{block.id!r}: body chunk {node_id!r} has a side path "
                                          f"to {successors}: {_SUPPORTED}")
                break
            if len(successors) != 1:
                raise RemoteBodyError(f"{block.id!r}: body chunk {node_id!r} has {len(successors)} successors "
                                      f"{successors}: {_SUPPORTED}")
            node_id = successors[0]
        bodies.append(tuple(chain))
    if block.kind == BATCH:
        return bodies
    return bodies[:1]
