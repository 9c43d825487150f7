"""A path arriving at a collect: record its branch's value, and fire once every branch has one.

What a collect has seen lives with the execution's and-joins (``WalkState.joins``, keyed by join
node and fan-out scope), so it is saved and loaded with them: a run paused while one
branch has delivered continues, after load, when the other branches arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..definition.graph import COLLECT, FILLED_THEN_EMPTY, FOR_EACH, Node, collect_name, collected_event
from .activation import Activation
from .fan_out_scope import scope_key
from .frames import SLOT, Frames
from .status import DONE, WAITING

if TYPE_CHECKING:
    from .walker_view import WalkerView


async def arrive(walker: WalkerView, arrival: Node, value: Any, frames: Frames) -> tuple[bool, Any]:
    """Deliver ``value`` as the branch ``arrival`` stands for; (True, {branch: value, ...}) when the
    collect fires, and the arriving path goes on through the join. (False, None): it ends here."""
    graph = walker.graph
    join = graph.nodes[graph.succ[arrival.id][0]]
    key = (join.id, scope_key(frames, graph.nodes))
    seen = walker.walk_state.joins.setdefault(key, {})
    branch = next(arm.label for arm in join.branches if arm.tail == arrival.id)
    seen[branch] = value
    if len(seen) < len(join.branches):
        walker.walk_state.node_status[join.id] = WAITING
        return False, None
    collected = {arm.label: seen[arm.label] for arm in join.branches}
    if join.mode == FILLED_THEN_EMPTY:
        del walker.walk_state.joins[key]
    walker.walk_state.node_status[join.id] = DONE
    event = collected_event(collect_name(join.id))
    if event in graph.listeners:  # when({"collect": name})
        await walker.dispatch_event(event, collected, frames)
    return True, collected


def forget_finished_scope(walker: WalkerView, activation: Activation, slot: int) -> None:
    """Drop what collects saw in a fan-out scope that has just ended: a for_each item whose slot
    is filled, or a whole batch / hit_all match once its last slot is. A collect keeps its values
    (``filled_and_update``) only for as long as its scope runs, so a long for_each does not keep
    one dict per finished item; called only while some join or collect holds values."""
    graph = walker.graph
    block = graph.nodes[activation.node_id]
    if block.kind != FOR_EACH and activation.remaining:
        return  # branches of one batch share its scope: it ends with the last of them
    frames = activation.frames + ((SLOT, activation.id, slot),)
    scope = scope_key(frames, graph.nodes)
    for key in [key for key in walker.walk_state.joins if key[1] == scope and graph.nodes[key[0]].kind == COLLECT]:
        del walker.walk_state.joins[key]
