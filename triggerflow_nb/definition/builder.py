"""The chain DSL: ``flow.to(a).if_condition(p).to(b).else_condition().to(c).end_condition()...``.

A ``Chain`` is an immutable cursor into the flow graph: the node the next step
attaches to (``tail``), or the arm of a block that is waiting for its first step
(``pending``), plus the stack of blocks opened and not yet closed. Every method
writes into the flow's graph and returns a new cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .._validate import one_of, positive_int
from .._warn_once import warn_deprecated_once
from ..errors import FlowDefinitionError, InvalidArgumentError
from ..layers.state import FINAL_RESULT_KEY
from . import cell_claims
from .collect import declare_branch
from .graph import (
    BATCH,
    FILLED_AND_UPDATE,
    FOR_EACH,
    HIT_ALL,
    HIT_FIRST,
    IF,
    MATCH,
    MATCH_MODES,
    SIDE_BRANCH,
    SUB_FLOW,
    Branch,
    FlowGraph,
    Node,
    SubFlowDefinition,
)
from .item_executor import check_executor
from .naming import callable_label, handler_name
from .remote_body import remote_body
from .sub_flow_bridge import validate_capture, validate_write_back


class WiringHost(Protocol):
    """What a chain writes into: the flow definition (named here, since it imports this module)."""

    name: str
    _graph: FlowGraph
    _open_blocks: set[str]

    @property
    def flow_graph(self) -> FlowGraph: ...

    def _register_step(self, handler: Callable[..., Any] | str, name: str | None, predecessor: str) -> str: ...

_NO_ARM_YET = -1  # right after .match(), before the first .case()

_CLOSERS = {IF: "end_condition()", MATCH: "end_match()", FOR_EACH: "end_for_each()"}
_BLOCK_NAMES = {IF: "an if", MATCH: "a match", FOR_EACH: "a for_each"}


class Chain:
    """A position in a flow's wiring; every step method returns the next position."""

    __slots__ = ("_flow", "_tail", "_pending", "_blocks")

    def __init__(self, flow: WiringHost, tail: str | None, pending: tuple[str, int] | None = None,
                 blocks: tuple[str, ...] = ()):
        self._flow = flow
        self._tail = tail
        self._pending = pending
        self._blocks = blocks

    # -- plumbing -------------------------------------------------------------------------

    def _anchor(self) -> str:
        """A stable id for 'where the next step goes', used to derive node ids."""
        if self._pending is not None:
            return f"{self._pending[0]}#{self._pending[1]}"
        assert self._tail is not None
        return self._tail

    def _check_attachable(self, method: str) -> None:
        """Refuse a step where none can go, before anything is registered (no stray nodes)."""
        if self._pending is None:
            return
        block_id, arm = self._pending
        if arm == _NO_ARM_YET:
            raise FlowDefinitionError(
                f"{method} directly after .match(): add .case(value) (or .case_else()) before it"
            )
        block = self._flow._graph.nodes[block_id]
        entry = block.branches[arm].entry
        if entry is not None and self._wired_now(entry):
            raise FlowDefinitionError(
                f"{method} on the chain that opened an arm of {_BLOCK_NAMES[block.kind]} block ({block_id!r}) "
                f"whose first step is already {entry!r}: an arm has one first step, and this would replace it. "
                f"Chain on from that step (.to(...).to(...)), or use batch() for steps that run side by side"
            )

    def _wired_now(self, node_id: str) -> bool:
        """Whether ``node_id`` was wired by this run of the wiring: outside IPython any wiring is (it
        only adds), in a notebook the running cell's (its earlier run was forgotten before it ran).
        A later cell that gives an arm another first step replaces it, as an edited cell should."""
        cell = cell_claims.current_cell()  # "" between cells of a followed shell, None outside IPython
        return not cell or cell in self._flow._graph.claims.nodes.get(node_id, ())

    def _link(self, node_id: str) -> None:
        if self._pending is not None:
            block_id, arm = self._pending
            self._flow._graph.nodes[block_id].branches[arm].entry = node_id
        else:
            if node_id == self._tail:
                # A step that follows itself runs forever (a chain of sync chunks never even lets the
                # loop turn: a frozen kernel). Nearly always one function passed twice without name=.
                raise FlowDefinitionError(
                    f"chunk {node_id!r} would run right after itself, forever: .to() of the same function "
                    f"(or name) is the same step. For a second step pass name=, e.g. .to(fn, name={node_id + '_2'!r}); "
                    f"to repeat a step, pause with resume_to='self' or loop through an .if_condition()"
                )
            self._flow._graph.add_edge(self._tail, node_id)  # type: ignore[arg-type]

    def _next(self, tail: str | None, pending: tuple[str, int] | None = None,
              blocks: tuple[str, ...] | None = None) -> Chain:
        return Chain(self._flow, tail, pending, self._blocks if blocks is None else blocks)

    def _block(self, kind: str, method: str, opener: str) -> Node:
        if not self._blocks or self._flow._graph.nodes[self._blocks[-1]].kind != kind:
            inner = ""
            if self._blocks:
                inner_kind = self._flow._graph.nodes[self._blocks[-1]].kind
                inner = (f" (the innermost open block is {_BLOCK_NAMES[inner_kind]}: "
                         f"close it with .{_CLOSERS[inner_kind]} first)")
            raise FlowDefinitionError(f".{method} without a matching .{opener}{inner}: add .{opener} before it")
        return self._flow._graph.nodes[self._blocks[-1]]

    def _close_arm(self, node: Node) -> None:
        """Record the tail of the arm being built (None when the arm stayed empty)."""
        if self._pending is not None and self._pending[1] == _NO_ARM_YET:
            return
        arm = node.branches[-1]
        if self._pending is not None:  # empty arm: passes its input through
            arm.entry = None
            arm.tail = None
        else:
            arm.tail = self._tail

    def _open(self, kind: str, node_id: str, label: str, *, derived: bool = False, **fields: Any) -> Node:
        """Create (or, when a cell is re-run, reset) a block node and link it here.

        ``derived``: the id was made up, not named (``for_each@step``). In a notebook, a second
        unnamed block of the kind at the same place in the same cell is a block of its own
        (``for_each@step#2``), not the first one reset (the cell's earlier run was forgotten before
        it ran, so whatever this cell claimed, it wired just now). Outside IPython the same id is
        the same block, so that running a wiring function again changes nothing: name them there.
        """
        graph = self._flow._graph
        if derived:
            node_id = self._unused_derived_id(node_id)
        node = graph.nodes.get(node_id)
        if node is None:
            node = graph.add_node(Node(node_id, kind, label, **fields))
        elif node.kind != kind:
            raise FlowDefinitionError(
                f"{node_id!r} already names a {node.kind} node; choose another name for this {kind}"
            )
        else:
            graph.claim(node_id)
            node.branches = []
            for key, value in fields.items():
                setattr(node, key, value)
            graph.version += 1
        self._link(node_id)
        return node

    def _unused_derived_id(self, node_id: str) -> str:
        cell = cell_claims.current_cell()
        if not cell:  # outside a cell: the same id is the same block
            return node_id
        claims = self._flow._graph.claims.nodes
        candidate, number = node_id, 1
        while cell in claims.get(candidate, ()):  # wired by this run of the cell: the next number
            number += 1
            candidate = f"{node_id}#{number}"
        return candidate

    # -- plain steps ------------------------------------------------------------------------

    def to(self, handler: Callable[..., Any] | str | SubFlowDefinition, name: str | None = None) -> Chain:
        """Run ``handler`` next; it receives the previous step's return value as ``data.input``.

        A flow (a ``TriggerFlow``) is a sub-flow step: ``.to(child)`` is ``.to_sub_flow(child, name=name)``,
        with the default capture and write_back.
        """
        if not callable(handler) and isinstance(handler, SubFlowDefinition):
            return self.to_sub_flow(handler, name=name)
        self._check_attachable(".to()")
        chunk_id = self._flow._register_step(handler, name, self._anchor())
        self._link(chunk_id)
        self._flow._graph.version += 1
        return self._next(chunk_id)

    def to_sub_flow(self, sub_flow: SubFlowDefinition, capture: dict[str, Any] | None = None,
                    write_back: dict[str, Any] | None = None, name: str | None = None) -> Chain:
        """Run another flow as one step (see the bridging rules in the contract, section 9)."""
        self._check_attachable(".to_sub_flow()")
        if not isinstance(sub_flow, SubFlowDefinition):
            raise InvalidArgumentError(f"to_sub_flow() needs a TriggerFlow, got {type(sub_flow).__name__}")
        if sub_flow is self._flow:
            raise FlowDefinitionError(f"flow {self._flow.name!r} cannot be its own sub-flow")
        validate_capture(capture)
        validate_write_back(write_back)
        node_id = name or f"sub_flow[{sub_flow.name}]@{self._anchor()}"
        node = self._open(SUB_FLOW, node_id, name or sub_flow.name, sub_flow=sub_flow,
                          capture=capture, write_back=write_back)
        return self._next(node.id)

    def end(self) -> Chain:
        """Deprecated: write this step's input to the reserved state key ``"$final_result"``."""
        self._check_attachable(".end()")
        warn_deprecated_once(
            "Chain.end",
            "flow.end() / chain.end() is deprecated: it only writes the reserved state key '$final_result'. "
            "Read results from the close snapshot (the dict start() returns) instead.",
        )

        def _end_result(data: Any) -> Any:
            data.set_state(FINAL_RESULT_KEY, data.input, emit=False)
            return data.input

        return self.to(_end_result, name=f"$end@{self._anchor()}")

    # -- if / elif / else --------------------------------------------------------------------

    def if_condition(self, predicate: Callable[[Any], Any], name: str | None = None) -> Chain:
        """Open a conditional block: the first arm whose predicate(data) is truthy runs.

        Without a matching arm (and no else), the input passes on unchanged. The chosen
        arm's last return value flows to what follows ``end_condition()``.
        """
        _check_callable(predicate, "if_condition")
        self._check_attachable(".if_condition()")
        label = name or callable_label(predicate)
        # The id names the predicate as a chunk id names its handler, so two ifs on different
        # lambdas after the same step stay two blocks, and a re-run cell finds the same one.
        anchor = self._anchor()
        node = self._open(IF, f"if[{name or handler_name(predicate, anchor, {})}]@{anchor}", "if")
        node.branches.append(Branch(label=f"if {label}", predicate=predicate, predicate_name=label))
        self._flow._open_blocks.add(node.id)
        return self._next(None, (node.id, 0), self._blocks + (node.id,))

    def elif_condition(self, predicate: Callable[[Any], Any], name: str | None = None) -> Chain:
        _check_callable(predicate, "elif_condition")
        node = self._block(IF, "elif_condition()", "if_condition(predicate)")
        if node.branches[-1].is_default:
            raise FlowDefinitionError(".elif_condition() after .else_condition(): move it before the else arm")
        self._close_arm(node)
        label = name or callable_label(predicate)
        node.branches.append(Branch(label=f"elif {label}", predicate=predicate, predicate_name=label))
        return self._next(None, (node.id, len(node.branches) - 1))

    def else_condition(self) -> Chain:
        node = self._block(IF, "else_condition()", "if_condition(predicate)")
        if node.branches[-1].is_default:
            raise FlowDefinitionError("a second .else_condition() in one block: keep one, then .end_condition()")
        self._close_arm(node)
        node.branches.append(Branch(label="else", is_default=True))
        return self._next(None, (node.id, len(node.branches) - 1))

    def end_condition(self) -> Chain:
        node = self._block(IF, "end_condition()", "if_condition(predicate)")
        self._close_arm(node)
        self._flow._open_blocks.discard(node.id)
        return self._next(node.id, None, self._blocks[:-1])

    # -- match / case ------------------------------------------------------------------------

    def match(self, name: str | None = None, mode: str = HIT_FIRST) -> Chain:
        """Open a switch on ``data.input``: each ``.case(...)`` arm is a value or a predicate.

        ``.case(value)`` matches when ``data.input == value``; ``.case(predicate)`` (any
        callable, sync or async) is called with ``data`` and matches when it returns a truthy
        value. Cases are tried in the order they were written.

        ``mode="hit_first"`` (the default) runs the first matching case; its last return value
        flows to what follows ``end_match()``.

        ``mode="hit_all"`` runs every matching case, concurrently, and hands the list of their
        results, in case order, to what follows ``end_match()``: with cases ``x > 1``, ``x > 2``
        and ``x > 9`` an input of 5 runs the first two and passes ``[r1, r2]`` on. Every
        predicate is consulted on its own. (The TriggerFlow implementation this API comes from
        consults only the last predicate case in this mode, because of a late-binding closure;
        this one tries each case.)

        In both modes, when no case matches, ``.case_else()`` runs and its result passes on as
        it is (not in a list); without ``.case_else()`` the input passes on unchanged.

        Give ``name=`` to tell apart two matches that follow the same step.
        """
        self._check_attachable(".match()")
        one_of("match(mode=...)", mode, MATCH_MODES)
        label = name or ("match all" if mode == HIT_ALL else "match")
        node = self._open(MATCH, name or f"match@{self._anchor()}", label, derived=name is None, mode=mode)
        self._flow._open_blocks.add(node.id)
        return self._next(None, (node.id, _NO_ARM_YET), self._blocks + (node.id,))

    def case(self, value: Any, name: str | None = None) -> Chain:
        """A match arm: ``value`` is compared with ``==``, unless it is callable: then it is a
        predicate of ``data`` (sync or async), and the arm matches when it returns a truthy value.

        ``name=`` labels a predicate case (in drawings and blueprints, where it is the name the
        predicate is registered under); by default the function's own name is used.
        """
        shown = callable_label(value) if callable(value) else repr(value)
        node = self._block(MATCH, f"case({shown})", "match()")
        if node.branches and node.branches[-1].is_default:
            raise FlowDefinitionError(f".case({shown}) after .case_else(): move it before the else arm")
        self._close_arm(node)
        if callable(value):
            label = name or callable_label(value)
            node.branches.append(Branch(label=f"case {label}", predicate=value, predicate_name=label))
        else:
            if name is not None:
                raise InvalidArgumentError(f".case({value!r}, name=...): name= labels predicate cases only")
            node.branches.append(Branch(label=f"== {value!r}", case_value=value))
        return self._next(None, (node.id, len(node.branches) - 1))

    def case_else(self) -> Chain:
        node = self._block(MATCH, "case_else()", "match()")
        if node.branches and node.branches[-1].is_default:
            raise FlowDefinitionError("a second .case_else() in one match: keep one, then .end_match()")
        self._close_arm(node)
        node.branches.append(Branch(label="else", is_default=True))
        return self._next(None, (node.id, len(node.branches) - 1))

    def end_match(self) -> Chain:
        node = self._block(MATCH, "end_match()", "match()")
        self._close_arm(node)
        self._flow._open_blocks.discard(node.id)
        return self._next(node.id, None, self._blocks[:-1])

    # -- side branches and collect ------------------------------------------------------------

    def side_branch(self, handler: Callable[..., Any] | str, name: str | None = None) -> Chain:
        """Run ``handler`` on the current value beside the chain, which goes on from the step
        before it with that same value; the side branch's return value is discarded.

        ``flow.to(load).side_branch(log).to(parse)``: ``log`` and ``parse`` both receive what
        ``load`` returned. Both run (concurrently, when ``log`` waits), and a failure in the
        side branch fails the run like any step.
        """
        self._check_attachable(".side_branch()")
        anchor = self._anchor()
        chunk_id = self._flow._register_step(handler, name, f"{anchor}~side")
        node = self._open(SIDE_BRANCH, f"side[{chunk_id}]@{anchor}", "side branch")
        node.branches.append(Branch(label=chunk_id, entry=chunk_id, tail=chunk_id))
        return self._next(node.id)

    def collect(self, collection_name: str, branch_id: str | None = None, mode: str = FILLED_AND_UPDATE) -> Chain:
        """Deliver this path's value to the collect ``collection_name`` as branch ``branch_id``.

        Several independent paths each end in ``.collect("name", "<their id>")``. Once every
        branch of the collect has delivered a value in this execution (per fan-out scope: each
        for_each item collects on its own), what is chained after ``.collect(...)`` runs with
        ``{branch_id: value, ...}`` in the order the branches were declared; so does
        ``flow.when({"collect": "name"})``.

        ``mode="filled_and_update"`` (the default) keeps the values after firing, and fires
        again, with the newest values, whenever a branch delivers another one.
        ``mode="filled_then_empty"`` empties the collect after firing: it fires again only once
        every branch has delivered anew.

        ``branch_id`` defaults to the name of the step before. Several paths may deliver under
        one branch id (the newest value counts). A collect needs two branch ids or more
        (checked when the flow starts).
        """
        self._check_attachable(".collect()")
        anchor = self._anchor()
        arrival = declare_branch(self._flow._graph, collection_name, anchor if branch_id is None else branch_id, mode)
        self._link(arrival.id)
        return self._next(self._flow._graph.successors(arrival.id)[0])

    # -- batch and for_each -------------------------------------------------------------------

    def batch(self, *branches: tuple[str, Callable[..., Any] | str], concurrency: int | None = None,
              name: str | None = None, executor: Any = None) -> Chain:
        """Run named branches concurrently on the same input; the next step gets ``{name: result}``.

        Blocks are identified by where they stand, so that a re-run cell finds the same one:
        give ``name=`` to tell apart two batches that follow the same step. ``executor=`` runs
        the branches elsewhere (e.g. ``DaskExecutor``, see triggerflow_nb.distributed).
        """
        _check_concurrency(concurrency, "batch")
        _check_executor(executor, "batch")
        self._check_attachable(".batch()")
        if not branches:
            raise FlowDefinitionError("batch() needs at least one (name, handler) pair")
        keys: list[str] = []
        for spec in branches:
            if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str)):
                raise FlowDefinitionError(f"batch() takes (name, handler) pairs, got {spec!r}")
            if spec[0] in keys:
                raise FlowDefinitionError(f"batch() branch name {spec[0]!r} is used twice; names must be unique")
            keys.append(spec[0])
        node = self._open(BATCH, name or f"batch[{','.join(keys)}]@{self._anchor()}", name or "batch",
                          derived=name is None, concurrency=concurrency, executor=executor)
        used: set[str] = set()
        for key, handler in branches:
            chunk_id = self._flow._register_step(handler, None, f"{node.id}#{key}")
            if chunk_id in used:  # the same handler twice: give the second its own node
                chunk_id = self._flow._register_step(handler, f"{chunk_id}[{key}]", f"{node.id}#{key}")
            used.add(chunk_id)
            node.branches.append(Branch(label=key, entry=chunk_id, tail=chunk_id))
        if executor is not None:
            remote_body(self._flow._graph, node)
        return self._next(node.id)

    def for_each(self, concurrency: int | None = None, name: str | None = None, executor: Any = None) -> Chain:
        """Fan a sequence input out item by item; ``end_for_each()`` collects results in input order.

        A string, bytes or any non-sequence input counts as one item. Give ``name=`` to tell
        apart two for_each blocks that follow the same step. ``executor=`` runs the body
        elsewhere (e.g. ``DaskExecutor``, see triggerflow_nb.distributed).
        """
        _check_concurrency(concurrency, "for_each")
        _check_executor(executor, "for_each")
        self._check_attachable(".for_each()")
        node = self._open(FOR_EACH, name or f"for_each@{self._anchor()}", name or "for_each",
                          derived=name is None, concurrency=concurrency, executor=executor)
        node.branches.append(Branch(label="each item"))
        self._flow._open_blocks.add(node.id)
        return self._next(None, (node.id, 0), self._blocks + (node.id,))

    def end_for_each(self) -> Chain:
        node = self._block(FOR_EACH, "end_for_each()", "for_each()")
        self._close_arm(node)
        if node.executor is not None:  # a body that cannot run remotely is refused now, not mid-run
            remote_body(self._flow._graph, node)
        self._flow._open_blocks.discard(node.id)
        return self._next(node.id, None, self._blocks[:-1])

    def __repr__(self) -> str:
        where = self._tail if self._pending is None else f"{self._pending[0]} (arm {self._pending[1]})"
        return f"<Chain of flow {self._flow.name!r} at {where}>"


def _check_callable(fn: Any, method: str) -> None:
    if not callable(fn):
        raise InvalidArgumentError(f"{method}() needs a predicate function of data, got {type(fn).__name__}")


def _check_executor(executor: Any, method: str) -> None:
    if executor is not None:
        check_executor(executor, method)


def _check_concurrency(concurrency: Any, method: str) -> None:
    try:
        positive_int(f"{method}(concurrency=...)", concurrency, allow_none=True)
    except InvalidArgumentError as exc:  # a wiring mistake: keep the error type definitions raise
        raise FlowDefinitionError(str(exc)) from None
