"""``Activation``: a batch or for_each in progress, one slot per branch or item."""

from __future__ import annotations

from typing import Any

from .frames import Frames


class Activation:
    """A batch or for_each in progress: one slot per branch or item."""

    __slots__ = ("id", "node_id", "keys", "slots", "remaining", "frames", "awaiting")

    def __init__(self, id: str, node_id: str, keys: list[str] | None, size: int, frames: Frames):
        self.id = id
        self.node_id = node_id
        self.keys = keys  # batch branch names; None for for_each
        self.slots: list[Any] = [None] * size
        self.remaining = size
        self.frames = frames
        self.awaiting = True  # the fan-out step is still awaiting its items

    def result(self) -> Any:
        if self.keys is None:
            return self.slots
        return dict(zip(self.keys, self.slots, strict=True))
