"""``ChunkPort``: what a chunk's ``data`` reaches of its execution.

State writes (and the ``when({"state": key})`` branches they trigger), emits, the stream,
resources, flow_data and pauses. One port per execution, shared by every chunk run's
``data``, so that ``runtime_data`` never holds the whole execution's insides.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..definition.graph import Node, state_written_event
from ..errors import InvalidArgumentError, LifecycleError
from ..layers.flow_data import FlowData
from ..observe import InterruptOpened
from .frames import Frames
from .interrupts import Interrupt, InterruptBook, ResumeTarget
from .status import CLOSED
from .steps import ABSENT as NO_KEY

if TYPE_CHECKING:
    from .host import ExecutionHandle, FlowHost
    from .lifecycle import Lifecycle
    from .resource_host import ResourceHost
    from .state_store import StateStore
    from .walker import GraphWalker
    from .work import ExecutionWork


class ChunkPort:
    __slots__ = ("execution", "execution_id", "flow_data", "resources", "state", "stream", "history", "_graph",
                 "_walker", "_work", "_lifecycle", "_interrupts")

    def __init__(self, execution: ExecutionHandle, flow: FlowHost, flow_data: FlowData, lifecycle: Lifecycle,
                 state: StateStore, resources: ResourceHost, interrupts: InterruptBook, walker: GraphWalker,
                 work: ExecutionWork):
        self.execution = execution  # what ``data.execution`` gives the chunk: the public handle
        self.execution_id = execution.id
        self.flow_data = flow_data
        self.resources = resources
        self.state = state
        self.stream = lifecycle.stream
        self.history = state.history  # the step log, or None when history is off
        self._graph = flow.flow_graph  # the same object for the flow's life
        self._walker = walker
        self._work = work
        self._lifecycle = lifecycle
        self._interrupts = interrupts

    @property
    def pause_fails_fast(self) -> bool:
        return self._lifecycle.pause_fails_fast

    # -- state --------------------------------------------------------------------------------------

    def get_state(self, key: str | None, default: Any) -> Any:
        return self.state.get(key, default)

    def write_and_trigger(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames,
                          detached: bool) -> Any:
        """Apply a write; return the ``when({"state": key})`` dispatch it triggers (not started), or None."""
        self.state.apply(op, key, value, where)
        listeners = self._graph.listeners
        if emit and listeners:
            event = state_written_event(key)
            if event in listeners:
                dispatch = self._walker.detached_dispatch if detached else self._walker.dispatch_event
                return dispatch(event, self.state.get(key), frames)
        return None

    def write_state(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> None:
        """A write from sync code: the branches it triggers are scheduled (close() waits for them)."""
        triggered = self.write_and_trigger(op, key, value, emit, where, frames, True)
        if triggered is not None:
            self._work.spawn(triggered, triggered)

    async def async_write_state(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> None:
        """A write from async code: waits for the branches it triggers."""
        triggered = self.write_and_trigger(op, key, value, emit, where, frames, False)
        if triggered is not None:
            await triggered

    # -- flow_data ----------------------------------------------------------------------------------

    def write_flow_data(self, data: Any, op: str, key: str, value: Any, no_warning: bool) -> None:
        """A chunk's flow_data write (``data`` is its runtime data), logged in the history with what it replaced."""
        flow_data = self.flow_data
        history = self.history
        recording = history is not None and data._seq is not None and key.__class__ is str  # bad: FlowData says
        before = flow_data.get(key, NO_KEY, no_warning=True) if recording else None
        # stacklevel 5: the warning points at the chunk's line (chunk -> data -> here -> FlowData -> _warn).
        if op == "set":
            flow_data.set(key, value, no_warning=no_warning, stacklevel=5, source=self.execution)
        elif op == "append":
            flow_data.append(key, value, no_warning=no_warning, stacklevel=5, source=self.execution)
        else:
            flow_data.delete(key, no_warning=no_warning, stacklevel=5, source=self.execution)
        if recording:
            history.flow_data_write(data._seq, key, before, flow_data.get(key, NO_KEY, no_warning=True))  # type: ignore[union-attr]

    # -- emits and the stream -------------------------------------------------------------------------

    def emit(self, event: str, payload: Any, frames: Frames) -> Coroutine[Any, Any, None]:
        """The work an awaited emit from a chunk waits for (the event checked before it exists)."""
        if event.__class__ is not str or not event or self._lifecycle.state == CLOSED:  # inline: one call per emit
            self._check_emit(event)
        return self._walker.awaited_emit(event, payload, frames)

    def emit_nowait(self, event: str, payload: Any, frames: Frames) -> None:
        if event.__class__ is not str or not event or self._lifecycle.state == CLOSED:
            self._check_emit(event)
        self._walker.spawn_emit(event, payload, frames)

    def _check_emit(self, event: str) -> None:
        """A chunk's emit after the close is refused, as its state writes and stream items are
        (a ``data`` kept past its run, a worker thread that outlived it), never dropped unsaid."""
        check_event(event)
        if self._lifecycle.state == CLOSED:
            raise LifecycleError(f"cannot emit {event!r} from a chunk of execution {self.execution_id}: it is closed")

    def put_into_stream(self, item: Any) -> None:
        self.stream.put_item(item)

    # -- pauses ---------------------------------------------------------------------------------------

    def open_interrupt(self, node: Node, value: Any, frames: Frames, type: str, payload: Any,
                       resume_to: ResumeTarget, interrupt_id: str | None, max_resumes: int | None = None,
                       resumed: str | None = None) -> Interrupt:
        interrupt = self._interrupts.open(node.id, value, frames, type, payload, resume_to, interrupt_id,
                                          max_resumes, resumed)
        self._lifecycle.cancel_idle_timer()
        self._lifecycle.publish(InterruptOpened(self.execution_id, interrupt.id, node.id))
        return interrupt


def check_event(event: Any) -> None:
    if not isinstance(event, str) or not event:
        raise InvalidArgumentError(f"an event name must be a non-empty string, got {event!r}")
