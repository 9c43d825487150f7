"""The README's History section prints exactly the output it shows, for the notebook's refund flow."""

import contextlib
import io
import pathlib
import re

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_history_section_shows_what_its_code_prints():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## History and time travel", 1)[1]
    code, shown = re.search(r"```python\n(.*?)```\n\n```text\n(.*?)```", section, re.S).groups()
    notebook = nbformat.read(ROOT / "notebooks" / "04_patterns.ipynb", as_version=4)
    [flow_cell] = [c.source for c in notebook.cells if c.cell_type == "code" and 'TriggerFlow(name="refunds")' in c.source]
    namespace: dict = {}
    exec("from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData", namespace)
    exec(flow_cell, namespace)  # the notebook's refund flow, as the README's code uses it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), namespace)
    assert out.getvalue() == shown
