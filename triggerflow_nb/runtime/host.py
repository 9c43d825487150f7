"""What the runtime's parts need from each other, named as protocols.

``FlowHost``: what an execution needs from the flow it runs.

The runtime never imports the public ``TriggerFlow`` (it sits above the runtime); it
names what it reads here instead: the definition (graph, handlers, requirements,
the runnable check) and what every execution of the flow shares (flow_data, the
flow-level resource defaults, the flow-wide channel).

``ChunkHost``: what a chunk's ``data`` view reaches of its execution, so that
``runtime_data`` does not import ``execution`` (which imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ..definition.graph import FlowGraph, Node
from ..layers.flow_data import FlowData
from ..layers.resources import RuntimeResources
from ..observe import Channel
from .frames import Frames
from .interrupts import Interrupt, ResumeTarget


class FlowHost(Protocol):
    name: str
    channel: Channel
    _graph: FlowGraph
    _handlers: dict[str, tuple[Callable[..., Any], bool]]
    _resource_requirements: list[str]
    _runtime_resources: dict[str, Any]
    _flow_data: FlowData

    def validate_runnable(self) -> None: ...


class ChunkHost(Protocol):
    """What a chunk's ``data`` view (``TriggerFlowRuntimeData``) reaches of its execution."""

    id: str
    flow: FlowHost
    _resources: RuntimeResources
    _pause_fails_fast: bool

    @property
    def result(self) -> StateReader: ...

    def _write_state(self, op: str, key: str, value: Any, emit: bool, where: Any, frames: Frames) -> None: ...

    async def _async_write_state(self, op: str, key: str, value: Any, emit: bool, where: Any,
                                 frames: Frames) -> None: ...

    def _set_resource(self, name: str, value: Any) -> None: ...

    def _del_resource(self, name: str) -> None: ...

    def _emit_from_chunk(self, event: str, payload: Any, frames: Frames) -> Coroutine[Any, Any, None]: ...

    def _emit_nowait_from_chunk(self, event: str, payload: Any, frames: Frames) -> None: ...

    def _put_into_stream(self, item: Any) -> None: ...

    def _open_interrupt(self, node: Node, value: Any, frames: Frames, type: str, payload: Any,
                        resume_to: ResumeTarget, interrupt_id: str | None) -> Interrupt: ...


class StateReader(Protocol):
    def get_state(self, key: str | None = None, default: Any = None) -> Any: ...
