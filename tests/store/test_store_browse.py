"""store.browse(): the widget table and its static fallback; and the import rule (no
ipywidgets/IPython/psycopg on ``import triggerflow_nb.store``)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from approval_flow import Mailer, build_flow, paused_execution, snapshot_like

from triggerflow_nb.store import LeaseHeldError, save_execution

FLOW = build_flow()


def test_importing_the_package_and_the_store_loads_no_notebook_or_driver_module():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, triggerflow_nb, triggerflow_nb.store; "
         "print(sorted(m for m in ('ipywidgets', 'IPython', 'psycopg', 'graphviz') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def two_paused(store):
    ids = []
    for who in ("Ana", "Bo"):
        execution = paused_execution(FLOW, {"who": who, "amount": 5})
        save_execution(execution, store)
        ids.append(execution.id)
    return ids


def test_the_table_has_one_row_per_execution_with_four_actions(store, two_paused):
    browser = store.browse(flows=[FLOW])
    assert [s.execution_id for s in browser.summaries] == sorted(two_paused, key=lambda i: two_paused.index(i),
                                                                 reverse=True)
    assert len(browser.table.children) == 10 * 3  # header + 2 rows, 9 columns + actions
    labels = [c.value for c in browser.table.children[10:19]]
    assert labels[1:4] == ["expense-approval", "waiting", "⏸ approval"]
    assert labels[4:7] == ["request", "mailer", "1"] and labels[8] == "free"
    actions = browser.table.children[19].children
    assert [b.description for b in actions] == ["Inspect", "Load", "Resume here", "Delete"]
    assert browser.status_line.value.endswith(">2 execution(s) shown</span>")


def test_inspect_shows_the_saved_snapshot(store, two_paused):
    browser = store.browse()
    browser.buttons[two_paused[0]]["inspect"].click()
    assert "Ana" in browser.detail.value and "approval" in browser.detail.value
    assert f"{two_paused[0]}: version 1" in browser.status_line.value


def test_load_names_missing_resources_outside_a_notebook_then_loads_with_them(store, two_paused):
    execution_id = two_paused[0]
    bare = store.browse(flows=[FLOW])
    bare.buttons[execution_id]["load"].click()
    assert "missing runtime resource &#x27;mailer&#x27;" in bare.status_line.value
    assert bare.loaded == {}
    unknown = store.browse()
    unknown.buttons[execution_id]["load"].click()
    assert "no flow named &#x27;expense-approval&#x27; given to browse(): pass flows=[flow]" in unknown.status_line.value
    browser = store.browse(flows={"expense-approval": FLOW}, runtime_resources={"mailer": Mailer("nb")})
    browser.buttons[execution_id]["load"].click()
    loaded = browser.loaded[execution_id]
    assert [i["type"] for i in loaded.get_pending_interrupts().values()] == ["approval"]
    assert store.get(execution_id).lease_owner is None  # Load takes no lease


def test_resume_here_holds_the_lease_until_save_and_release(store, two_paused):
    execution_id = two_paused[1]
    mailer = Mailer("nb")
    browser = store.browse(flows=[FLOW], runtime_resources={"mailer": mailer}, owner="my-notebook")
    browser.buttons[execution_id]["resume"].click()
    assert store.get(execution_id).lease_owner == "my-notebook"
    with pytest.raises(LeaseHeldError):
        store.claim(execution_id, "worker", ttl=5)
    other = store.browse(flows=[FLOW], runtime_resources={"mailer": mailer}, owner="other-notebook")
    other.buttons[execution_id]["resume"].click()
    assert "is leased by &#x27;my-notebook&#x27;" in other.status_line.value
    execution = browser.loaded[execution_id]
    execution.continue_with(next(iter(execution.get_pending_interrupts())), "approved")
    assert browser.save_and_release(execution_id) == 2
    stored = store.get(execution_id)
    assert stored.lease_owner is None and stored.snapshot["state"]["decision"] == "approved"
    assert mailer.sent == [("finance@example.com", "expense approved")]
    assert browser.save_and_release(execution_id) is None
    assert "is not resumed here: press Resume here first" in browser.status_line.value


def test_delete_needs_a_confirming_click_and_refuses_a_row_changed_meanwhile(store, two_paused):
    first, second = two_paused
    browser = store.browse()
    browser.buttons[first]["delete"].click()
    assert browser.buttons[first]["delete"].description == "Confirm delete"
    assert store.get(first).version == 1
    browser.buttons[first]["delete"].click()
    assert [s.execution_id for s in store.list()] == [second]
    browser.buttons[second]["delete"].click()
    store.put(snapshot_like(store.get(second).snapshot, second, note="changed elsewhere"), expected_version=1)
    browser.buttons[second]["delete"].click()
    assert "since version 1 (the store holds version 2)" in browser.status_line.value
    assert store.get(second).version == 2


def test_filters_and_the_static_fallback(store, two_paused):
    other = snapshot_like(store.get(two_paused[0]).snapshot, "<b>odd-id</b>")
    other["flow_name"] = "other <flow>"
    other["interrupts"] = []
    other["state"] = {"<script>": 1}
    other["status"] = "completed"
    store.put(other)
    browser = store.browse()
    assert browser.flow_filter.options == ("(all)", "expense-approval", "other <flow>")
    browser.flow_filter.value = "other <flow>"
    assert [s.execution_id for s in browser.summaries] == ["<b>odd-id</b>"]
    browser.flow_filter.value = "(all)"
    browser.pending_filter.value = "waiting"
    assert sorted(s.execution_id for s in browser.summaries) == sorted(two_paused)
    browser.pending_filter.value = "all"
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html, text = bundle["text/html"], bundle["text/plain"]
    assert "&lt;script&gt;" in html and "<script>" not in html and "&lt;b&gt;odd-id" in html
    assert text.splitlines()[1].split() == ["id", "flow", "status", "waiting", "state", "keys", "resources",
                                           "version", "saved", "lease"]
    assert len(text.splitlines()) == 5 and re.search(r"\n  <b>odd-id</b +other <flow> +completed +— +<script>", text)
    store_bundle = store._repr_mimebundle_()
    assert set(store_bundle) == {"text/html", "text/plain"} and "3 newest execution(s)" in store_bundle["text/plain"]
