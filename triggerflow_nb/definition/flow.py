"""``FlowDefinition``: a flow as data, and the DSL that fills it.

Chunks, chains, branches and event listeners are stored in a ``FlowGraph``. Nothing
here runs, saves, draws or displays a flow: ``triggerflow_nb.flow.TriggerFlow`` is
the facade that adds those on top.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._validate import non_empty_str, one_of
from ..errors import FlowDefinitionError, InvalidArgumentError
from ..reproducibility import new_token
from . import cell_claims
from .builder import Chain
from .collect import check_collects
from .graph import (
    CHUNK,
    EVENT,
    HIT_ALL,
    START_ID,
    SUB_FLOW,
    WHEN_MODES,
    FlowGraph,
    Node,
    SubFlowDefinition,
    chunk_done_event,
    collected_event,
    state_written_event,
)
from .naming import handler_name
from .openers import FlowOpeners

Handler = Callable[..., Any]
_USER_MODES = tuple(m for m in WHEN_MODES if m != "simple")  # "simple" is what a one-event when becomes


class FlowDefinition(FlowOpeners):
    """A flow definition: chunks, chains, branches and event listeners, stored as a graph.

    Chains start at ``flow.to(...)``, at any block opener (``flow.if_condition``, ``flow.match``,
    ``flow.batch``, ``flow.for_each``, ``flow.to_sub_flow``, ``flow.side_branch``,
    ``flow.collect``: see ``FlowOpeners``), or at an event with ``flow.when(...)``.
    """

    def __init__(self, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise InvalidArgumentError(f"TriggerFlow(name=...) must be a string, got {type(name).__name__}")
        self.name = name or f"flow-{new_token('flow name')[:8]}"
        self._graph = FlowGraph()
        self._handlers: dict[str, tuple[Handler, bool]] = {}  # chunk name -> (handler, is it async)
        self._chunk_names: dict[Handler, str] = {}  # functions registered under a name of their own
        self._open_blocks: set[str] = set()
        self._resource_requirements: list[str] = []
        self._bare_events: set[str] = set()  # events named by a bare string in when(): never also a chunk
        # The notebook cell that created this flow: running that cell again makes a new flow, so
        # it never takes wiring out of this one (see definition/cell_claims.py).
        self._created_in_cell = cell_claims.current_cell()
        cell_claims.note_flow(self)

    @property
    def flow_graph(self) -> FlowGraph:
        """The graph model (nodes, edges, listeners) that runtime, exporters and notebook read; the
        same object for the flow's whole life (a loaded blueprint replaces its contents)."""
        return self._graph

    @property
    def handlers(self) -> dict[str, tuple[Handler, bool]]:
        """The live registry the runtime calls: chunk name -> (handler, whether it is async); the
        same dict for the flow's whole life."""
        return self._handlers

    @property
    def resource_requirements(self) -> list[str]:
        """The keys declared with ``declare_resource_requirement`` (load() asks for them up front)."""
        return self._resource_requirements

    # -- chunks -----------------------------------------------------------------------------

    def chunk(self, handler_or_name: Callable[..., Any] | str | None = None, *,
              name: str | None = None) -> Callable[..., Any]:
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
            raise InvalidArgumentError(f"a chunk handler must be callable, got {type(fn).__name__}")
        chunk_name = name or handler_name(fn, START_ID, self._chunk_names)
        if name:
            try:
                self._chunk_names[fn] = name  # so that `.to(fn)` in this flow finds the given name
            except TypeError:
                pass  # an unhashable callable: `.to(name)` still works
        self._set_handler(chunk_name, fn)
        return fn

    def _set_handler(self, chunk_name: str, fn: Callable[..., Any]) -> None:
        # A callable object whose __call__ is a coroutine function is async too.
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
        node = self._graph.nodes.get(chunk_name)
        if node is not None and node.kind != CHUNK:
            raise FlowDefinitionError(f"{chunk_name!r} already names a {node.kind} node; choose another chunk name")
        if chunk_name in self._bare_events:
            raise FlowDefinitionError(_ambiguous(chunk_name))
        self._handlers[chunk_name] = (fn, is_async)

    def _register_step(self, handler: Callable[..., Any] | str, name: str | None, predecessor: str) -> str:
        """Resolve what `.to(...)` was given into a chunk node id, registering it if needed."""
        if isinstance(handler, str):
            if name is not None:
                raise InvalidArgumentError(
                    ".to('chunk name', name=...) is ambiguous: pass the handler function with name="
                )
            if handler in self._graph.nodes and self._graph.nodes[handler].kind != CHUNK:
                raise FlowDefinitionError(f"{handler!r} names a {self._graph.nodes[handler].kind} node, not a chunk")
            # Allowed when new: the chunk may be registered in a later cell; start() checks it exists.
            self._graph.add_node(Node(handler, CHUNK, _display_name(handler)))
            return handler
        if not callable(handler):
            raise InvalidArgumentError(
                f".to() takes a function, a lambda or a registered chunk name, got {type(handler).__name__}"
            )
        if name is not None and not isinstance(name, str):
            raise InvalidArgumentError(f".to(name=...) must be a string, got {type(name).__name__}")
        chunk_name = name or handler_name(handler, predecessor, self._chunk_names)
        self._set_handler(chunk_name, handler)
        self._graph.add_node(Node(chunk_name, CHUNK, _display_name(chunk_name)))  # or claims the existing one
        return chunk_name

    # -- wiring entry points ----------------------------------------------------------------

    def to(self, handler: Callable[..., Any] | str | SubFlowDefinition, name: str | None = None) -> Chain:
        """Start a chain at the start boundary: the first chunk receives the start input (a flow given
        here is a sub-flow step, as with ``to_sub_flow``)."""
        return Chain(self, START_ID).to(handler, name)

    def when(self, trigger: Any, mode: str = "and") -> Chain:
        """Start a chain that runs when an event is emitted.

        ``when("E")`` runs with ``data.input`` equal to the emitted payload. With a list of
        several triggers, ``mode`` says how they combine:

        * ``mode="and"`` (the default) waits until every listed event has fired once in this
          execution (and fan-out scope), then runs once with ``{"event": {name: payload, ...}}``
          and starts waiting afresh. ``when(["A", "B"], mode="and")``: after ``emit("A", 1)``
          nothing runs; after ``emit("B", 2)`` the chain gets ``{"event": {"A": 1, "B": 2}}``.
        * ``mode="or"`` runs on each of them, with ``("event", name, payload)`` so the chain can
          tell which one fired. ``when(["A", "B"], mode="or")``: ``emit("B", 2)`` runs the chain
          with ``("event", "B", 2)``.
        * ``mode="simple_or"`` runs on each of them with the bare payload, for when it does not
          matter which fired. ``when(["A", "B"], mode="simple_or")``: ``emit("B", 2)`` runs the
          chain with ``2``.

        What can trigger: a bare string is an emitted event. A chunk function (or
        ``{"chunk": name}``) means "when that chunk finishes", with its return value;
        ``{"event": name}`` an emitted event; ``{"state": key}`` "when that state key is
        written"; ``{"collect": name}`` "when collect ``name`` has every branch's value", with
        the collected dict. A bare string that also names a chunk of this flow is refused: say
        which with the dict forms.
        """
        one_of("when(mode=...)", mode, _USER_MODES)
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

    # -- requirements -----------------------------------------------------------------------

    def declare_resource_requirement(self, *keys: str) -> None:
        """Keys that a later step will need, so that load() asks for them up front."""
        for key in keys:
            if not isinstance(key, str):
                raise InvalidArgumentError(f"resource requirement keys must be strings, got {key!r}")
            if key not in self._resource_requirements:
                self._resource_requirements.append(key)

    # -- checks before running ------------------------------------------------------------------

    def validate_runnable(self, _parents: tuple[FlowDefinition, ...] = ()) -> None:
        """Refuse to start a flow (or any flow it uses as a sub-flow) whose wiring is incomplete."""
        if self._open_blocks:
            # Innermost first (blocks open in graph order): the order the closers must be added in.
            opened = [node_id for node_id in self._graph.nodes if node_id in self._open_blocks][::-1]
            hints = []
            for node_id in opened:
                kind = self._graph.nodes[node_id].kind
                closer = {"if": ".end_condition()", "match": ".end_match()", "for_each": ".end_for_each()"}[kind]
                if kind == "match" and self._graph.nodes[node_id].mode == HIT_ALL:
                    hints.append(f"{node_id!r} (a hit_all match: add .end_match() after its last step; what follows "
                                 f"gets the list of the matching cases' results)")
                else:
                    hints.append(f"{node_id!r} (add {closer} after its last step)")
            raise FlowDefinitionError(f"flow {self.name!r} has unclosed blocks: {'; '.join(hints)}")
        check_collects(self.name, self._graph)
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
            if not isinstance(child, FlowDefinition):
                raise FlowDefinitionError(f"sub-flow step {node.id!r} holds no flow definition")
            if child in path:
                cycle = " -> ".join(repr(f.name) for f in path[path.index(child):] + (child,))
                raise FlowDefinitionError(
                    f"sub-flows form a cycle ({cycle}), which would never end: remove one of the to_sub_flow() steps"
                )
            try:
                child.validate_runnable(path)
            except FlowDefinitionError as exc:
                raise FlowDefinitionError(f"{exc} (used as a sub-flow of flow {self.name!r})") from None

    def __repr__(self) -> str:
        return f"<TriggerFlow {self.name!r}: {len(self._graph.chunk_ids())} chunks>"


