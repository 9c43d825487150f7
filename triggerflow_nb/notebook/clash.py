"""flow_data races made visible: two executions, both open, both writing the flow's shared data.

One watcher per flow follows ``flow.channel`` (every execution's events) while at least
one panel of that flow is open. It remembers which still-open executions wrote which
flow_data keys; when a second open execution writes, the panels of both are told.
Writes made before the first panel of the flow was opened are not known.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ..observe import ExecutionClosed, FlowDataChanged

# callback(other execution id, keys written by that execution, keys written by this one)
ClashCallback = Callable[[str, frozenset, frozenset], None]


class FlowDataClashWatch:
    def __init__(self, flow: Any):
        self._flow = flow
        self._writes: dict[str, set[str]] = {}  # open execution id -> flow_data keys it wrote
        self._pairs: set[tuple[str, str]] = set()  # clashes already reported
        self._panels: dict[str, list[ClashCallback]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, execution_id: str, callback: ClashCallback) -> Callable[[], None]:
        """Tell ``callback`` about clashes involving ``execution_id``; returns a detach function."""
        if self._unsubscribe is None:
            self._unsubscribe = self._flow.channel.subscribe(self._on_event)
        self._panels.setdefault(execution_id, []).append(callback)
        # A clash that already exists (both wrote before this panel opened) shows at once.
        mine = self._writes.get(execution_id)
        if mine:
            for other, keys in self._writes.items():
                if other != execution_id:
                    callback(other, frozenset(keys), frozenset(mine))

        def detach() -> None:
            callbacks = self._panels.get(execution_id, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._panels.pop(execution_id, None)
            if not self._panels and self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
                self._writes.clear()
                self._pairs.clear()

        return detach

    def _on_event(self, event: Any) -> None:
        if type(event) is FlowDataChanged:
            writer = event.execution_id
            if writer is None:  # written from a notebook cell, outside any execution
                return
            keys = self._writes.setdefault(writer, set())
            new_key = event.key not in keys
            keys.add(event.key)
            for other, other_keys in self._writes.items():
                pair = (writer, other) if writer < other else (other, writer)
                # Tell only what is news: a new pair, or a key this writer had not touched yet.
                if other != writer and (new_key or pair not in self._pairs):
                    self._pairs.add(pair)
                    self._tell(writer, other, other_keys, keys)
                    self._tell(other, writer, keys, other_keys)
        elif type(event) is ExecutionClosed:
            closed = event.execution_id
            self._writes.pop(closed, None)
            self._pairs = {pair for pair in self._pairs if closed not in pair}

    def _tell(self, panel_execution: str, other: str, other_keys: set[str], own_keys: set[str]) -> None:
        for callback in self._panels.get(panel_execution, ()):
            callback(other, frozenset(other_keys), frozenset(own_keys))


_watches: weakref.WeakKeyDictionary[Any, FlowDataClashWatch] = weakref.WeakKeyDictionary()


def clash_watch(flow: Any) -> FlowDataClashWatch:
    watch = _watches.get(flow)
    if watch is None:
        watch = _watches[flow] = FlowDataClashWatch(flow)
    return watch
