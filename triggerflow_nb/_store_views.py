"""The slot through which the notebook layer gives the execution stores their views.

``store.browse()`` returns the notebook layer's widget table and a store displays as the
notebook layer's static table, yet the stores (``triggerflow_nb.store``) sit below the
notebook layer and import nothing of it, nor ipywidgets or IPython. So the notebook layer
puts its views here (``import triggerflow_nb`` does, without loading ipywidgets: the views
load it when called) and the stores read the slot when asked.

The slot is at the package's bottom rather than in ``store/`` so that filling it on
``import triggerflow_nb`` does not import the stores (and sqlite3) into every process.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol


class StoreViews(Protocol):
    """What the notebook layer provides; ``store`` is an ``ExecutionStore``."""

    def browser(self, store: Any, *, flows: Any, runtime_resources: Optional[dict[str, Any]],
                owner: Optional[str], limit: int) -> Any:
        """The widget table of ``store.browse()``."""
        ...

    def static_bundle(self, store: Any, *, limit: int) -> dict[str, str]:
        """The HTML and plain-text table of the newest ``limit`` executions (a store's display)."""
        ...


_provided: Optional[StoreViews] = None


def provide(views: StoreViews) -> None:
    """Make ``views`` the stores' views (a second call replaces the first)."""
    global _provided
    _provided = views


def provided() -> Optional[StoreViews]:
    """The views provided, or None when the notebook layer has provided none."""
    return _provided
