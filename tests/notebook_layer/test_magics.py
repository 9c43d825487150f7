"""%tf_watch and %tf_graph: names are looked up in the notebook namespace, never evaluated."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from triggerflow_nb import TriggerFlow
from triggerflow_nb.notebook.graph_view import GraphPicture
from triggerflow_nb.notebook.live_graph import LiveGraph
from triggerflow_nb.notebook.panel import ExecutionPanel


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "triggerflow_nb")
    yield shell
    InteractiveShell.clear_instance()


def _flow(name: str = "magic") -> TriggerFlow:
    flow = TriggerFlow(name=name)
    flow.to(lambda d: d.set_state("done", True), name="only")
    return flow


def test_tf_watch_shows_the_panel_of_a_notebook_variable(shell):
    flow = _flow()
    shell.user_ns["run"] = flow.create_execution(auto_close=False)
    panel = shell.run_line_magic("tf_watch", "run")
    assert isinstance(panel, ExecutionPanel) and panel.execution is shell.user_ns["run"]
    shell.user_ns["run"].close()


def test_tf_graph_draws_a_flow_or_follows_an_execution(shell):
    flow = _flow()
    shell.user_ns.update(flow=flow, run=flow.create_execution(auto_close=False))
    picture = shell.run_line_magic("tf_graph", "flow")
    assert isinstance(picture, GraphPicture) and "image/svg+xml" in picture._repr_mimebundle_()
    live = shell.run_line_magic("tf_graph", "flow run")
    assert isinstance(live, LiveGraph) and live.execution is shell.user_ns["run"]
    shell.user_ns["run"].close()


@pytest.mark.parametrize("line, message", [
    ("runs[0]", "'runs\\[0\\]' is not a variable name"),
    ("__import__('os')", "is not a variable name"),
    ("nothing_here", "no notebook variable named 'nothing_here'"),
    ("", "usage: %tf_watch <execution variable>"),
    ("a b", "usage: %tf_watch"),
    ("flow", "flow is a TriggerFlow, not an execution"),
])
def test_tf_watch_refuses_what_is_not_an_execution_variable(shell, line, message):
    shell.user_ns["flow"] = _flow()
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("tf_watch", line)


def test_tf_graph_refuses_a_mismatched_execution(shell):
    flow, other = _flow("one"), _flow("two")
    shell.user_ns.update(flow=flow, run=other.create_execution(), number=3)
    with pytest.raises(UsageError, match="run is an execution of flow 'two', not of 'one'"):
        shell.run_line_magic("tf_graph", "flow run")
    with pytest.raises(UsageError, match="number is a int, not a TriggerFlow"):
        shell.run_line_magic("tf_graph", "number")
