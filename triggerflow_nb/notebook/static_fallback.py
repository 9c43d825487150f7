"""Widgets that carry a static fallback, kept true to the end.

ipywidgets 8 displays a widget as a bundle of ``application/vnd.jupyter.widget-view+json``
(the live view) and a ``text/plain`` repr. A front end that cannot draw the widget
(GitHub, nbviewer or an HTML export without the widget manager, JupyterLab without a
kernel or with an untrusted notebook) falls back to another mimetype of the same
output; with only the repr that is ``ExecutionPanel(children=(HTML(...``. A widget
with this mixin adds ``text/html`` and ``text/plain`` of what it shows.

The fallback must describe the end, not the moment of display: a panel is usually
shown before its execution runs. So the widget displays itself with a display id
(``_ipython_display_``, which IPython uses both for ``display(w)`` and for a cell's
last value) and ``refresh_static_fallback()`` replaces the output's bundle later
(``update_display_data``), e.g. when its execution closes. Front ends that draw the
widget keep drawing the same model; the others get the new text.
"""

from __future__ import annotations

import contextvars
import logging
import weakref
from typing import Any

logger = logging.getLogger("triggerflow_nb")

_displayed: weakref.WeakSet[StaticFallback] = weakref.WeakSet()


class StaticFallback:
    """Mix into an ipywidgets widget (before the widget class) and define ``static_bundle()``."""

    def static_bundle(self) -> dict[str, str]:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        try:
            bundle.update(self.static_bundle())
        except Exception as exc:  # a broken fallback must never hide the live widget
            logger.warning("the static fallback of a %s failed: %r", type(self).__name__, exc)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        if handle is not None:
            self.__dict__.setdefault("_static_displays", []).append(handle)
            _displayed.add(self)

    def add_fallback_container(self, container: StaticFallback) -> None:
        """``container`` shows this widget's fallback inside its own: refresh it with this one."""
        self.__dict__.setdefault("_fallback_containers", weakref.WeakSet()).add(container)

    def refresh_static_fallback(self) -> int:
        """Replace the fallback of every output showing this widget (and its containers) with the current one.

        Returns how many outputs were updated. Runs in an empty context: the update then goes out
        under the kernel's current request, also when a background task of a finished cell calls.
        """
        count = 0
        handles = self.__dict__.get("_static_displays", [])
        if handles and getattr(self, "comm", None) is None:  # closed: its outputs keep their last bundle
            handles = []
        if handles:
            bundle = self._repr_mimebundle_()
            for handle in handles:
                contextvars.Context().run(handle.update, bundle, raw=True)
            count += len(handles)
        for container in list(self.__dict__.get("_fallback_containers", ())):
            count += container.refresh_static_fallback()
        return count


def refresh_all() -> int:
    """Refresh the fallback of every widget displayed so far (a notebook runner calls this before saving)."""
    return sum(widget.refresh_static_fallback() for widget in list(_displayed))
