#!/usr/bin/env python
"""What changed between two executed copies of a notebook, output by output.

    python scripts/notebook_diff.py first.ipynb second.ipynb    # exit 1 and list them if any

Every output of every code cell is compared whole: its type, a stream's name and text, an
error's traceback, and every mimetype of its data and metadata, whichever they are
(text/plain, text/html, image/svg+xml, widget views, the static fallbacks a widget adds).
So is the widget state stored in the notebook's metadata, which holds what every widget
showed last. Cell execution counts are compared too.

One field is masked, because Jupyter assigns it and it is random in every kernel: widget
model ids (ipywidgets' comm ids). Outputs and the widget state refer to models by them, so
they are renamed rather than dropped: ``model-1``, ``model-2``, ... in the order they are
first met (the cells' outputs in order, then depth first through the models each one
refers to). A reference to the wrong model still shows as a difference. Models no output
reaches are compared as a set of states.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MODEL_REF = "IPY_MODEL_"


def widget_states(nb: dict[str, Any]) -> dict[str, Any]:
    return nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def model_id_names(nb: dict[str, Any]) -> dict[str, str]:
    """Each widget model id of ``nb`` -> the name it is compared under (see the module's docstring)."""
    states = widget_states(nb)
    names: dict[str, str] = {}

    def visit(model_id: str) -> None:
        if model_id in names:
            return
        names[model_id] = f"model-{len(names) + 1}"
        if model_id in states:
            for ref in _references(states[model_id], states):
                visit(ref)

    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and isinstance(view.get("model_id"), str):
                visit(view["model_id"])
    unreached = [m for m in states if m not in names]
    # Ordered by content (with every model id blanked), so the same set names the same way.
    unreached.sort(key=lambda m: _replace_ids(json.dumps(states[m], sort_keys=True), {k: "?" for k in states}))
    for index, model_id in enumerate(unreached, start=1):
        names[model_id] = f"unreached-model-{index}"
    return names


def canonical(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``nb`` with widget model ids renamed: two reproducible runs give equal copies."""
    names = model_id_names(nb)
    renamed: dict[str, Any] = json.loads(_replace_ids(json.dumps(nb), names))
    return renamed


def rename_model_ids(text: str, nb: dict[str, Any]) -> str:
    """``text`` (e.g. the HTML export of ``nb``) with ``nb``'s widget model ids renamed as ``canonical`` does."""
    return _replace_ids(text, model_id_names(nb))


def differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """What differs between two executed copies of a notebook; empty when they match."""
    a, b = canonical(first), canonical(second)
    found: list[str] = []
    cells_a, cells_b = a.get("cells", []), b.get("cells", [])
    if len(cells_a) != len(cells_b):
        found.append(f"{len(cells_a)} cells against {len(cells_b)}")
    for index, (cell_a, cell_b) in enumerate(zip(cells_a, cells_b, strict=False)):
        where = f"cell {index}"
        if cell_a.get("execution_count") != cell_b.get("execution_count"):
            found.append(f"{where}: execution count {cell_a.get('execution_count')} against "
                         f"{cell_b.get('execution_count')}")
        outputs_a, outputs_b = cell_a.get("outputs", []), cell_b.get("outputs", [])
        if len(outputs_a) != len(outputs_b):
            found.append(f"{where}: {len(outputs_a)} outputs against {len(outputs_b)}")
        for number, (out_a, out_b) in enumerate(zip(outputs_a, outputs_b, strict=False)):
            for field in sorted(set(_fields(out_a)) | set(_fields(out_b))):
                value_a, value_b = _fields(out_a).get(field), _fields(out_b).get(field)
                if value_a != value_b:
                    found.append(f"{where}, output {number} ({out_a.get('output_type')}), {field}: "
                                 f"{_first_difference(value_a, value_b)}")
    states_a, states_b = widget_states(a), widget_states(b)
    for name in sorted(set(states_a) | set(states_b)):
        if states_a.get(name) != states_b.get(name):
            found.append(f"widget state of {name}: {_first_difference(states_a.get(name), states_b.get(name))}")
    return found


def _fields(output: dict[str, Any]) -> dict[str, Any]:
    """An output split into the parts a difference is reported by: each mimetype on its own."""
    fields: dict[str, Any] = {}
    for key, value in output.items():
        if key in ("data", "metadata") and isinstance(value, dict):
            fields.update({f"{key} {mimetype}": item for mimetype, item in value.items()})
        else:
            fields[key] = value
    return fields


def _references(value: Any, states: dict[str, Any]) -> list[str]:
    """Model ids ``value`` refers to, in a fixed order: "IPY_MODEL_<id>" strings and bare ids (Output widgets)."""
    if isinstance(value, str):
        if value.startswith(MODEL_REF):
            return [value[len(MODEL_REF):]]
        return [value] if value in states else []
    if isinstance(value, dict):
        return [ref for key in sorted(value) for ref in _references(value[key], states)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item, states)]
    return []


def _replace_ids(text: str, names: dict[str, str]) -> str:
    for model_id in sorted(names, key=len, reverse=True):
        text = text.replace(model_id, names[model_id])
    return text


def _first_difference(a: Any, b: Any) -> str:
    """Where two values first differ, as text: the first changed line of each, around the change."""
    diff = list(difflib.unified_diff(_lines(a), _lines(b), lineterm="", n=0))[2:]  # past the file headers
    removed = next((line[1:] for line in diff if line.startswith("-")), "")
    added = next((line[1:] for line in diff if line.startswith("+")), "")
    if not diff:
        return f"{_short(repr(a))} against {_short(repr(b))}"
    same = (x == y for x, y in zip(removed, added, strict=False))
    at = next((i for i, equal in enumerate(same) if not equal), min(len(removed), len(added)))
    return f"{_around(removed, at)!r} against {_around(added, at)!r}"


def _around(text: str, at: int, before: int = 40, after: int = 80) -> str:
    start = max(0, at - before)
    return ("…" if start else "") + text[start:at + after] + ("…" if len(text) > at + after else "")


def _lines(value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "".join(value)
    text = value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True)
    return text.splitlines()


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    first, second = (json.loads(Path(p).read_text(encoding="utf-8")) for p in args)
    found = differences(first, second)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
