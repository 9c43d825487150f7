"""The notebook layer's views of a store, given to the stores on ``import triggerflow_nb``.

The stores sit below the notebook layer and import nothing of it: ``store.browse()`` and a
store's display call the views put in ``triggerflow_nb._store_views``. This module loads no
ipywidgets: the widget browser (``store_browser``) is imported when ``browse()`` is called.
"""

from __future__ import annotations

from typing import Any, Optional

from .. import _store_views
from .store_table import static_bundle


class _NotebookStoreViews:
    """The notebook layer's views of a store (see ``triggerflow_nb._store_views``)."""

    def browser(self, store: Any, *, flows: Any, runtime_resources: Optional[dict[str, Any]],
                owner: Optional[str], limit: int) -> Any:
        try:
            from .store_browser import StoreBrowser
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "ipywidgets":
                raise
            from ..store.errors import StoreBrowserUnavailableError

            raise StoreBrowserUnavailableError(
                f"store.browse() shows an ipywidgets table, and ipywidgets cannot be imported ({exc}): "
                f"pip install 'ipywidgets>=8'; or list the store without widgets: store.list()") from exc
        return StoreBrowser(store, flows=flows, runtime_resources=runtime_resources, owner=owner, limit=limit)

    def static_bundle(self, store: Any, *, limit: int) -> dict[str, str]:
        return static_bundle(store, limit=limit)


def provide_store_views() -> None:
    """Give the stores the notebook layer's views: ``store.browse()`` and a store's display."""
    _store_views.provide(_NotebookStoreViews())
