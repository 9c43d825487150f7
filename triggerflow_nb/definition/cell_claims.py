"""Which notebook cell wired which part of a flow graph, so that re-running a cell replaces its wiring.

Inside IPython the notebook layer tells this module which cell is running
(``follow_cells``); every node and edge a wiring call adds or re-adds is then claimed
by that cell. Before a cell runs again, what only it had claimed is taken out of
the graph (``definition.flow.forget_cell``), so the graph shows the wiring of the
code as it is now: steps removed from the cell disappear, steps added appear.
Outside IPython no cell is ever running: nothing is claimed and wiring is only
ever added, as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

_running_cell: Callable[[], str | None] | None = None
_flows: weakref.WeakSet[Any] = weakref.WeakSet()  # flow definitions created while cells are followed


def follow_cells(running_cell: Callable[[], str | None]) -> None:
    """Claim wiring for the cell ``running_cell()`` names (None: outside any cell)."""
    global _running_cell
    _running_cell = running_cell


def current_cell() -> str | None:
    return _running_cell() if _running_cell is not None else None


def note_flow(flow: Any) -> None:
    """Remember a new flow definition, if cells are followed (a WeakSet: flows die as usual)."""
    if _running_cell is not None:
        _flows.add(flow)


def followed_flows() -> list[Any]:
    return list(_flows)


class WiringClaims:
    """Node ids and edges by the cells that claimed them (a part wired by two cells has two claims)."""

    __slots__ = ("nodes", "edges")

    def __init__(self) -> None:
        self.nodes: dict[str, set[str]] = {}
        self.edges: dict[tuple[str, str], set[str]] = {}

    def owned(self, cell: str) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        return (frozenset(n for n, cells in self.nodes.items() if cell in cells),
                frozenset(e for e, cells in self.edges.items() if cell in cells))

    def release(self, cell: str) -> tuple[set[str], set[tuple[str, str]]]:
        """Drop ``cell``'s claims; return the nodes and edges nobody claims any more."""
        return _release(self.nodes, cell), _release(self.edges, cell)


def _release(claims: dict[Any, set[str]], cell: str) -> set[Any]:
    freed = set()
    for item in [item for item, cells in claims.items() if cell in cells]:
        cells = claims[item]
        cells.discard(cell)
        if not cells:
            del claims[item]
            freed.add(item)
    return freed
