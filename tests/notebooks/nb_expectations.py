"""What each teaching notebook must print when it runs top to bottom.

Shared by test_notebooks_run.py (the repo's .venv kernel) and test_binder_env.py (a
kernel from a clean venv built from binder/requirements.txt). Cells are found by a
snippet of their source, so editing prose or adding cells does not break the checks;
changing what a cell computes does.
"""

from __future__ import annotations

import ast
import html
import json
import re
from typing import Any

from nbformat import NotebookNode

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_TAG = re.compile(r"<[^>]*>")

# Cells allowed to write to stderr: flow_data warns on every call, on purpose.
STDERR_ALLOWED = {
    "02_state_flow_data_resources": ['ana_run.async_start("Ana")'],
}


# -- finding cells and reading their outputs --------------------------------------------------

def cell(nb: NotebookNode, snippet: str, *, exact: bool = False) -> NotebookNode:
    """The one code cell whose source contains ``snippet`` (or is exactly it)."""
    found = [c for c in nb.cells if c.cell_type == "code"
             and (c.source.strip() == snippet if exact else snippet in c.source)]
    assert len(found) == 1, f"expected exactly one code cell containing {snippet!r}, found {len(found)}"
    return found[0]


def stdout(c: NotebookNode) -> str:
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def stderr(c: NotebookNode) -> str:
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stderr")


