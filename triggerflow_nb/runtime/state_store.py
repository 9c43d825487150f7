"""``StateStore``: an execution's state, the one layer that is saved with it.

Every write goes through ``apply``: the lifecycle check, the key check, JSON-compatibility,
the retry journal of the writing chunk, the history's write log, the trackers of changed keys
and the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, LifecycleError, StateSerializationError
from ..layers.state import append_value, copy_state_value, to_state_value
from ..observe import Channel, StateChanged, StateRejected
from .history import STATE, logged
from .status import CLOSED
from .steps import ABSENT

if TYPE_CHECKING:
    from .history import StepLog
    from .lifecycle import Lifecycle

# A tracker: the keys changed since its last take(), and what to call when the first one changes.
Tracker = tuple[dict[str, None], Callable[[], None]]



class StateStore:
    __slots__ = ("values", "trackers", "history", "_lifecycle", "_channel", "_owner")

    def __init__(self, owner: str, lifecycle: Lifecycle, channel: Channel, history: StepLog | None = None):
        self.values: dict[str, Any] = {}
        self.trackers: tuple[Tracker, ...] = ()
        self.history = history
        self._lifecycle = lifecycle
        self._channel = channel
        self._owner = owner

    def apply(self, op: str, key: str, value: Any, where: Any) -> None:
        """Apply one write. ``where`` is the writing chunk's ``data`` (its writes are journaled for
        retry()) or a text saying where a write from outside comes from."""
        if self._lifecycle.state == CLOSED:
            raise LifecycleError(f"cannot write state key {key!r} {_where(where)}: execution {self._owner} is closed")
        if not isinstance(key, str):
            raise InvalidArgumentError(f"state keys must be strings, got {key!r}")
        values = self.values
        history = self.history
        chunk = where.__class__ is not str
        if history is not None or chunk:
            # What the write replaces, for the history's log and the chunk's retry journal: ABSENT for
            # no key, a list with its length now (appends change it in place; runtime/history.py).
            before = values.get(key, ABSENT)
            if before.__class__ is list:
                before = (before, len(before))
        if chunk:  # remembered once per key: retry() puts back what the chunk's first write replaced
            undo = where._undo
            if undo is None:
                where._undo = {key: before}
            elif key not in undo:
                undo[key] = before
        try:
            if op == "set":
                values[key] = to_state_value(key, value)
            elif op == "append":
                append_value(values, key, value)
            else:
                values.pop(key, None)
        except StateSerializationError as exc:
            exc.args = (f"{exc.args[0]} ({_where(where)})",) if where else exc.args
            if self._channel.active:
                self._channel.publish(StateRejected(self._owner, key, str(exc)))
            raise
        if history is not None:
            history.writes.append((where._seq if chunk else None, STATE, key, before))
        if self.trackers:  # usually none
            self._track(key)
        if self._channel.wants_state_changes:
            self._channel.publish(StateChanged(self._owner, key, op))

    def _track(self, key: str) -> None:
        for keys, notify in self.trackers:
            if key not in keys:
                first = not keys
                keys[key] = None
                if first:
                    notify()

    def get(self, key: str | None = None, default: Any = None) -> Any:
        """A copy: of all state (no ``key``), or of one value."""
        if key is None:
            return copy_state_value(self.values)
        return copy_state_value(self.values.get(key, default))

    def undo(self, journal: dict[str, Any]) -> None:
        """Put back what a chunk run's writes replaced (retry(): see ``apply``); the history logs it
        as writes from outside a chunk."""
        values = self.values
        history = self.history
        for key, old in journal.items():
            before = logged(values.get(key, ABSENT)) if history is not None else None
            if old is ABSENT:
                values.pop(key, None)
            else:
                if old.__class__ is tuple:  # a list and its length then (state holds no tuples)
                    old, length = old
                    # A new list, not the old one shortened: the history holds lists by reference.
                    old = old[:length]
                values[key] = old
            if history is not None:
                history.writes.append((None, STATE, key, before))

    def add_tracker(self, tracker: Tracker) -> None:
        self.trackers = (*self.trackers, tracker)

    def remove_tracker(self, tracker: Tracker) -> None:
        self.trackers = tuple(t for t in self.trackers if t is not tracker)

    def capture(self) -> dict[str, Any]:
        values: dict[str, Any] = self.get()
        return values

    def restore(self, values: dict[str, Any]) -> None:
        """Take ``values`` as the whole state: a validated snapshot's own copy."""
        self.values = values


def _where(where: Any) -> str:
    return where if where.__class__ is str else where._where()
