"""A flow config of the other TriggerFlow read into our graph (see ``flow_config_format``).

Signals become edges: an operator that listens to another's continuation runs after it;
one that listens to ``START`` follows the start; one that listens to an event nothing
emits (an event from outside, a state key being written) gets an event listener node in
front of it, as ``flow.when(...)`` would make. Each block's operators become one block
node: its router's signals give the arms' first steps, its collector's the arms' last.
Handlers and predicates are looked up by name among those registered on the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..definition.collect import check_collects
from ..definition.flow import FlowDefinition, replace_graph
from ..definition.graph import (
    CHUNK,
    COLLECT,
    COLLECT_BRANCH,
    COLLECT_MODES,
    EVENT,
    HIT_FIRST,
    IF,
    MATCH,
    MATCH_MODES,
    SIDE_BRANCH,
    START_ID,
    SUB_FLOW,
    Branch,
    FlowGraph,
    Node,
    chunk_done_event,
    collect_name,
    collect_node_id,
    collected_event,
    state_written_event,
)
from ..definition.sub_flow_bridge import validate_capture
from ..errors import FlowConfigError, FlowDefinitionError, StateSerializationError
from ..layers.state import to_state_value
from . import flow_config_format as fmt
from .flow_config_format import SignalKey
from .flow_config_parse import COLLECTORS as _COLLECTORS
from .flow_config_parse import NODE_KINDS as _NODE_KINDS
from .flow_config_parse import Operator as _Op
from .flow_config_parse import parse_operators, signal

Registry = dict[str, tuple[Callable[..., Any], bool]]


def read_flow_config(config: Any, registry: Registry, make_sub_flow: Callable[[str], FlowDefinition],
                     missing: list[str], budget: list[int], depth: int = 0) -> FlowGraph:
    """The graph ``config`` describes; names of handlers it needs and ``registry`` lacks go to ``missing``."""
    return _Reader(config, registry, make_sub_flow, missing, budget, depth).read()


class _Reader:
    def __init__(self, config: Any, registry: Registry, make_sub_flow: Callable[[str], FlowDefinition],
                 missing: list[str], budget: list[int], depth: int):
        self.config = config
        self.name = config.get("name") if isinstance(config, dict) and isinstance(config.get("name"), str) else None
        self.registry, self.make_sub_flow, self.missing, self.budget, self.depth = (
            registry, make_sub_flow, missing, budget, depth)
        self.graph = FlowGraph()
        # signal -> ("node", id, 0) | ("arm", block, i): where arm i starts | ("route", router, i): to its match_case
        self.producer: dict[SignalKey, tuple[str, str, int]] = {}
        self.node_kind: dict[str, str] = {START_ID: "start"}
        self.node_of: dict[str, str] = {}  # operator id -> node id
        self.listeners: dict[SignalKey, list[_Op]] = {}
        self.collector: dict[str, _Op] = {}  # block operator id -> its collector
        self.ends: dict[SignalKey, list[str]] = {}  # a signal a collector listens to -> steps also listening
        self.arm_starts: dict[tuple[str, int], list[str]] = {}
        self.side_arm: dict[str, str] = {}  # side-branch node -> its chunk
        self.end_tail: dict[SignalKey, str] = {}
        self.case_ops: dict[SignalKey, _Op] = {}  # route signal -> the match_case handing it on
        self.arms_of: dict[str, list[tuple[dict[str, Any] | None, _Op]]] = {}  # router -> (case, match_case)

    def fail(self, message: str) -> FlowConfigError:
        return FlowConfigError(f"flow config {self.name!r}: {message}")

    def read(self) -> FlowGraph:
        self.ops = parse_operators(self.config, self.fail, self.depth, self.budget)
        self.map_signals()
        for op in self.ops:
            self.make_node(op)
        for op in self.ops:
            if op.kind in _NODE_KINDS and self.node_kind[self.node_of[op.id]] != EVENT:
                self.wire(op)
        for op in self.ops:
            if op.kind == "match_route":
                self.match_arms(op)
            elif op.kind == "batch_fanout":
                self.batch_arms(op)
            elif op.kind == "for_each_split":
                node = self.graph.nodes[op.id]
                entry, tail = self.arm(op, 0, self.collector[op.id])
                node.branches = [Branch("each item", entry, tail)]
        stray = [target for targets in self.ends.values() for target in targets]
        if stray:
            raise self.fail(f"{stray[0]!r} listens to the last signal of an arm, beside the block's own collector")
        self.settle_edges()
        try:
            check_collects(self.name or "flow config", self.graph)
        except FlowDefinitionError as exc:
            raise FlowConfigError(str(exc)) from None
        return self.graph

    def settle_edges(self) -> None:
        """Order the edges as reading this graph's own export orders them: by the step they lead to,
        in step order (an arrival's edge to its collect first). Steps made along the way (side
        branches, listeners) would otherwise put theirs last, and a config read, exported and read
        again would list the same edges in another order."""
        incoming: dict[str, list[str]] = {}
        for source, target in self.graph.edges():
            incoming.setdefault(target, []).append(source)
        nodes, succ = self.graph.nodes, self.graph.succ
        settled: dict[str, list[str]] = {}
        for target, node in nodes.items():
            if node.kind == COLLECT_BRANCH:
                settled.setdefault(target, []).extend(succ[target])
            for source in incoming.get(target, []):
                if not (node.kind == COLLECT and nodes[source].kind == COLLECT_BRANCH):
                    settled.setdefault(source, []).append(target)
        self.graph.succ = settled

    def callable_name(self, ref: Any, what: str) -> str:
        """The registered name a handler or predicate reference names (it must name one)."""
        if not isinstance(ref, dict) or ref.get("kind") not in ("registered", "inspected") or not (
                isinstance(ref.get("name"), str) and ref["name"]):
            shown = ref.get("callable_name") or ref.get("kind") if isinstance(ref, dict) else ref
            raise self.fail(f"{what} is not a named function ({shown!r}); it cannot be found by name")
        name: str = ref["name"]
        if name not in self.registry:
            self.missing.append(name)
        return name

    # -- which operator emits what -----------------------------------------------------------------

    def produce(self, key: SignalKey, what: tuple[str, str, int]) -> None:
        if self.producer.setdefault(key, what) != what:
            raise self.fail(f"the signal {fmt.signal_id(key)!r} is emitted by two different steps "
                            f"({self.producer[key][1]!r} and {what[1]!r})")

    def map_signals(self) -> None:
        """Which step each operator makes, which block each collector closes, and who emits each signal."""
        self.produce((fmt.EVENT, fmt.START_EVENT), ("node", START_ID, 0))
        for op in self.ops:
            for key in op.listen:
                self.listeners.setdefault(key, []).append(op)
            if op.kind in _NODE_KINDS:
                self.name_node(op)
            elif op.kind == "match_case" and (
                    len(op.listen) != 1 or self.case_ops.setdefault(op.listen[0], op) is not op):
                raise self.fail(f"match_case {op.id!r} must listen to one route signal of its own")
        self.pair_collectors()
        for op in self.ops:
            if op.kind in _NODE_KINDS and op.kind != "batch_fanout":
                node_id = self.collect_ids(op)[0] if op.kind == "collect_branch" else self.node_of[op.id]
                self.produce(self.for_each_end(op) if op.kind == "for_each_split" else op.out, ("node", node_id, 0))
            if op.kind == "for_each_split":
                self.produce(op.out, ("arm", op.id, 0))
            elif op.kind == "batch_fanout":
                for index, (key, _role) in enumerate(op.emit):
                    self.produce(key, ("arm", op.id, index))
            elif op.kind == "match_route":
                self.routes(op)
        for op in self.ops:
            if op.kind == "batch_fanout":
                self.pair_batch(op)
        used = {id(op) for op in self.collector.values()} | {
            id(case) for arms in self.arms_of.values() for _case, case in arms}
        for op in self.ops:
            if (op.kind in _COLLECTORS or op.kind == "match_case") and id(op) not in used:
                raise self.fail(f"{op.kind} {op.id!r} belongs to no block of this config")
            for key in op.listen if op.kind in _COLLECTORS else ():
                self.ends.setdefault(key, [])

    def name_node(self, op: _Op) -> None:
        if op.kind == "chunk":
            node_id = self.callable_name(op.handler_ref, f"the handler of operator {op.id!r}")
        elif op.kind == "collect_branch":
            join, node_id = self.collect_ids(op)
            if self.node_kind.setdefault(join, COLLECT) != COLLECT:
                raise self.fail(f"two operators make the step {join!r}")
        else:
            node_id = op.id
        if node_id in self.node_kind:
            raise self.fail(f"two operators make the step {node_id!r}")
        self.node_of[op.id], self.node_kind[node_id] = node_id, _NODE_KINDS[op.kind]

    def pair_collectors(self) -> None:
        """Each match and for_each has one collector emitting its end signal."""
        blocks = {op.out: op for op in self.ops if op.kind == "match_route"}
        blocks.update({self.for_each_end(op): op for op in self.ops if op.kind == "for_each_split"})
        for op in self.ops:
            closes = {"match_collect": "match_route", "for_each_collect": "for_each_split"}.get(op.kind)
            block = blocks.get(op.out) if closes else None
            if block is not None and block.kind == closes and block.id not in self.collector:
                self.collector[block.id] = op
        for end, block in blocks.items():
            if block.id not in self.collector:
                raise self.fail(f"block {block.id!r} ({block.kind}) is never closed: no collector emits its end "
                                f"signal {fmt.signal_id(end)!r}")

    def for_each_end(self, op: _Op) -> SignalKey:
        for key, _role in op.emit[1:]:
            if key[1].endswith("-End"):
                return key
        raise self.fail(f"for_each_split {op.id!r} emits no '...-End' signal")

    def collect_ids(self, op: _Op) -> tuple[str, str]:
        name, branch = op.options.get("collection_name"), op.options.get("branch_id")
        if not isinstance(name, str) or not name or not isinstance(branch, str) or not branch:
            raise self.fail(f"collect_branch {op.id!r} needs a 'collection_name' and a 'branch_id'")
        join = collect_node_id(name)
        return join, f"{join}<-{branch}"

    def routes(self, op: _Op) -> None:
        """Check a router's cases; each route signal has one match_case handing it on to its arm."""
        cases, else_signal = op.options.get("cases", []), op.options.get("else_signal")
        if not isinstance(cases, list) or not all(
                isinstance(c, dict) and "route_signal" in c and not c.get("is_else") for c in cases):
            raise self.fail(f"match_route {op.id!r}: 'cases' must be a list of case mappings, each with a "
                            f"'route_signal'")
        arms: list[tuple[dict[str, Any] | None, _Op]] = []
        for case in [*cases, None] if else_signal is not None else cases:
            key = signal(case["route_signal"] if case is not None else else_signal, op.id, self.fail)[0]
            if key not in self.case_ops:
                raise self.fail(f"match_route {op.id!r}: no match_case hands on its route signal "
                                f"{fmt.signal_id(key)!r}")
            self.produce(key, ("route", op.id, len(arms)))
            arms.append((case, self.case_ops[key]))
            self.produce(self.case_ops[key].out, ("arm", op.id, len(arms) - 1))
        self.arms_of[op.id] = arms

    def pair_batch(self, op: _Op) -> None:
        chunks = []
        for key, _role in op.emit:
            steps = self.listeners.get(key, [])
            if len(steps) != 1 or steps[0].kind != "chunk":
                raise self.fail(f"batch {op.id!r}: the branch signal {fmt.signal_id(key)!r} must start one chunk, "
                                f"not {[s.id for s in steps]}")
            chunks.append(steps[0])
        outs = {chunk.out for chunk in chunks}
        found = [c for c in self.ops if c.kind == "batch_collect" and set(c.listen) == outs]
        if len(found) != 1 or any(c is found[0] for c in self.collector.values()):
            raise self.fail(f"batch {op.id!r} has no batch_collect of its own listening to exactly its branches")
        self.collector[op.id] = found[0]
        self.produce(found[0].out, ("node", op.id, 0))

    # -- nodes and edges ------------------------------------------------------------------------

    def make_node(self, op: _Op) -> None:
        if op.kind not in _NODE_KINDS:
            return
        node_id, options = self.node_of[op.id], op.options
        if op.kind == "chunk":
            node = Node(node_id, CHUNK, "λ" if node_id.startswith("<lambda:") else node_id)
        elif op.kind == "signal_gate":
            node = self.gate(op)
        elif op.kind == "match_route":
            node = self.router(op)
        elif op.kind in ("batch_fanout", "for_each_split"):
            kind = _NODE_KINDS[op.kind]
            node = Node(node_id, kind, op.name or kind, concurrency=self.concurrency(op))
        elif op.kind == "sub_flow":
            node = self.sub_flow(op)
        else:
            join_id = self.collect_ids(op)[0]
            join = self.graph.nodes.get(join_id) or self.collect_join(op, join_id)
            labels = [arm.label for arm in join.branches]
            if options.get("mode", join.mode) != join.mode or options.get("branch_ids") != labels:
                raise self.fail(f"the operators of collect {join.label!r} disagree on its mode or branch ids")
            if options["branch_id"] not in labels:
                raise self.fail(f"collect_branch {op.id!r} delivers branch {options['branch_id']!r}, which collect "
                                f"{join.label!r} does not wait for ({labels})")
            node = Node(node_id, COLLECT_BRANCH, options["branch_id"])
        if node.id in self.graph.nodes:
            raise self.fail(f"two operators make the step {node.id!r}")
        self.graph.add_node(node)

    def collect_join(self, op: _Op, join_id: str) -> Node:
        mode, branches = op.options.get("mode", COLLECT_MODES[0]), op.options.get("branch_ids")
        if mode not in COLLECT_MODES or not isinstance(branches, list) or not all(
                isinstance(b, str) and b for b in branches) or len(set(branches)) != len(branches):
            raise self.fail(f"collect_branch {op.id!r}: 'mode' must be one of {COLLECT_MODES} and 'branch_ids' a "
                            f"list of distinct names")
        arrivals = {self.collect_ids(o)[1] for o in self.ops if o.kind == "collect_branch"}
        arms = [Branch(b, tail=f"{join_id}<-{b}") for b in branches]
        if any(arm.tail not in arrivals for arm in arms):
            raise self.fail(f"collect {op.options['collection_name']!r} waits for a branch no operator delivers")
        return self.graph.add_node(Node(join_id, COLLECT, op.options["collection_name"], mode=mode, branches=arms))

    def concurrency(self, op: _Op) -> int | None:
        value = op.options.get("concurrency")
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value <= 0):
            return None  # unlimited there, as None is here
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"operator {op.id!r}: concurrency must be an int or None, got {value!r}")
        return value

    def gate(self, op: _Op) -> Node:
        mode = op.options.get("mode", "and")
        arm = op.hint("arm")
        if (op.hint("kind") == "side_branch" and len(op.listen) == 1 and mode == "simple_or"
                and any(self.node_of.get(s.id) == arm and s.kind == "chunk" for s in self.listeners.get(op.out, []))):
            self.side_arm[op.id] = arm
            self.node_kind[op.id] = SIDE_BRANCH
            return Node(op.id, SIDE_BRANCH, op.name or "side branch", branches=[Branch(arm, arm, arm)])
        if mode not in ("and", "or", "simple_or") or not op.listen:
            raise self.fail(f"signal_gate {op.id!r} needs signals to listen to and a mode among 'and', 'or', "
                            f"'simple_or', got {mode!r}")
        if len(op.listen) == 1 and mode != "simple_or":
            raise self.fail(f"signal_gate {op.id!r} hands on one signal with mode {mode!r} (a wrapped payload), "
                            f"which a one-event when() here does not: use mode 'simple_or'")
        events = tuple(self.event_of(key, op.id) for key in op.listen)
        mode = "simple" if len(events) == 1 else mode
        label = events[0] if mode == "simple" else f"{mode}: {', '.join(events)}"
        return Node(op.id, EVENT, op.name or label, events=events, mode=mode)

    def event_of(self, key: SignalKey, gate: str) -> str:
        """The event name here of a signal a ``when`` listens to."""
        kind, event = key
        if kind == fmt.FLOW_DATA:
            raise self.fail(f"{gate!r} listens to flow_data {event!r}: there are no flow_data triggers here")
        if kind == fmt.STATE:
            return state_written_event(event)
        source = self.producer.get(key)
        if source is None:
            return event
        if source[0] == "node" and self.node_kind[source[1]] in (CHUNK, SUB_FLOW):
            return chunk_done_event(source[1])
        if source[0] == "node" and self.node_kind[source[1]] == COLLECT:
            return collected_event(collect_name(source[1]))
        where = "the end of" if source[0] == "node" else "a signal inside"
        raise self.fail(f"{gate!r} listens to {fmt.signal_id(key)!r}, {where} {source[1]!r}, which when() cannot "
                        f"name here")

    def wire(self, op: _Op) -> None:
        target = self.node_of[op.id]
        if op.kind == "collect_branch":
            self.graph.add_edge(target, self.collect_ids(op)[0])
        for key in op.listen:
            kind, event = key
            source = self.producer.get(key)
            if kind == fmt.FLOW_DATA:
                raise self.fail(f"{op.id!r} listens to flow_data {event!r}: there are no flow_data triggers here")
            if source is None:
                self.graph.add_edge(self.listener(state_written_event(event) if kind == fmt.STATE else event), target)
            elif source[0] == "arm":
                self.arm_starts.setdefault((source[1], source[2]), []).append(target)
            elif source[0] == "route":
                raise self.fail(f"{op.id!r} listens to {fmt.signal_id(key)!r}, a case's signal inside match "
                                f"{source[1]!r}: only its match_case may")
            elif source[1] == target:
                raise self.fail(f"{target!r} listens to its own continuation: it would run after itself, forever")
            elif self.side_arm.get(source[1]) == target:
                continue  # a side branch's own chunk: its arm, not a step after it
            elif key in self.ends:
                self.ends[key].append(target)
            else:
                self.graph.add_edge(source[1], target)

    def listener(self, event: str) -> str:
        """The node of a ``when`` on ``event`` (made once, as ``flow.when`` names it)."""
        node_id = f"when:{event}"
        node = self.graph.nodes.get(node_id)
        if node is None:
            if node_id in self.node_kind:
                raise self.fail(f"two operators make the step {node_id!r}")
            self.node_kind[node_id] = EVENT
            node = self.graph.add_node(Node(node_id, EVENT, event, events=(event,)))
        if node.kind != EVENT or node.events != (event,) or node.mode != "simple":
            raise self.fail(f"the step {node_id!r} is not the listener of event {event!r} its id says")
        return node_id

    # -- blocks ---------------------------------------------------------------------------------------

    def router(self, op: _Op) -> Node:
        """An if block (as our exports mark them, when the cases allow it) or a match."""
        mode = op.options.get("mode", HIT_FIRST)
        if mode not in MATCH_MODES:
            raise self.fail(f"match_route {op.id!r}: mode must be one of {MATCH_MODES}, got {mode!r}")
        arms = self.arms_of[op.id]
        is_if = (op.hint("kind") == "if" and mode == HIT_FIRST and bool(arms)
                 and all(case is None or case.get("condition_ref") is not None for case, _ in arms))
        if is_if:
            self.node_kind[op.id] = IF
            return Node(op.id, IF, op.name or "if")
        return Node(op.id, MATCH, op.name or ("match all" if mode != HIT_FIRST else "match"), mode=mode)

    def match_arms(self, op: _Op) -> None:
        node = self.graph.nodes[op.id]
        for index, (case, _case_op) in enumerate(self.arms_of[op.id]):
            entry, tail = self.arm(op, index, self.collector[op.id])
            if case is None:
                node.branches.append(Branch("else", entry, tail, is_default=True))
            elif case.get("condition_ref") is not None:
                name = self.callable_name(case["condition_ref"], f"the condition of case {index} of {op.id!r}")
                found = self.registry.get(name)
                label = ("if " if index == 0 else "elif ") if node.kind == IF else "case "
                node.branches.append(Branch(label + name, entry, tail, found[0] if found else None, name))
            else:
                try:
                    value = to_state_value("case", case.get("condition_value"))
                except StateSerializationError:
                    raise self.fail(f"case {index} of {op.id!r} compares with a value that is not JSON") from None
                node.branches.append(Branch(f"== {value!r}", entry, tail, case_value=value))

    def batch_arms(self, op: _Op) -> None:
        keys = self.collector[op.id].options.get("result_keys")
        node = self.graph.nodes[op.id]
        for key, _role in op.emit:
            chunk = self.listeners[key][0]
            label = keys.get(fmt.signal_id(chunk.out)) if isinstance(keys, dict) else None
            if not isinstance(label, str) or not label or any(arm.label == label for arm in node.branches):
                raise self.fail(f"batch {op.id!r}: the branch of chunk {chunk.id!r} has no result key of its own")
            chunk_id = self.node_of[chunk.id]
            self.arm_starts.pop((op.id, len(node.branches)), None)
            node.branches.append(Branch(label, chunk_id, chunk_id))

    def arm(self, block: _Op, index: int, collector: _Op) -> tuple[str | None, str | None]:
        """The first and last step of ``block``'s arm ``index`` (both None for an arm that passes its input on).

        Several steps on an arm's first signal: the one that reaches the block's end is the arm, the
        others (chunks) become side branches in front of it, as their ``side_branch`` wires them.
        """
        starts = self.arm_starts.pop((block.id, index), [])
        tails = {self.end_node(key, block) for key in collector.listen
                 if self.producer.get(key, ("", "", 0))[0] != "arm"}
        empty = any(self.producer.get(key) == ("arm", block.id, index) for key in collector.listen)
        if empty or not starts:
            if starts:
                raise self.fail(f"arm {index} of {block.id!r} both hands its input to the block's end and runs "
                                f"{starts}")
            return None, None
        reached = [(start, self.reached(start, tails, block.id)) for start in starts]
        main = [(start, tail) for start, tail in reached if tail is not None]
        if len(main) != 1:
            raise self.fail(f"arm {index} of {block.id!r} has {len(main)} first steps that reach the block's end "
                            f"(of {starts}); it needs one")
        entry, tail = main[0]
        sides = self.side_chain([start for start in starts if start != entry], f"{block.id}#{index}")
        if sides:
            self.graph.add_edge(sides[-1], entry)
        return (sides[0] if sides else entry), tail

    def end_node(self, key: SignalKey, block: _Op) -> str:
        """The last step of an arm that ends with ``key``; steps also listening to it run beside it."""
        if key not in self.end_tail:
            source = self.producer.get(key)
            if source is None or source[1] == START_ID:
                raise self.fail(f"the collector of {block.id!r} listens to {fmt.signal_id(key)!r}, which no step of "
                                f"an arm emits")
            tail = source[1]
            sides = self.side_chain(self.ends.pop(key, []), tail)
            if sides:
                self.graph.add_edge(tail, sides[0])
            self.end_tail[key] = sides[-1] if sides else tail
        return self.end_tail[key]

    def side_chain(self, chunks: list[str], anchor: str) -> list[str]:
        """Side branches running ``chunks``, one after the other, after ``anchor`` (named as
        ``chain.side_branch`` names them); the caller links the first and the last."""
        made: list[str] = []
        for chunk in chunks:
            if self.node_kind[chunk] != CHUNK:
                raise self.fail(f"{chunk!r} runs beside an arm's step, and only a chunk can (as a side branch)")
            side_id = f"side[{chunk}]@{anchor}"
            if side_id in self.node_kind:
                raise self.fail(f"two operators make the step {side_id!r}")
            self.node_kind[side_id] = SIDE_BRANCH
            self.graph.add_node(Node(side_id, SIDE_BRANCH, "side branch", branches=[Branch(chunk, chunk, chunk)]))
            if made:
                self.graph.add_edge(made[-1], side_id)
            made.append(side_id)
            anchor = side_id
        return made

    def reached(self, start: str, tails: set[str], block: str) -> str | None:
        """The one end of the block that the path from ``start`` reaches, or None."""
        seen, todo, found = {start}, [start], []
        while todo:
            node_id = todo.pop()
            if node_id in tails:
                found.append(node_id)
            for target in self.graph.successors(node_id):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        if len(found) > 1:
            raise self.fail(f"the arm of {block!r} starting at {start!r} reaches the block's end at {sorted(found)}")
        return found[0] if found else None

    def sub_flow(self, op: _Op) -> Node:
        options = op.options
        config = options.get("sub_flow_config")
        if not isinstance(config, dict):
            raise self.fail(f"sub_flow {op.id!r} has no 'sub_flow_config' mapping")
        if options.get("concurrency") is not None:
            raise self.fail(f"sub_flow {op.id!r}: concurrency= on a sub-flow step has no equivalent here")
        name = next((n for n in (config.get("name"), options.get("sub_flow_name"), op.name, op.id)
                     if isinstance(n, str) and n), op.id)
        child = self.make_sub_flow(name)
        graph = read_flow_config(config, self.registry, self.make_sub_flow, self.missing, self.budget, self.depth + 1)
        replace_graph(child, graph, dict(self.registry))
        try:
            capture = self.hinted_capture(op) or fmt.capture_in(options.get("capture"), op.id)
            write_back = fmt.write_back_in(options.get("write_back"), op.id)
        except FlowConfigError as exc:
            raise self.fail(str(exc)) from None
        return Node(op.id, SUB_FLOW, op.name or name, sub_flow=child, capture=capture, write_back=write_back)

    def hinted_capture(self, op: _Op) -> dict[str, Any] | None:
        """Our exports record a capture that left the input implicit; honoured while it still says the same."""
        hint = op.hint("capture")
        try:
            validate_capture(hint)
            if hint is not None and fmt.capture_out(hint, op.id) == op.options.get("capture"):
                return dict(hint)
        except (FlowDefinitionError, FlowConfigError, TypeError, AttributeError):
            pass
        return None
