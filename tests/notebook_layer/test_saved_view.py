"""The readable summary of a saved execution."""

from __future__ import annotations

import copy
import json

from triggerflow_nb import TriggerFlow
from triggerflow_nb.persistence.saved_html import render_saved_html

SAVED = {
    "schema_version": 1,
    "kind": "triggerflow_nb.execution",
    "execution_id": "0123456789abcdef",
    "flow_name": "billing <beta>",
    "status": "waiting",
    "lifecycle_state": "open",
    "created_at": 1_700_000_000.0,
    "started_at": 1_700_000_001.0,
    "closed_at": None,
    "saved_at": 1_700_000_002.0,
    "state": {"invoice": {"id": 7, "lines": ["a", "b"]}, "note": "<b>bold</b> " + "y" * 500},
    "interrupts": [{"id": "approval", "type": "approve", "payload": {"amount": 12}, "resume_to": "next",
                    "chunk": "ask_manager", "status": "waiting"}],
    "resource_keys": ["db", "mailer"],
    "resources": {"db": {"type": "sqlite3.Connection", "level": "execution", "managed": False}},
    "flow_fingerprint": "f1ngerpr1nt",
    "continuation": {"opaque": True},
}


def test_the_summary_names_the_run_its_state_interrupts_and_resources():
    page = render_saved_html(SAVED)
    assert "billing &lt;beta&gt;" in page and "0123456789abcdef" in page
    assert "status <b>waiting</b>, lifecycle <b>open</b>" in page
    assert "saved 2023-11-14 22:13:22 UTC" in page and "schema v1" in page
    assert "state (2 keys)" in page
    assert "<code>invoice</code>" in page and "{&quot;id&quot;: 7, &quot;lines&quot;: [&quot;a&quot;, &quot;b&quot;]}" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page  # escaped
    assert "y" * 200 not in page and "…" in page  # previews are cut short
    assert "pending interrupts (1)" in page and "<code>approval</code>" in page and "<code>ask_manager</code>" in page
    assert "{&quot;amount&quot;: 12}" in page
    assert "<code>db</code>" in page and "<code>sqlite3.Connection</code>" in page
    assert "<code>mailer</code>" in page and "<code>unrecorded</code>" in page  # a key without description
    assert "opaque" not in page and "f1ngerpr1nt" not in page


def test_rendering_never_changes_the_saved_dict():
    saved = copy.deepcopy(SAVED)
    render_saved_html(saved)
    assert saved == SAVED


def test_a_partial_or_odd_snapshot_still_renders():
    page = render_saved_html({"state": "not a dict", "interrupts": [None, 3], "resources": [], "saved_at": "yesterday"})
    assert "state (0 keys)" in page and "saved yesterday" in page and "pending interrupts" not in page
    assert "flow <b>?</b>" in page
    assert "saved at an unknown time" in render_saved_html({})


def test_a_real_save_displays_as_this_summary():
    flow = TriggerFlow(name="saver")

    async def ask(data):
        await data.async_set_state("draft", "hello")
        await data.async_pause_for(type="approve", payload={"n": 1}, interrupt_id="ok?")

    flow.to(ask)
    ex = flow.create_execution(runtime_resources={"client": object()}, auto_close=False)
    ex.start(0)
    saved = ex.save()
    html = saved._repr_html_()
    assert html == render_saved_html(saved)
    assert "<code>draft</code>" in html and "<code>ok?</code>" in html and "<code>object</code>" in html
    assert json.loads(json.dumps(saved)) == saved  # still just JSON
    ex.close(pending_interrupts="cancel")
