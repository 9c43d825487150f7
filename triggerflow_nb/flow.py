"""``TriggerFlow``: the public flow object.

A facade over the pure definition (``definition.FlowDefinition``): it adds what every
execution of the flow shares (flow_data, flow-level resources, the flow-wide
observation channel), the run entry points, blueprints, exports and how a flow
displays in a notebook. It is one of the two modules allowed to import across layers.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

from ._loop_bridge import run_sync
from ._validate import flag, seconds
from ._warn_once import ignore_wait_for_result
from .definition.flow import FlowDefinition
from .errors import InvalidArgumentError, LifecycleError
from .execution import TriggerFlowExecution
from .export.dot import to_dot
from .export.mermaid import to_mermaid
from .export.svg import flow_digraph, flow_mimebundle
from .layers.flow_data import FlowData
from .observe import Channel, FlowDataChanged
from .persistence import flow_config
from .persistence.blueprint import load_blueprint, save_blueprint
from .runtime.chunk_run import ChunkRun, run_chunk
from .runtime.execution import run_sync as run_on_execution
from .runtime.history import DEFAULT_LIMIT as DEFAULT_HISTORY_LIMIT
from .runtime.stream import read_synchronously

# What each entry point does instead of what ``wait_for_result=`` asked (see ``ignore_wait_for_result``).
_CLOSES = "flow.start() always waits for the execution to close and returns the close snapshot"
_CREATE_ONLY = ("create_execution() only creates the execution; execution.start(value) returns the close "
                "snapshot once it has closed by itself (auto_close), else the execution")
_HANDLE_RETURNED = ("start_execution() returns the execution once its start has settled; close() it (or let "
                    "auto_close) for the close snapshot")


class TriggerFlow(FlowDefinition):
    """A flow: its definition, what its executions share, and how to run, save and show it."""

    def __init__(self, name: str | None = None):
        if "IPython" in sys.modules:  # in a notebook, a re-run cell replaces its own wiring
            from .notebook.cell_wiring import follow_cells

            follow_cells()
        super().__init__(name)
        self._flow_data = FlowData(self.name)
        self._flow_data.on_write = self._on_flow_data_write
        self._runtime_resources: dict[str, Any] = {}
        # Observations of every execution of this flow: lifecycle, interrupts and flow_data
        # writes (chunk-level events go to each execution's own channel).
        self.channel = Channel()

    # -- flow_data: shared by every execution, warns on every call ----------------------------

    def get_flow_data(self, key: str, default: Any = None, *, no_warning: bool = False) -> Any:
        return self._flow_data.get(key, default, no_warning=no_warning)

    def set_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._flow_data.set(key, value, no_warning=no_warning)

    def append_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._flow_data.append(key, value, no_warning=no_warning)

    def del_flow_data(self, key: str, *, no_warning: bool = False) -> None:
        self._flow_data.delete(key, no_warning=no_warning)

    async def async_get_flow_data(self, key: str, default: Any = None, *, no_warning: bool = False) -> Any:
        return self._flow_data.get(key, default, no_warning=no_warning)

    async def async_set_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._flow_data.set(key, value, no_warning=no_warning)

    async def async_append_flow_data(self, key: str, value: Any, *, no_warning: bool = False) -> None:
        self._flow_data.append(key, value, no_warning=no_warning)

    async def async_del_flow_data(self, key: str, *, no_warning: bool = False) -> None:
        self._flow_data.delete(key, no_warning=no_warning)

    def peek_flow_data(self) -> dict[str, Any]:
        """A copy of all flow_data, for display tools (the notebook panel); it does not warn."""
        return self._flow_data.snapshot()

    def _on_flow_data_write(self, op: str, key: str, source: Any) -> None:
        if self.channel.active:
            self.channel.publish(FlowDataChanged(getattr(source, "id", None), key, op))

    # -- runtime resources --------------------------------------------------------------------

    def update_runtime_resources(self, **resources: Any) -> None:
        """Flow-level resource defaults for every execution (execution-level ones win on a clash)."""
        self._runtime_resources.update(resources)

    # -- executions ---------------------------------------------------------------------------

    def create_execution(self, *, runtime_resources: dict[str, Any] | None = None, auto_close: bool = True,
                         auto_close_timeout: float | None = 10.0, concurrency: int | None = None,
                         execution_environments: list[Any] | None = None, history: bool = True,
                         history_limit: int = DEFAULT_HISTORY_LIMIT,
                         wait_for_result: Any = None) -> TriggerFlowExecution:
        """A new execution of this flow, not started. ``history`` (on by default) records every chunk
        run for ``execution.history()``, ``state_at()`` and ``timeline()``; it keeps the last
        ``history_limit``. ``wait_for_result`` is deprecated and ignored."""
        ignore_wait_for_result("flow.create_execution", wait_for_result, _CREATE_ONLY)
        return TriggerFlowExecution(
            self, flow_data=self._flow_data, flow_resources=self._runtime_resources,
            runtime_resources=runtime_resources, auto_close=auto_close,
            auto_close_timeout=auto_close_timeout, concurrency=concurrency,
            execution_environments=execution_environments, history=history, history_limit=history_limit,
        )

    async def async_start_execution(self, value: Any = None, **options: Any) -> TriggerFlowExecution:
        """Create an execution, start it, and return its handle once the start run has settled.

        ``options`` are ``create_execution``'s; ``wait_for_result`` is deprecated and ignored."""
        ignore_wait_for_result("flow.start_execution", options.pop("wait_for_result", None), _HANDLE_RETURNED)
        options.setdefault("auto_close", False)
        execution = self.create_execution(**options)
        await execution.run(value, until="settled")
        return execution

    def start_execution(self, value: Any = None, **options: Any) -> TriggerFlowExecution:
        ignore_wait_for_result("flow.start_execution", options.pop("wait_for_result", None), _HANDLE_RETURNED)
        return run_sync(self.async_start_execution(value, **options))

    async def async_start(self, value: Any = None, *, wait_for_result: Any = None,
                          runtime_resources: dict[str, Any] | None = None, concurrency: int | None = None,
                          execution_environments: list[Any] | None = None, **unsupported: Any) -> dict[str, Any]:
        """Run one execution to the end and return its close snapshot (a plain dict of state)."""
        if "auto_close" in unsupported and flag("flow.start(auto_close=...)", unsupported.pop("auto_close")) is False:
                raise LifecycleError(
                    "flow.start() always closes the execution it creates; for auto_close=False use "
                    "flow.create_execution(auto_close=False) and execution.start(...), or flow.start_execution(...)"
                )
        unsupported.pop("auto_close_timeout", None)
        if unsupported:
            raise InvalidArgumentError(f"flow.start() got unexpected keyword arguments {sorted(unsupported)}")
        ignore_wait_for_result("flow.start", wait_for_result, _CLOSES)
        # No history: start() returns no handle it could be read from.
        execution = self.create_execution(
            runtime_resources=runtime_resources, auto_close=True, auto_close_timeout=0.0,
            concurrency=concurrency, execution_environments=execution_environments, history=False,
        )
        result: dict[str, Any] = await execution.run(value, until="closed", pause_fails_fast=True)
        return result

    def start(self, value: Any = None, *, wait_for_result: Any = None,
              runtime_resources: dict[str, Any] | None = None, concurrency: int | None = None,
              execution_environments: list[Any] | None = None, **unsupported: Any) -> dict[str, Any]:
        """Run one execution to the end and return its close snapshot (a plain dict of state)."""
        ignore_wait_for_result("flow.start", wait_for_result, _CLOSES)
        return run_sync(self.async_start(value, runtime_resources=runtime_resources,
                                         concurrency=concurrency, execution_environments=execution_environments,
                                         **unsupported))

    # -- one chunk alone --------------------------------------------------------------------------

    async def async_run_chunk(self, chunk: str, value: Any = None, *, state: dict[str, Any] | None = None,
                              flow_data: dict[str, Any] | None = None,
                              resources: dict[str, Any] | None = None) -> ChunkRun:
        """Run one chunk on its own with ``value`` as its input: nothing else of the graph runs.

        ``state`` is the state it starts with, ``flow_data`` a flow_data of its own (the flow's shared
        one is never touched), ``resources`` runtime resources over the flow's. Returns a ``ChunkRun``:
        ``result`` (what the chunk returned), ``state`` after it, and the ``writes`` and ``emits`` it
        made (its emits trigger nothing). A chunk that raises raises ``ChunkError``, as ``start()`` does.
        """
        def make(host: Any, own_flow_data: FlowData, given: dict[str, Any]) -> TriggerFlowExecution:
            return TriggerFlowExecution(host, flow_data=own_flow_data, flow_resources=self._runtime_resources,
                                        runtime_resources=given, auto_close=False)

        return await run_chunk(self, make, chunk, value, state, flow_data, resources)

    def run_chunk(self, chunk: str, value: Any = None, *, state: dict[str, Any] | None = None,
                  flow_data: dict[str, Any] | None = None, resources: dict[str, Any] | None = None) -> ChunkRun:
        return run_sync(self.async_run_chunk(chunk, value, state=state, flow_data=flow_data, resources=resources))

    # -- a run read as a stream -----------------------------------------------------------------

    def get_async_runtime_stream(self, initial_value: Any = None, *, timeout: float | None = 10,
                                 runtime_resources: dict[str, Any] | None = None, concurrency: int | None = None,
                                 execution_environments: list[Any] | None = None) -> AsyncIterator[Any]:
        """Start an execution with ``initial_value`` and yield its runtime stream items in order.

        The execution runs as with ``flow.start()`` (it closes as soon as it is idle, and a
        ``pause_for`` fails fast: nobody holds a handle to resume it). The stream ends when it
        closes; a chunk's error then reaches the reader. A reader that stops early cancels the
        run, and one that waits ``timeout`` seconds (None: no limit) without a new item gets a
        ``LifecycleError`` after the run is cancelled.
        """
        timeout = seconds("timeout", timeout, allow_none=True)
        execution = self.create_execution(runtime_resources=runtime_resources, auto_close=True,
                                          auto_close_timeout=0.0, concurrency=concurrency,
                                          execution_environments=execution_environments, history=False)
        return _run_and_stream(self.name, execution, initial_value, timeout)

    def get_runtime_stream(self, initial_value: Any = None, *, timeout: float | None = 10,
                           runtime_resources: dict[str, Any] | None = None, concurrency: int | None = None,
                           execution_environments: list[Any] | None = None) -> Iterator[Any]:
        """``get_async_runtime_stream`` for sync code: each item as it comes, in order."""
        timeout = seconds("timeout", timeout, allow_none=True)
        execution = self.create_execution(runtime_resources=runtime_resources, auto_close=True,
                                          auto_close_timeout=0.0, concurrency=concurrency,
                                          execution_environments=execution_environments, history=False)
        return read_synchronously(_run_and_stream(self.name, execution, initial_value, timeout),
                                  lambda step: run_on_execution(execution, step))

    # -- execution stores (triggerflow_nb.store) -------------------------------------------------

    def resume(self, store: Any, execution_id: str, **options: Any) -> TriggerFlowExecution:
        """Resume a stored execution of this flow: claim it, load it (with ``runtime_resources=``),
        continue its interrupt with ``payload=``, save the outcome under the lease, release it.
        Exactly one caller gets past the claim. See ``triggerflow_nb.store.resume`` for the options.
        """
        from .store.resume import resume

        resumed: TriggerFlowExecution = resume(self, store, execution_id, **options)
        return resumed

    async def async_resume(self, store: Any, execution_id: str, **options: Any) -> TriggerFlowExecution:
        from .store.resume import async_resume

        resumed: TriggerFlowExecution = await async_resume(self, store, execution_id, **options)
        return resumed

    # -- blueprints ------------------------------------------------------------------------------

    def save_blueprint(self) -> dict[str, Any]:
        """The definition as JSON/YAML-safe data: structure and handler names, not code."""
        return save_blueprint(self)

    def load_blueprint(self, blueprint: dict[str, Any]) -> TriggerFlow:
        """Replace this flow's wiring with ``blueprint``; handlers must be registered by name first."""
        load_blueprint(self, blueprint, make_sub_flow=TriggerFlow)
        return self

    # -- flow configs: the other TriggerFlow's definition format (README, "Flow configs") -------

    def get_flow_config(self) -> dict[str, Any]:
        """The definition as the other TriggerFlow's flow config (``"version": "trigger_flow/v1"``):
        operators wired by signals, chunks and predicates by registered name, not code."""
        return flow_config.flow_config(self)

    def get_json_flow(self, save_to: str | os.PathLike[str] | None = None) -> str:
        """``get_flow_config()`` as JSON text (also written to ``save_to``, if given)."""
        return flow_config.to_json(self.get_flow_config(), save_to)

    def get_yaml_flow(self, save_to: str | os.PathLike[str] | None = None) -> str:
        """``get_flow_config()`` as YAML text (also written to ``save_to``, if given); needs PyYAML."""
        return flow_config.to_yaml(self.get_flow_config(), save_to)

    def load_flow_config(self, config: dict[str, Any]) -> TriggerFlow:
        """Replace this flow's wiring with a flow config; its handlers must be registered by name first."""
        flow_config.load_flow_config(self, config, make_sub_flow=TriggerFlow)
        return self

    def load_json_flow(self, source: str | os.PathLike[str]) -> TriggerFlow:
        """``load_flow_config`` of JSON text (a ``pathlib.Path`` is read as a file)."""
        return self.load_flow_config(flow_config.from_json(source))

    def load_yaml_flow(self, source: str | os.PathLike[str]) -> TriggerFlow:
        """``load_flow_config`` of YAML text (a ``pathlib.Path`` is read as a file); needs PyYAML."""
        return self.load_flow_config(flow_config.from_yaml(source))

    # -- exports and display (the writers live in triggerflow_nb.export) ----------------------------

    def graph(self, execution: TriggerFlowExecution | None = None) -> Any:
        """A ``graphviz.Digraph`` of this flow (coloured by ``execution``'s chunk status, if given)."""
        return flow_digraph(self, execution)

    def to_dot(self, execution: TriggerFlowExecution | None = None) -> str:
        """Graphviz DOT text of this flow; the same text ``graph()`` renders."""
        return to_dot(self, execution)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart of this flow."""
        return to_mermaid(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        return flow_mimebundle(self)


# How long a stream reader that stopped early lets the run's remaining detached work finish.
_ABANDONED_CLOSE_TIMEOUT = 1.0


async def _run_and_stream(flow_name: str, execution: TriggerFlowExecution, value: Any,
                          timeout: float | None) -> AsyncGenerator[Any, None]:
    """``flow.get_async_runtime_stream``: run ``execution`` from ``value`` and yield its stream."""
    run = asyncio.ensure_future(execution.run(value, until="closed", pause_fails_fast=True))
    try:
        async for item in execution.get_async_runtime_stream(timeout=timeout):
            yield item
    finally:
        if not run.done():
            if not execution.is_closed():  # the reader stopped early, or ``timeout`` passed: cut the run
                run.cancel()
            await asyncio.wait({run})
            if not execution.is_closed():  # the start had returned: detached work may still run
                await asyncio.shield(execution.async_close(timeout=_ABANDONED_CLOSE_TIMEOUT,
                                                           pending_interrupts="cancel"))
        if not run.cancelled():
            run.exception()  # retrieved: raised below when the stream ended by itself, dropped on a break
    if run.cancelled():
        raise LifecycleError(
            f"no runtime stream item came for {timeout}s from execution {execution.id} of flow {flow_name!r}: "
            f"it was closed and its running work cancelled; pass a larger timeout= (None waits as long as "
            f"it takes)"
        )
    await run  # the close snapshot, or what ended the run (a chunk's error)
