"""``Activation``: a batch, for_each or hit_all match in progress, one slot per branch, item or case."""

from __future__ import annotations

from typing import Any

from .frames import Frames


class Activation:
    """A batch, for_each or hit_all match in progress: one slot per branch, item or matching case."""

    __slots__ = ("id", "node_id", "keys", "slots", "remaining", "frames", "awaiting", "arms")

    def __init__(self, id: str, node_id: str, keys: list[str] | None, size: int, frames: Frames,
                 arms: list[int] | None = None):
        self.id = id
        self.node_id = node_id
        self.keys = keys  # batch branch names; None for for_each
        self.slots: list[Any] = [None] * size
        self.remaining = size
        self.frames = frames
        self.awaiting = True  # the fan-out step is still awaiting its items
        self.arms = arms  # hit_all: the arm index each slot runs (the matching cases); None otherwise

    def arm(self, slot: int) -> int:
        """The arm of the block that ``slot`` runs: a hit_all match's case, a batch's branch, or a
        for_each's one arm (its slots are items)."""
        if self.arms is not None:
            return self.arms[slot]
        return slot if self.keys is not None else 0

    def result(self) -> Any:
        if self.keys is None:
            return self.slots
        return dict(zip(self.keys, self.slots, strict=True))
