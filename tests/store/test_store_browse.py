"""store.browse(): the widget table and its static fallback; and the import rule (no
ipywidgets/IPython/psycopg on ``import triggerflow_nb.store``)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import warnings

import ipywidgets
import pytest
from approval_flow import Mailer, build_flow, paused_execution, snapshot_like

from triggerflow_nb import _store_views
from triggerflow_nb.notebook.store_table import HEADERS, row_cells
from triggerflow_nb.notebook.store_views import provide_store_views
from triggerflow_nb.store import LeaseHeldError, StoreBrowserUnavailableError, save_execution

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


# -- the views are the notebook layer's: the store finds them in the slot it fills ----------------------

def test_without_the_notebook_layers_views_browse_says_so_and_a_store_shows_its_plain_repr(store, monkeypatch):
    monkeypatch.setattr(_store_views, "_provided", None)
    with pytest.raises(StoreBrowserUnavailableError, match=r"never provided .* store\.list\(\)"):
        store.browse()
    assert store._repr_mimebundle_() == {"text/plain": repr(store)}
    provide_store_views()  # what `import triggerflow_nb` does
    assert "newest execution(s)" in store._repr_mimebundle_()["text/plain"]
    browser = store.browse()
    assert isinstance(browser, ipywidgets.VBox) and browser.summaries == []
    browser.close()


def test_without_ipywidgets_browse_says_what_to_install(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` fails as if not installed
    monkeypatch.delitem(sys.modules, "triggerflow_nb.notebook.store_browser")
    with pytest.raises(StoreBrowserUnavailableError, match=r"pip install 'ipywidgets>=8'") as caught:
        store.browse()
    assert isinstance(caught.value, ImportError) and isinstance(caught.value.__cause__, ModuleNotFoundError)
    assert set(store._repr_mimebundle_()) == {"text/html", "text/plain"}  # the static table needs no widgets


# -- widgets: a refresh closes what it replaces, close() frees everything (issue 25, item 7) --------------

def live_widgets() -> int:
    """How many widget models are open (ipywidgets keeps each until it is closed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the public name is deprecated in ipywidgets 8
        return len(ipywidgets.Widget.widgets)


def shown_rows(browser) -> list[list[str]]:
    """The table's rows as a front end would show them: the cell texts, then the action labels."""
    cells = browser.table.children
    width = len(HEADERS) + 1
    assert [c.value for c in cells[:width]] == [f"<b>{h}</b>" for h in HEADERS] + [""]
    rows = [cells[i:i + width] for i in range(width, len(cells), width)]
    return [[c.value for c in row[:-1]] + [b.description for b in row[-1].children] for row in rows]


def expected_rows(store, **filters) -> list[list[str]]:
    now = time.time()
    rows = []
    for summary in store.list(**filters):
        cells = row_cells(summary, now)
        cells[7] = "*"  # "saved ... ago": compared loosely below
        rows.append(cells + ["Inspect", "Load", "Resume here", "Delete"])
    return rows


def loosely(rows: list[list[str]]) -> list[list[str]]:
    return [[*row[:7], "*", *row[8:]] for row in rows]


def test_refreshing_keeps_the_widget_count_and_the_rows_right(store):
    for i in range(6):
        save_execution(paused_execution(FLOW, {"who": f"p{i}", "amount": i}), store)
    before = live_widgets()
    browser = store.browse()
    after_one = live_widgets()
    row_widgets = 9 * 3 + 4 * 3 + 2  # labels and buttons with their layouts and styles, the box and its layout
    assert after_one - before > 6 * row_widgets
    for _ in range(25):
        browser.refresh()
    assert live_widgets() == after_one
    assert loosely(shown_rows(browser)) == expected_rows(store)
    browser.flow_filter.value = "expense-approval"  # filter changes refresh too
    browser.pending_filter.value = "not waiting"
    assert shown_rows(browser) == [] and live_widgets() == after_one - 6 * row_widgets  # rows gone: closed
    browser.pending_filter.value = "all"
    browser.flow_filter.value = "(all)"
    assert loosely(shown_rows(browser)) == expected_rows(store)
    assert live_widgets() == after_one
    browser.close()
    assert live_widgets() == before


def test_after_rows_come_and_go_a_refresh_holds_what_a_fresh_browser_would(store, two_paused):
    before = live_widgets()
    browser = store.browse(limit=5)
    first = two_paused[0]
    browser.buttons[first]["delete"].click()
    browser.buttons[first]["delete"].click()  # deleted, and refreshed
    for i in range(7):  # more than the limit: the newest five are shown
        save_execution(paused_execution(FLOW, {"who": f"n{i}", "amount": i}), store)
        browser.refresh()
    store.put(snapshot_like(store.get(two_paused[1]).snapshot, two_paused[1], note="newer"), expected_version=1)
    browser.refresh()
    browser.refresh()
    held = live_widgets() - before
    assert loosely(shown_rows(browser)) == expected_rows(store, limit=5)
    assert [s.execution_id for s in browser.summaries] == [s.execution_id for s in store.list(limit=5)]
    assert set(browser.buttons) == {s.execution_id for s in store.list(limit=5)}
    fresh_before = live_widgets()
    fresh = store.browse(limit=5)
    assert live_widgets() - fresh_before == held  # exactly what a browser made now holds
    fresh.close()
    browser.close()
    assert live_widgets() == before


def test_a_row_kept_across_refreshes_acts_on_its_own_execution(store, two_paused):
    browser = store.browse()
    first, second = two_paused
    browser.buttons[first]["delete"].click()
    browser.refresh()  # a refresh takes back a pending confirmation, as before
    assert browser.buttons[first]["delete"].description == "Delete"
    store.put(snapshot_like(store.get(second).snapshot, second, note="changed"), expected_version=1)
    browser.refresh()  # the row of `second` is kept: its Delete must check the new version
    browser.buttons[second]["delete"].click()
    browser.buttons[second]["delete"].click()
    assert [s.execution_id for s in store.list()] == [first]
    browser.buttons[first]["inspect"].click()
    assert f"{first}: version 1" in browser.status_line.value
    browser.close()


def test_close_frees_every_widget_the_browser_made_and_twice_is_harmless(store, two_paused):
    mailer = Mailer("nb")
    before = live_widgets()
    browser = store.browse(flows=[FLOW], runtime_resources={"mailer": mailer})
    for _ in range(5):
        browser.refresh()
    browser.buttons[two_paused[1]]["inspect"].click()
    browser.buttons[two_paused[1]]["resume"].click()  # a live panel and a Save & release button
    resumed = browser.loaded[two_paused[1]]
    assert resumed.channel  # its panel follows it
    browser.close()
    assert live_widgets() == before
    assert not resumed.channel  # the panel closed with the browser and stopped following
    browser.close()
    browser.refresh()  # closed: builds nothing
    browser.flow_filter.value = "expense-approval"
    assert live_widgets() == before
    browser.save_and_release(two_paused[1])  # the lease is still the caller's to give back
    assert store.get(two_paused[1]).lease_owner is None


def test_resume_here_again_closes_the_panel_it_replaces(store, two_paused):
    execution_id = two_paused[0]
    browser = store.browse(flows=[FLOW], runtime_resources={"mailer": Mailer("nb")}, owner="nb")
    browser.buttons[execution_id]["resume"].click()
    first = browser.loaded[execution_id]
    with_one_panel = live_widgets()
    assert browser.save_and_release(execution_id) == 2  # still waiting: saved back as it is
    browser.buttons[execution_id]["resume"].click()  # resumed again: a fresh execution and panel
    assert browser.loaded[execution_id] is not first and store.get(execution_id).lease_owner == "nb"
    assert live_widgets() == with_one_panel and not first.channel  # the first panel is closed
    browser.save_and_release(execution_id)
    browser.close()
