"""The observation channel: small typed events that the runtime publishes.

The live panel, the live graph and tests subscribe. With no subscriber, the
runtime skips building events at all (it checks ``if channel:`` first), so an
unobserved run pays one truth test per publish point.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

_dc = {"frozen": True, "slots": True} if sys.version_info >= (3, 10) else {"frozen": True}


@dataclass(**_dc)
class ExecutionStarted:
    execution_id: str
    value: Any


@dataclass(**_dc)
class ExecutionSealed:
    execution_id: str


@dataclass(**_dc)
class ExecutionClosed:
    execution_id: str
    status: str
    reason: str


@dataclass(**_dc)
class ChunkStarted:
    execution_id: str
    node_id: str


@dataclass(**_dc)
class ChunkFinished:
    execution_id: str
    node_id: str


@dataclass(**_dc)
class ChunkFailed:
    execution_id: str
    node_id: str
    error: str


@dataclass(**_dc)
class StateChanged:
    execution_id: str
    key: str
    op: str  # "set" | "append" | "del"


@dataclass(**_dc)
class StateRejected:
    """A write to state was refused as not serializable (the panel shows the advice)."""

    execution_id: str
    key: str
    message: str


@dataclass(**_dc)
class FlowDataChanged:
    execution_id: str | None  # None when written from outside any execution
    key: str
    op: str


@dataclass(**_dc)
class StreamItem:
    execution_id: str
    index: int
    item: Any


@dataclass(**_dc)
class EventEmitted:
    execution_id: str
    event: str


@dataclass(**_dc)
class InterruptOpened:
    execution_id: str
    interrupt_id: str
    node_id: str


@dataclass(**_dc)
class InterruptResumed:
    execution_id: str
    interrupt_id: str


@dataclass(**_dc)
class FanOutProgress:
    """A batch or for_each finished one more of its items."""

    execution_id: str
    node_id: str
    activation_id: str
    done: int
    total: int


@dataclass(**_dc)
class ResourcesChanged:
    execution_id: str


Observer = Callable[[Any], None]


class Channel:
    """A list of subscribers. Falsy when nobody listens, so publishers can skip work."""

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: list[Observer] = []

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(event)`` for every event; returns a function that unsubscribes."""
        if not callable(observer):
            raise TypeError(f"an observer must be callable, got {type(observer).__name__}")
        self._subscribers = [*self._subscribers, observer]

        def unsubscribe() -> None:
            self._subscribers = [s for s in self._subscribers if s is not observer]

        return unsubscribe

    def publish(self, event: Any) -> None:
        # A failing observer must not break the run it observes: report, don't raise.
        for observer in self._subscribers:
            try:
                observer(event)
            except Exception as exc:  # noqa: BLE001
                sys.stderr.write(f"triggerflow_nb: observer {observer!r} failed on {type(event).__name__}: {exc!r}\n")

    def __bool__(self) -> bool:
        return bool(self._subscribers)
