"""Cell-scoped wiring in a real Jupyter kernel (nbclient): a wiring cell edited and run again replaces
what its previous run wired (a step added, a step removed), says so in one line, and the graph and the
run show the current code. JupyterLab and Notebook 7 send each cell's id with the execute request;
nbclient sends none, so the kernel client here adds it the way they do (``metadata.cellId``). Without
an id, a cell is known by its source (checked too)."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

SETUP = (
    "import json\n"
    "from triggerflow_nb import TriggerFlow\n"
    "flow = TriggerFlow(name='pipeline')\n"
    "def step(name):\n"
    "    def run(data):\n"
    "        data.append_state('trail', name)\n"
    "        return data.input\n"
    "    run.__name__ = name\n"
    "    return run\n"
    "fetch, clean, enrich, summarize = (step(n) for n in ('fetch', 'clean', 'enrich', 'summarize'))\n"
    "def edges():\n"
    "    print('edges', json.dumps(sorted(flow._graph.edges())))"
)
FIRST = "flow.to(fetch).to(clean).to(summarize)\nedges()"
EDITED = "flow.to(fetch).to(clean).to(enrich).to(summarize)\nedges()"
RUN = "print('trail', json.dumps(flow.start(1)['trail']))"

# (the cell id a front end would send, source); the same id again is the same cell run again
CELLS = [
    ("setup", SETUP),
    ("wiring", FIRST),
    ("run", RUN),
    ("wiring", EDITED),      # 3: edited: enrich added, clean → summarize removed
    ("run", RUN),            # 4
    ("wiring", EDITED),      # 5: run again unchanged: nothing to say
    ("events", "flow.when('Audit').to(summarize)\nedges()"),
    ("events", "edges()"),  # 7: the audit wiring deleted from the cell: it goes
    ("watch",                # 8: per-node run counts on the panel and the graph
     "twice = TriggerFlow(name='twice')\n"
     "twice.to(fetch).to(summarize)\n"
     "twice.to(clean).to(summarize)\n"
     "ex = twice.create_execution(auto_close=False)\n"
     "panel = ex.watch(interval=0)\n"
     "ex.start(1)\n"
     "ex.close()\n"
     "print('runs', json.dumps(panel.run_counts.counts, sort_keys=True))\n"
     "print('labels', panel.graph.value.count(' ×'), '>summarize<tspan font-size=\"9\"> ×2</tspan></text>' in panel.graph.value)\n"
     "print('line', panel.run_counts.widget.value)"),
    ("fails",                # 9: a failing chunk: one line with the cell and line on the panel
     "bad = TriggerFlow(name='bad')\n"
     "def risky(data):\n"
     "    raise ValueError('flaky service')\n"
     "bad.to(risky)\n"
     "failing = bad.create_execution(auto_close=False)\n"
     "failing_panel = failing.watch(interval=0)\n"
     "try:\n"
     "    failing.start(1)\n"
     "except Exception:\n"
     "    pass\n"
     "(row,) = failing_panel.failures.rows.values()\n"
     "print(row.info.value.split('</div>')[0].split('>', 1)[1])"),
    ("raises",               # 10: the same error uncaught: IPython's traceback without engine frames
     "failing.close()"),
]


def run_notebook(cells, *, send_cell_ids: bool):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"front_end_id": cell_id}) for cell_id, source in cells]
    for cell in nb.cells:
        if cell.metadata.front_end_id == "raises":
            cell.metadata["tags"] = ["raises-exception"]
    client = NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=False)
    if send_cell_ids:
        def with_cell_id(cell, cell_index):
            kc = client.kc

            def execute(code, silent=False, store_history=True, user_expressions=None, allow_stdin=None,
                        stop_on_error=True):
                content = {"code": code, "silent": silent, "store_history": store_history,
                           "user_expressions": user_expressions or {}, "allow_stdin": False,
                           "stop_on_error": stop_on_error}
                msg = kc.session.msg("execute_request", content, metadata={"cellId": cell.metadata.front_end_id})
                kc.shell_channel.send(msg)
                return msg["header"]["msg_id"]

            kc.execute = execute

        client.on_cell_execute = with_cell_id
    client.execute()
    return nb


def stdout(cell) -> list[str]:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream").splitlines()


def edges_of(cell) -> list[list[str]]:
    (line,) = [line for line in stdout(cell) if line.startswith("edges ")]
    return json.loads(line[len("edges "):])


@pytest.fixture(scope="module")
def with_ids():
    return run_notebook(CELLS, send_cell_ids=True)


def test_the_first_run_of_a_wiring_cell_says_nothing(with_ids):
    cell = with_ids.cells[1]
    assert stdout(cell) == [
        'edges [["$start", "fetch"], ["clean", "summarize"], ["fetch", "clean"]]',
    ]
    assert stdout(with_ids.cells[2]) == ['trail ["fetch", "clean", "summarize"]']


def test_an_edited_wiring_cell_replaces_its_old_wiring_and_says_what_changed(with_ids):
    cell = with_ids.cells[3]
    assert stdout(cell) == [
        'edges [["$start", "fetch"], ["clean", "enrich"], ["enrich", "summarize"], ["fetch", "clean"]]',
        "flow 'pipeline': this cell's new wiring replaced its previous run's: removed clean → summarize; "
        "added clean → enrich, enrich → summarize",
    ]
    # summarize runs once: the old clean → summarize edge is gone
    assert stdout(with_ids.cells[4]) == ['trail ["fetch", "clean", "enrich", "summarize"]']


def test_running_the_same_wiring_again_changes_nothing_and_says_nothing(with_ids):
    assert edges_of(with_ids.cells[5]) == edges_of(with_ids.cells[3])
    assert len(stdout(with_ids.cells[5])) == 1


def test_wiring_deleted_from_a_cell_disappears_when_it_runs_again(with_ids):
    current = [["$start", "fetch"], ["clean", "enrich"], ["enrich", "summarize"], ["fetch", "clean"]]
    assert edges_of(with_ids.cells[6]) == sorted([*current, ["when:Audit", "summarize"]])
    assert stdout(with_ids.cells[7]) == [
        f"edges {json.dumps(current)}",
        "flow 'pipeline': this cell's new wiring replaced its previous run's: removed when:Audit → summarize",
    ]


def test_the_panel_and_the_graph_count_runs_per_node(with_ids):
    lines = stdout(with_ids.cells[8])
    assert lines[0] == 'runs {"clean": 1, "fetch": 1, "summarize": 2}'
    assert lines[1] == "labels 1 True"  # only the node that ran more than once is marked
    assert lines[2] == ('line <div style="font-size:12px;margin:2px 0">runs: <code>fetch</code> ×1 · '
                        '<b><code>summarize</code> ×2</b> · <code>clean</code> ×1</div>')


def test_without_cell_ids_a_cell_is_known_by_its_source():
    nb = run_notebook([CELLS[0], CELLS[1], CELLS[1], CELLS[3], CELLS[2]], send_cell_ids=False)
    # the same source again: replaced by itself, so nothing changes and nothing is said
    assert stdout(nb.cells[2]) == stdout(nb.cells[1])
    # an edited source is another cell: its wiring is added to the old one, as outside IPython
    assert edges_of(nb.cells[3]) == [["$start", "fetch"], ["clean", "enrich"], ["clean", "summarize"],
                                     ["enrich", "summarize"], ["fetch", "clean"]]
    assert len(stdout(nb.cells[3])) == 1
    assert stdout(nb.cells[4]) == ['trail ["fetch", "clean", "summarize", "enrich", "summarize"]']


def test_a_failed_chunk_names_the_cell_and_line_and_the_raised_traceback_has_no_engine_frames(with_ids):
    assert stdout(with_ids.cells[9]) == [
        "✖ chunk &#x27;risky&#x27; failed at Cell In[10], line 3: ValueError: flaky service"]
    (error,) = [o for o in with_ids.cells[10].outputs if o.output_type == "error"]
    assert (error.ename, error.evalue) == ("ChunkError", "chunk 'risky' raised ValueError: flaky service")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    for engine_file in ("walker.py", "_loop_bridge.py", "base_events.py", "_root", "_walk"):
        assert engine_file not in shown
    # the cell, close() (one line of the public method), then the bridge frames IPython hides
    assert "[... skipping hidden 2 frame]" in shown
    assert "raise ValueError('flaky service')" in shown and "failing.close()" in shown
    assert len(shown.splitlines()) <= 30  # the cell, the chunk and two lines of close(): nothing else
