"""In a real kernel (nbclient, as scripts/demo.sh runs notebooks): widget outputs carry a static
fallback of the *final* state, also when the execution ends after the cell that showed it, and
the HTML export writes that fallback next to the widget tag."""

from __future__ import annotations

import re
from html import unescape

import nbformat
import pytest
import run_notebooks

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CELLS = [
    # 0: the panel shown before the run
    "import asyncio\n"
    "from triggerflow_nb import TriggerFlow\n"
    "flow = TriggerFlow(name='fallbacks')\n"
    "async def hello(data):\n"
    "    await data.async_set_state('greeting', f'hello {data.input}')\n"
    "flow.to(hello)\n"
    "execution = flow.create_execution(auto_close=False)\n"
    "execution.watch()",
    # 1: the run, in a later cell
    "execution.start('world')\n"
    "execution.close();",
    # 2: a run that auto-closes in the background, after its cell ended
    "later = flow.create_execution(auto_close_timeout=0.3)\n"
    "task = asyncio.ensure_future(later.async_start('later'))\n"
    "later.watch()",
    # 3: an execution as the cell's value
    "ran = flow.create_execution(auto_close=False)\n"
    "ran.start('value')\n"
    "ran",
    # 4: a live graph on its own, and two panels side by side
    "from triggerflow_nb.notebook.live_graph import LiveGraph\n"
    "from triggerflow_nb.notebook.panel_row import side_by_side\n"
    "a, b = flow.create_execution(auto_close=False), flow.create_execution(auto_close=False)\n"
    "display(LiveGraph(a))\n"
    "side_by_side(a.watch(), b.watch())",
    # 5
    "await asyncio.gather(a.async_start('Ana'), b.async_start('Bo'))\n"
    "a.close(); b.close(); ran.close()\n"
    "await asyncio.sleep(0.5)  # the background run closes meanwhile",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("fallbacks")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    path = workdir / "fallbacks.ipynb"
    nbformat.write(nb, path)
    result = run_notebooks.execute_notebook(path, workdir, cell_timeout=60)
    return result.executed, workdir


def widget_outputs(cell) -> list[dict]:
    return [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")
            and WIDGET_VIEW in o.data]


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]*>", " ", html)).split())


@pytest.mark.timeout(180)
def test_a_panel_shown_before_the_run_ends_with_the_final_state(executed):
    nb, _ = executed
    (data,) = widget_outputs(nb.cells[0])
    assert data["text/plain"].splitlines()[:4] == [
        data["text/plain"].splitlines()[0], 'input: "world"', "close reason: closed", "state (this execution; saved):"]
    assert re.fullmatch(r"flow 'fallbacks' · execution [0-9a-f]{32} · closed · completed",
                        data["text/plain"].splitlines()[0])
    assert '  greeting = "hello world"' in data["text/plain"].splitlines()
    assert 'greeting "hello world"' in visible(data["text/html"])


@pytest.mark.timeout(180)
def test_a_run_closing_between_cells_is_caught_by_the_runners_final_refresh(executed):
    nb, _ = executed
    (data,) = widget_outputs(nb.cells[2])
    lines = data["text/plain"].splitlines()
    assert lines[0].endswith("· closed · completed") and lines[1:3] == ['input: "later"',
                                                                        "close reason: auto-close after 0.3s idle"]


@pytest.mark.timeout(180)
def test_an_execution_as_a_cells_value_shows_its_panel_with_the_input(executed):
    nb, _ = executed
    (data,) = widget_outputs(nb.cells[3])
    assert data["text/plain"].splitlines()[1] == 'input: "value"'
    assert data["text/plain"].splitlines()[0].endswith("· closed · completed")  # closed in cell 5


@pytest.mark.timeout(180)
def test_the_live_graph_and_the_row_of_panels_fall_back_too(executed):
    nb, _ = executed
    graph, row = widget_outputs(nb.cells[4])
    assert graph["text/plain"].endswith("(completed): hello done")
    assert graph["text/html"].startswith('<img class="tf-static-graph"')
    assert row["text/plain"].count("· closed · completed") == 2
    assert 'greeting = "hello Ana"' in row["text/plain"] and 'greeting = "hello Bo"' in row["text/plain"]


@pytest.mark.timeout(180)
def test_no_widget_output_falls_back_to_a_raw_repr(executed):
    nb, _ = executed
    for cell in nb.cells:
        for data in widget_outputs(cell):
            assert "(children=" not in data["text/plain"] and "text/html" in data, cell.source


@pytest.mark.timeout(180)
def test_the_html_export_writes_each_fallback_right_before_its_widget_tag(executed):
    nb, workdir = executed
    _, html_path = run_notebooks.write_outputs(nb, "fallbacks", workdir / "demo")
    page = html_path.read_text(encoding="utf-8")
    blocks = re.findall(r'<div class="tf-static-fallback">(.*?)</div>\s*<script type="' + re.escape(WIDGET_VIEW)
                        + r'">', page, re.S)
    assert len(blocks) == 5, len(blocks)  # 0, 2, 3, the graph and the row in 4
    assert page.count(f'<script type="{WIDGET_VIEW}">') == 5
    assert ".tf-static-fallback:has(+ .widget-subarea) { display: none; }" in page
    assert 'greeting "hello world"' in visible(page)
