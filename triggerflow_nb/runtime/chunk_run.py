"""``flow.run_chunk``: one chunk of a flow, run on its own with the state, flow_data and resources given.

Nothing else of the graph runs. The chunk runs in a throwaway execution of a one-step graph
(START -> the chunk) that listens to nothing, so its emits and state writes trigger no branch;
they are recorded in its step (``writes``, ``emits``) as in any execution's history. Its
flow_data is a store of its own (the flow's shared one is never touched), filled from
``flow_data=``. What a prototyper uses to try a chunk, or a test to pin one down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..definition.graph import CHUNK, START_ID, FlowGraph
from ..errors import InvalidArgumentError
from ..layers.flow_data import FlowData
from ..observe import Channel
from .host import FlowHost
from .steps import Emit, StepRecord, StepStatus, Write


@dataclass(frozen=True)
class ChunkRun:
    """What ``flow.run_chunk`` gives back: the chunk's own return value (not a copy), the state after
    it, its step record's writes and emits, and the throwaway execution it ran in (still open, and
    resumable, when the chunk paused)."""

    chunk: str
    status: StepStatus
    result: Any
    state: dict[str, Any]
    writes: list[Write]
    emits: list[Emit]
    step: StepRecord
    execution: Any = field(repr=False)


class _OneChunk:
    """The flow as the throwaway execution sees it: START -> the chunk, with the same handler."""

    def __init__(self, flow: FlowHost, chunk: str, handler: tuple[Callable[..., Any], bool]):
        self.name = flow.name
        self.channel = Channel()
        graph = FlowGraph()
        graph.nodes[chunk] = flow.flow_graph.nodes[chunk]
        graph.succ[START_ID] = [chunk]
        self._graph = graph
        self._handlers = {chunk: handler}

    @property
    def flow_graph(self) -> FlowGraph:
        return self._graph

    @property
    def handlers(self) -> dict[str, tuple[Callable[..., Any], bool]]:
        return self._handlers

    @property
    def resource_requirements(self) -> list[str]:
        return []

    def validate_runnable(self) -> None:
        return None

    def create_execution(self, **options: Any) -> Any:
        raise AssertionError("a lone chunk starts no sub-flow")  # only a sub-flow step calls this


def _kept(handler: tuple[Callable[..., Any], bool], box: list[Any]) -> tuple[Callable[..., Any], bool]:
    """The handler, keeping what it returns in ``box`` (the run's ``result`` is that object itself)."""
    fn, is_async = handler
    if is_async:
        async def run_async(data: Any) -> Any:
            box.append(await fn(data))
            return box[-1]

        return run_async, True

    def run(data: Any) -> Any:
        box.append(fn(data))
        return box[-1]

    return run, False


async def run_chunk(flow: FlowHost, make_execution: Callable[[FlowHost, FlowData, dict[str, Any]], Any],
                    chunk: Any, value: Any, state: Any, flow_data: Any, resources: Any) -> ChunkRun:
    """Run ``chunk`` of ``flow`` alone; ``make_execution(host, flow_data, resources)`` makes the execution."""
    node = flow.flow_graph.nodes.get(chunk) if isinstance(chunk, str) else None
    if node is None or node.kind != CHUNK or chunk not in flow.handlers:
        chunks = sorted(n for n, node in flow.flow_graph.nodes.items() if node.kind == CHUNK and n in flow.handlers)
        raise InvalidArgumentError(f"run_chunk({chunk!r}): flow {flow.name!r} has no such chunk "
                                   f"(its chunks: {', '.join(chunks) or 'none'})")
    for what, given in (("state", state), ("flow_data", flow_data), ("resources", resources)):
        if given is not None and not isinstance(given, dict):
            raise InvalidArgumentError(f"run_chunk({what}=...) must be a dict or None, got {type(given).__name__}")
    own_flow_data = FlowData(flow.name)
    for key, item in (flow_data or {}).items():
        own_flow_data.set(key, item, no_warning=True)
    returned: list[Any] = []
    execution = make_execution(_OneChunk(flow, chunk, _kept(flow.handlers[chunk], returned)), own_flow_data,
                               dict(resources or {}))
    for key, item in (state or {}).items():
        execution.set_state(key, item)  # writes from outside the chunk: not the step's own
    await execution.run(value, until="settled")  # a chunk that raises: ChunkError, as start() raises it
    [step] = execution.history()
    if step.status != "paused":
        await execution.async_close()
    return ChunkRun(chunk, step.status, returned[-1] if returned else None, execution.get_state(),
                    step.writes, step.emits, step, execution)
