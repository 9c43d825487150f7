"""What the panel says while a cell waits: the auto-close countdown and its reason, a sync chunk that
holds the loop (said once, with the fix), and the Retry button of a failed chunk."""

from __future__ import annotations

import asyncio
import time

from triggerflow_nb import TriggerFlow
from triggerflow_nb.observe import SyncChunkHeldLoop

from .panel_reading import parse


def text(widget) -> str:
    return "".join(parse(widget.value).text)


def test_the_countdown_says_when_and_why_the_execution_auto_closes(comm_log):
    async def scenario():
        flow = TriggerFlow(name="countdown")
        flow.to(lambda data: data.set_state("done", True), name="work")
        ex = flow.create_execution(auto_close_timeout=1.6)
        panel = ex.watch()
        start = asyncio.ensure_future(ex.async_start(1))
        await asyncio.sleep(0.2)
        assert text(panel.countdown.widget) == (
            "⏳ auto-closing in 2 s: the execution is idle, and auto_close closes it after auto_close_timeout=1.6 s "
            "(start() returns once it has closed). Keep it open with flow.create_execution(auto_close=False), "
            "then close() it yourself.")
        assert not start.done()
        await asyncio.sleep(0.6)  # the next whole second ticked
        assert text(panel.countdown.widget).startswith("⏳ auto-closing in 1 s:")
        assert await asyncio.wait_for(start, 3) == {"done": True}
        assert panel.countdown.widget.value == "" and ex.auto_close_in() is None

    asyncio.run(scenario())


def test_no_countdown_without_auto_close(comm_log):
    flow = TriggerFlow(name="no-countdown")
    flow.to(lambda data: None, name="work")
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch(interval=0)
    ex.start(1)
    assert panel.countdown.widget.value == "" and ex.auto_close_in() is None
    ex.close()


def test_a_sync_chunk_holding_the_loop_is_reported_once_with_the_fix(comm_log):
    flow = TriggerFlow(name="blocking")
    seen_running = []

    def slow(data):
        seen_running.append(">running</span>" in panel.header.widget.value)
        time.sleep(0.6)
        return data.input

    flow.to(slow).to(lambda data: None, name="quick")
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    events = []
    ex.channel.subscribe(lambda e: events.append(e) if type(e) is SyncChunkHeldLoop else None)
    ex.start(1)
    flow.when("Again").to(slow)
    ex.emit("Again")
    notices = text(panel.notices.widget)
    assert notices.count("held the event loop") == 1  # once, however often it happens
    assert ("⚠ chunk 'slow' is synchronous and held the event loop for 0.6 s: this panel and every other branch "
            "stood still meanwhile. Make it `async def` and await its slow calls, or run the blocking part with "
            "`await asyncio.to_thread(fn, ...)`.") in notices
    assert [e.node_id for e in events] == ["slow", "slow"] and all(e.seconds >= 0.5 for e in events)
    assert seen_running[1] is True  # known slow: the panel showed it running before it blocked again
    ex.close()
    quiet = flow.create_execution(auto_close=False)
    quiet.start(1)  # nobody watches: nothing is timed or published
    quiet.close()


def test_the_retry_button_reruns_the_fixed_chunk_and_the_panel_follows(comm_log):
    fixed = {"ok": False}

    async def scenario():
        flow = TriggerFlow(name="retry-button")

        def risky(data):
            if not fixed["ok"]:
                raise RuntimeError("flaky service")
            data.set_state("result", data.input * 2)

        flow.to(risky)
        ex = flow.create_execution(auto_close=False)
        panel = ex.watch(interval=0)
        try:
            await ex.async_start(21)
        except Exception:
            pass
        (row,) = panel.failures.rows.values()
        assert row.button.layout.display == "" and panel.is_following
        fixed["ok"] = True
        row.button.click()
        await asyncio.gather(*panel.continue_tasks)
        assert ex.get_state() == {"result": 42} and ex.status == "idle"
        assert panel.failures.rows == {} and ">idle</span>" in panel.header.widget.value
        assert "retrying: the failed chunk runs again from the state before it" in text(panel.notices.widget)
        await ex.async_close()
        assert not panel.is_following

    asyncio.run(scenario())
