#!/usr/bin/env python
"""Run notebooks top to bottom in a real Jupyter kernel, then save them executed and as HTML.

    python scripts/run_notebooks.py [--out build/demo] [--kernel python3] [--twice] [NOTEBOOK ...]

With no NOTEBOOK arguments it runs every ``notebooks/*.ipynb`` in name order. Each
notebook runs in a fresh kernel whose working directory is ``--out`` (so files a
notebook writes land there, not in ``notebooks/``). For each one it writes
``<out>/<name>.ipynb`` (with outputs and the widget state, so the live panels show up
again when the file is opened) and ``<out>/<name>.html`` (nbconvert's lab template,
widget state embedded).

A failing cell stops that notebook; the script prints which cell (its number, its
source and the traceback), still writes what ran so far, goes on with the remaining
notebooks, and exits with status 1. ``scripts/demo.sh`` and ``tests/notebooks/`` use the
functions below.

``--twice`` checks that a notebook is reproducible: it runs each one a second time in
another fresh kernel (same working directory) and lists every output that differs
(``scripts/notebook_diff.py`` says what is compared and the one field it masks); any
difference fails the run. Kernels inherit this process's environment, so
``TRIGGERFLOW_NB_REPRODUCIBLE=0`` (what ``scripts/demo.sh`` sets) puts them all in
triggerflow_nb's reproducible mode.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import notebook_diff
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

CELL_TIMEOUT = 60      # seconds one cell may take
STARTUP_TIMEOUT = 60   # seconds a kernel may take to start


# Run after the last cell, then removed: the kernel's own record of every live widget.
# nbclient records widget messages only while the cell that caused them is running, but
# a live panel also updates between cells (its execution's tasks keep running on the
# kernel's loop), which a real front end receives and nbclient drops. Asking the kernel
# at the end stores what a person looking at the notebook would see, as JupyterLab's
# "save widget state" does. The short sleep lets pending coalesced updates flush first. The
# static fallbacks of our widgets (text/html, text/plain) are refreshed the same way: an
# execution closed between cells updated them under no cell nbclient was listening to.
_WIDGET_STATE_PROBE = """\
import asyncio as _tfnb_asyncio, json as _tfnb_json, sys as _tfnb_sys
await _tfnb_asyncio.sleep(0.5)
if "triggerflow_nb.notebook.static_fallback" in _tfnb_sys.modules:
    _tfnb_sys.modules["triggerflow_nb.notebook.static_fallback"].refresh_all()
if "ipywidgets" in _tfnb_sys.modules:
    print(_tfnb_json.dumps(_tfnb_sys.modules["ipywidgets"].Widget.get_manager_state(drop_defaults=False)))
"""


class NotebookRunError(RuntimeError):
    """A notebook did not run to the end; says which cell and why."""

    def __init__(self, notebook: Path, cell_index: int | None, source: str, detail: str,
                 executed: NotebookNode):
        self.notebook = notebook
        self.cell_index = cell_index
        self.source = source
        self.detail = detail
        self.executed = executed  # the notebook as far as it ran, outputs included
        where = f"cell {cell_index}" if cell_index is not None else "outside its cells"
        rule = "-" * 72
        super().__init__(
            f"{notebook.name} failed at {where}:\n{rule}\n{source}\n{rule}\n{detail}"
        )


@dataclass
class RunResult:
    notebook: Path
    executed: NotebookNode
    seconds: float


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The notebooks named (paths, or names inside notebooks/), or all of notebooks/ in order."""
    if not names:
        return sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    paths = []
    for name in names:
        path = Path(name)
        if not path.exists():
            path = NOTEBOOK_DIR / (name if name.endswith(".ipynb") else f"{name}.ipynb")
        if not path.exists():
            raise FileNotFoundError(f"no notebook {name!r} (looked for it as a path and in {NOTEBOOK_DIR})")
        paths.append(path)
    return paths


def execute_notebook(path: Path, workdir: Path, *, kernel_name: str = "python3",
                     cell_timeout: int = CELL_TIMEOUT, startup_timeout: int = STARTUP_TIMEOUT) -> RunResult:
    """Execute ``path`` in a fresh ``kernel_name`` kernel started in ``workdir``.

    Widget state is stored in the notebook's metadata. Raises NotebookRunError naming the
    failing cell on an error, a cell timeout or a dead kernel.
    """
    nb = nbformat.read(path, as_version=4)
    current: dict[str, int] = {}

    def on_cell_start(cell: NotebookNode, cell_index: int, **_: object) -> None:
        current["index"] = cell_index

    client = NotebookClient(
        nb, kernel_name=kernel_name, timeout=cell_timeout, startup_timeout=startup_timeout,
        store_widget_state=True, allow_errors=False, record_timing=False,
        resources={"metadata": {"path": str(workdir)}}, on_cell_start=on_cell_start,
    )
    nb.cells.append(nbformat.v4.new_code_cell(_WIDGET_STATE_PROBE))
    started = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError, NoSuchKernel) as exc:
        probe = nb.cells.pop()
        index = current.get("index")
        if index is None:
            reason = f"the kernel did not start: {type(exc).__name__}: {exc}"
            raise NotebookRunError(path, None, "", reason, nb) from exc
        if index == len(nb.cells):
            detail = _error_detail(probe, exc)
            raise NotebookRunError(path, None, _WIDGET_STATE_PROBE, f"collecting the widget state failed: {detail}",
                                   nb) from exc
        raise NotebookRunError(path, index, nb.cells[index].source, _error_detail(nb.cells[index], exc), nb) from exc
    seconds = time.perf_counter() - started
    _store_final_widget_state(nb, nb.cells.pop())
    for cell in nb.cells:
        _merge_stream_pieces(cell)
    return RunResult(path, nb, seconds)


