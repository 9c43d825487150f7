"""``execution.watch()``: a live ipywidgets panel of one execution.

The panel subscribes to the execution's observation channel (and to the flow's, for
flow_data). Each event only notes what became stale (a state key, the stream, the
interrupts...) and marks the panel dirty; a coalescer turns the marks into at most
one flush per interval (0.1 s by default), and a flush refreshes only the stale
sections. So a chatty flow costs the run a set insertion per event, and the front
end receives a handful of updates a second however many events there were.

When the execution closes, the panel flushes one last time and unsubscribes.

``panel.close()`` stops following the execution (its subscriptions, the state tracker, the
pending flush, the auto-close tick; a Continue or Retry still running finishes but no longer
touches the panel) and closes every widget of the panel, each row, button, layout and style
included (see widget_tree). A closed panel is never updated again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as widgets

from ..errors import InvalidArgumentError
from ..export.html import esc
from ..observe import (
    AutoCloseScheduled,
    ChunkCancelled,
    ChunkFailed,
    ChunkFinished,
    ChunkStarted,
    ExecutionClosed,
    ExecutionReplaced,
    ExecutionSealed,
    ExecutionSettled,
    ExecutionStarted,
    ExecutionUnsealed,
    FanOutProgress,
    FlowDataChanged,
    InterruptOpened,
    InterruptResumed,
    ResourcesChanged,
    StateRejected,
    StreamItem,
    SyncChunkHeldLoop,
)
from ..runtime.execution import Execution
from .auto_close_view import AutoCloseCountdown
from .clash import clash_watch
from .coalesce import Coalescer, running_loop
from .failure_view import FailureRow, FailuresSection
from .live_graph import LiveGraph
from .panel_sections import (
    FlowDataSection,
    HeaderSection,
    InterruptRow,
    InterruptsSection,
    NoticesSection,
    ResourcesSection,
    StateSection,
    StreamSection,
)
from .panel_static import panel_bundle
from .progress import ProgressSection
from .resume import parse_payload, schedule_call, schedule_resume
from .run_counts import RunCountsSection
from .static_fallback import StaticFallback
from .widget_tree import close_tree

_SECTIONS = frozenset({"stream", "interrupts", "progress", "resources", "flow_data", "notices", "graph",
                       "failures"})


class ExecutionPanel(StaticFallback, widgets.VBox):
    """The live view of one execution. It is a widget: display it, or embed it in another box.

    Its output also carries a static text/html and text/plain of the panel (see static_fallback),
    refreshed when the execution closes.
    """

    def __init__(self, execution: Any, *, stream_items: int = 20, interval: float = 0.1, graph: bool = True):
        self._disposed = False  # closed: nothing updates the panel any more
        self.execution = execution
        self.flow = execution.flow
        self.header = HeaderSection()
        self.notices = NoticesSection()
        self.failures = FailuresSection(self._retry)
        self.countdown = AutoCloseCountdown(execution)
        self._slow_chunks: set[str] = set()  # sync chunks seen holding the loop (said once each)
        self.state = StateSection(execution)
        self.flow_data = FlowDataSection()
        self.resources = ResourcesSection()
        self.stream = StreamSection(stream_items)
        self.interrupts = InterruptsSection(self._continue)
        self.progress = ProgressSection(self.flow)
        self.graph = LiveGraph(execution, subscribe=False) if graph else None
        self.run_counts = RunCountsSection(counted_from_start=execution.started_at is None)
        layers = widgets.HBox(children=(self.state.widget, self.flow_data.widget, self.resources.widget),
                              layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap"))
        parts = [self.header.widget, self.countdown.widget, self.failures.widget, self.notices.widget, layers,
                 self.progress.widget, self.interrupts.widget,
                 self.stream.widget]
        parts.append(self.run_counts.widget)
        if self.graph is not None:
            parts.append(self.graph)
        super().__init__(children=tuple(parts))

        self.continue_tasks: set[Any] = set()  # resumes started by the Continue buttons, until they finish
        self._dirty_all_state = True
        self._dirty: set[str] = set(_SECTIONS)
        self.progress.replace_all(execution.fan_out_progress())  # open ones (e.g. paused items) show at once
        self._home_loop: asyncio.AbstractEventLoop | None = None  # the loop the execution's events arrive on
        self._coalescer = Coalescer(self._flush, interval)
        self._detachers: list[Any] = []
        self._closed = execution.is_closed()
        self._coalescer.flush_now()
        if not self._closed:
            # State writes are followed through a key tracker, not one event per write: a chatty
            # flow then pays a dict check per write, and the first write of a round marks the panel.
            self._state_keys = execution.track_state_changes(self._coalescer.mark)
            self._detachers = [
                self._state_keys.close,
                execution.channel.subscribe(self._on_event, state_changes=False),
                self.flow.channel.subscribe(self._on_flow_event),
                clash_watch(self.flow).attach(execution.id, self._on_clash),
            ]

    # -- events: note what is stale, then mark ------------------------------------------------

    def _on_event(self, event: Any) -> None:
        if not self._disposed:  # closed during this very event's delivery: the event is not for it any more
            self._note(event)

    def _note(self, event: Any) -> None:
        kind = type(event)
        if kind is StreamItem:
            self._dirty.add("stream")
        elif kind is FanOutProgress:
            self.progress.note(event.activation_id, event.node_id, event.done, event.total)
            self._dirty.add("progress")
        elif kind is ChunkStarted:
            self.run_counts.started(event.node_id)
            self._dirty.add("graph")
            if event.node_id in self._slow_chunks:  # it will hold the loop again: show it running first
                self._coalescer.flush_now()
                return

        elif kind is ChunkFinished or kind is ExecutionSettled:
            self._dirty.add("graph")
        elif kind is ChunkCancelled:
            self.notices.add("warning", f"chunk {event.node_id!r} was cut short ({event.reason}); the "
                                        f"execution keeps the state written so far")
            self._dirty.update(("graph", "notices"))
        elif kind is ChunkFailed:
            self.failures.add(event.node_id, event.exception, event.error)
            self._dirty.update(("graph", "failures"))
        elif kind is StateRejected:
            self.notices.add("error", event.message)
            self._dirty.add("notices")
        elif kind is InterruptOpened or kind is InterruptResumed:
            self._dirty.update(("interrupts", "graph"))
        elif kind is ResourcesChanged or kind is ExecutionStarted:
            self._dirty.update(("resources", "graph"))
        elif kind is ExecutionClosed:
            self._finish()
            return
        elif kind is ExecutionReplaced or kind is SyncChunkHeldLoop or kind is AutoCloseScheduled:
            if not self._on_notebook_loop_event(event):
                return
        elif kind is not ExecutionSealed and kind is not ExecutionUnsealed:
            return  # e.g. EventEmitted: nothing on the panel shows it
        if self._home_loop is None:
            self._home_loop = running_loop()
        self._coalescer.mark()

    def _on_notebook_loop_event(self, event: Any) -> bool:
        """Loads, retries, slow sync chunks, the auto-close timer; True when the panel should flush."""
        kind = type(event)
        if kind is AutoCloseScheduled:
            self.countdown.started()
            return False
        if kind is SyncChunkHeldLoop:
            if event.node_id in self._slow_chunks:
                return False
            self._slow_chunks.add(event.node_id)
            self.notices.add("warning", f"chunk {event.node_id!r} is synchronous and held the event loop for "
                                        f"{event.seconds:.1f} s: this panel and every other branch stood still "
                                        f"meanwhile. Make it `async def` and await its slow calls, or run the "
                                        f"blocking part with `await asyncio.to_thread(fn, ...)`.")
            self._dirty.add("notices")
            return True
        # ExecutionReplaced: a load or a retry; nothing shown so far holds any more
        self.progress.replace_all(self.execution.fan_out_progress())
        if event.cause == "retry":
            self.failures.clear()
            self.notices.add("warning", "retrying: the failed chunk runs again from the state before it")
        if self.execution.is_closed():
            self._finish()
            return False
        self._dirty_all_state = True
        self._dirty = set(_SECTIONS)
        return True

    def _on_flow_event(self, event: Any) -> None:
        if type(event) is FlowDataChanged and not self._disposed:
            self._dirty.add("flow_data")
            self._coalescer.mark()

    def _on_clash(self, other: str, other_keys: frozenset, own_keys: frozenset) -> None:
        if self._disposed:
            return
        self.notices.set_standing(
            f"clash:{other}",
            f"flow_data race: execution {other[:8]} was open at the same time and also wrote flow_data "
            f"(it wrote {sorted(other_keys)}, this one wrote {sorted(own_keys)}). flow_data is one dict shared "
            f"by every execution of flow {self.flow.name!r}, so concurrent runs overwrite each other's values; "
            f"keep per-run values in state (data.set_state) instead.",
        )
        self._dirty.add("notices")
        self._coalescer.mark()

    # -- flushing -----------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._disposed:
            return
        execution = self.execution
        self.header.update(execution)
        tracker = getattr(self, "_state_keys", None)
        changed = tracker.take() if tracker is not None else []
        if self._dirty_all_state:
            self._dirty_all_state = False
            self.state.update(None)
        elif changed:
            self.state.update(changed)
        dirty, self._dirty = self._dirty, set()
        if "stream" in dirty:
            self.stream.update(execution)
        if "interrupts" in dirty:
            self.interrupts.update(execution)
        if "progress" in dirty:
            self.progress.update()
        if "resources" in dirty:
            self.resources.update(execution)
        if "flow_data" in dirty:
            self.flow_data.update(self.flow)
        if "notices" in dirty:
            self.notices.update()
        if "failures" in dirty:
            self.failures.update(execution)
        if execution.is_closed():
            self.countdown.stop()
        if "graph" in dirty:
            self.run_counts.update()
            if self.graph is not None:
                self.graph.refresh(self.run_counts.counts)

    # -- Continue buttons -------------------------------------------------------------------------

    def _continue(self, row: InterruptRow) -> None:
        payload = parse_payload(row.payload.value)
        row.button.disabled = True
        row.button.description = "continuing…"

        def done(error: BaseException | None) -> None:
            if self._disposed:  # the panel was closed while the resume ran
                return
            if error is not None:
                self.notices.add("error", f"continue_with({row.interrupt_id!r}) failed: "
                                          f"{type(error).__name__}: {error}")
                row.button.disabled = False
                row.button.description = "Continue"
            self._dirty.update(("notices", "interrupts"))
            self._coalescer.mark()

        schedule_resume(self.execution, row.interrupt_id, payload, done, self._home_loop, self.continue_tasks)

    # -- Retry buttons -----------------------------------------------------------------------------

    def _retry(self, row: FailureRow) -> None:
        row.button.disabled = True
        row.button.description = "retrying…"
        row.message.value = ""

        def done(error: BaseException | None) -> None:
            if self._disposed:
                return
            row.button.disabled = False
            row.button.description = "Retry"
            if error is not None:
                row.message.value = (f'<span style="font-size:12px">retry failed: '
                                     f"{esc(type(error).__name__)}: {esc(error)}</span>")
            self._dirty.update(("failures", "notices"))
            self._coalescer.mark()

        schedule_call(self.execution.async_retry(row.node_id), done, self._home_loop, self.continue_tasks)

    # -- the end ----------------------------------------------------------------------------------

    def _finish(self) -> None:
        """The execution closed: one last complete refresh, then stop listening, unless a chunk's
        failure closed it: then retry() may reopen it, and the panel stays to show that."""
        self._closed = True
        self._dirty_all_state = True
        self._dirty = set(_SECTIONS)
        self._coalescer.flush_now()
        if self.execution.retryable_chunk() is None:  # a retry reopens it: keep listening
            self._detach()
        self.refresh_static_fallback()

    def static_bundle(self) -> dict[str, str]:
        return panel_bundle(self.execution, notices=self.failures.entries() + self.notices.entries(),
                            progress=self.progress.lines(),
                            stream_items=self.stream.limit, graph=self.graph is not None)

    def _detach(self) -> None:
        detachers, self._detachers = getattr(self, "_detachers", []), []
        for detach in detachers:
            detach()
        coalescer = getattr(self, "_coalescer", None)
        if coalescer is not None:
            coalescer.cancel()

    @property
    def is_following(self) -> bool:
        """True while the panel is subscribed to its execution."""
        return bool(self._detachers)

    def _before_close(self) -> None:
        """Stop following the execution for good (close_tree calls this before closing the widget)."""
        self._disposed = True
        self._detach()
        countdown = getattr(self, "countdown", None)  # close() may run on a half-built panel
        if countdown is not None:
            countdown.cancel()

    def close(self) -> None:
        """Stop following the execution and close the panel with every widget in it (closing twice is harmless)."""
        close_tree(self)


def watch(execution: Any, *, stream_items: int = 20, interval: float = 0.1, graph: bool = True) -> ExecutionPanel:
    """A live panel of ``execution``. It is returned, not displayed: make it the last expression
    of the cell (``execution.watch()``) or pass it to ``display(...)``.

    ``stream_items``: how many of the latest runtime stream items to show; ``interval``:
    the least time in seconds between two updates of the front end; ``graph``: include the
    live graph (needs Graphviz's ``dot``; without it the DOT text is shown).
    """
    if not isinstance(execution, Execution):
        raise InvalidArgumentError(
            f"watch() takes an execution (flow.create_execution() or flow.start_execution(...)), "
            f"got {type(execution).__name__}"
        )
    if isinstance(stream_items, bool) or not isinstance(stream_items, int) or stream_items < 1:
        raise InvalidArgumentError(f"watch(stream_items=...) must be a positive int, got {stream_items!r}")
    if not isinstance(graph, bool):
        raise InvalidArgumentError(f"watch(graph=...) must be True or False, got {graph!r}")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
        raise InvalidArgumentError(f"watch(interval=...) must be a number of seconds >= 0, got {interval!r}")
    return ExecutionPanel(execution, stream_items=stream_items, interval=interval, graph=graph)