def result(c: NotebookNode) -> Any:
    """The cell's execute_result as a Python literal (its text/plain is a repr)."""
    results = [o for o in c.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, f"expected one result from cell {c.source[:60]!r}, got {len(results)}"
    return ast.literal_eval(results[0].data["text/plain"])


def rich(c: NotebookNode) -> list[dict[str, Any]]:
    """The data dicts of the cell's display outputs (display_data and execute_result)."""
    return [dict(o.data) for o in c.outputs if o.output_type in ("display_data", "execute_result")]


def widget_models(nb: NotebookNode) -> dict[str, Any]:
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return state


def widget_views(c: NotebookNode) -> list[str]:
    return [d[WIDGET_VIEW]["model_id"] for d in rich(c) if WIDGET_VIEW in d]


def widget_subtree(nb: NotebookNode, model_id: str) -> list[dict[str, Any]]:
    """The stored states of a widget and of every widget under it (children, nested boxes)."""
    models = widget_models(nb)
    seen: set[str] = set()
    states: list[dict[str, Any]] = []

    def walk(mid: str) -> None:
        if mid in seen or mid not in models:
            return
        seen.add(mid)
        state = models[mid].get("state", {})
        states.append(state)
        for value in state.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                    walk(item[len("IPY_MODEL_"):])

    walk(model_id)
    return states


def widget_text(nb: NotebookNode, model_id: str) -> str:
    """The text a widget and its descendants show, as stored: HTML tags dropped, entities decoded."""
    parts = []
    for state in widget_subtree(nb, model_id):
        for key, value in state.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and not key.startswith("_") and not item.startswith("IPY_MODEL_"):
                    parts.append(html.unescape(_TAG.sub(" ", item)))
    return " ".join(" ".join(parts).split())


# -- generic checks ----------------------------------------------------------------------------

def check_clean_run(name: str, nb: NotebookNode) -> None:
    allowed = STDERR_ALLOWED.get(name, [])
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        assert c.execution_count is not None, f"{name}: cell did not run: {c.source[:60]!r}"
        assert not [o for o in c.outputs if o.output_type == "error"], f"{name}: error in {c.source[:60]!r}"
        if stderr(c) and not any(snippet in c.source for snippet in allowed):
            raise AssertionError(f"{name}: unexpected stderr from {c.source[:60]!r}:\n{stderr(c)}")
        for data in rich(c):  # what GitHub, nbviewer or a kernel-less Lab show instead of a widget
            if WIDGET_VIEW in data:
                assert "text/html" in data and "(children=" not in data["text/plain"], \
                    f"{name}: a widget without a static fallback in {c.source[:60]!r}: {data['text/plain'][:80]!r}"


def check_watch_panel(nb: NotebookNode, snippet: str, *expected_texts: str) -> str:
    """The cell shows one widget, its state was stored, and it ended showing the texts.

    Returns the panel's model id.
    """
    views = widget_views(cell(nb, snippet))
    assert len(views) == 1, f"expected one widget from {snippet!r}, got {views}"
    text = widget_text(nb, views[0])
    assert text, f"no stored widget state for the panel of {snippet!r}"
    for expected in expected_texts:
        assert expected in text, f"the panel of {snippet!r} does not show {expected!r}:\n{text[:2000]}"
    return views[0]


def state_shown(text: str, key: str, value: Any) -> bool:
    """Does the panel text show ``key`` with ``value`` (as JSON) next to it (``key = value`` or a table row)?"""
    pattern = re.escape(key) + r"\s*(?:=|:)?\s*" + re.escape(json.dumps(value, ensure_ascii=False))
    return re.search(pattern, text) is not None


def check_panel_state(nb: NotebookNode, snippet: str, state: dict[str, Any]) -> None:
    text = widget_text(nb, widget_views(cell(nb, snippet))[0])
    for key, value in state.items():
        assert state_shown(text, key, value), f"the panel of {snippet!r} does not show {key} = {value!r}:\n{text[:2000]}"


def check_graph(nb: NotebookNode, snippet: str, *chunk_names: str, exact: bool = False) -> None:
    """A displayed flow renders as an SVG drawing that names its chunks."""
    datas = rich(cell(nb, snippet, exact=exact))
    svgs = [d["image/svg+xml"] for d in datas if "image/svg+xml" in d]
    assert len(svgs) == 1, f"expected one SVG graph from {snippet!r}, got mimetypes {[list(d) for d in datas]}"
    svg = svgs[0]
    assert svg.lstrip().startswith(("<svg", "<?xml")) and "</svg>" in svg
    for chunk in chunk_names:
        assert chunk in svg, f"the graph of {snippet!r} does not name {chunk!r}"


# -- per notebook ------------------------------------------------------------------------------

def check_01_quickstart(nb: NotebookNode) -> None:
    check_graph(nb, "flow", "split_words", "count_words", "find_longest", exact=True)
    assert result(cell(nb, 'snapshot = flow.start(')) == {
        "text": "the quick brown fox jumps over the lazy dog", "word_count": 9, "longest": "quick",
    }
    assert result(cell(nb, "execution.status")) == "idle"
    final = {"text": "graphs and panels update while the flow runs", "word_count": 8, "longest": "graphs"}
    assert result(cell(nb, "execution.result.get_state()")) == final
    check_watch_panel(nb, "execution.watch()", "closed completed")
    check_panel_state(nb, "execution.watch()", final)


def check_02_state_flow_data_resources(nb: NotebookNode) -> None:
    clobbered = cell(nb, 'ana_run.async_start("Ana")')
    assert stdout(clobbered) == (
        "Ana's run: {'greeting': 'hello Bo'}\n"
        "Bo's run:  {'greeting': 'hello Bo'}\n"
    )
    warnings = stderr(clobbered)
    assert warnings.count("RuntimeWarning: flow_data is shared by every execution") == 4, warnings

    # The two panels side by side: each ends closed, with the race named, and so does the fallback.
    row = cell(nb, "side_by_side(ana_run.watch(), bo_run.watch())")
    (row_view,) = widget_views(row)
    panels = [s for s in widget_subtree(nb, row_view) if s.get("_model_name") == "VBoxModel"
              and len(s.get("children", [])) >= 6]
    assert len(panels) == 2, "the row holds two panels"
    row_text = widget_text(nb, row_view)
    assert row_text.count("closed completed") == 2 and row_text.count("flow_data race: execution") == 2, row_text
    assert state_shown(row_text, "greeting", "hello Bo") and state_shown(row_text, "customer", "Bo")
    (fallback,) = [d["text/plain"] for d in rich(row)]
    assert fallback.count("· closed · completed") == 2 and fallback.count("⚠ flow_data race: execution") == 2
    assert fallback.count('  greeting = "hello Bo"') == 2 and 'input: "Ana"' in fallback

    assert stdout(cell(nb, 'await data.async_set_state("customer", data.input)')) == (
        "Ana's run: {'customer': 'Ana', 'greeting': 'hello Ana'}\n"
        "Bo's run:  {'customer': 'Bo', 'greeting': 'hello Bo'}\n"
    )

    error_lines = stdout(cell(nb, "except StateSerializationError as error")).splitlines()
    assert error_lines[0] == "StateSerializationError"
    assert error_lines[1].startswith("state key 'weather_client': ")
    assert "WeatherClient" in error_lines[1] and "runtime_resources" in error_lines[1]
    assert "(in chunk 'connect')" in error_lines[1]

    assert stdout(cell(nb, 'runtime_resources={"weather_client": client}, auto_close=False)')) == (
        "close snapshot: {'same_object': True, 'forecast': {'city': 'Lisbon', 'sky': 'sunny'}}\n"
        "resource keys:  ['weather_client']\n"
        "calls served:   1\n"
    )
    missing = stdout(cell(nb, "except MissingResourceError as error"))
    assert missing.startswith("missing runtime resource 'weather_client' in chunk 'ask_forecast'; present: none."), missing
    assert stdout(cell(nb, "weather.update_runtime_resources(weather_client=client)")) == (
        "{'same_object': True, 'forecast': {'city': 'Oslo', 'sky': 'snow'}}\n"
        "calls served: 2\n"
    )
    assert stdout(cell(nb, 'execution.start("Lisbon")\nprint(execution.close())')) == (
        "{'forecast': {'city': 'Lisbon', 'sky': 'sunny', 'units': 'metric'}}\n"
    )
    panel = 'weather.set_flow_data("units", "metric"'
    check_watch_panel(nb, panel, "closed completed", "weather_client __main__.WeatherClient")
    check_panel_state(nb, panel, {"forecast": {"city": "Lisbon", "sky": "sunny", "units": "metric"}})
    assert state_shown(widget_text(nb, widget_views(cell(nb, panel))[0]), "units", "metric"), "flow_data not shown"


def check_03_save_load_reinject(nb: NotebookNode) -> None:
    assert stdout(cell(nb, "execution.start({\"who\": \"Ana\", \"amount\": 120})\n\ninterrupt_id")) == (
        "status:   waiting\n"
        "waiting:  approval {'question': 'Approve 120 EUR for Ana?'}\n"
    )
    assert stdout(cell(nb, "save_to_file(saved")) == (
        "state:         {'request': {'who': 'Ana', 'amount': 120}}\n"
        "resource keys: ['mailer']\n"
        "mailer type:   __main__.Mailer\n"
        "in the file:   {'mailer': {'type': '__main__.Mailer', 'level': 'execution', 'managed': False}}\n"
    )
    assert stdout(cell(nb, "restored.inspect_load(saved_from_disk)")) == (
        "ready:   False\n"
        "missing: ['mailer']\n"
    )
    summary = rich(cell(nb, "saved = execution.save()"))
    assert len(summary) == 1 and "expense-approval" in summary[0].get("text/html", ""), summary

    prompt = widget_views(cell(nb, "restored.load(saved_from_disk);"))
    assert len(prompt) == 1, "load() with a missing resource did not show one prompt widget"
    assert "mailer was __main__.Mailer" in widget_text(nb, prompt[0])
    dropdowns = [s for s in widget_subtree(nb, prompt[0]) if s.get("_model_name") == "DropdownModel"]
    assert len(dropdowns) == 1, "one row (one dropdown) per missing key"
    offered = dropdowns[0]
    assert offered["_options_labels"][offered["index"]] == "new_mailer  (__main__.Mailer) ✓", offered["_options_labels"]
    missing = stdout(cell(nb, "prompt=False)"))
    assert missing.startswith("missing runtime resource 'mailer'"), missing
    assert stdout(cell(nb, 'runtime_resources={"mailer": new_mailer})')) == (
        "status:  waiting\n"
        "pending: ['approval']\n"
        "same interrupt id as before the restart: True\n"
    )
    final = {"request": {"who": "Ana", "amount": 120}, "decision": "approved", "mail_number": 1}
    assert stdout(cell(nb, "restored.continue_with(")) == (
        f"close snapshot: {final!r}\n"
        "mail sent by:   <Mailer second kernel: 1 sent>\n"
    )
    assert stdout(cell(nb, "baseline = uninterrupted.close()")) == (
        f"baseline: {final!r}\n"
        "same close snapshot: True\n"
    )


def check_04_patterns(nb: NotebookNode) -> None:
    check_graph(nb, 'triage = TriggerFlow(name="triage")', "read_priority", "page", "open_ticket", "backlog")
    assert stdout(cell(nb, "for priority in (9, 5, 1)")) == (
        "priority 9: page the on-call engineer\n"
        "priority 5: open a ticket\n"
        "priority 1: add to the backlog\n"
    )
    check_graph(nb, 'router = TriggerFlow(name="router")', "read_command", "refund", "cancel", "unknown")
    assert stdout(cell(nb, 'for message in ("refund order 17"')) == (
        "'refund order 17': refund issued\n"
        "'cancel order 18': order cancelled\n"
        "'upgrade my plan': sorry, I only know 'refund' and 'cancel'\n"
    )
    check_graph(nb, 'sizer = TriggerFlow(name="sizer")', "nothing", "manager", "team_lead", "at_once", "case λ")
    assert stdout(cell(nb, "for amount in (0, 900, 120, 20)")) == (
        "refund of 0: nothing to refund\n"
        "refund of 900: needs a manager\n"
        "refund of 120: team lead approves\n"
        "refund of 20: refund at once\n"
    )
    check_graph(nb, 'tagger = TriggerFlow(name="tagger")', "match all", "billing", "angry", "quality", "general")
    assert stdout(cell(nb, 'for text in ("BROKEN, I WANT A REFUND"')) == (
        "'BROKEN, I WANT A REFUND': ['billing', 'angry', 'quality']\n"
        "'where is my parcel?': general\n"
    )
    check_graph(nb, 'context = TriggerFlow(name="context")', "order_lookup", "customer_lookup",
                "collect ticket_context: order, customer")
    assert stdout(cell(nb, 'print(context.start(17)["context"])')) == (
        "{'order': {'order': 17, 'status': 'shipped'}, 'customer': {'customer': 'Ana', 'tier': 'gold'}}\n"
    )
    check_graph(nb, 'escalation = TriggerFlow(name="escalation")', "normalize", "audit", "escalate", "stroke-dasharray")
    assert stdout(cell(nb, 'print(escalation.start(')) == (
        "escalated: refund not received\n"
        "audit log: ['refund not received']\n"
    )
    assert stdout(cell(nb, 'analysis.start("WHERE IS MY REFUND")')) == (
        "{'words': 4, 'mood': 'angry', 'refund': True}\n"
        "branches ran concurrently: True\n"
    )
    phrases = ["hello", "thank you", "good morning", "see you", "goodbye", "please",
               "yes", "no", "sorry", "welcome", "cheers", "good night"]
    assert stdout(cell(nb, "execution.start(phrases)")) == f"{[p[::-1] for p in phrases]!r}\n"
    panel = check_watch_panel(nb, "translator.create_execution(auto_close=False)",
                              "runtime stream 12 items", "good night -> thgin doog", "closed")
    bars = [s for s in widget_subtree(nb, panel) if s.get("_model_name") in ("IntProgressModel", "FloatProgressModel")]
    assert [(b["value"], b["max"], b["description"]) for b in bars] == [(12, 12, "translate_each")], \
        "the for_each progress bar did not end at 12 of 12"
    # 12 items of 0.3-0.45 s, two at a time: slow enough to watch, and the meter says so
    meter = re.search(r"12/12 \[00:0(\d)<00:00, (\d+(?:\.\d+)?) it/s\]", widget_text(nb, panel))
    assert meter and 2 <= int(meter.group(1)) <= 5 and 2 <= float(meter.group(2)) <= 6.5, widget_text(nb, panel)
    [timeline] = [d for d in rich(cell(nb, "execution.timeline()", exact=True)) if "text/html" in d]
    assert timeline["text/plain"].startswith("Timeline: 14 step(s) in 2 lane(s)\n"), timeline["text/plain"]
    assert timeline["text/html"].startswith("<div class='tfnb-timeline'><svg ")
    check_graph(nb, 'desk = TriggerFlow(name="desk")', "receive_ticket", "file_ticket", "summarizer")
    assert stdout(cell(nb, "snapshot = desk.start(")) == (
        "ticket: My order arrived broken. The box was wet. I would like a replacement.\n"
        "summary: My order arrived broken.\n"
        "filed_as: TICKET: My order arrived broken.\n"
    )
    table = [d for d in rich(cell(nb, 'refund_run.start({"amount": 120})')) if "text/html" in d]
    assert len(table) == 1 and table[0]["text/html"].count("<tr>") == 4, "history() shows as a table of 3 steps"
    assert "<td>apply_fee</td>" in table[0]["text/html"]
    assert stdout(cell(nb, "for step in refund_run.history():")) == (
        "0 read_amount({'amount': 120}) -> 120   amount: ABSENT -> 120\n"
        "1 apply_fee(120) -> 108.0   fee: ABSENT -> 12.0, log: ABSENT -> ['fee 12.0']\n"
        "2 approve(108.0) -> {'refund': 108.0}   log: ['fee 12.0'] -> ['fee 12.0', 'approved']\n"
        "state right after step 1: {'amount': 120, 'fee': 12.0, 'log': ['fee 12.0']}\n"
    )
    assert stdout(cell(nb, 'trial = refunds.run_chunk("apply_fee"')) == (
        "180.0 {'log': ['opened', 'fee 20.0'], 'fee': 20.0}\n"
        "[Write(state 'fee': ABSENT -> 20.0), Write(state 'log': ['opened'] -> ['opened', 'fee 20.0'])]\n"
    )


def check_06_dask_fan_out(nb: NotebookNode) -> None:
    local = "first scores: "
    assert stdout(cell(nb, "local = build().start(documents)")).startswith(local)
    assert stdout(cell(nb, "client = Client(cluster)")) == "workers: 2\n"
    check_graph(nb, "scoring = build(DaskExecutor(client, batch_size=250))", "for_each on Dask", "score", "collect")
    panel = check_watch_panel(nb, "execution = scoring.create_execution(auto_close=False)", "closed completed")
    bars = [s for s in widget_subtree(nb, panel) if s.get("_model_name") in ("IntProgressModel", "FloatProgressModel")]
    assert [(b["value"], b["max"]) for b in bars] == [(2000, 2000)], "the for_each progress bar did not end at 2000"
    assert stdout(cell(nb, "on_dask = execution.close()")) == "same scores, same order: True\n"
    assert stdout(cell(nb, "except RemoteStateWriteError as error")) == (
        "RemoteStateWriteError\n"
        "chunk 'tally' tried to write state key 'seen': state is a read-only snapshot on Dask workers (taken when "
        "the fan-out started): return the value from the item's chunk instead and write it to state after "
        "end_for_each(), where the next step receives the results in item order\n"
    )
    assert stdout(cell(nb, "print(labeller.start([1, 2, 3, 4]))")) == (
        "{'labels': ['#1', '#2', '#3', '#4'], 'built_in_this_process': False}\n"
    )
def check_05_store_and_workers(nb: NotebookNode) -> None:
    check_graph(nb, "flow = build_expense_flow()\nflow", "record_request", "ask_approval", "notify_finance")
    assert stdout(cell(nb, 'store = SQLiteStore("executions.db")')) == (
        "Ana saved as version 1\nBo saved as version 1\nCy saved as version 1\n")
    assert stdout(cell(nb, "page = store.list(")) == "waiting ['approval'] ('request',) ('mailer',) v 1\n" * 3
    browser = cell(nb, "store.browse(")
    views = widget_views(browser)
    assert len(views) == 1, "browse() shows one widget"
    text = widget_text(nb, views[0])
    for expected in ("Inspect", "Load", "Resume here", "Delete", "expense-approval", "⏸ approval", "free"):
        assert expected in text, f"the browser does not show {expected!r}"
    static = [d for d in rich(browser) if "text/html" in d][0]["text/html"]
    assert "3 newest execution(s)" in static and "⏸ approval" in static
    assert stdout(cell(nb, "copy_a = load_execution(")) == (
        "A saved version 2\nVersionConflictError - the store holds version 2\n")
    assert stdout(cell(nb, "lease = store.claim(")) == "LeaseHeldError - held by worker-1\n"
    assert stdout(cell(nb, "while (lease := store.next_runnable(")) == (
        "Bo -> completed\nCy -> completed\nAna -> completed\nmails sent by the worker: 3 | by the kernel: 0\n")
    assert stdout(cell(nb, "stored = store.get(")) == (
        "version 3 | completed | {'request': {'who': 'Ana', 'amount': 120}, 'note': 'checked by A', "
        "'decision': 'approved', 'mail_number': 3}\n")
    assert stdout(cell(nb, "store.prune(keep_latest=1)")) == "pruned: 2\nleft: ['completed']\n"


CHECKS = {
    "01_quickstart": check_01_quickstart,
    "02_state_flow_data_resources": check_02_state_flow_data_resources,
    "03_save_load_reinject": check_03_save_load_reinject,
    "04_patterns": check_04_patterns,
    "06_dask_fan_out": check_06_dask_fan_out,
    "05_store_and_workers": check_05_store_and_workers,
}


def check_notebook(name: str, nb: NotebookNode) -> None:
    check_clean_run(name, nb)
    CHECKS[name](nb)
