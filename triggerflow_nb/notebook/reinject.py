"""The re-injection prompt shown by ``load()`` in a notebook when saved resource keys have no object.

One row per missing key: the type recorded at save time, a dropdown of notebook
variables (best matches first) and an Inject button. Choosing a variable is a lookup
of its name in the notebook namespace; nothing typed is ever evaluated. When every
key has an object, ``finish({key: object})`` completes the load.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..errors import InvalidArgumentError
from ..export.html import esc, table
from ..layers.resources import describe_resource
from .env import in_notebook, user_namespace
from .static_fallback import StaticFallback
from .theme import ACCENT, MUTED

# Names IPython puts into every namespace; never a user's resource.
_IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})


def is_definition(value: Any) -> bool:
    """A module, class or function: what a notebook namespace is full of and a resource rarely is."""
    return isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                              types.MethodType, functools.partial))


def candidate_names(namespace: dict[str, Any], *, definitions: bool = False) -> list[str]:
    """Notebook variables that could be a resource: no private names or IPython internals, and no
    modules, classes or functions unless ``definitions`` is true."""
    names = []
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES:
            continue
        if type(value).__module__.startswith(("IPython.", "ipykernel.")):
            continue
        if not definitions and is_definition(value):
            continue
        names.append(name)
    return names


def type_match(recorded_type: str | None, value: Any) -> int:
    """0: the recorded type exactly; 1: a class of the same name (e.g. redefined in a new kernel); 2: other."""
    if not recorded_type:
        return 2
    if describe_resource(value) == recorded_type:
        return 0
    return 1 if type(value).__name__ == recorded_type.rsplit(".", 1)[-1] else 2


def rank_candidates(key: str, recorded_type: str | None, namespace: dict[str, Any], *,
                    definitions: bool = False) -> list[str]:
    """Candidate names, best first: the recorded type, then a class of the same name, then the rest;
    within each, a variable named like the key first, then by name.

    A variable whose type matches is always offered, even a function when a function was saved.
    """
    def score(name: str) -> tuple[int, int, str]:
        return (type_match(recorded_type, namespace[name]), 0 if name == key else 1, name)

    names = candidate_names(namespace, definitions=True)
    if not definitions:
        names = [n for n in names if not is_definition(namespace[n]) or type_match(recorded_type, namespace[n]) == 0]
    return sorted(names, key=score)


class ResourceRow:
    def __init__(self, key: str, description: dict[str, Any], prompt: ReinjectionPrompt):
        self.key = key
        self.recorded_type = description.get("type") if isinstance(description, dict) else None
        if self.recorded_type == "unknown":
            self.recorded_type = None
        self._prompt = prompt
        self.label = widgets.HTML(
            f"<code>{esc(key)}</code> <span style='color:{MUTED};font-size:11px'>was "
            f"<code>{esc(self.recorded_type or 'of an unrecorded type')}</code></span>",
            layout=widgets.Layout(width="34%"),
        )
        self.dropdown = widgets.Dropdown(layout=widgets.Layout(width="36%"))
        self.button = widgets.Button(description="Inject", button_style="primary",
                                     tooltip=f"use the chosen notebook variable as resource {key!r}")
        self.status = widgets.HTML()
        self.confirming: str | None = None  # the name a type warning is waiting on ("use anyway")
        self.button.on_click(lambda _button: prompt._inject(self))
        self.dropdown.observe(lambda _change: self._unconfirm(), names="value")
        self.widget = widgets.HBox(children=(self.label, self.dropdown, self.button, self.status))

    def offer(self, namespace: dict[str, Any]) -> None:
        names = rank_candidates(self.key, self.recorded_type, namespace, definitions=self._prompt.show_definitions)
        self.dropdown.options = [(self._option_label(name, namespace[name]), name) for name in names]
        self.dropdown.value = names[0] if names else None
        filled = self.key in self._prompt.chosen
        self.dropdown.disabled = not names or filled
        self.button.disabled = not names or filled
        if not filled:
            self._unconfirm()
            self.status.value = "" if names else (
                f"<span style='color:{ACCENT}'>no notebook variable yet: create one, then press Refresh</span>")

    def mismatch(self, value: Any) -> str | None:
        """Why ``value`` is not what was saved under this key, or None when its type matches (or none was recorded)."""
        if self.recorded_type is None or type_match(self.recorded_type, value) == 0:
            return None
        return f"is a {describe_resource(value)}, but the saved execution used a {self.recorded_type}"

    def ask_to_confirm(self, name: str, reason: str) -> None:
        self.confirming = name
        self.button.description, self.button.button_style = "Use anyway", "warning"
        self.button.tooltip = f"inject {name} although its type differs from the recorded one"
        self.status.value = f"<span style='color:{ACCENT}'>⚠ {esc(name)} {esc(reason)}</span>"

    def _unconfirm(self) -> None:
        if self.confirming is not None:
            self.confirming = None
            self.button.description, self.button.button_style = "Inject", "primary"
            self.button.tooltip = f"use the chosen notebook variable as resource {self.key!r}"
            self.status.value = ""

    def _option_label(self, name: str, value: Any) -> str:
        type_name = describe_resource(value)
        same = " ✓" if self.recorded_type and type_name == self.recorded_type else ""
        return f"{name}  ({type_name}){same}"


class ReinjectionPrompt(StaticFallback, widgets.VBox):
    """A widget; ``chosen`` holds the objects injected so far, by key.

    Variables of the recorded type are offered first; modules, classes and functions only when
    the checkbox asks for them (or when one is of the recorded type). Injecting a variable of
    another type asks first ("Use anyway"). Without widgets, the output reads as the list of
    keys still needed and how to pass them in code.
    """

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
        self.show_definitions = False
        self.rows = {key: ResourceRow(key, description, self) for key, description in missing.items()}
        self.message = widgets.HTML(
            f"Execution <code>{esc(getattr(execution, 'id', '?'))}</code> needs "
            f"{len(missing)} live object{'s' if len(missing) != 1 else ''} that a save cannot keep. "
            f"Pick a notebook variable for each key and press Inject."
        )
        self.refresh_button = widgets.Button(description="Refresh", tooltip="look at the notebook variables again")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.definitions_box = widgets.Checkbox(value=False, description="show modules, classes and functions",
                                                indent=False, layout=widgets.Layout(width="auto"))
        self.definitions_box.observe(self._toggle_definitions, names="value")
        self.result = widgets.HTML()
        super().__init__(children=(self.message, *(row.widget for row in self.rows.values()),
                                   widgets.HBox(children=(self.refresh_button, self.definitions_box, self.result))))
        self.refresh()

    def _toggle_definitions(self, change: dict[str, Any]) -> None:
        self.show_definitions = bool(change["new"])
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
        reason = row.mismatch(namespace[name])
        if reason is not None and row.confirming != name:
            row.ask_to_confirm(name, reason)
            return
        row.confirming = None
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
        self.refresh_static_fallback()

    def static_bundle(self) -> dict[str, str]:
        execution_id = getattr(self.execution, "id", "?")
        rows = [(key, row.recorded_type or "unrecorded type", "injected" if key in self.chosen else "missing")
                for key, row in self.rows.items()]
        if self.finished:
            head = f"Execution {execution_id} was loaded with its live objects re-injected."
        else:
            keys = ", ".join(f"{key!r}: ..." for key in self.rows)
            head = (f"Execution {execution_id} needs {len(rows)} live object{'s' if len(rows) != 1 else ''} that a "
                    f"save cannot keep; with a kernel, pick notebook variables here, or pass them in code: "
                    f"load(saved, runtime_resources={{{keys}}})")
        html = (f"<div>{esc(head)}</div>"
                + table(["key", "saved type", ""], [[f"<code>{esc(k)}</code>", f"<code>{esc(t)}</code>", esc(st)]
                                                     for k, t, st in rows], ""))
        text = "\n".join([head] + [f"  {k}: {t} ({st})" for k, t, st in rows])
        return {"text/html": html, "text/plain": text}


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
