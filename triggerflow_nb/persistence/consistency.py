"""Does a snapshot make sense for this definition, and for itself?

Shape and types were checked by the schema; this checks meaning: frames name arms
and open fan-outs that exist, nodes named anywhere are nodes of the graph.
"""

from __future__ import annotations

from ..definition.graph import FlowGraph
from ..errors import InvalidSnapshotError
from ..runtime.frames import SLOT, THEN
from ..runtime.snapshot import ExecutionSnapshot, SavedFrame


def _corrupt(detail: str) -> InvalidSnapshotError:
    return InvalidSnapshotError(f"corrupt snapshot: {detail}")


def check_consistency(snapshot: ExecutionSnapshot, graph: FlowGraph) -> None:
    nodes = graph.nodes
    frame_lists: list[list[SavedFrame]] = [i["continuation"] for i in snapshot["interrupts"]]
    frame_lists += [a["continuation"] for a in snapshot["continuation"]["activations"]]
    for frames in frame_lists:
        for frame in frames:
            kind, target, index = (frame + [None, None, None])[:3] if len(frame) == 3 else (None, None, None)
            ok = (kind == THEN and isinstance(target, str) and target in nodes and isinstance(index, int)
                  and 0 <= index < len(nodes[target].branches)) or (
                kind == SLOT and isinstance(target, str) and isinstance(index, int))
            if not ok:
                raise _corrupt(f"continuation frame {frame!r} refers to nothing")
    for interrupt in snapshot["interrupts"]:
        if interrupt["chunk"] not in nodes:
            raise _corrupt(f"interrupt {interrupt['id']!r} names unknown chunk {interrupt['chunk']!r}")
