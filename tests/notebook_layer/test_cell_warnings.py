"""Warnings from notebook cells name the cell ("Cell In[3], line 6"), in a real kernel (nbclient)."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

FLOW_DATA_WARNING = (
    "RuntimeWarning: flow_data is shared by every execution of flow 'warns' and is not saved: "
    "set_flow_data('last') may race with other executions. Use execution state (data.set_state / "
    "data.get_state) for per-execution values, or pass no_warning=True if flow-wide sharing is intended."
)

CELLS = [
    # In[1]
    "import warnings, sys\n"
    "sys.path.insert(0, '.')\n"
    "from triggerflow_nb import TriggerFlow",
    # In[2]: line 6 writes flow_data
    "flow = TriggerFlow(name='warns')\n"
    "\n"
    "@flow.chunk\n"
    "def remember(data):\n"
    "    doubled = data.input * 2\n"
    "    data.set_flow_data('last', doubled)\n"
    "\n"
    "flow.to(remember)\n"
    "None",
    # In[3]: the warning is raised from In[2]'s code
    "flow.start(1)\n"
    "None",
    # In[4]: any warning from a cell, not only ours
    "x = 1\n"
    "warnings.warn('from a cell', UserWarning)",
    # In[5]: a warning from a file keeps the file's path
    "import helper_module\n"
    "helper_module.warn_from_file()",
    # In[6]: installing again does not wrap twice
    "from triggerflow_nb.notebook.cell_warnings import install\n"
    "before = warnings.formatwarning\n"
    "print(install(), install(), warnings.formatwarning is before)",
]


def _stderr(cell: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")


@pytest.mark.timeout(120)
def test_warnings_point_at_the_cell_in_a_kernel(tmp_path):
    (tmp_path / "helper_module.py").write_text(
        "import warnings\n\ndef warn_from_file():\n    warnings.warn('from a file', UserWarning)\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    NotebookClient(nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()

    assert [c.execution_count for c in nb.cells] == [1, 2, 3, 4, 5, 6]
    assert _stderr(nb.cells[2]) == f"Cell In[2], line 6: {FLOW_DATA_WARNING}\n  data.set_flow_data('last', doubled)\n"
    assert _stderr(nb.cells[3]) == "Cell In[4], line 2: UserWarning: from a cell\n  warnings.warn('from a cell', UserWarning)\n"
    assert _stderr(nb.cells[4]) == (f"{tmp_path / 'helper_module.py'}:4: UserWarning: from a file\n"
                                    "  warnings.warn('from a file', UserWarning)\n")
    assert nb.cells[5].outputs[0].text == "True True True\n"
    assert "ipykernel_" not in "".join(_stderr(c) for c in nb.cells)


def test_outside_ipython_nothing_is_installed_and_warnings_read_as_before():
    code = (
        "import warnings, sys\n"
        "original = warnings.formatwarning\n"
        "import triggerflow_nb\n"
        "from triggerflow_nb.notebook.cell_warnings import install, cell_location\n"
        "print(install(), warnings.formatwarning is original, cell_location('x.py', 1), 'IPython' in sys.modules)\n"
        "print(warnings.formatwarning('m', UserWarning, 'x.py', 3, 'line'), end='')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "False True None False\nx.py:3: UserWarning: m\n  line\n"
