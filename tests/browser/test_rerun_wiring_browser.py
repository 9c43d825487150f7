"""Cell-scoped wiring through the real front end: a wiring cell edited in JupyterLab and run again.

JupyterLab sends each cell's id with its execute request (``metadata.cellId``); the package
keys a cell's wiring by that id, so a wiring cell edited and re-run replaces what its
previous run wired instead of adding to it. tests/notebook_layer/test_cell_wiring.py checks
this with nbclient and a hand-added cellId; here JupyterLab itself sends the id. The test
runs all cells, edits the wiring cell in its CodeMirror editor (adds an ``enrich`` step),
runs it again with Shift+Enter, re-runs the run cell, and checks on the rendered page: the
one-line replacement notice, the redrawn graph (clean → enrich, no clean → summarize), and a
run in which every step ran once. Leaves build/test-artifacts/jupyterlab_rerun_wiring.png.

Every wait is bounded; the server and the browser are always stopped.
"""

from __future__ import annotations

import base64
import re
import time
import urllib.parse

import nbformat
import pytest
from test_jupyterlab_browser import ARTIFACTS, CHROMIUM, JupyterLab, start_run_all

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: run WITH_BROWSER=1 bash scripts/setup_env.sh"
)

SCREENSHOT = ARTIFACTS / "jupyterlab_rerun_wiring.png"
KERNEL_IDLE_TIMEOUT = 90  # s for the notebook's kernel to be ready
RUN_TIMEOUT = 120         # s for cells to finish after they were sent

SETUP = '''from triggerflow_nb import TriggerFlow

flow = TriggerFlow(name="pipeline")

def fetch(data):
    data.append_state("trail", "fetch")
    return data.input

def clean(data):
    data.append_state("trail", "clean")
    return data.input

def enrich(data):
    data.append_state("trail", "enrich")
    return data.input

def summarize(data):
    data.append_state("trail", "summarize")
    return data.input'''
DISPLAY = "flow"  # the flow as the cell's last value: its Graphviz SVG
WIRING = "flow.to(fetch).to(clean).to(summarize)\n" + DISPLAY
EDITED = "flow.to(fetch).to(clean).to(enrich).to(summarize)\n" + DISPLAY
RUN = 'print(flow.start(1)["trail"])'

# what triggerflow_nb/notebook/cell_wiring.py:replaced_line prints after the edited cell ran
NOTICE = ("flow 'pipeline': this cell's new wiring replaced its previous run's: "
          "removed clean → summarize; added clean → enrich, enrich → summarize")


def _edge(source: str, target: str) -> str:
    """A drawn edge as Graphviz writes it into the SVG (export/dot.py writes "clean" -> "enrich")."""
    return f"<title>{source}&#45;&gt;{target}</title>"


def _write_notebook(path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (SETUP, WIRING, RUN)]
    nbformat.write(nb, str(path))


def _rendered_svg(page, cell) -> str:
    """The SVG text JupyterLab rendered in ``cell``'s output (an <img> data URI, or inline <svg>)."""
    graph = cell.locator(".jp-RenderedSVG img, .jp-RenderedSVG svg").first
    graph.wait_for(state="attached", timeout=30_000)
    source = page.evaluate(
        "(el) => el.tagName.toLowerCase() === 'img' ? el.getAttribute('src') : el.outerHTML",
        graph.element_handle())
    if not source.startswith("data:"):
        return source
    header, _, payload = source.partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(payload).decode("utf-8")
    return urllib.parse.unquote(payload)


