"""The execution stays a small handle made of parts: sizes that keep it so.

``runtime/execution.py`` builds the parts and holds the public sync/async API; what grows
(history, breakpoints, caching, retry policies) becomes a part of its own, not more lines
here. The walker is the one runtime module allowed to be long: its hot loop is one function
on purpose (see its module docstring).
"""

from __future__ import annotations

import ast
import pathlib

import triggerflow_nb

RUNTIME = pathlib.Path(triggerflow_nb.__file__).parent / "runtime"
EXECUTION_LINES = 400
EXECUTION_METHODS = 45  # properties included: each is a def in the class body
MODULE_LINES = 450
LONG_BY_DESIGN = {"walker.py"}


def test_the_execution_module_and_class_stay_small():
    source = (RUNTIME / "execution.py").read_text(encoding="utf-8")
    [execution] = [node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)
                   and node.name == "Execution"]
    methods = [n.name for n in execution.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert len(source.splitlines()) <= EXECUTION_LINES
    assert len(methods) <= EXECUTION_METHODS, methods


def test_no_runtime_module_is_long_but_the_walker():
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in RUNTIME.glob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MODULE_LINES and name not in LONG_BY_DESIGN} == {}
