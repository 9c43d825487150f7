"""In a real Jupyter kernel (nbclient): cells defining chunks, re-running cells, the graph, the panel,
top-level await, sync start, and the Continue button."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    # 0
    "import asyncio, json\n"
    "from triggerflow_nb import TriggerFlow\n"
    "%load_ext triggerflow_nb\n"
    "flow = TriggerFlow(name='kernel-flow')",
    # 1: a chunk, first version
    "@flow.chunk\n"
    "def measure(data):\n"
    "    data.set_state('version', 1)\n"
    "    return data.input * 2",
    # 2: the wiring
    "chain = flow.to(measure).to(lambda data: data.set_state('total', data.input + 1), name='store')\n"
    "print('edges', sorted(flow._graph.edges()))",
    # 3: the chunk cell, edited and run again
    "@flow.chunk\n"
    "def measure(data):\n"
    "    data.set_state('version', 2)\n"
    "    return data.input * 10",
    # 4: the wiring cell run again (same source as cell 2)
    None,
    # 5: the graph
    "flow",
    # 6: sync API inside the running kernel loop
    "result = flow.start(3)\n"
    "print(json.dumps(result, sort_keys=True))",
    # 7: top-level await
    "result = await flow.async_start(4)\n"
    "print(json.dumps(result, sort_keys=True))",
    # 8: the live panel
    "execution = flow.create_execution(auto_close=False)\n"
    "execution.watch()",
    # 9
    "execution.start(5)\n"
    "print(execution.status)",
    # 10
    "await asyncio.sleep(0.3)\n"
    "print(json.dumps(execution.close(), sort_keys=True))",
    # 11
    "%tf_graph flow execution",
    # 12: the Continue button, clicked inside the kernel
    "approvals = TriggerFlow(name='approvals')\n"
    "async def ask(data):\n"
    "    await data.async_pause_for(type='approve', payload={'amount': data.input}, interrupt_id='approval')\n"
    "approvals.to(ask).to(lambda data: data.set_state('reply', data.input), name='record')\n"
    "pending = approvals.start_execution(9)\n"
    "panel = pending.watch()\n"
    "row = panel.interrupts.rows['approval']\n"
    "row.payload.value = '{\"approved\": true}'\n"
    "row.button.click()\n"
    "print('after click', sorted(pending.get_pending_interrupts()), len(panel.continue_tasks))\n"
    "panel",
    # 13
    "await asyncio.sleep(0.3)\n"
    "print(json.dumps(pending.get_state('reply')), sorted(pending.get_pending_interrupts()))\n"
    "pending.close()",
    # 14: load() with a missing resource shows the re-injection prompt in the cell
    "class Mailer:\n"
    "    pass\n"
    "mailer = Mailer()\n"
    "expenses = TriggerFlow(name='expenses')\n"
    "async def hold(data):\n"
    "    await data.async_pause_for(type='ok', interrupt_id='ok')\n"
    "async def use(data):\n"
    "    await data.async_set_state('same_mailer', data.require_resource('mailer') is mailer)\n"
    "expenses.to(hold).to(use)\n"
    "paused = expenses.create_execution(auto_close=False, runtime_resources={'mailer': mailer})\n"
    "paused.start(1)\n"
    "saved = paused.save()\n"
    "paused.close(pending_interrupts='cancel')\n"
    "restored = expenses.create_execution(auto_close=False)\n"
    "restored.load(saved)\n"
    "print('before inject', sorted(restored.get_pending_interrupts()))",
    # 15: pick the variable (offered first: same name and type) and inject
    "import gc\n"
    "from triggerflow_nb.notebook.reinject import ReinjectionPrompt\n"
    "(prompt,) = [o for o in gc.get_objects() if isinstance(o, ReinjectionPrompt)]\n"
    "row = prompt.rows['mailer']\n"
    "print(row.dropdown.value, row.dropdown.options[0][0])\n"
    "row.button.click()\n"
    "await asyncio.sleep(0.2)\n"
    "print(prompt.result.value, sorted(restored.get_pending_interrupts()))\n"
    "restored.continue_with('ok')\n"
    "print(json.dumps(restored.close()))",
]
CELLS[4] = CELLS[2]


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = NotebookClient(nb, kernel_name="python3", timeout=120, store_widget_state=True)
    client.execute()
    return nb


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _data(cell) -> list[dict]:
    return [o["data"] for o in cell.outputs if o.output_type in ("execute_result", "display_data")]


def _widget_states(nb) -> dict[str, dict]:
    return {model_id: entry["state"]
            for model_id, entry in nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].items()}


def test_no_cell_wrote_an_error(executed):
    for cell in executed.cells:
        assert not [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"], cell.source


def test_rerunning_cells_replaces_the_handler_and_keeps_one_set_of_edges(executed):
    cells = executed.cells
    assert _stdout(cells[2]) == "edges [('$start', 'measure'), ('measure', 'store')]\n"
    assert _stdout(cells[4]) == _stdout(cells[2])  # the wiring cell run twice: no duplicate edge
    assert json.loads(_stdout(cells[6])) == {"total": 31, "version": 2}  # the edited chunk runs


def test_the_flow_displays_as_an_svg(executed):
    (bundle,) = _data(executed.cells[5])
    assert bundle["image/svg+xml"].lstrip().startswith("<svg")
    assert ">measure</text>" in bundle["image/svg+xml"] and ">store</text>" in bundle["image/svg+xml"]


def test_sync_start_and_top_level_await_work_in_the_kernel(executed):
    assert json.loads(_stdout(executed.cells[6])) == {"total": 31, "version": 2}
    assert json.loads(_stdout(executed.cells[7])) == {"total": 41, "version": 2}
    assert _stdout(executed.cells[9]) == "idle\n"
    assert json.loads(_stdout(executed.cells[10])) == {"total": 51, "version": 2}


def test_watch_is_a_widget_whose_stored_state_has_the_final_values(executed):
    (bundle,) = _data(executed.cells[8])
    view = bundle["application/vnd.jupyter.widget-view+json"]
    states = _widget_states(executed)
    assert states[view["model_id"]]["_model_name"] == "VBoxModel"
    html_values = [s.get("value", "") for s in states.values() if s.get("_model_name") == "HTMLModel"]
    header = [v for v in html_values if "<b>kernel-flow</b>" in v]
    assert len(header) == 1 and ">closed</span>" in header[0] and ">completed</span>" in header[0]
    state_tables = [v for v in html_values if "<code>version</code>" in v]
    assert len(state_tables) == 1
    assert re.search(r"<code>version</code></td><td[^>]*><code>2</code>", state_tables[0])
    assert re.search(r"<code>total</code></td><td[^>]*><code>51</code>", state_tables[0])
    pickers = [s for s in states.values() if s.get("_model_name") == "DropdownModel"]
    assert ["version", "total"] in [p["_options_labels"] for p in pickers]


def test_tf_graph_is_a_live_graph_widget(executed):
    (bundle,) = _data(executed.cells[11])
    model_id = bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    state = _widget_states(executed)[model_id]
    assert state["_model_name"] == "HTMLModel" and ">measure</text>" in state["value"]
    assert 'fill="#b7e4c7"' in state["value"]  # the closed run's chunks are done


def test_the_continue_button_resumes_without_blocking_the_cell(executed):
    assert _stdout(executed.cells[12]) == "after click ['approval'] 1\n"  # scheduled, the cell went on
    assert _stdout(executed.cells[13]) == '{"approved": true} []\n'


def test_load_prompts_for_a_missing_resource_and_injects_the_notebook_variable(executed):
    load_cell, inject_cell = executed.cells[14], executed.cells[15]
    (bundle,) = _data(load_cell)  # the prompt, shown by load() itself
    state = _widget_states(executed)[bundle["application/vnd.jupyter.widget-view+json"]["model_id"]]
    assert state["_model_name"] == "VBoxModel"
    assert _stdout(load_cell) == "before inject []\n"
    lines = _stdout(inject_cell).splitlines()
    assert lines[0] == "mailer mailer  (__main__.Mailer) ✓"
    assert lines[1] == "<b style='color:#2f855a'>loaded</b> ['ok']"
    assert json.loads(lines[2]) == {"same_mailer": True}  # the very object, by identity
