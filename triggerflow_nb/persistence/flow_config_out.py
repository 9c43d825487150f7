"""Our flow definition as the other TriggerFlow's flow config (see ``flow_config_format``).

Every node becomes one operator whose id is the node's id and whose name is its label (a
block adds the operators the other side needs around it, with ids derived from the
node's). An edge ``a -> b`` becomes ``b`` listening to ``a``'s continuation signal;
an event listener (``when``) and a side branch become signal gates, so that both
come back here as what they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..definition.flow import FlowDefinition
from ..definition.graph import (
    BATCH,
    CHUNK,
    COLLECT,
    COLLECT_BRANCH,
    EVENT,
    FOR_EACH,
    IF,
    MATCH,
    SIDE_BRANCH,
    START,
    SUB_FLOW,
    Branch,
    FlowGraph,
    Node,
    chunk_of_event,
    collect_name,
    collect_of_event,
    state_written_event,
)
from ..errors import FlowConfigError, StateSerializationError
from ..layers.state import to_state_value
from . import flow_config_format as fmt
from .blueprint import check_exportable

_STATE_PREFIX = state_written_event("")


def flow_config(flow: FlowDefinition) -> dict[str, Any]:
    """``flow`` as a ``trigger_flow/v1`` config (sub-flows nested in their steps' options)."""
    check_exportable(flow, FlowConfigError)
    try:
        operators = _Writer(flow.flow_graph, flow.handlers).operators()
    except FlowConfigError as exc:
        raise FlowConfigError(f"flow {flow.name!r}: {exc}") from None
    return {"version": fmt.FLOW_CONFIG_VERSION, "name": flow.name, "operators": operators, "meta": {},
            "contract": {}}


class _Writer:
    def __init__(self, graph: FlowGraph, handlers: dict[str, tuple[Callable[..., Any], bool]]):
        self.graph = graph
        self.nodes = graph.nodes
        self.handlers = handlers
        self.listen: dict[str, list[dict[str, Any]]] = {}  # node id -> the signals it listens to
        self.ops: list[dict[str, Any]] = []
        self.ids = set(graph.nodes)

    def operators(self) -> list[dict[str, Any]]:
        for source, target in self.graph.edges():
            if self.nodes[target].kind != COLLECT:  # a collect's arrivals emit its signal themselves
                self.listen.setdefault(target, []).append(self.out(source))
        for node in self.nodes.values():
            for index, arm in enumerate(node.branches):
                if arm.entry is not None and node.kind != COLLECT:
                    self.listen.setdefault(arm.entry, []).append(self.arm_signal(node, index))
        for node in self.nodes.values():
            self.write(node)
        return self.ops

    # -- signals ---------------------------------------------------------------------------------

    def out(self, node_id: str) -> dict[str, Any]:
        """The signal carrying ``node_id``'s value on (its continuation)."""
        node = self.nodes[node_id]
        kind = node.kind
        if kind == START:
            event = fmt.START_EVENT
        elif kind == CHUNK:
            event = f"Chunk[{node_id}]"
        elif kind == EVENT or kind == SIDE_BRANCH:
            event = f"When-{node_id}"
        elif kind == IF or kind == MATCH:
            event = f"Match-{node_id}-Result"
        elif kind == BATCH:
            event = f"Batch-{node_id}"
        elif kind == FOR_EACH:
            event = f"ForEach-{node_id}-End"
        elif kind == SUB_FLOW:
            event = f"SubFlow-{node_id}-Result"
        else:  # a collect's join, or one of its arrivals
            join = node_id if kind == COLLECT else self.graph.successors(node_id)[0]
            event = fmt.collect_event(collect_name(join))
        return fmt.signal(fmt.EVENT, event)

    def arm_signal(self, node: Node, index: int) -> dict[str, Any]:
        """The signal the first step of ``node``'s arm ``index`` listens to."""
        if node.kind == IF or node.kind == MATCH:
            return fmt.signal(fmt.EVENT, f"{self._route_event(node, index)}-Branch")
        if node.kind == BATCH:
            return fmt.signal(fmt.EVENT, f"Batch-{node.id}-Input-{node.branches[index].entry}")
        if node.kind == FOR_EACH:
            return fmt.signal(fmt.EVENT, f"ForEach-{node.id}-Send")
        return self.out(node.id)  # a side branch's chunk runs on the value the gate passes on

    def _route_event(self, node: Node, index: int) -> str:
        return f"Match-{node.id}-Else" if node.branches[index].is_default else f"Match-{node.id}-Case-{index}"

    def event_signal(self, node: Node, event: str) -> dict[str, Any]:
        """The signal a ``when`` on internal event name ``event`` listens to."""
        chunk = chunk_of_event(event)
        if chunk is not None:
            if chunk not in self.nodes or self.nodes[chunk].kind not in (CHUNK, SUB_FLOW):
                raise FlowConfigError(f"{node.id!r} waits for step {chunk!r}, which this flow does not have")
            return self.out(chunk)
        if event.startswith(_STATE_PREFIX):
            return fmt.signal(fmt.STATE, event[len(_STATE_PREFIX):])
        join = collect_of_event(event)
        if join is not None:
            return self.out(join)
        if event == fmt.START_EVENT:
            raise FlowConfigError(
                f"{node.id!r} listens to an event named 'START', which there is the flow starting; rename the event")
        return fmt.signal(fmt.EVENT, event)

    # -- operators -------------------------------------------------------------------------------

    def op(self, op_id: str, kind: str, name: str, listen: list[dict[str, Any]], emit: list[dict[str, Any]],
           options: dict[str, Any] | None = None, *, group: Node | None = None,
           handler_ref: dict[str, Any] | None = None, condition_ref: dict[str, Any] | None = None) -> None:
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in listen:  # their format lists a signal once
            unique.setdefault((entry["trigger_type"], entry["trigger_event"]), entry)
        self.ops.append({
            "id": op_id, "kind": kind, "name": name, "listen_signals": list(unique.values()), "emit_signals": emit,
            "options": options or {}, "handler_ref": handler_ref, "condition_ref": condition_ref,
            "group_id": group.id if group else None,
            "group_kind": None if group is None else {IF: "match", COLLECT: "collect"}.get(group.kind, group.kind),
            "parent_group_id": None, "parent_group_kind": None,
        })

    def derived_id(self, node: Node, suffix: str) -> str:
        """The id of an operator a block adds around its node's own; never the id of a node."""
        op_id = f"{node.id}#{suffix}"
        if op_id in self.ids:
            raise FlowConfigError(
                f"the operator {suffix!r} of block {node.id!r} would take the id {op_id!r}, which a step of this "
                f"flow already has; rename that step")
        self.ids.add(op_id)
        return op_id

    def write(self, node: Node) -> None:
        kind = node.kind
        listen = self.listen.get(node.id, [])
        cont = [fmt.signal(fmt.EVENT, self.out(node.id)["trigger_event"], fmt.CONTINUATION)]
        if kind == CHUNK:
            self.op(node.id, "chunk", node.id, listen, cont, handler_ref=self.callable_ref(node.id, None))
        elif kind == EVENT:
            if listen:
                raise FlowConfigError(f"event listener {node.id!r} also follows a step; there it could only do one")
            mode = "simple_or" if node.mode == "simple" else node.mode
            self.op(node.id, "signal_gate", node.label, [self.event_signal(node, e) for e in node.events], cont,
                    {"mode": mode})
        elif kind == SIDE_BRANCH:
            self.side_branch(node, listen, cont)
        elif kind == IF or kind == MATCH:
            self.match(node, listen, cont)
        elif kind == BATCH:
            self.batch(node, listen, cont)
        elif kind == FOR_EACH:
            self.for_each(node, listen, cont)
        elif kind == SUB_FLOW:
            self.sub_flow(node, listen, cont)
        elif kind == COLLECT_BRANCH:
            self.collect_branch(node, listen, cont)
        # START and a collect's join have no operator of their own

    def callable_ref(self, name: str, fn: Callable[..., Any] | None) -> dict[str, Any]:
        """Their reference to a function: by the name it is registered under, as our blueprint does."""
        if fn is None and name in self.handlers:
            fn = self.handlers[name][0]

        def text(attribute: str) -> str | None:
            value = getattr(fn, attribute, None)
            return value if isinstance(value, str) else None

        return {"kind": "registered", "name": name, "callable_name": text("__name__"), "module": text("__module__"),
                "qualname": text("__qualname__"), "file": None, "line": None}

    def side_branch(self, node: Node, listen: list[dict[str, Any]], cont: list[dict[str, Any]]) -> None:
        arm = _only_arm(node)
        if arm.entry is None or self.nodes[arm.entry].kind != CHUNK:
            raise FlowConfigError(f"side branch {node.id!r} runs {arm.entry!r}, not a chunk; only a chunk can "
                                  f"be a side branch there")
        self.op(node.id, "signal_gate", node.label, listen, cont,
                {"mode": "simple_or", fmt.HINT: {"kind": "side_branch", "arm": arm.entry}})

    def match(self, node: Node, listen: list[dict[str, Any]], cont: list[dict[str, Any]]) -> None:
        """One router, one case operator per arm (it hands the value on to the arm's first step), one collector."""
        cases: list[dict[str, Any]] = []
        routes: list[dict[str, Any]] = []
        ends: list[dict[str, Any]] = []
        case_ops: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any] | None]] = []
        options: dict[str, Any] = {"mode": "hit_first" if node.kind == IF else node.mode, "cases": cases}
        for index, arm in enumerate(node.branches):
            route = fmt.signal(fmt.EVENT, self._route_event(node, index))
            branch = fmt.signal(fmt.EVENT, self.arm_signal(node, index)["trigger_event"], fmt.CONTINUATION)
            routes.append(route)
            ends.append(self.out(arm.tail) if arm.entry is not None and arm.tail is not None
                        else self.arm_signal(node, index))
            if arm.is_default:
                options["else_signal"] = route
                case_ops.append(("else", "else", route, branch, {"is_else": True}, None))
                continue
            ref, value = self.case_condition(node, arm)
            cases.append({"case_id": str(index), "route_signal": route, "condition_ref": ref,
                          "condition_value": value, "is_else": False})
            case_ops.append((f"case{index}", f"case:{index}", route, branch, {} if ref else {"condition_value": value},
                             ref))
        if node.kind == IF:
            options[fmt.HINT] = {"kind": "if"}
        self.op(node.id, "match_route", node.label, listen, cont + routes, options, group=node)
        for suffix, name, route, branch, case_options, ref in case_ops:
            self.op(self.derived_id(node, suffix), "match_case", name, [route], [branch], case_options, group=node,
                    condition_ref=ref)
        self.op(self.derived_id(node, "collect"), "match_collect", f"match_result:{node.id}", ends, cont, group=node)

    def case_condition(self, node: Node, arm: Branch) -> tuple[dict[str, Any] | None, Any]:
        if arm.predicate_name is None:  # a value case of a match
            try:
                return None, to_state_value("case", arm.case_value)
            except StateSerializationError:
                raise FlowConfigError(
                    f"match case {arm.case_value!r} in {node.id!r} is not JSON-compatible") from None
        if arm.predicate_name == "λ":
            raise FlowConfigError(
                f"the predicate of arm {arm.label!r} in {node.id!r} is a lambda without a name: pass name='...' "
                f"to if_condition/elif_condition/case and register the function under that name")
        return self.callable_ref(arm.predicate_name, arm.predicate), None

    def batch(self, node: Node, listen: list[dict[str, Any]], cont: list[dict[str, Any]]) -> None:
        inputs, ends, keys = [], [], {}
        for index, arm in enumerate(node.branches):
            if arm.entry is None or arm.entry != arm.tail or self.nodes[arm.entry].kind != CHUNK:
                raise FlowConfigError(f"batch {node.id!r}: branch {arm.label!r} is not one chunk, and a batch branch "
                                      f"is one chunk there")
            inputs.append(self.arm_signal(node, index))
            ends.append(self.out(arm.tail))
            keys[ends[-1]["id"]] = arm.label
        self.op(node.id, "batch_fanout", node.label, listen, inputs, {"concurrency": node.concurrency}, group=node)
        self.op(self.derived_id(node, "collect"), "batch_collect", f"batch_collect:{node.id}", ends, cont,
                {"result_keys": keys}, group=node)

    def for_each(self, node: Node, listen: list[dict[str, Any]], cont: list[dict[str, Any]]) -> None:
        body = _only_arm(node)
        send = self.arm_signal(node, 0)
        self.op(node.id, "for_each_split", node.label, listen, [dict(send, role=fmt.CONTINUATION), *cont],
                {"concurrency": node.concurrency}, group=node)
        end = self.out(body.tail) if body.entry is not None and body.tail is not None else send
        self.op(self.derived_id(node, "collect"), "for_each_collect", f"for_each_collect:{node.id}", [end], cont,
                group=node)

    def sub_flow(self, node: Node, listen: list[dict[str, Any]], cont: list[dict[str, Any]]) -> None:
        child = node.sub_flow
        if not isinstance(child, FlowDefinition):
            raise FlowConfigError(f"sub-flow step {node.id!r} holds no flow definition")
        capture = fmt.capture_out(node.capture, node.id)
        options: dict[str, Any] = {
            "sub_flow_name": child.name, "sub_flow_config": flow_config(child), "capture": capture,
            "write_back": fmt.write_back_out(node.write_back, node.id), "concurrency": None,
        }
        if fmt.capture_in(capture, node.id) != node.capture:  # ours left the input implicit
            options[fmt.HINT] = {"capture": node.capture}
        self.op(node.id, "sub_flow", node.label, listen, cont, options)

    def collect_branch(self, node: Node, listen: list[dict[str, Any]], cont: list[dict[str, Any]]) -> None:
        join = self.nodes[self.graph.successors(node.id)[0]]
        name = collect_name(join.id)
        options = {"collection_name": name, "collect_id": join.id, "branch_id": node.label,
                   "branch_ids": [arm.label for arm in join.branches], "mode": join.mode}
        self.op(node.id, "collect_branch", f"collect:{name}", listen, cont, options, group=join)


def _only_arm(node: Node) -> Branch:
    if len(node.branches) != 1:
        raise FlowConfigError(f"{node.kind} {node.id!r} has {len(node.branches)} arms; it has one")
    return node.branches[0]
