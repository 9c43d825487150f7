"""What the runtime's parts need from each other, named as protocols (no import circle).

``FlowHost``: what an execution needs from the flow it runs.

The runtime never imports the public ``TriggerFlow`` (it sits above the runtime); it
names what it reads here instead: the definition (graph, handlers, requirements, the
runnable check), the flow-wide channel, and how a sub-flow step makes the child
execution. What every execution of the flow shares (flow_data, the flow-level resource
defaults) is handed to each execution when it is created.

``ChunkHost``: what a chunk's ``data`` view (and the walker, for a sub-flow step) reaches of
its execution: ``ChunkPort`` is the one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ..definition.graph import FlowGraph, Node
from ..layers.flow_data import FlowData
from ..observe import Channel
from .frames import Frames
from .history import StepLog
from .interrupts import Interrupt, ResumeTarget
from .resource_host import ResourceHost
from .state_store import StateStore
from .stream import RuntimeStream


class FlowHost(Protocol):
    name: str
    channel: Channel

    @property
    def flow_graph(self) -> FlowGraph: ...

    @property
    def handlers(self) -> dict[str, tuple[Callable[..., Any], bool]]: ...

    @property
    def resource_requirements(self) -> list[str]: ...

    def validate_runnable(self) -> None: ...

    def create_execution(self, *, runtime_resources: dict[str, Any] | None = None,
                         auto_close: bool = True) -> Any: ...


class ExecutionHandle(Protocol):
    """The public execution a chunk's ``data.execution`` gives (``TriggerFlowExecution``)."""

    id: str

    def seal(self) -> None: ...


class ChunkHost(Protocol):
    execution: ExecutionHandle
    execution_id: str
    flow_data: FlowData
    resources: ResourceHost
    state: StateStore
    stream: RuntimeStream
    history: StepLog | None

    @property
    def pause_fails_fast(self) -> bool: ...

    def get_state(self, key: str | None, default: Any) -> Any: ...

    def write_state(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> None: ...

    async def async_write_state(self, op: str, key: str, value: Any, emit: bool, where: Any,
                                frames: Frames) -> None: ...

    def emit(self, event: str, payload: Any, frames: Frames) -> Coroutine[Any, Any, None]: ...

    def emit_nowait(self, event: str, payload: Any, frames: Frames) -> None: ...

    def put_into_stream(self, item: Any) -> None: ...

    def write_flow_data(self, data: Any, op: str, key: str, value: Any, no_warning: bool) -> None: ...

    def open_interrupt(self, node: Node, value: Any, frames: Frames, type: str, payload: Any,
                       resume_to: ResumeTarget, interrupt_id: str | None, max_resumes: int | None = None,
                       resumed: str | None = None) -> Interrupt: ...