# Operations of the notebook and persistence layers on a flow's wiring: functions here, next
# to the fields they touch, rather than members every user of TriggerFlow would see.

def forget_cell(flow: FlowDefinition, cell: str) -> None:
    """Take out the wiring only ``cell`` made, before that cell runs again (never in the flow's own cell)."""
    if cell == flow._created_in_cell:
        return
    flow._open_blocks -= flow._graph.forget(cell)


def open_blocks(flow: FlowDefinition) -> frozenset[str]:
    """The ids of blocks opened and not closed yet (the flow cannot run while any is open)."""
    return frozenset(flow._open_blocks)


def replace_graph(flow: FlowDefinition, graph: FlowGraph,
                  handlers: dict[str, tuple[Handler, bool]] | None = None) -> None:
    """Take ``graph`` (rebuilt from a blueprint) as the flow's whole wiring, with no block left open.

    In place: a flow's graph and handler registry stay the same objects for its whole life, so
    the runtime binds them once per execution (see GraphWalker) instead of looking them up per step.
    """
    flow._graph.take(graph)
    flow._open_blocks = set()
    if handlers is not None:
        flow._handlers.clear()
        flow._handlers.update(handlers)


def _display_name(chunk_name: str) -> str:
    return "λ" if chunk_name.startswith("<lambda:") else chunk_name


