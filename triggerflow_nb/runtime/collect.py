"""A path arriving at a collect: record its branch's value, and fire once every branch has one.

What a collect has seen lives with the execution's and-joins (``_joins``, keyed by join
node and fan-out scope), so it is saved and loaded with them: a run paused while one
branch has delivered continues, after load, when the other branches arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..definition.graph import FILLED_THEN_EMPTY, Node, collect_name, collected_event
from .frames import Frames
from .status import DONE, WAITING

if TYPE_CHECKING:
    from .walker import GraphWalker


async def arrive(walker: GraphWalker, arrival: Node, value: Any, frames: Frames) -> tuple[bool, Any]:
    """Deliver ``value`` as the branch ``arrival`` stands for; (True, {branch: value, ...}) when the
    collect fires, and the arriving path goes on through the join. (False, None): it ends here."""
    from .walker import scope_key  # the walker imports this module

    graph = walker.flow._graph
    join = graph.nodes[graph.succ[arrival.id][0]]
    key = (join.id, scope_key(frames, graph.nodes))
    seen = walker._joins.setdefault(key, {})
    branch = next(arm.label for arm in join.branches if arm.tail == arrival.id)
    seen[branch] = value
    if len(seen) < len(join.branches):
        walker._node_status[join.id] = WAITING
        return False, None
    collected = {arm.label: seen[arm.label] for arm in join.branches}
    if join.mode == FILLED_THEN_EMPTY:
        del walker._joins[key]
    walker._node_status[join.id] = DONE
    event = collected_event(collect_name(join.id))
    if event in graph.listeners:  # when({"collect": name})
        await walker._dispatch_event(event, collected, frames)
    return True, collected
