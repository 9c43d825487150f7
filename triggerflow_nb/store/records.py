"""The plain records a store hands back: a lease, a listing summary, a page, a stored execution."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from ..reproducibility import shows_wall_clock


@dataclass(frozen=True)
class Lease:
    """Permission for ``owner`` to resume and save one execution until ``until`` (epoch seconds).

    ``fence`` grows by one at every claim of the row; a save or renew under an older fence is
    refused, so a worker that lost its lease cannot write late.
    """

    execution_id: str
    owner: str
    fence: int
    until: float
    version: int  # the row's version when claimed or renewed
    ttl: float  # what renew() extends by when not told otherwise


@dataclass(frozen=True)
class Summary:
    """What a listing shows about one stored execution. Never the snapshot body."""

    execution_id: str
    flow_name: str
    flow_fingerprint: str
    status: str
    lifecycle_state: str
    pending_interrupts: tuple[tuple[str, str], ...]  # (interrupt id, type), in snapshot order
    state_keys: tuple[str, ...]
    resource_keys: tuple[str, ...]
    version: int
    saved_at: float
    lease_owner: Optional[str]
    lease_until: Optional[float]
    # Set when a summary column of the row is damaged (its fields then read empty): what get() raises.
    unreadable: Optional[str] = None

    def lease_text(self, now: float) -> str:
        if self.lease_owner is None or self.lease_until is None:
            return "free"
        if self.lease_until < now:
            return f"expired (was {self.lease_owner})"
        if not shows_wall_clock():
            return f"held by {self.lease_owner}"  # reproducible mode: the seconds left differ on every run
        return f"held by {self.lease_owner} for {self.lease_until - now:.0f} s more"


@dataclass(frozen=True)
class Page:
    """One page of summaries, newest save first; pass ``next_cursor`` as ``cursor=`` for the next."""

    items: tuple[Summary, ...]
    next_cursor: Optional[str] = None

    def __iter__(self) -> Iterator[Summary]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Summary:
        return self.items[index]


@dataclass(frozen=True)
class StoredExecution:
    """A stored snapshot with the row's version and lease."""

    execution_id: str
    version: int
    saved_at: float
    snapshot: dict[str, Any] = field(repr=False)
    lease_owner: Optional[str] = None
    lease_until: Optional[float] = None
