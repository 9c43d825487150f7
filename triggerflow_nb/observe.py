"""The observation channel: small typed events that the runtime publishes.

The live panel, the live graph and tests subscribe. With no subscriber, the
runtime skips building events at all (it checks ``channel.active`` first), so an
unobserved run pays one truth test per publish point.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgumentError

logger = logging.getLogger("triggerflow_nb")

_dc = {"frozen": True, "slots": True}


@dataclass(**_dc)
class ExecutionStarted:
    execution_id: str
    value: Any


@dataclass(**_dc)
class ExecutionSealed:
    execution_id: str


@dataclass(**_dc)
class ExecutionUnsealed:
    """A sealed execution was opened again (``execution.unseal()``): it accepts outside emits."""

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
    exception: BaseException | None = None  # what the chunk raised (views show its file:line and traceback)


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


@dataclass(**_dc)
class ChunkCancelled:
    """A chunk was cut short: the cell running it was interrupted, or its work was cancelled."""

    execution_id: str
    node_id: str
    reason: str


@dataclass(**_dc)
class ExecutionSettled:
    """Nothing runs any more for now: the execution is idle, or waiting on interrupts."""

    execution_id: str
    status: str


@dataclass(**_dc)
class ExecutionReplaced:
    """State, resources, interrupts and node progress were replaced as a whole (a load, a retry).

    Nothing about the previous picture holds any more: views redraw everything.
    """

    execution_id: str
    cause: str  # "load" | "retry"


@dataclass(**_dc)
class AutoCloseScheduled:
    """The execution went idle and will auto-close in ``seconds`` unless work arrives."""

    execution_id: str
    seconds: float


@dataclass(**_dc)
class SyncChunkHeldLoop:
    """A synchronous chunk ran for ``seconds`` without yielding: nothing else on the loop moved."""

    execution_id: str
    node_id: str
    seconds: float


Observer = Callable[[Any], None]

# The names ``execution.on(name, callback)`` takes: each is one kind of event of the channel
# (``"*"`` takes them all). One mechanism, two doors: a hook is a filtered subscriber.
HOOK_EVENTS: dict[str, type] = {
    "started": ExecutionStarted,
    "sealed": ExecutionSealed,
    "unsealed": ExecutionUnsealed,
    "settled": ExecutionSettled,
    "closed": ExecutionClosed,
    "chunk_started": ChunkStarted,
    "chunk_finished": ChunkFinished,
    "chunk_failed": ChunkFailed,
    "chunk_cancelled": ChunkCancelled,
    "interrupt_opened": InterruptOpened,
    "interrupt_resumed": InterruptResumed,
    "event_emitted": EventEmitted,
    "stream_item": StreamItem,
    "state_changed": StateChanged,
}
ALL_EVENTS = "*"


def hook_observer(event_type: Any, callback: Any) -> tuple[Observer, bool]:
    """The subscriber behind ``execution.on(event_type, callback)``, and whether it wants the
    per-write ``StateChanged`` events; a typed error for a name or a callback that cannot be a hook."""
    if not isinstance(event_type, str) or (event_type not in HOOK_EVENTS and event_type != ALL_EVENTS):
        raise InvalidArgumentError(
            f"execution.on() takes one of {[*HOOK_EVENTS, ALL_EVENTS]} as event_type, got {event_type!r}")
    if not callable(callback):
        raise InvalidArgumentError(f"execution.on() needs a callable callback, got {type(callback).__name__}")
    if inspect.iscoroutinefunction(callback):
        raise InvalidArgumentError(
            f"execution.on({event_type!r}, ...) got an async function: hooks are called synchronously, inside "
            f"the run; use a plain function (start async work from it with asyncio.ensure_future if you must)")
    if event_type == ALL_EVENTS:
        return callback, True
    kind = HOOK_EVENTS[event_type]

    def observer(event: Any) -> None:
        if type(event) is kind:
            callback(event)

    return observer, kind is StateChanged


class Channel:
    """Subscribers of one execution (or one flow).

    ``active`` is a plain attribute, so publishers test it at the cost of an attribute
    read and build no event at all when nobody listens. Per-write ``StateChanged``
    events go only to subscribers that want them (``state_changes=True``); a display
    that only needs to know *which* keys changed uses ``execution.track_state_changes``,
    which costs a run one dict check per write instead of one event.
    """

    __slots__ = ("_subscribers", "active", "wants_state_changes")

    def __init__(self) -> None:
        self._subscribers: list[tuple[Observer, bool]] = []
        self.active = False
        self.wants_state_changes = False

    def subscribe(self, observer: Observer, *, state_changes: bool = True) -> Callable[[], None]:
        """Call ``observer(event)`` for every event; returns a function that unsubscribes."""
        if not callable(observer):
            raise InvalidArgumentError(f"an observer must be callable, got {type(observer).__name__}")
        entry = (observer, bool(state_changes))
        self._set([*self._subscribers, entry])

        def unsubscribe() -> None:
            self._set([s for s in self._subscribers if s is not entry])

        return unsubscribe

    def _set(self, subscribers: list[tuple[Observer, bool]]) -> None:
        self._subscribers = subscribers
        self.active = bool(subscribers)
        self.wants_state_changes = any(wants for _, wants in subscribers)

    def publish(self, event: Any) -> None:
        # A failing observer must not break the run it observes: report, don't raise.
        is_state_change = type(event) is StateChanged
        for observer, wants_state_changes in self._subscribers:
            if is_state_change and not wants_state_changes:
                continue
            try:
                observer(event)
            except Exception as exc:
                logger.warning("observer %r failed on %s: %r", observer, type(event).__name__, exc)

    def __bool__(self) -> bool:
        return self.active


class StateKeyTracker:
    """Which state keys changed since the last ``take()``: see ``execution.track_state_changes``."""

    __slots__ = ("_keys", "_entry", "_state")

    def __init__(self, state: Any, notify: Callable[[], None]):
        """``state``: the execution's state store, which calls ``notify`` (see ``add_tracker``)."""
        self._keys: dict[str, None] = {}  # an ordered set: keys in the order they first changed
        self._entry = (self._keys, notify)
        self._state = state
        state.add_tracker(self._entry)

    def take(self) -> list[str]:
        """The keys changed since the last call, in first-change order; starts a new round."""
        keys = list(self._keys)
        self._keys.clear()  # the execution holds this very dict
        return keys

    def close(self) -> None:
        self._state.remove_tracker(self._entry)
