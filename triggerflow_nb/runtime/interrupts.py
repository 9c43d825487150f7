"""Interrupts: where a chunk paused, how to continue from there, and the book of them all."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._validate import non_empty_str
from ..errors import InterruptError
from ..layers.state import copy_state_value
from ..reproducibility import new_interrupt_id
from .frames import Frames
from .snapshot import InterruptRecord, frames_of, json_value, saved_frames
from .status import CANCELLED, RESUMED, WAITING, InterruptStatus

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
    # resume_to="self" only: how often this chunk's pause was resumed before this interrupt opened,
    # and the most continues its pause_for allows (None: no limit).
    resume_count: int = 0
    max_resumes: int | None = None

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
            "resume_count": self.resume_count,
            "max_resumes": self.max_resumes,
        }


class InterruptBook:
    """Every interrupt of one execution, by id: opened by ``pause_for``, resumed once by
    ``continue_with``, cancelled by a close (and revived by retry())."""

    __slots__ = ("by_id", "opened", "_owner")

    def __init__(self, owner: str):
        self.by_id: dict[str, Interrupt] = {}
        self.opened = 0  # numbers the generated interrupt ids in reproducible mode
        self._owner = owner

    def pending(self) -> list[Interrupt]:
        return [i for i in self.by_id.values() if i.status == WAITING] if self.by_id else []

    def describe(self, interrupt_id: str) -> dict[str, Any]:
        interrupt = self.by_id.get(interrupt_id)
        if interrupt is None:
            raise InterruptError(f"no interrupt {interrupt_id!r} in execution {self._owner}; "
                                 f"known: {sorted(self.by_id)}")
        return interrupt.public()

    def open(self, node_id: str, value: Any, frames: Frames, type: str, payload: Any, resume_to: ResumeTarget,
             interrupt_id: str | None, max_resumes: int | None = None, resumed: str | None = None) -> Interrupt:
        """Record a pause. ``resumed``: the id of the interrupt whose ``resume_to="self"`` continue re-ran
        the pausing chunk (its count of resumes goes on in the new one)."""
        if interrupt_id is None:
            interrupt_id = self._next_id()
            while interrupt_id in self.by_id:  # a hand-picked id took the seeded one: take the next
                interrupt_id = self._next_id()
        else:
            non_empty_str("interrupt_id", interrupt_id)
        if interrupt_id in self.by_id:
            raise InterruptError(f"interrupt id {interrupt_id!r} is already used in execution {self._owner}; "
                                 f"pick another or let pause_for() generate one")
        interrupt = Interrupt(interrupt_id, type, payload, resume_to, node_id, value, frames)
        if resume_to == "self":
            previous = None if resumed is None else self.by_id.get(resumed)
            interrupt.resume_count = 0 if previous is None else previous.resume_count + 1
            interrupt.max_resumes = max_resumes
        self.by_id[interrupt_id] = interrupt
        return interrupt

    def _next_id(self) -> str:
        interrupt_id = new_interrupt_id(self._owner, self.opened)
        self.opened += 1
        return interrupt_id

    def waiting(self, interrupt_id: str) -> Interrupt:
        """The interrupt ``continue_with`` resumes, or the error that says why it cannot."""
        interrupt = self.by_id.get(interrupt_id)
        if interrupt is None:
            pending = [i.id for i in self.pending()]
            raise InterruptError(f"no interrupt {interrupt_id!r} in execution {self._owner}; pending: {pending}")
        if interrupt.status != WAITING:
            raise InterruptError(
                f"interrupt {interrupt_id!r} is already {interrupt.status}; each interrupt resumes once "
                f"(pending: {[i.id for i in self.pending()]})"
            )
        if interrupt.max_resumes is not None and interrupt.resume_count >= interrupt.max_resumes:
            raise InterruptError(
                f"interrupt {interrupt_id!r} cannot be continued: chunk {interrupt.node_id!r} paused with "
                f"resume_to='self' and max_resumes={interrupt.max_resumes}, and was resumed {interrupt.resume_count} "
                f"time(s) already; the interrupt stays pending: close(pending_interrupts='cancel') ends the execution"
            )
        return interrupt

    @staticmethod
    def mark_resumed(interrupt: Interrupt, payload: Any) -> None:
        interrupt.status = RESUMED
        interrupt.resumed_at = time.time()
        interrupt.resume_value = payload

    def cancel_pending(self) -> list[Interrupt]:
        """Cancel every pending interrupt (a close); returns them, for retry() to revive."""
        pending = self.pending()
        for interrupt in pending:
            interrupt.status = CANCELLED
        return pending

    @staticmethod
    def revive(interrupts: Iterable[Interrupt]) -> None:
        for interrupt in interrupts:
            interrupt.status = WAITING

    def capture(self) -> list[InterruptRecord]:
        return [_record(i) for i in self.by_id.values()]

    def restore(self, records: list[InterruptRecord]) -> None:
        self.by_id = {
            i["id"]: Interrupt(i["id"], i["type"], i["payload"], i["resume_to"], i["chunk"], i["input"],
                               frames_of(i["continuation"]), i["status"], i["created_at"], i["resumed_at"],
                               resume_count=i.get("resume_count", 0), max_resumes=i.get("max_resumes"))
            for i in records
        }


def _record(interrupt: Interrupt) -> InterruptRecord:
    waiting = interrupt.status == WAITING
    record: InterruptRecord = {
        "id": interrupt.id, "type": interrupt.type,
        "payload": json_value(interrupt.payload, f"the payload of interrupt {interrupt.id!r}"),
        "resume_to": json_value(interrupt.resume_to, f"the resume target of interrupt {interrupt.id!r}"),
        "chunk": interrupt.node_id,
        "input": json_value(interrupt.input, f"the input of paused chunk {interrupt.node_id!r}") if waiting else None,
        "continuation": saved_frames(interrupt.frames) if waiting else [],
        "status": interrupt.status, "created_at": interrupt.created_at, "resumed_at": interrupt.resumed_at,
    }
    # Written only when they say something (absent: 0 and None), so that a snapshot of a run that
    # counts no resumes stays readable by a triggerflow_nb that predates them.
    if interrupt.resume_count:
        record["resume_count"] = interrupt.resume_count
    if interrupt.max_resumes is not None:
        record["max_resumes"] = interrupt.max_resumes
    return record
