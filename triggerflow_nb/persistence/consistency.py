"""Does a snapshot make sense for this definition, and for itself?

The schema checked shape and types; this checks meaning, before anything is applied,
so that a snapshot that loads can also be continued:

* every continuation frame names something that exists: a ``then`` frame an if/match
  node and an arm of it that has a first step; a ``slot`` frame an open fan-out
  (activation) of the snapshot and one of its slots;
* an activation belongs to a batch/for_each node or a hit_all match, its id is
  ``<node>#<n>`` with ``n`` no larger than the counter, a batch's keys are its branch
  names, a hit_all match's ``arms`` are distinct cases of it in case order (one per slot;
  nobody else has ``arms``), and ``remaining`` is at
  least one and at most the number of its slots that pending paths (waiting interrupts,
  nested activations) point at: a slot nobody will fill would leave the fan-out open
  forever. (A side path may point at a slot already filled, or at a fan-out that has
  finished, so pointing at more is allowed; the walker ends such a path quietly.);
* joins name an and-join node and some, not all, of its events; or a collect and some of
  its branches (all of them too, for a ``filled_and_update`` collect, which keeps its values);
* interrupts have unique non-empty ids, pause at a chunk, resume to ``"next"``, ``"self"``
  or ``{"event": name}``, and only waiting ones carry a continuation (and no ``resumed_at``);
* lifecycle, status, interrupts and progress agree with each other (only a closed
  execution has a ``closed_at``);
* the step history, when there is one, agrees with itself (``history_check``).

The check is linear in the size of the snapshot.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from ..definition.graph import (
    BATCH,
    CHUNK,
    COLLECT,
    EVENT,
    FILLED_AND_UPDATE,
    FOR_EACH,
    HIT_ALL,
    IF,
    MATCH,
    FlowGraph,
    Node,
)
from ..errors import InvalidSnapshotError
from ..runtime.frames import SLOT, THEN
from ..runtime.snapshot import ActivationRecord, ExecutionSnapshot, InterruptRecord, SavedFrame
from ..runtime.status import CLOSED, CREATED, FINAL_STATUSES, IDLE, WAITING
from .history_check import check_history


def _corrupt(detail: str) -> InvalidSnapshotError:
    return InvalidSnapshotError(f"corrupt snapshot: {detail}")


def check_consistency(snapshot: ExecutionSnapshot, graph: FlowGraph) -> None:
    activations = _check_activations(snapshot, graph)
    waiting = _check_interrupts(snapshot, graph)
    closed = snapshot["lifecycle_state"] == CLOSED
    counter = snapshot["continuation"]["activation_counter"]
    # The pending paths: waiting interrupts (paused at a chunk) and open fan-outs (waiting at their
    # node), each with the frames that say where its value goes.
    pending: list[tuple[str, str, list[SavedFrame]]] = [
        (f"interrupt {i['id']!r}", i["chunk"], i["continuation"]) for i in waiting
    ] + [(f"activation {a['id']!r}", a["node"], a["continuation"]) for a in activations.values()]
    open_slots: dict[str, set[int]] = {activation_id: set() for activation_id in activations}
    arm_exits = _arm_exits(graph)
    arms = _arm_contents(graph)
    for owner, where, frames in pending:
        for frame in frames:
            _check_frame(frame, owner, graph, activations, open_slots, counter)
            # an open inner fan-out is a pending path too: if it ends inside an outer fan-out
            # the snapshot lacks, its result would have nowhere to go
            if frame[0] == SLOT and frame[1] not in activations and not closed:
                _check_side_path(frame, owner, where, graph, arm_exits)
        _check_nesting(frames, where, owner, arms, graph, activations)
    if not closed:  # a closed run may have stopped mid-fan-out: nothing will continue it
        for activation_id, activation in activations.items():
            pointed_at = len(open_slots[activation_id])
            if not 1 <= activation["remaining"] <= pointed_at:
                raise _corrupt(
                    f"activation {activation_id!r} says {activation['remaining']} slot(s) remain, but pending paths "
                    f"point at {pointed_at}"
                )
    _check_joins(snapshot, graph)
    _check_progress(snapshot, graph, waiting, activations)
    if "history" in snapshot:
        check_history(snapshot["history"])


def _check_frame(frame: SavedFrame, owner: str, graph: FlowGraph, activations: dict[str, ActivationRecord],
                 open_slots: dict[str, set[int]], counter: int) -> None:
    if len(frame) != 3 or not isinstance(frame[1], str) or type(frame[2]) is not int or frame[2] < 0:
        raise _corrupt(f"continuation frame {frame!r} of {owner} refers to nothing")
    kind, target, index = frame[0], frame[1], frame[2]
    if kind == THEN:
        node = graph.nodes.get(target)
        if (node is None or node.kind not in (IF, MATCH) or not 0 <= index < len(node.branches)
                or node.branches[index].entry is None
                or (node.mode == HIT_ALL and not node.branches[index].is_default)):  # its cases run as slots
            raise _corrupt(f"continuation frame {frame!r} of {owner} refers to nothing")
    elif kind == SLOT:
        activation = activations.get(target)
        if activation is None:  # a fan-out that finished: only a side path can point there
            node_id, _, number = target.rpartition("#")
            node = graph.nodes.get(node_id)
            if not _fans_out(node) or not number.isdigit() or int(number) > counter:
                raise _corrupt(f"continuation frame {frame!r} of {owner} refers to no fan-out of this flow")
        elif index >= len(activation["slots"]):
            raise _corrupt(f"continuation frame {frame!r} of {owner} refers to no slot of {target!r}")
        else:
            open_slots[target].add(index)
    else:
        raise _corrupt(f"continuation frame {frame!r} of {owner} refers to nothing")


def _arm_contents(graph: FlowGraph) -> dict[tuple[str, int], set[str]]:
    """(block, arm index) -> the nodes a path inside that arm can reach (the arm's steps)."""
    contents: dict[tuple[str, int], set[str]] = {}
    for node in graph.nodes.values():
        if node.kind not in (IF, MATCH, BATCH, FOR_EACH):
            continue
        for index, arm in enumerate(node.branches):
            reached: set[str] = set()
            stack = [arm.entry] if arm.entry is not None else []
            while stack:
                current = stack.pop()
                if current not in reached:
                    reached.add(current)
                    stack.extend(graph.succ.get(current, ()))
                    block = graph.nodes[current]
                    stack.extend(a.entry for a in block.branches if a.entry is not None and block.kind != EVENT)
            contents[(node.id, index)] = reached
    return contents


def _frame_block(frame: SavedFrame) -> str:
    """The block node a (well-formed, already checked) frame returns into."""
    target = str(frame[1])
    return target if frame[0] == THEN else target.rpartition("#")[0]  # an activation is "<node>#<n>"


def _check_nesting(frames: list[SavedFrame], where: str, owner: str, arms: dict[tuple[str, int], set[str]],
                   graph: FlowGraph, activations: dict[str, ActivationRecord]) -> None:
    """The frames must name, outermost first, exactly the blocks whose arms hold ``where``:
    a frame dropped, added or reordered would send the path's value to the wrong place."""
    enclosing = {block for (block, _), content in arms.items() if where in content}
    named = [_frame_block(frame) for frame in frames]
    if set(named) != enclosing or len(named) != len(set(named)):
        raise _corrupt(f"the continuation of {owner} names blocks {named}, but {where!r} sits inside "
                       f"{sorted(enclosing)}")
    for outer, inner in itertools.pairwise(named):
        if not any(inner in content for (block, _), content in arms.items() if block == outer):
            raise _corrupt(f"the continuation of {owner} nests {inner!r} inside {outer!r}, which does not hold it")
    # A frame that names a block's arm must name the arm that holds what is inside it: an
    # if/match arm (a then frame), or a batch branch (its slot). Otherwise the path's end is
    # never recognised as the arm's end, and the steps after the block silently never run.
    for position, frame in enumerate(frames):
        block = named[position]
        arm = int(frame[2])
        if frame[0] != THEN and graph.nodes[block].kind != BATCH:
            # A for_each has one arm. A hit_all match's slot runs the case its activation lists
            # for it; once that fan-out has finished, only a side path points there (checked apart).
            activation = activations.get(str(frame[1]))
            cases = None if activation is None else activation.get("arms")
            if graph.nodes[block].kind != MATCH or cases is None or arm >= len(cases):
                continue
            arm = cases[arm]
        held = named[position + 1] if position + 1 < len(named) else where
        if held not in arms.get((block, arm), ()):
            raise _corrupt(f"the continuation of {owner} returns into arm {arm} of {block!r}, but {held!r} "
                           f"sits in another arm")


def _arm_exits(graph: FlowGraph) -> dict[str, list[str]]:
    """Where a path goes when it ends an if/match arm: arm tail -> the block's successors."""
    exits: dict[str, list[str]] = {}
    for node in graph.nodes.values():
        if node.kind in (IF, MATCH):
            for arm in node.branches:
                if arm.tail is not None:
                    exits.setdefault(arm.tail, []).extend(graph.succ.get(node.id, []))
    return exits


def _check_side_path(frame: SavedFrame, owner: str, where: str, graph: FlowGraph,
                     arm_exits: dict[str, list[str]]) -> None:
    """A path may point at a fan-out that has finished only if it is a side path: one that can
    never reach the end of the fan-out's arm (a main path there would find its slot gone, and
    the run would go on as if the fan-out had never happened)."""
    node_id = str(frame[1]).rpartition("#")[0]
    block = graph.nodes[node_id]
    index = int(frame[2])
    if block.kind == FOR_EACH:
        arms = block.branches[:1]
    elif block.kind == MATCH:  # slot n of a hit_all match ran one of the cases from the n-th on
        arms = [arm for arm in block.branches[index:] if not arm.is_default]
    else:
        arms = block.branches[index:index + 1]
    tails = {arm.tail for arm in arms if arm.tail is not None}
    seen: set[str] = set()
    stack = [where]
    while stack:
        current = stack.pop()
        if current in tails:
            raise _corrupt(f"{owner} continues inside fan-out {frame[1]!r}, which the snapshot does not have")
        if current in seen:
            continue
        seen.add(current)
        stack.extend(graph.succ.get(current, ()))
        stack.extend(arm_exits.get(current, ()))


def _check_activations(snapshot: ExecutionSnapshot, graph: FlowGraph) -> dict[str, ActivationRecord]:
    continuation = snapshot["continuation"]
    counter = continuation["activation_counter"]
    if counter < 0:
        raise _corrupt(f"activation_counter {counter} is negative")
    activations: dict[str, ActivationRecord] = {}
    for activation in continuation["activations"]:
        activation_id, node_id = activation["id"], activation["node"]
        if activation_id in activations:
            raise _corrupt(f"activation {activation_id!r} appears twice")
        node = graph.nodes.get(node_id)
        if node is None or not _fans_out(node):
            raise _corrupt(f"activation {activation_id!r} names {node_id!r}, which is no batch, for_each or "
                           f"hit_all match node")
        prefix, _, number = activation_id.rpartition("#")
        if prefix != node_id or not number.isdigit() or not 1 <= int(number) <= counter:
            raise _corrupt(
                f"activation id {activation_id!r} does not fit its node {node_id!r} and the counter {counter}"
            )
        if node.kind == BATCH:
            labels = [arm.label for arm in node.branches]
            if activation["keys"] != labels or len(activation["slots"]) != len(labels):
                raise _corrupt(f"activation {activation_id!r} of batch {node_id!r} does not have its branches {labels}")
        elif activation["keys"] is not None:
            raise _corrupt(f"activation {activation_id!r} of {node.kind} {node_id!r} has keys; a {node.kind} has none")
        _check_activation_arms(activation, node)
        if not 0 <= activation["remaining"] <= len(activation["slots"]):
            raise _corrupt(f"activation {activation_id!r} has remaining {activation['remaining']} for "
                           f"{len(activation['slots'])} slot(s)")
        activations[activation_id] = activation
    return activations


def _fans_out(node: Node | None) -> bool:
    """Whether ``node`` runs an activation: a batch, a for_each, or a hit_all match."""
    return node is not None and (node.kind in (BATCH, FOR_EACH) or (node.kind == MATCH and node.mode == HIT_ALL))


def _check_activation_arms(activation: ActivationRecord, node: Node) -> None:
    """A hit_all match's activation says which case each slot runs: distinct cases, in case order."""
    activation_id = activation["id"]
    arms = activation.get("arms")
    if node.kind != MATCH:
        if arms is not None:
            raise _corrupt(f"activation {activation_id!r} of {node.kind} {node.id!r} has arms; only a hit_all "
                           f"match has them")
        return
    cases = [index for index, arm in enumerate(node.branches) if not arm.is_default]
    if (arms is None or len(arms) != len(activation["slots"]) or not arms
            or any(index not in cases for index in arms) or arms != sorted(set(arms))):
        raise _corrupt(f"activation {activation_id!r} of hit_all match {node.id!r} runs arms {arms!r}: expected "
                       f"one or more of its cases {cases}, in order, one per slot")


def _check_interrupts(snapshot: ExecutionSnapshot, graph: FlowGraph) -> list[InterruptRecord]:
    seen: set[str] = set()
    waiting: list[InterruptRecord] = []
    for interrupt in snapshot["interrupts"]:
        interrupt_id = interrupt["id"]
        if not interrupt_id or interrupt_id in seen:
            raise _corrupt(f"interrupt id {interrupt_id!r} is empty or used twice")
        seen.add(interrupt_id)
        node = graph.nodes.get(interrupt["chunk"])
        if node is None or node.kind != CHUNK:
            raise _corrupt(f"interrupt {interrupt_id!r} names unknown chunk {interrupt['chunk']!r}")
        target = interrupt["resume_to"]
        if not (target in ("next", "self") or (isinstance(target, dict) and set(target) == {"event"}
                                                and isinstance(target["event"], str) and target["event"])):
            raise _corrupt(f"interrupt {interrupt_id!r} resumes to {target!r}: expected 'next', 'self' or "
                           f"{{'event': name}}")
        _check_resume_limit(interrupt)
        if interrupt["status"] == WAITING:
            if interrupt["resumed_at"] is not None:
                raise _corrupt(f"interrupt {interrupt_id!r} is waiting but has resumed_at {interrupt['resumed_at']!r}: "
                               f"only a resumed interrupt has one")
            if isinstance(target, dict) and any(frame[0] == SLOT for frame in interrupt["continuation"]):
                # pause_for refuses it: the block would wait for that item's result for good
                raise _corrupt(f"interrupt {interrupt_id!r} pauses inside a fan-out item and resumes to {target!r}: "
                               f"only 'next' or 'self' can fill the item's slot")
            waiting.append(interrupt)
        elif interrupt["continuation"] or interrupt["input"] is not None:
            raise _corrupt(f"interrupt {interrupt_id!r} is {interrupt['status']} but still carries a continuation")
    return waiting


def _check_resume_limit(interrupt: InterruptRecord) -> None:
    """``resume_count`` / ``max_resumes``: counts of a ``resume_to="self"`` pause, never past the limit."""
    count, limit = interrupt.get("resume_count", 0), interrupt.get("max_resumes")
    if count == 0 and limit is None:
        return
    interrupt_id = interrupt["id"]
    if interrupt["resume_to"] != "self":
        raise _corrupt(f"interrupt {interrupt_id!r} resumes to {interrupt['resume_to']!r} but counts resumes "
                       f"(resume_count {count!r}, max_resumes {limit!r}): only a resume_to='self' pause does")
    if count < 0 or (limit is not None and not 0 <= count <= limit):
        raise _corrupt(f"interrupt {interrupt_id!r} has resume_count {count!r} and max_resumes {limit!r}: "
                       f"expected 0 <= resume_count <= max_resumes")


def _check_joins(snapshot: ExecutionSnapshot, graph: FlowGraph) -> None:
    keys = set()
    for join in snapshot["continuation"]["joins"]:
        node = graph.nodes.get(join["node"])
        if node is not None and node.kind == COLLECT:
            branches = [arm.label for arm in node.branches]
            full_allowed = node.mode == FILLED_AND_UPDATE  # keeps its values after firing
            if not join["seen"] or not (set(join["seen"]) < set(branches)
                                        or (full_allowed and set(join["seen"]) == set(branches))):
                raise _corrupt(f"collect {join['node']!r} has seen branches {sorted(join['seen'])}: expected "
                               f"{'some' if full_allowed else 'some, not all,'} of {branches}")
        elif node is None or node.kind != EVENT or node.mode != "and":
            raise _corrupt(f"join {join['node']!r} is no and-join or collect of this flow")
        elif not join["seen"] or not set(join["seen"]) < set(node.events):
            raise _corrupt(f"join {join['node']!r} has seen {sorted(join['seen'])}: expected some, not all, "
                           f"of {list(node.events)}")
        key = (join["node"], join["scope"])
        if key in keys:
            raise _corrupt(f"join {join['node']!r} appears twice in scope {join['scope']!r}")
        keys.add(key)


def _check_progress(snapshot: ExecutionSnapshot, graph: FlowGraph, waiting: list[InterruptRecord],
                    activations: dict[str, ActivationRecord]) -> None:
    if set(snapshot["resource_keys"]) != set(snapshot["resources"]):
        raise _corrupt("resource_keys and the resource descriptions name different keys")
    unknown = [n for n in snapshot["continuation"]["node_status"] if n not in graph.nodes]
    if unknown:
        raise _corrupt(f"node_status names nodes this flow does not have: {unknown}")
    status, lifecycle = snapshot["status"], snapshot["lifecycle_state"]
    if lifecycle == CLOSED:
        if status not in FINAL_STATUSES or snapshot["closed_at"] is None or waiting:
            raise _corrupt(f"a closed execution with status {status!r}, closed_at {snapshot['closed_at']!r} and "
                           f"{len(waiting)} pending interrupt(s)")
        return
    if snapshot["closed_at"] is not None:
        raise _corrupt(f"an open execution with closed_at {snapshot['closed_at']!r}: only a closed execution has one")
    if not snapshot["started"]:
        if status != CREATED or _any(snapshot["interrupts"], activations.values(), snapshot["continuation"]["joins"]):
            raise _corrupt(f"an execution that never started has status {status!r} or recorded progress")
        return
    expected = WAITING if waiting else IDLE
    if status != expected:
        raise _corrupt(f"status {status!r} of an open execution with {len(waiting)} pending interrupt(s): "
                       f"expected {expected!r}")


def _any(*collections: Iterable[object]) -> bool:
    return any(True for collection in collections for _ in collection)