def _stdout(cell) -> list[str]:
    return [text.strip() for text in
            cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']").all_text_contents()]


def _wait_for_text(page, notebook, cell, text: str, what: str) -> None:
    """Wait until ``cell``'s outputs contain ``text``; stop early with the error if a cell raises."""
    errors = notebook.locator("[data-mime-type='application/vnd.jupyter.error'], "
                              "[data-mime-type='application/vnd.jupyter.stderr']")
    deadline = time.monotonic() + RUN_TIMEOUT
    while text not in " ".join(cell.locator(".jp-OutputArea-output").all_text_contents()):
        if errors.count():
            raise AssertionError(f"a cell wrote an error ({what}):\n" + "\n".join(errors.all_text_contents())[:3000])
        if time.monotonic() > deadline:
            prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
            raise AssertionError(f"{what}: {text!r} not shown within {RUN_TIMEOUT}s; prompts: {prompts}")
        page.wait_for_timeout(250)


def _wait_idle(page, notebook) -> None:
    """The notebook's three code cells have an execution count: none is queued or running ([*]).
    (Shift+Enter on the last cell appends an empty one, never run: it is not counted.)"""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        prompts = [p.strip() for p in notebook.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()][:3]
        if len(prompts) == 3 and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"cells still queued or running after {RUN_TIMEOUT}s: {prompts}")
        page.wait_for_timeout(250)


@pytest.mark.timeout(420)
def test_a_wiring_cell_edited_in_jupyterlab_replaces_its_previous_wiring(browser, tmp_path):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    root = tmp_path / "root"
    root.mkdir()
    _write_notebook(root / "rerun_wiring.ipynb")
    lab = JupyterLab(root, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        lab.wait_ready()
        page.goto(f"{lab.base}/lab/tree/rerun_wiring.ipynb?token={lab.token}", timeout=60_000)
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        notebook.wait_for(state="visible", timeout=60_000)
        page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle$")) \
            .wait_for(state="visible", timeout=KERNEL_IDLE_TIMEOUT * 1000)
        page.keyboard.press("Control+b")  # fold the file browser away
        cells = notebook.locator(".jp-CodeCell")
        expect(cells).to_have_count(3)
        wiring_cell, run_cell = cells.nth(1), cells.nth(2)

        # -- run all: the first wiring, no notice (nothing was replaced) ---------------------------
        start_run_all(page, notebook)
        _wait_for_text(page, notebook, run_cell, "['fetch', 'clean', 'summarize']", "run all")
        _wait_idle(page, notebook)
        assert _stdout(wiring_cell) == []
        first_svg = _rendered_svg(page, wiring_cell)
        assert _edge("clean", "summarize") in first_svg and _edge("clean", "enrich") not in first_svg, first_svg

        # -- edit the wiring cell in its editor, run it again, then the run cell -------------------
        editor = wiring_cell.locator(".jp-InputArea-editor .cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.type(EDITED)
        lines = wiring_cell.locator(".jp-InputArea-editor .cm-line").all_text_contents()
        assert "\n".join(lines) == EDITED, f"the editor holds {lines!r}, not the edited source"
        page.keyboard.press("Shift+Enter")
        _wait_for_text(page, notebook, wiring_cell, "replaced its previous run", "re-run of the wiring cell")
        run_cell.locator(".jp-InputArea-editor .cm-content").click()
        page.keyboard.press("Shift+Enter")
        _wait_for_text(page, notebook, run_cell, "'enrich'", "re-run of the run cell")
        _wait_idle(page, notebook)

        # -- what the page shows ---------------------------------------------------------------------
        assert _stdout(wiring_cell) == [NOTICE]
        svg = _rendered_svg(page, wiring_cell)
        for source, target in (("fetch", "clean"), ("clean", "enrich"), ("enrich", "summarize")):
            assert _edge(source, target) in svg, (source, target, svg)
        assert _edge("clean", "summarize") not in svg, svg
        assert svg.count("<title>summarize</title>") == 1, svg  # one summarize node, drawn once
        graph = wiring_cell.locator(".jp-RenderedSVG img, .jp-RenderedSVG svg").first
        graph.scroll_into_view_if_needed()
        expect(graph).to_be_visible()
        assert _stdout(run_cell) == ["['fetch', 'clean', 'enrich', 'summarize']"]  # summarize ran once
        expect(notebook.locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
        expect(notebook.locator("[data-mime-type='application/vnd.jupyter.error']")).to_have_count(0)
        wiring_cell.locator(".jp-InputArea").scroll_into_view_if_needed()  # the edited source in the shot too
        page.wait_for_timeout(300)
    finally:
        try:
            page.screenshot(path=str(SCREENSHOT), full_page=False)
        finally:
            context.close()
            lab.stop()
    assert SCREENSHOT.stat().st_size > 10_000
