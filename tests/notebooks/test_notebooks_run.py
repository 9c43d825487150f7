"""The teaching notebooks run top to bottom in a real kernel and print what they teach.

Each notebook runs with nbclient in a fresh ``python3`` kernel (the repo's .venv, set up
by scripts/setup_env.sh), with widget state stored, exactly as scripts/demo.sh runs it.
"""

from __future__ import annotations

import json

import nbformat
import pytest
import run_notebooks
import strip_notebooks
from nb_expectations import CHECKS, WIDGET_STATE, check_notebook

NOTEBOOKS = run_notebooks.notebook_paths()


def test_the_teaching_notebooks_are_all_there():
    assert [p.name for p in NOTEBOOKS] == [f"{name}.ipynb" for name in sorted(CHECKS)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert strip_notebooks.problems(nb) == [], f"run: python scripts/strip_notebooks.py {path}"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    result = run_notebooks.execute_notebook(path, tmp_path)

    check_notebook(path.stem, result.executed)
    assert result.seconds < 60, f"{path.name} took {result.seconds:.1f}s; a teaching notebook must stay under a minute"

    # Stripping the executed notebook gives back exactly the stored one.
    stripped = strip_notebooks.strip(nbformat.from_dict(json.loads(json.dumps(result.executed))))
    assert nbformat.writes(stripped) == nbformat.writes(nbformat.read(path, as_version=4))

    # What scripts/demo.sh writes: the executed notebook and an HTML export with widget state.
    ipynb, html = run_notebooks.write_outputs(result.executed, path.stem, tmp_path / "demo")
    reread = nbformat.read(ipynb, as_version=4)
    assert [c.get("outputs") for c in reread.cells] == [c.get("outputs") for c in result.executed.cells]
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page or "data:image/svg+xml" in page, "the HTML export lost the graph"
    if reread.metadata.get("widgets"):
        assert f'<script type="{WIDGET_STATE}">' in page, "the HTML export lost the widget state"


def test_save_notebook_writes_its_snapshot_into_the_working_directory(tmp_path):
    path = next(p for p in NOTEBOOKS if p.stem == "03_save_load_reinject")
    run_notebooks.execute_notebook(path, tmp_path)
    saved = json.loads((tmp_path / "expense-approval.json").read_text())
    assert saved["state"] == {"request": {"who": "Ana", "amount": 120}}
    assert saved["resource_keys"] == ["mailer"]
    assert "flow_data" not in saved


BROKEN_CELL = """from triggerflow_nb import TriggerFlow

flow = TriggerFlow(name="broken")
flow.to(lambda data: 1 / 0, name="divide")
flow.start(1)"""


@pytest.mark.timeout(120)
def test_a_failing_cell_is_reported_and_fails_the_run(tmp_path, capsys):
    broken = nbformat.v4.new_notebook()
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken.cells = [
        nbformat.v4.new_code_cell("answer = 42\nprint(answer)"),
        nbformat.v4.new_code_cell(BROKEN_CELL),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(broken, path)

    with pytest.raises(run_notebooks.NotebookRunError) as caught:
        run_notebooks.execute_notebook(path, tmp_path)
    error = caught.value
    assert error.cell_index == 1
    assert error.source == BROKEN_CELL
    assert "ChunkError: chunk 'divide' raised ZeroDivisionError: division by zero" in error.detail, error.detail
    assert "\x1b[" not in error.detail
    assert error.executed.cells[0].outputs[0]["text"] == "42\n"

    out = tmp_path / "out"
    assert run_notebooks.main([str(path), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "broken.ipynb failed at cell 1:" in printed.err
    assert BROKEN_CELL in printed.err
    assert "ZeroDivisionError" in printed.err
    assert (out / "broken.ipynb").exists() and (out / "broken.html").exists()
