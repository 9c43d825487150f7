"""IPython magics, loaded with ``%load_ext triggerflow_nb``.

``%tf_watch execution`` shows the live panel of an execution; ``%tf_graph flow``
draws a flow and ``%tf_graph flow execution`` draws it coloured live by that
execution. Arguments are names of notebook variables, looked up in the namespace;
nothing is evaluated, so ``%tf_watch runs[0]`` is refused with a hint.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..definition.flow import FlowDefinition
from ..runtime.execution import Execution


def _lookup(shell: Any, name: str, what: str, example: str) -> Any:
    if not name.isidentifier():
        raise UsageError(f"{name!r} is not a variable name; give the name of a {what} variable "
                         f"(assign it first, e.g. `{example}`)")
    if name not in shell.user_ns:
        raise UsageError(f"no notebook variable named {name!r}; define the {what} first (e.g. `{example}`)")
    return shell.user_ns[name]


def _words(line: str, usage: str, most: int) -> list[str]:
    words = line.split()
    if not 1 <= len(words) <= most:
        raise UsageError(f"usage: {usage}")
    return words


def tf_watch(shell: Any, line: str) -> Any:
    from .panel import watch

    (name,) = _words(line, "%tf_watch <execution variable>", 1)
    execution = _lookup(shell, name, "execution", f"{name} = flow.create_execution()")
    if not isinstance(execution, Execution):
        raise UsageError(f"{name} is a {type(execution).__name__}, not an execution; "
                         f"%tf_watch takes what flow.create_execution() or flow.start_execution() returns")
    return watch(execution)


def tf_graph(shell: Any, line: str) -> Any:
    from .graph_view import GraphPicture

    words = _words(line, "%tf_graph <flow variable> [<execution variable>]", 2)
    flow = _lookup(shell, words[0], "flow", f"{words[0]} = TriggerFlow(name=...)")
    if not isinstance(flow, FlowDefinition):
        raise UsageError(f"{words[0]} is a {type(flow).__name__}, not a TriggerFlow")
    if len(words) == 1:
        return GraphPicture(flow)
    execution = _lookup(shell, words[1], "execution", f"{words[1]} = {words[0]}.create_execution()")
    if not isinstance(execution, Execution):
        raise UsageError(f"{words[1]} is a {type(execution).__name__}, not an execution")
    if execution.flow is not flow:
        raise UsageError(f"{words[1]} is an execution of flow {execution.flow.name!r}, not of {flow.name!r}")
    from .live_graph import LiveGraph

    return LiveGraph(execution)


def load_ipython_extension(ipython: Any) -> None:
    def watch_magic(line: str) -> Any:
        """%tf_watch <execution variable>: the live panel of that execution."""
        return tf_watch(ipython, line)

    def graph_magic(line: str) -> Any:
        """%tf_graph <flow variable> [<execution variable>]: draw the flow, coloured live by the execution."""
        return tf_graph(ipython, line)

    ipython.register_magic_function(watch_magic, magic_kind="line", magic_name="tf_watch")
    ipython.register_magic_function(graph_magic, magic_kind="line", magic_name="tf_graph")
