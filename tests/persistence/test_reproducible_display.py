"""In reproducible mode displays leave wall-clock times out: the saved-execution card, the store table."""

from __future__ import annotations

import re

import pytest

from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData, reproducible
from triggerflow_nb.notebook.store_table import render_text, static_bundle
from triggerflow_nb.persistence.saved_html import render_saved_html
from triggerflow_nb.reproducibility import reproducible_seed
from triggerflow_nb.store import SQLiteStore
from triggerflow_nb.store.records import Summary

DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


@pytest.fixture(autouse=True)
def mode_is_off_around_each_test():
    assert reproducible_seed() is None
    yield
    assert reproducible_seed() is None


def paused_flow() -> TriggerFlow:
    flow = TriggerFlow(name="card")

    async def ask(data: TriggerFlowRuntimeData):
        await data.async_pause_for(type="approval", payload=data.input)

    flow.to(ask, name="ask")
    return flow


def test_the_saved_card_hides_the_time_in_reproducible_mode_and_shows_it_otherwise():
    flow = paused_flow()
    with reproducible(seed=0):
        execution = flow.start_execution(1)
        saved = execution.save()
        card = saved._repr_html_()
        assert "saved time hidden (reproducible mode)" in card
        assert not DATE.search(card)
    # The snapshot itself keeps real times: it is data, and it loads anywhere.
    assert isinstance(saved["saved_at"], float) and saved["saved_at"] > 1_700_000_000
    assert DATE.search(render_saved_html(saved))
    # Two saves of the same paused run, a moment apart, show the same card.
    with reproducible(seed=0):
        assert execution.save()._repr_html_() == card
    execution.close(pending_interrupts="cancel")


def summary(saved_at: float, lease_owner: str | None = None, lease_until: float | None = None) -> Summary:
    return Summary("ab" * 16, "card", "fp", "waiting", "open", (("i1", "approval"),), ("request",), ("mailer",),
                   1, saved_at, lease_owner, lease_until)


def test_the_store_table_shows_no_age_or_seconds_left_in_reproducible_mode():
    rows = [summary(1000.0), summary(1000.0, "worker-1", 1090.0), summary(900.0, "worker-2", 950.0)]
    normal = render_text(rows, now=1030.0, title="t").splitlines()
    assert [line.split("  ")[-1].strip() for line in normal[2:]] == [
        "free", "held by worker-1 for 60 s more", "expired (was worker-2)"]
    assert "30 s ago" in normal[2] and "2 min ago" in normal[4]
    with reproducible(seed=0):
        hidden = render_text(rows, now=1030.0, title="t").splitlines()
        later = render_text(rows, now=1059.0, title="t").splitlines()
    assert hidden == later
    assert [line.split("  ")[-1].strip() for line in hidden[2:]] == ["free", "held by worker-1", "expired (was worker-2)"]
    assert all(" ago" not in line and "s more" not in line for line in hidden)
    assert all(re.search(r"  1  +—  ", line) for line in hidden[2:])


def test_a_store_shows_the_same_listing_later_in_reproducible_mode(tmp_path, monkeypatch):
    import triggerflow_nb.notebook.store_table as store_table

    store = SQLiteStore(str(tmp_path / "executions.db"))
    try:
        flow = paused_flow()
        for n in range(3):
            flow.start_execution(n).save(store=store)
        store.claim(store.list()[0].execution_id, owner="worker-1", ttl=600)

        def shown_at(now: float) -> dict[str, str]:
            monkeypatch.setattr(store_table.time, "time", lambda: now)
            return static_bundle(store)

        saved_at = store.list()[0].saved_at
        assert shown_at(saved_at + 5) != shown_at(saved_at + 125)  # "5 s ago" / "2 min ago", seconds left
        with reproducible(seed=0):
            assert shown_at(saved_at + 5) == shown_at(saved_at + 125)
            assert "held by worker-1\n" in shown_at(saved_at + 5)["text/plain"] + "\n"
    finally:
        store.close()
