"""Every teaching notebook, run twice in fresh kernels in reproducible mode, gives the same outputs.

As ``scripts/demo.sh`` runs them (TRIGGERFLOW_NB_REPRODUCIBLE=0, one working directory for
both runs, so files the first run left behind are there for the second). Compared by
``scripts/notebook_diff.py``: every output of every cell, every mimetype (text, HTML, SVG,
widget views and whatever static fallbacks widgets add), and the stored widget state.

Masked, and only this: widget model ids. Jupyter (ipywidgets' comms) draws them at random in
each kernel; they are renamed by the order the outputs reach them, so a reference to the
wrong widget still fails. The HTML export is compared after the same renaming.
"""

from __future__ import annotations

import hashlib
import json

import notebook_diff
import pytest
import run_notebooks

NOTEBOOKS = run_notebooks.notebook_paths()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_two_runs_give_the_same_outputs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIGGERFLOW_NB_REPRODUCIBLE", "0")  # kernels inherit it, as from scripts/demo.sh
    first = run_notebooks.execute_notebook(path, tmp_path)
    first_html = run_notebooks.to_html(first.executed)
    second = run_notebooks.execute_notebook(path, tmp_path)

    assert notebook_diff.differences(first.executed, second.executed) == []
    assert notebook_diff.canonical(first.executed) == notebook_diff.canonical(second.executed)
    assert (notebook_diff.rename_model_ids(first_html, first.executed)
            == notebook_diff.rename_model_ids(run_notebooks.to_html(second.executed), second.executed))
    text = json.dumps(first.executed)
    assert "ipykernel_" not in text  # warnings name the cell, not the kernel's temp file
    assert " UTC" not in text and " s ago" not in text  # no wall-clock time shown
    if path.stem == "01_quickstart":  # the mode was really on: the panel shows a seeded id, not a random one
        seeded = [hashlib.blake2b(json.dumps([0, "execution", "quickstart", n]).encode(), digest_size=16).hexdigest()
                  for n in range(5)]
        assert any(execution_id in text for execution_id in seeded)