def _trigger_events(flow: FlowDefinition, trigger: Any) -> list[str]:
    """Normalize what `when(...)` accepts into internal event names."""
    if isinstance(trigger, dict):
        if len(trigger) != 1:
            raise InvalidArgumentError(
                "when({...}) takes one key: 'event', 'state' (or 'runtime_data'), 'chunk' or 'collect'"
            )
        (kind, names), = trigger.items()
        names = [names] if isinstance(names, str) or callable(names) or not hasattr(names, "__iter__") else list(names)
        if kind == "event":
            return [non_empty_str("when({'event': ...})", n) for n in names]
        if kind in ("state", "runtime_data"):
            return [state_written_event(_state_key(kind, n)) for n in names]
        if kind == "chunk":
            return [_chunk_event(flow, n) for n in names]
        if kind == "collect":
            return [collected_event(non_empty_str("when({'collect': ...})", n)) for n in names]
        raise InvalidArgumentError(
            f"when({{{kind!r}: ...}}): unknown trigger kind; use 'event', 'state', 'chunk' or 'collect'"
        )
    if isinstance(trigger, (list, tuple)):
        if not trigger:
            raise InvalidArgumentError("when([...]) needs at least one event name")
        return [_event_name(flow, n) for n in trigger]
    return [_event_name(flow, trigger)]


def _state_key(kind: str, key: Any) -> str:
    """A state key that when() listens to: never empty (no write could ever be under it)."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(
            f"when({{{kind!r}: ...}}) names a state key, which must be a non-empty string, got {key!r}")
    return key


def _event_name(flow: FlowDefinition, trigger: Any) -> str:
    if callable(trigger):
        return _chunk_event(flow, trigger)
    if not isinstance(trigger, str) or not trigger:
        raise InvalidArgumentError(f"an event name must be a non-empty string, got {trigger!r}")
    if trigger in flow._handlers:
        raise FlowDefinitionError(_ambiguous(trigger))
    flow._bare_events.add(trigger)
    return trigger


def _ambiguous(name: str) -> str:
    return (f"{name!r} is both a chunk of this flow and an event name in when(): say which with "
            f"when({{'event': {name!r}}}) (emitted events) or when({{'chunk': {name!r}}}) (after that chunk finishes)")


def _chunk_event(flow: FlowDefinition, chunk: Any) -> str:
    name = chunk if isinstance(chunk, str) else handler_name(chunk, START_ID, flow._chunk_names)
    return chunk_done_event(name)
