"""Interrupt records: where a chunk paused, and how to continue from there."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..layers.state import copy_state_value
from .status import WAITING, InterruptStatus

# What a resumed interrupt does: "next" | "self" | {"event": name}
ResumeTarget = Any


@dataclass
class Interrupt:
    id: str
    type: str
    payload: Any
    resume_to: ResumeTarget
    node_id: str
    input: Any  # the paused chunk's input, for resume_to="self"
    frames: tuple[tuple[str, str, int], ...]  # the continuation frames of the paused path
    status: InterruptStatus = WAITING
    created_at: float = field(default_factory=time.time)
    resumed_at: float | None = None
    resume_value: Any = None

    def public(self) -> dict[str, Any]:
        """What users see: no internal continuation, values copied."""
        return {
            "id": self.id,
            "type": self.type,
            "payload": copy_state_value(self.payload),
            "resume_to": copy_state_value(self.resume_to),
            "chunk": self.node_id,
            "status": self.status,
            "created_at": self.created_at,
            "resumed_at": self.resumed_at,
        }
