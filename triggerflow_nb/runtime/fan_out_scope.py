"""Which fan-out scope a path runs in: the key that and-joins and collects are kept under."""

from __future__ import annotations

from ..definition.graph import FOR_EACH, Node
from .frames import SLOT, Frames


def scope_key(frames: Frames, nodes: dict[str, Node]) -> str:
    """The fan-out scope of a path: which item of which for_each it runs in ('' at top level).

    Each for_each item is a scope of its own. The branches of one batch run (and the cases
    of one hit_all match) share its scope: they are parts of one step on one input, so
    branch "a" emitting A and branch "b" emitting B complete a join together.
    """
    parts = []
    for frame in frames:
        if frame[0] == SLOT:
            activation_id = frame[1]
            node = nodes.get(activation_id.rpartition("#")[0])  # ids are "<node id>#<n>" (_fan_out)
            parts.append(activation_id if node is not None and node.kind != FOR_EACH else f"{activation_id}:{frame[2]}")
    return "/".join(parts)
