"""Continuation frames: where a path's value goes when the path runs out of successors.

Plain tuples (a NamedTuple costs about ten times more to build, and frames are built
on the hot path):

* ``("then", block node id, arm index)``: an if/match arm ended; go on after the block.
* ``("slot", activation id, slot index)``: a batch branch, for_each item or case of a
  hit_all match ended; its value fills that slot of the fan-out's activation record.
"""

from __future__ import annotations

from typing import Final

THEN: Final = "then"
SLOT: Final = "slot"
Frame = tuple[str, str, int]
Frames = tuple[Frame, ...]
