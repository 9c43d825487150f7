"""The tree of errors drawn at the top of errors.py is the real one, store and distributed included.

A reader sees at once what to catch; this test keeps the drawing current (it prints the tree
to paste when it is not).
"""

from __future__ import annotations

import triggerflow_nb.distributed.errors
import triggerflow_nb.errors
import triggerflow_nb.store.errors  # noqa: F401  # their classes join the tree when imported
from triggerflow_nb.errors import TriggerFlowError

HOMES = {"triggerflow_nb.store.errors": "  · triggerflow_nb.store",
         "triggerflow_nb.distributed.errors": "  · triggerflow_nb.distributed"}


def _bases(cls: type) -> list[type]:
    return [base for base in cls.__bases__ if issubclass(base, TriggerFlowError)]


def _all_errors() -> set[type]:
    found: set[type] = set()
    todo = [TriggerFlowError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found and sub.__module__.startswith("triggerflow_nb"):
                found.add(sub)
                todo.append(sub)
    return found


def _draw(parent: type, errors: set[type], prefix: str = "") -> list[str]:
    children = sorted((e for e in errors if _bases(e)[0] is parent), key=lambda e: e.__name__)
    lines = []
    for index, child in enumerate(children):
        last = index == len(children) - 1
        also = [base.__name__ for base in _bases(child)[1:]]
        note = f" (also {', '.join(also)})" if also else ""
        lines.append(f"{prefix}{'└── ' if last else '├── '}{child.__name__}{note}{HOMES.get(child.__module__, '')}")
        lines += _draw(child, errors, prefix + ("    " if last else "│   "))
    return lines


def test_errors_py_draws_the_whole_tree():
    tree = "\n".join(f"    {line}" for line in ["TriggerFlowError", *_draw(TriggerFlowError, _all_errors())])
    assert f"::\n\n{tree}\n\n" in (triggerflow_nb.errors.__doc__ or ""), f"paste this into errors.py's docstring:\n{tree}"
