"""``TriggerFlow``: a flow definition. Cheap to create; many executions per flow."""

from __future__ import annotations

import inspect
import uuid
import warnings
from typing import TYPE_CHECKING, Any, Callable

from ..errors import FlowDefinitionError, LifecycleError
from ..layers.flow_data import FlowData
from ..observe import Channel, FlowDataChanged
from ..runtime.loop_bridge import run_sync
from .builder import Chain
from .graph import CHUNK, EVENT, START_ID, SUB_FLOW, FlowGraph, Node
from .naming import handler_name

if TYPE_CHECKING:
    from ..runtime.execution import TriggerFlowExecution

_MODES = ("and", "or", "simple_or")


class TriggerFlow:
    """A flow definition: chunks, chains, branches and event listeners, stored as a graph."""

    def __init__(self, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"TriggerFlow(name=...) must be a string, got {type(name).__name__}")
        self.name = name or f"flow-{uuid.uuid4().hex[:8]}"
        self._graph = FlowGraph()
        self._handlers: dict[str, tuple[Callable[..., Any], bool]] = {}
        self._chunk_names: dict[Callable[..., Any], str] = {}  # functions registered under a name of their own
        self._open_blocks: set[str] = set()
        self._flow_data = FlowData(self.name)
        self._flow_data.on_write = self._on_flow_data_write
        self._runtime_resources: dict[str, Any] = {}
        self._resource_requirements: list[str] = []
        self.channel = Channel()  # flow-wide observations (every execution of this flow)

    # -- chunks -----------------------------------------------------------------------------

    def chunk(self, handler_or_name: Callable[..., Any] | str | None = None, *, name: str | None = None):
        """Register a chunk handler: ``@flow.chunk`` or ``@flow.chunk("name")``.

        Returns the function itself (still callable), so ``.to(fn)`` finds it by name.
        Registering a name again replaces its handler: re-running an edited cell updates the flow.
        """
        if isinstance(handler_or_name, str) or handler_or_name is None:
            chosen = handler_or_name or name

            def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
                return self._register_chunk(fn, chosen)

            return decorator
        return self._register_chunk(handler_or_name, name)

    register_chunk_handler = chunk

    def _register_chunk(self, fn: Callable[..., Any], name: str | None) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError(f"a chunk handler must be callable, got {type(fn).__name__}")
        chunk_name = name or handler_name(fn, START_ID, self._chunk_names)
        if name:
            try:
                self._chunk_names[fn] = name  # so that `.to(fn)` in this flow finds the given name
            except TypeError:
                pass  # an unhashable callable: `.to(name)` still works
        self._set_handler(chunk_name, fn)
        return fn

    def _set_handler(self, chunk_name: str, fn: Callable[..., Any]) -> None:
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))
        node = self._graph.nodes.get(chunk_name)
        if node is not None and node.kind != CHUNK:
            raise FlowDefinitionError(f"{chunk_name!r} already names a {node.kind} node; choose another chunk name")
        self._handlers[chunk_name] = (fn, is_async)

    def _register_step(self, handler: Callable[..., Any] | str, name: str | None, predecessor: str) -> str:
        """Resolve what `.to(...)` was given into a chunk node id, registering it if needed."""
        if isinstance(handler, str):
            if name is not None:
                raise TypeError(".to('chunk name', name=...) is ambiguous: pass the handler function with name=")
            if handler not in self._graph.nodes:
                # Allowed: the chunk may be registered in a later cell; start() checks it exists.
                self._graph.add_node(Node(handler, CHUNK, _display_name(handler)))
            elif self._graph.nodes[handler].kind != CHUNK:
                raise FlowDefinitionError(f"{handler!r} names a {self._graph.nodes[handler].kind} node, not a chunk")
            return handler
        if not callable(handler):
            raise TypeError(f".to() takes a function, a lambda or a registered chunk name, got {type(handler).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f".to(name=...) must be a string, got {type(name).__name__}")
        chunk_name = name or handler_name(handler, predecessor, self._chunk_names)
        self._set_handler(chunk_name, handler)
        if chunk_name not in self._graph.nodes:
            self._graph.add_node(Node(chunk_name, CHUNK, _display_name(chunk_name)))
        return chunk_name

    # -- wiring entry points ----------------------------------------------------------------

    def to(self, handler: Callable[..., Any] | str, name: str | None = None) -> Chain:
        """Start a chain at the start boundary: the first chunk receives the start input."""
        return Chain(self, START_ID).to(handler, name)

    def when(self, trigger: Any, mode: str = "and") -> Chain:
        """Start a chain that runs when an event is emitted.

        ``when("E")`` runs with ``data.input`` equal to the emitted payload. With a list,
        ``mode="and"`` waits until every listed event has fired once in this execution
        (and fan-out scope), then runs with ``{"event": {name: payload, ...}}`` and starts
        collecting again; ``mode="or"`` runs on each of them with ``("event", name, payload)``;
        ``mode="simple_or"`` runs on each with the bare payload. A chunk function (or its
        name) as trigger means "when that chunk finishes", and ``{"state": key}`` means "when
        that state key is written".
        """
        if mode not in _MODES:
            raise ValueError(f"when(mode=...) must be one of {_MODES}, got {mode!r}")
        events = _trigger_events(self, trigger)
        if len(events) == 1:
            mode = "simple"
        node_id = f"when:{events[0]}" if mode == "simple" else f"when:{mode}({','.join(events)})"
        label = events[0] if mode == "simple" else f"{mode}: {', '.join(events)}"
        self._graph.add_node(Node(node_id, EVENT, label, events=tuple(events), mode=mode))
        return Chain(self, node_id)

    def end(self) -> Chain:
        """Deprecated: the start input becomes ``"$final_result"`` (see ``Chain.end``)."""
        return Chain(self, START_ID).end()

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

    def declare_resource_requirement(self, *keys: str) -> None:
        """Keys that a later step will need, so that load() asks for them up front."""
        for key in keys:
            if not isinstance(key, str):
                raise TypeError(f"resource requirement keys must be strings, got {key!r}")
            if key not in self._resource_requirements:
                self._resource_requirements.append(key)

    # -- executions ---------------------------------------------------------------------------

    def create_execution(self, *, runtime_resources: dict[str, Any] | None = None, auto_close: bool = True,
                         auto_close_timeout: float | None = 10.0, concurrency: int | None = None,
                         execution_environments: list[Any] | None = None) -> "TriggerFlowExecution":
        from ..runtime.execution import TriggerFlowExecution

        return TriggerFlowExecution(
            self, runtime_resources=runtime_resources, auto_close=auto_close,
            auto_close_timeout=auto_close_timeout, concurrency=concurrency,
            execution_environments=execution_environments,
        )

    async def async_start_execution(self, value: Any = None, **options: Any) -> "TriggerFlowExecution":
        """Create an execution, start it, and return its handle once the start run has settled."""
        options.setdefault("auto_close", False)
        execution = self.create_execution(**options)
        await execution._async_start(value, wait_for_close=False)
        return execution

    def start_execution(self, value: Any = None, **options: Any) -> "TriggerFlowExecution":
        return run_sync(self.async_start_execution(value, **options))

    async def async_start(self, value: Any = None, *, wait_for_result: Any = None,
                          runtime_resources: dict[str, Any] | None = None, concurrency: int | None = None,
                          execution_environments: list[Any] | None = None, **unsupported: Any) -> dict[str, Any]:
        """Run one execution to the end and return its close snapshot (a plain dict of state)."""
        if "auto_close" in unsupported:
            if unsupported.pop("auto_close") is False:
                raise LifecycleError(
                    "flow.start() always closes the execution it creates; for auto_close=False use "
                    "flow.create_execution(auto_close=False) and execution.start(...), or flow.start_execution(...)"
                )
        unsupported.pop("auto_close_timeout", None)
        if unsupported:
            raise TypeError(f"flow.start() got unexpected keyword arguments {sorted(unsupported)}")
        if wait_for_result is not None:
            warnings.warn(
                "flow.start(wait_for_result=...) is ignored: start() always waits for the execution to close "
                "and returns the close snapshot", UserWarning, stacklevel=3,
            )
        execution = self.create_execution(
            runtime_resources=runtime_resources, auto_close=True, auto_close_timeout=0.0,
            concurrency=concurrency, execution_environments=execution_environments,
        )
        execution._pause_fails_fast = True
        return await execution._async_start(value, wait_for_close=True)

    def start(self, value: Any = None, **options: Any) -> dict[str, Any]:
        return run_sync(self.async_start(value, **options))

    # -- blueprints ------------------------------------------------------------------------------

    def save_blueprint(self) -> dict[str, Any]:
        """The definition as JSON/YAML-safe data: structure and handler names, not code."""
        from ..persistence.blueprint import save_blueprint

        return save_blueprint(self)

    def load_blueprint(self, blueprint: dict[str, Any]) -> "TriggerFlow":
        """Replace this flow's wiring with ``blueprint``; handlers must be registered by name first."""
        from ..persistence.blueprint import load_blueprint

        load_blueprint(self, blueprint)
        return self

    # -- checks before running ------------------------------------------------------------------

    def _validate_runnable(self, _parents: tuple["TriggerFlow", ...] = ()) -> None:
        """Refuse to start a flow (or any flow it uses as a sub-flow) whose wiring is incomplete."""
        if self._open_blocks:
            # Innermost first (blocks open in graph order): the order the closers must be added in.
            opened = [node_id for node_id in self._graph.nodes if node_id in self._open_blocks][::-1]
            hints = []
            for node_id in opened:
                kind = self._graph.nodes[node_id].kind
                closer = {"if": ".end_condition()", "match": ".end_match()", "for_each": ".end_for_each()"}[kind]
                hints.append(f"{node_id!r} (add {closer} after its last step)")
            raise FlowDefinitionError(f"flow {self.name!r} has unclosed blocks: {'; '.join(hints)}")
        unknown = [n for n in self._graph.chunk_ids() if n not in self._handlers]
        if unknown:
            raise FlowDefinitionError(
                f"flow {self.name!r} uses chunk names with no handler: {unknown}; register them with "
                f"@flow.chunk('name') or pass the function to .to(...)"
            )
        # A sub-flow is checked now, not when the parent reaches it halfway through a run.
        path = _parents + (self,)
        for node in self._graph.nodes.values():
            if node.kind != SUB_FLOW:
                continue
            child = node.sub_flow
            if child in path:
                cycle = " -> ".join(repr(f.name) for f in path[path.index(child):] + (child,))
                raise FlowDefinitionError(
                    f"sub-flows form a cycle ({cycle}), which would never end: remove one of the to_sub_flow() steps"
                )
            try:
                child._validate_runnable(path)
            except FlowDefinitionError as exc:
                raise FlowDefinitionError(f"{exc} (used as a sub-flow of flow {self.name!r})") from None

    def __repr__(self) -> str:
        return f"<TriggerFlow {self.name!r}: {len(self._graph.chunk_ids())} chunks>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        try:
            from ..notebook.graph_view import flow_mimebundle
        except ImportError:  # the notebook layer is optional at import time
            return None
        return flow_mimebundle(self)

    # -- exports (thin delegations: the writers live in triggerflow_nb.export) -----------------

    def graph(self, execution: "TriggerFlowExecution | None" = None) -> Any:
        """A ``graphviz.Digraph`` of this flow (coloured by ``execution``'s chunk status, if given)."""
        from ..notebook.graph_view import flow_digraph

        return flow_digraph(self, execution)

    def to_dot(self, execution: "TriggerFlowExecution | None" = None) -> str:
        """Graphviz DOT text of this flow; the same text ``graph()`` renders."""
        from ..export.dot import to_dot

        return to_dot(self, execution)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart of this flow."""
        from ..export.mermaid import to_mermaid

        return to_mermaid(self)


def _display_name(chunk_name: str) -> str:
    return "λ" if chunk_name.startswith("<lambda:") else chunk_name


def _trigger_events(flow: TriggerFlow, trigger: Any) -> list[str]:
    """Normalize what `when(...)` accepts into internal event names."""
    if isinstance(trigger, dict):
        if len(trigger) != 1:
            raise ValueError("when({...}) takes one key: 'event', 'state' (or 'runtime_data'), or 'chunk'")
        (kind, names), = trigger.items()
        names = [names] if isinstance(names, str) or callable(names) else list(names)
        if kind == "event":
            return [_event_name(flow, n) for n in names]
        if kind in ("state", "runtime_data"):
            return [f"$state:{n}" for n in names]
        if kind == "chunk":
            return [_chunk_event(flow, n) for n in names]
        raise ValueError(f"when({{{kind!r}: ...}}): unknown trigger kind; use 'event', 'state' or 'chunk'")
    if isinstance(trigger, (list, tuple)):
        if not trigger:
            raise ValueError("when([...]) needs at least one event name")
        return [_event_name(flow, n) for n in trigger]
    return [_event_name(flow, trigger)]


def _event_name(flow: TriggerFlow, trigger: Any) -> str:
    if callable(trigger):
        return _chunk_event(flow, trigger)
    if not isinstance(trigger, str) or not trigger:
        raise TypeError(f"an event name must be a non-empty string, got {trigger!r}")
    if trigger in flow._handlers:  # a registered chunk's name: when it finishes
        return f"$chunk:{trigger}"
    return trigger


def _chunk_event(flow: TriggerFlow, chunk: Any) -> str:
    name = chunk if isinstance(chunk, str) else handler_name(chunk, START_ID, flow._chunk_names)
    return f"$chunk:{name}"
