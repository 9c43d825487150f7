"""The README's History section prints exactly the output it shows, for the notebook's refund flow."""

import re

import nbformat
from readme_examples import README, printed


def test_the_history_section_shows_what_its_code_prints():
    section = README.read_text(encoding="utf-8").split("## History and time travel", 1)[1]
    code, shown = re.search(r"```python\n(.*?)```\n\n```text\n(.*?)```", section, re.S).groups()
    notebook = nbformat.read(README.parent / "notebooks" / "04_patterns.ipynb", as_version=4)
    [flow_cell] = [c.source for c in notebook.cells if c.cell_type == "code" and 'TriggerFlow(name="refunds")' in c.source]
    namespace: dict = {}
    exec("from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData", namespace)
    exec(flow_cell, namespace)  # the notebook's refund flow, as the README's code uses it
    assert printed(code, namespace) == shown