def _merge_stream_pieces(cell: NotebookNode) -> None:
    """One output for each run of consecutive prints to the same stream, as JupyterLab shows and saves them.

    The kernel sends a stream in pieces as its buffer is flushed (every 0.2 s or so), so how a
    cell's output is cut depends on timing; what it says does not.
    """
    merged: list[NotebookNode] = []
    for output in cell.get("outputs", []):
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    if "outputs" in cell:
        cell["outputs"] = merged


def _store_final_widget_state(nb: NotebookNode, probe: NotebookNode) -> None:
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout").strip()
    if not text:
        return  # no widgets in this notebook
    state = json.loads(text)
    nb.metadata["widgets"] = {WIDGET_STATE: {
        "state": state["state"], "version_major": state["version_major"], "version_minor": state["version_minor"],
    }}
    # The kernel lists models in no fixed order: list them in the order the outputs reach them,
    # so a reproducible notebook is stored (and exported) the same way every time.
    position = {model_id: n for n, model_id in enumerate(notebook_diff.model_id_names(nb))}
    models = state["state"]
    nb.metadata["widgets"][WIDGET_STATE]["state"] = {m: models[m] for m in sorted(models, key=position.__getitem__)}


def _error_detail(cell: NotebookNode | None, exc: Exception) -> str:
    """The traceback as the kernel reported it, without terminal colours."""
    for output in (cell or {}).get("outputs", []):
        if output.get("output_type") == "error":
            return _ANSI.sub("", "\n".join(output.get("traceback", []))) or f"{output['ename']}: {output['evalue']}"
    if isinstance(exc, CellTimeoutError):
        return f"the cell did not finish within the timeout: {exc}"
    return f"{type(exc).__name__}: {exc}"


# nbconvert gives each widget (and JavaScript) output element a fresh uuid4 as its id.
_ELEMENT_UUID = re.compile(r'id="([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"')


def to_html(nb: NotebookNode) -> str:
    """nbconvert's lab template with the widget state embedded and each widget's static
    fallback kept next to it, so the page reads the same offline (see export.notebook_html).

    The random ids nbconvert gives output elements are numbered instead (``output-1``, ...),
    so that exporting the same notebook twice gives the same page.
    """
    from triggerflow_nb.export.notebook_html import notebook_to_html

    body = notebook_to_html(nb)
    for number, element_id in enumerate(dict.fromkeys(_ELEMENT_UUID.findall(body)), start=1):
        body = body.replace(element_id, f"output-{number}")
    return body


def write_outputs(nb: NotebookNode, name: str, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    ipynb = out / f"{name}.ipynb"
    html = out / f"{name}.html"
    nbformat.write(nb, ipynb)
    html.write_text(to_html(nb), encoding="utf-8")
    return ipynb, html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook paths or names in notebooks/ (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "demo", help="where to write results")
    parser.add_argument("--kernel", default="python3", help="kernel name (default: python3)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("--twice", action="store_true",
                        help="run each notebook again in a fresh kernel and fail on any output that differs")
    args = parser.parse_args(argv)

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in notebook_paths(args.notebooks):
        print(f"==> running {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", flush=True)
        try:
            result = execute_notebook(path, out, kernel_name=args.kernel, cell_timeout=args.timeout)
        except NotebookRunError as exc:
            print(f"FAILED: {exc}", file=sys.stderr, flush=True)
            write_outputs(exc.executed, path.stem, out)
            failed.append(path.name)
            continue
        ipynb, html = write_outputs(result.executed, path.stem, out)
        print(f"    ok in {result.seconds:.1f}s -> {ipynb.name}, {html.name}", flush=True)
        if args.twice and not _same_on_a_second_run(path, result, out, args):
            failed.append(path.name)
    print(f"==> executed notebooks and HTML exports are in {out}")
    if failed:
        print(f"==> {len(failed)} notebook(s) failed: {', '.join(failed)} (see the cell shown above)",
              file=sys.stderr)
        return 1
    return 0


def _same_on_a_second_run(path: Path, first: RunResult, out: Path, args: argparse.Namespace) -> bool:
    try:
        second = execute_notebook(path, out, kernel_name=args.kernel, cell_timeout=args.timeout)
    except NotebookRunError as exc:
        print(f"FAILED on the second run: {exc}", file=sys.stderr, flush=True)
        return False
    found = notebook_diff.differences(first.executed, second.executed)
    if found:
        print(f"NOT REPRODUCIBLE: {path.name} gave other outputs on a second run:", file=sys.stderr)
        for line in found:
            print(f"    {line}", file=sys.stderr)
        return False
    print("    same outputs on a second run", flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
