"""Closing a widget together with every widget it holds.

``Widget.close()`` closes one widget model. A ``Button`` is three models (itself, its
``Layout``, its ``ButtonStyle``), a box holds its children, an ``Output`` holds the widgets
displayed in it (by model id); none of them is closed with the widget that holds them, and
ipywidgets keeps every open model in its registry (``Widget.widgets``) until it is closed.
So a view that drops widgets without closing them, or closes only its top box, leaks all
of them (and their comms) for the life of the kernel.

``close_tree(widget)`` closes the widget and everything reachable from its synced traits:
layouts, styles, children, any other widget-valued trait, and the widgets displayed in an
``Output``. Before a widget is closed, its ``_before_close()`` runs if it has one: the hook
where a view stops following what it observes (so nothing calls it, or keeps it alive, once
closed). Closing again is harmless: a closed widget is skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def open_widgets() -> dict[str, widgets.Widget]:
    """ipywidgets' registry of open widget models (model id -> widget)."""
    from ipywidgets.widgets import widget as module

    instances = getattr(module, "_instances", None)
    if isinstance(instances, dict):
        return instances
    with warnings.catch_warnings():  # the public name is deprecated in ipywidgets 8
        warnings.simplefilter("ignore", DeprecationWarning)
        return widgets.Widget.widgets


def _held(widget: widgets.Widget, registry: dict[str, widgets.Widget]) -> Iterator[widgets.Widget]:
    """The widgets ``widget`` refers to through its synced traits (one level down)."""
    for name in widget.keys:
        value = getattr(widget, name, None)
        if isinstance(value, widgets.Widget):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, widgets.Widget):
                    yield item
                elif name == "outputs" and isinstance(item, dict):  # Output: widgets displayed in it
                    model_id = (item.get("data") or {}).get(_WIDGET_VIEW, {}).get("model_id")
                    shown = registry.get(model_id) if isinstance(model_id, str) else None
                    if shown is not None:
                        yield shown


def close_tree(*roots: Any) -> int:
    """Close each of ``roots`` (widgets; None is skipped) and every widget they hold; returns how many
    open widgets were closed."""
    registry = open_widgets()
    stack: list[Any] = [root for root in roots if root is not None]
    seen: set[int] = set()
    closed = 0
    while stack:
        widget = stack.pop()
        if id(widget) in seen or not isinstance(widget, widgets.Widget):
            continue
        seen.add(id(widget))
        stack.extend(_held(widget, registry))  # before closing: an Output's widgets are found through the registry
        hook = getattr(widget, "_before_close", None)
        if hook is not None:
            hook()
        if widget.comm is not None:
            widgets.Widget.close(widget)  # the base close: subclasses' close() call close_tree themselves
            closed += 1
    return closed
