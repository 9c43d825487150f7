"""Cell-scoped wiring in IPython: a cell run again replaces the wiring its previous run made.

A cell is known by the id the front end sends with each execute request (JupyterLab and
Notebook 7 send ``cellId``; ipykernel hands it to IPython's ``pre_run_cell`` event). A
front end that sends none (an older one, a terminal, nbclient) gets the hash of the
cell's source instead: running the same source again replaces its wiring, and an
edited cell counts as a new one (its old wiring stays, as outside IPython).

Before a cell runs, the wiring only it made is taken out of every flow it wired;
after it ran, one line says what changed, if anything did.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

from ..definition import cell_claims
from ..definition.flow import forget_cell
from ..definition.graph import START_ID

# Wiring done while no cell runs (a button callback between cells) is claimed by this
# owner, which no cell run ever releases: it stays, as wiring outside IPython does.
OUTSIDE_CELLS = ""


def cell_key(cell_id: str | None, source: str | None) -> str:
    """The owner of a cell's wiring: its front-end id, else the hash of its source."""
    if cell_id:
        return f"cell:{cell_id}"
    digest = hashlib.sha1((source or "").encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"source:{digest}"


class CellFollower:
    """Follows one IPython shell's cell runs; see the module docstring."""

    def __init__(self, shell: Any):
        self.shell = shell
        self.cell = _key_from_parent(shell)  # the cell running now (this one was already under way)
        self._before: dict[Any, tuple[frozenset[str], frozenset[tuple[str, str]]]] = {}

    def running_cell(self) -> str:
        return self.cell

    def pre_run_cell(self, info: Any) -> None:
        self.cell = cell_key(getattr(info, "cell_id", None), getattr(info, "raw_cell", ""))
        self._before = {}
        for flow in cell_claims.followed_flows():
            owned = flow.flow_graph.claims.owned(self.cell)
            if owned[0] or owned[1]:
                self._before[flow] = owned
                forget_cell(flow, self.cell)

    def post_run_cell(self, result: Any) -> None:
        cell, self.cell = self.cell, OUTSIDE_CELLS
        before, self._before = self._before, {}
        for flow, (old_nodes, old_edges) in before.items():
            line = replaced_line(flow, old_nodes, old_edges, *flow.flow_graph.claims.owned(cell))
            if line:
                print(line)


def replaced_line(flow: Any, old_nodes: frozenset[str], old_edges: frozenset[tuple[str, str]],
                  new_nodes: frozenset[str], new_edges: frozenset[tuple[str, str]]) -> str | None:
    """One line saying what a re-run cell changed in ``flow``'s wiring; None when nothing did."""
    removed = sorted(old_edges - new_edges)
    added = sorted(new_edges - old_edges)
    in_edges = {n for edge in (*old_edges, *new_edges) for n in edge}
    gone = sorted(n for n in old_nodes - new_nodes - in_edges if n not in flow.flow_graph.nodes)
    fresh = sorted(n for n in new_nodes - old_nodes - in_edges)
    parts = []
    if removed or gone:
        parts.append("removed " + ", ".join([_edge(e) for e in removed] + gone))
    if added or fresh:
        parts.append("added " + ", ".join([_edge(e) for e in added] + fresh))
    if not parts:
        return None
    return f"flow {flow.name!r}: this cell's new wiring replaced its previous run's: {'; '.join(parts)}"


def _edge(edge: tuple[str, str]) -> str:
    return " → ".join("START" if node == START_ID else node for node in edge)


def _key_from_parent(shell: Any) -> str:
    """The key of the cell under way when following starts, from the kernel's parent message."""
    parent = getattr(shell, "parent_header", None)
    if not isinstance(parent, dict) or not parent:
        return OUTSIDE_CELLS
    metadata = parent.get("metadata") or {}
    content = parent.get("content") or {}
    if not metadata.get("cellId") and "code" not in content:
        return OUTSIDE_CELLS
    return cell_key(metadata.get("cellId"), content.get("code"))


_followers: dict[int, CellFollower] = {}  # id(shell) -> its follower: one per shell, registered once


def follow_cells() -> CellFollower | None:
    """Start following the running IPython shell's cells (once); None outside IPython."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        return None
    follower = _followers.get(id(shell))
    if follower is None or follower.shell is not shell:
        follower = _followers[id(shell)] = CellFollower(shell)
        shell.events.register("pre_run_cell", follower.pre_run_cell)
        shell.events.register("post_run_cell", follower.post_run_cell)
        cell_claims.follow_cells(follower.running_cell)
    return follower
