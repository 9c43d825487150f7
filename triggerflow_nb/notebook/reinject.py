"""The re-injection prompt shown by ``load()`` in a notebook when saved resource keys have no object.

One row per missing key: the type recorded at save time, a dropdown of notebook
variables (best matches first) and an Inject button. Choosing a variable is a lookup
of its name in the notebook namespace; nothing typed is ever evaluated. When every
key has an object, ``finish({key: object})`` completes the load.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..errors import InvalidArgumentError
from ..export.html import esc
from ..layers.resources import describe_resource
from .env import in_notebook, user_namespace

# Names IPython puts into every namespace; never a user's resource.
_IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})


def candidate_names(namespace: dict[str, Any]) -> list[str]:
    """Notebook variables that could be a resource: no private names, modules or IPython internals."""
    names = []
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES or isinstance(value, types.ModuleType):
            continue
        if type(value).__module__.startswith(("IPython.", "ipykernel.")):
            continue
        names.append(name)
    return names


def rank_candidates(key: str, recorded_type: str | None, namespace: dict[str, Any]) -> list[str]:
    """Candidate names, best first: the same name as the key, then the same type, then the same class name."""
    recorded_class = (recorded_type or "").rsplit(".", 1)[-1]

    def score(name: str) -> tuple[int, int, str]:
        value = namespace[name]
        type_name = describe_resource(value)
        if recorded_type and type_name == recorded_type:
            type_rank = 0
        elif recorded_class and type(value).__name__ == recorded_class:
            type_rank = 1
        else:
            type_rank = 2
        return (0 if name == key else 1, type_rank, name)

    return sorted(candidate_names(namespace), key=score)


class ResourceRow:
    def __init__(self, key: str, description: dict[str, Any], prompt: ReinjectionPrompt):
        self.key = key
        self.recorded_type = description.get("type") if isinstance(description, dict) else None
        self._prompt = prompt
        self.label = widgets.HTML(
            f"<code>{esc(key)}</code> <span style='color:#718096;font-size:11px'>was "
            f"<code>{esc(self.recorded_type or 'of an unrecorded type')}</code></span>",
            layout=widgets.Layout(width="34%"),
        )
        self.dropdown = widgets.Dropdown(layout=widgets.Layout(width="36%"))
        self.button = widgets.Button(description="Inject", button_style="primary",
                                     tooltip=f"use the chosen notebook variable as resource {key!r}")
        self.status = widgets.HTML()
        self.button.on_click(lambda _button: prompt._inject(self))
        self.widget = widgets.HBox(children=(self.label, self.dropdown, self.button, self.status))

    def offer(self, namespace: dict[str, Any]) -> None:
        names = rank_candidates(self.key, self.recorded_type, namespace)
        self.dropdown.options = [(self._option_label(name, namespace[name]), name) for name in names]
        self.dropdown.value = names[0] if names else None
        filled = self.key in self._prompt.chosen
        self.dropdown.disabled = not names or filled
        self.button.disabled = not names or filled
        if not filled:
            self.status.value = "" if names else (
                "<span style='color:#b7791f'>no notebook variable yet: create one, then press Refresh</span>")

    def _option_label(self, name: str, value: Any) -> str:
        type_name = describe_resource(value)
        same = " ✓" if self.recorded_type and type_name == self.recorded_type else ""
        return f"{name}  ({type_name}){same}"


class ReinjectionPrompt(widgets.VBox):
    """A widget; ``chosen`` holds the objects injected so far, by key."""

    def __init__(self, execution: Any, missing: dict[str, dict[str, Any]], finish: Callable[[dict[str, Any]], Any],
                 namespace: dict[str, Any] | None = None):
        if not isinstance(missing, dict) or not missing:
            raise InvalidArgumentError("the re-injection prompt needs at least one missing resource key")
        if not callable(finish):
            raise InvalidArgumentError(f"finish must be callable, got {type(finish).__name__}")
        self.execution = execution
        self.finish = finish
        self.chosen: dict[str, Any] = {}
        self.finished = False
        self._namespace = namespace
        self.rows = {key: ResourceRow(key, description, self) for key, description in missing.items()}
        self.message = widgets.HTML(
            f"Execution <code>{esc(getattr(execution, 'id', '?'))}</code> needs "
            f"{len(missing)} live object{'s' if len(missing) != 1 else ''} that a save cannot keep. "
            f"Pick a notebook variable for each key and press Inject."
        )
        self.refresh_button = widgets.Button(description="Refresh", tooltip="look at the notebook variables again")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.result = widgets.HTML()
        super().__init__(children=(self.message, *(row.widget for row in self.rows.values()),
                                   widgets.HBox(children=(self.refresh_button, self.result))))
        self.refresh()

    def namespace(self) -> dict[str, Any]:
        return self._namespace if self._namespace is not None else user_namespace()

    def refresh(self) -> None:
        """Offer the notebook's current variables again (e.g. after creating the missing client)."""
        namespace = self.namespace()
        for row in self.rows.values():
            row.offer(namespace)

    def _inject(self, row: ResourceRow) -> None:
        name = row.dropdown.value
        namespace = self.namespace()
        if name is None or name not in namespace:  # looked up by name only; the variable may be gone
            row.status.value = f"<span style='color:#c53030'>no notebook variable {esc(name)}: press Refresh</span>"
            return
        self.chosen[row.key] = namespace[name]
        row.status.value = f"<span style='color:#2f855a'>✔ {esc(name)}</span>"
        row.dropdown.disabled = True
        row.button.disabled = True
        if len(self.chosen) == len(self.rows) and not self.finished:
            self._finish()

    def _finish(self) -> None:
        try:
            self.finish(dict(self.chosen))
        except Exception as exc:
            self.result.value = f"<span style='color:#c53030'>load failed: {esc(type(exc).__name__)}: {esc(exc)}</span>"
            self.chosen.clear()
            self.refresh()
            return
        self.finished = True
        self.refresh_button.disabled = True
        self.result.value = "<b style='color:#2f855a'>loaded</b>"


def show_reinjection_prompt(execution: Any, missing: dict[str, dict[str, Any]],
                            finish: Callable[[dict[str, Any]], Any], *,
                            namespace: dict[str, Any] | None = None,
                            display: bool | None = None) -> ReinjectionPrompt:
    """Build the prompt for ``missing`` (key -> recorded description: type, level, managed) and return it.

    ``finish`` receives ``{key: object}`` once every key has one. ``namespace`` defaults to
    the notebook's variables (IPython's ``user_ns``). ``display`` (default: when running in
    a notebook) shows the prompt in the current cell's output right away, so a caller that
    is busy returning something else (``load()`` returns the execution) need not.
    """
    prompt = ReinjectionPrompt(execution, missing, finish, namespace)
    if display if display is not None else in_notebook():
        from IPython.display import display as show

        show(prompt)
    return prompt
