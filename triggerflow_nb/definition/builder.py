"""The chain DSL: ``flow.to(a).if_condition(p).to(b).else_condition().to(c).end_condition()...``.

A ``Chain`` is an immutable cursor into the flow graph: the node the next step
attaches to (``tail``), or the arm of a block that is waiting for its first step
(``pending``), plus the stack of blocks opened and not yet closed. Every method
writes into the flow's graph and returns a new cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .._validate import positive_int
from .._warn_once import warn_deprecated_once
from ..errors import FlowDefinitionError, InvalidArgumentError
from ..layers.state import FINAL_RESULT_KEY
from .graph import BATCH, FOR_EACH, IF, MATCH, SUB_FLOW, Branch, FlowGraph, Node, SubFlowDefinition
from .naming import callable_label, handler_name
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
        if self._pending is not None and self._pending[1] == _NO_ARM_YET:
            raise FlowDefinitionError(
                f"{method} directly after .match(): add .case(value) (or .case_else()) before it"
            )

    def _link(self, node_id: str) -> None:
        if self._pending is not None:
            block_id, arm = self._pending
            self._flow._graph.nodes[block_id].branches[arm].entry = node_id
        else:
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

    def _open(self, kind: str, node_id: str, label: str, **fields: Any) -> Node:
        """Create (or, when a cell is re-run, reset) a block node and link it here."""
        graph = self._flow._graph
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

    # -- plain steps ------------------------------------------------------------------------

    def to(self, handler: Callable[..., Any] | str, name: str | None = None) -> Chain:
        """Run ``handler`` next; it receives the previous step's return value as ``data.input``."""
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

    def match(self, name: str | None = None) -> Chain:
        """Open a switch on ``data.input``: ``.case(value)`` arms compare with ``==``.

        When no case matches and there is no ``.case_else()``, the input passes on
        unchanged to what follows ``end_match()``.
        """
        self._check_attachable(".match()")
        node = self._open(MATCH, name or f"match@{self._anchor()}", name or "match")
        self._flow._open_blocks.add(node.id)
        return self._next(None, (node.id, _NO_ARM_YET), self._blocks + (node.id,))

    def case(self, value: Any) -> Chain:
        node = self._block(MATCH, f"case({value!r})", "match()")
        if node.branches and node.branches[-1].is_default:
            raise FlowDefinitionError(f".case({value!r}) after .case_else(): move it before the else arm")
        self._close_arm(node)
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
                          concurrency=concurrency, executor=executor)
        used: set[str] = set()
        for key, handler in branches:
            chunk_id = self._flow._register_step(handler, None, f"{node.id}#{key}")
            if chunk_id in used:  # the same handler twice: give the second its own node
                chunk_id = self._flow._register_step(handler, f"{chunk_id}[{key}]", f"{node.id}#{key}")
            used.add(chunk_id)
            node.branches.append(Branch(label=key, entry=chunk_id, tail=chunk_id))
        if executor is not None:
            from ..distributed.body import remote_body

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
                          concurrency=concurrency, executor=executor)
        node.branches.append(Branch(label="each item"))
        self._flow._open_blocks.add(node.id)
        return self._next(None, (node.id, 0), self._blocks + (node.id,))

    def end_for_each(self) -> Chain:
        node = self._block(FOR_EACH, "end_for_each()", "for_each()")
        self._close_arm(node)
        if node.executor is not None:  # a body that cannot run remotely is refused now, not mid-run
            from ..distributed.body import remote_body

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
        from ..distributed.executor import check_executor  # never imports dask

        check_executor(executor, method)


def _check_concurrency(concurrency: Any, method: str) -> None:
    try:
        positive_int(f"{method}(concurrency=...)", concurrency, allow_none=True)
    except InvalidArgumentError as exc:  # a wiring mistake: keep the error type definitions raise
        raise FlowDefinitionError(str(exc)) from None
