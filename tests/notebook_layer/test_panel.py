"""The watch panel as a widget model, without a front end: a recording comm sees what would be sent."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from html import unescape

import pytest

import triggerflow_nb
from triggerflow_nb import StateSerializationError, TriggerFlow
from triggerflow_nb.notebook.coalesce import Coalescer
from triggerflow_nb.notebook.panel import ExecutionPanel, watch
from triggerflow_nb.notebook.resume import parse_payload


class Client:
    """Stands in for a live object, e.g. a database client."""


def table_rows(html: str) -> list[tuple[str, str]]:
    """(key, preview) of each row of the state table, unescaped."""
    return [(unescape(k), unescape(v)) for k, v in re.findall(r"<tr><td[^>]*><code>(.*?)</code></td>"
                                                              r"<td[^>]*><code>(.*?)</code></td></tr>", html)]


def greeting_flow() -> TriggerFlow:
    flow = TriggerFlow(name="panel-demo")

    async def work(data):
        await data.async_set_state("greeting", f"hello {data.input}")
        await data.async_set_state("numbers", [1, 2, 3])
        data.put_into_stream({"step": 1})
        data.set_flow_data("runs", 1, no_warning=True)
        return data.input

    flow.to(work)
    return flow


def test_after_a_run_every_section_holds_the_final_values(comm_log):
    flow = greeting_flow()
    ex = flow.create_execution(runtime_resources={"client": Client()}, auto_close=False)
    panel = ex.watch()
    assert isinstance(panel, ExecutionPanel)
    ex.start("world")
    ex.close()

    state = panel.state
    assert table_rows(state.table.value) == [("greeting", '"hello world"'), ("numbers", "[1, 2, 3]")]
    assert comm_log.frontend_state(state.table)["value"] == state.table.value  # what a front end was told
    assert state.picker.options == ("greeting", "numbers") and state.picker.value is None
    assert state.detail.value == ""
    state.picker.value = "numbers"  # expanding a key shows all of its value
    assert state.detail.value == '<pre style="margin:0;font-size:11px">[\n  1,\n  2,\n  3\n]</pre>'
    assert comm_log.frontend_state(state.detail)["value"] == state.detail.value

    header = panel.header.widget.value
    assert "<b>panel-demo</b>" in header and ex.id in header
    assert ">closed</span>" in header and ">completed</span>" in header
    assert "1 item" in panel.stream.widget.value and "{&quot;step&quot;: 1}" in panel.stream.widget.value
    assert "shared by all executions, not saved" in panel.flow_data.widget.value
    assert "<code>runs</code>" in panel.flow_data.widget.value
    resources = panel.resources.widget.value
    assert "live, not saved" in resources and "<code>client</code>" in resources
    assert f"<code>{Client.__module__}.Client</code>" in resources and "unmanaged" in resources
    assert panel.interrupts.widget.layout.display == "none"
    assert not panel.is_following and not ex.channel and not flow.channel


def test_a_thousand_writes_make_a_bounded_number_of_front_end_updates(comm_log):
    flow = TriggerFlow(name="chatty")

    async def chatty(data):
        for i in range(1000):
            await data.async_set_state("counter", i)
            if i % 100 == 99:
                await asyncio.sleep(0.03)  # spread the writes over ~0.3 s: several flush windows
        return i

    flow.to(chatty)
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    started = time.monotonic()
    ex.start()
    duration = time.monotonic() - started
    ex.close()

    table_updates = [u["value"] for u in comm_log.updates(panel.state.table) if "value" in u]
    windows = duration / 0.1
    assert 2 <= len(table_updates) <= windows + 3, (len(table_updates), duration)
    assert table_rows(table_updates[-1]) == [("counter", "999")]
    assert panel._coalescer.flush_count <= windows + 3
    sent = sum(len(comm_log.updates(w)) for w in _all_widgets(panel))
    assert sent <= 10 * (windows + 3), sent  # not ~1000


def _all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all_widgets(child)


def test_only_the_widgets_whose_value_changed_are_sent(comm_log):
    flow = TriggerFlow(name="quiet")
    flow.to(lambda d: (d.set_state("a", 1), d.set_state("b", 1)), name="write_two")

    async def scenario():  # as in a kernel: the loop keeps running between cells
        ex = flow.create_execution(auto_close=False)
        panel = watch(ex)
        await ex.async_start()
        await asyncio.sleep(0.25)  # every trailing flush has happened
        table, picker, detail = panel.state.table, panel.state.picker, panel.state.detail
        before = comm_log.mark()
        ex.set_state("b", 2)  # from a notebook cell
        assert comm_log.updated_comm_ids(before) == {table.comm.comm_id}  # nothing else changed
        assert table_rows(table.value) == [("a", "1"), ("b", "2")]
        picker.value = "b"
        await asyncio.sleep(0.15)
        before = comm_log.mark()
        ex.set_state("b", 3)  # the expanded key changes: the table and the expanded value
        assert comm_log.updated_comm_ids(before) == {table.comm.comm_id, detail.comm.comm_id}
        await asyncio.sleep(0.15)
        before = comm_log.mark()
        ex.set_state("c", 1)  # a new key: the table and the picker's options; the expanded value stays
        assert comm_log.updated_comm_ids(before) == {table.comm.comm_id, picker.comm.comm_id}
        assert picker.options == ("a", "b", "c") and picker.value == "b"
        assert detail.value == '<pre style="margin:0;font-size:11px">3</pre>'
        await ex.async_close()

    asyncio.run(scenario())


def pause_flow() -> TriggerFlow:
    flow = TriggerFlow(name="approval")

    async def ask(data):
        await data.async_pause_for(type="approve", payload={"amount": 5}, interrupt_id="approval")

    def record(data):
        data.set_state("reply", data.input)

    flow.to(ask).to(record)
    return flow


@pytest.mark.parametrize("typed, expected", [
    ('{"approved": true, "by": "ana"}', {"approved": True, "by": "ana"}),
    ("__import__('os').getcwd()", "__import__('os').getcwd()"),  # not JSON: the raw text, never evaluated
])
def test_the_continue_button_resumes_the_interrupt_on_the_running_loop(comm_log, typed, expected):
    async def scenario():
        ex = await pause_flow().async_start_execution(0)
        panel = watch(ex)
        row = panel.interrupts.rows["approval"]
        assert panel.interrupts.widget.layout.display == ""
        assert "<b>approve</b>" in row.info.value and "{&quot;amount&quot;: 5}" in row.info.value
        row.payload.value = typed
        row.button.click()
        # Scheduled, not run inside the click: the kernel is not blocked.
        assert row.button.disabled and len(panel.continue_tasks) == 1
        assert "approval" in ex.get_pending_interrupts()
        await asyncio.gather(*panel.continue_tasks)
        assert ex.get_state("reply") == expected
        await ex.async_close()
        assert panel.interrupts.rows == {} and panel.interrupts.widget.layout.display == "none"
        assert not panel.continue_tasks

    asyncio.run(scenario())


def test_a_failed_continue_is_shown_and_the_button_comes_back(comm_log):
    async def scenario():
        ex = await pause_flow().async_start_execution(0)
        panel = watch(ex)
        row = panel.interrupts.rows["approval"]
        await ex.async_continue_with("approval", "resumed elsewhere")  # e.g. from another cell
        row.button.click()
        await asyncio.wait(set(panel.continue_tasks))
        await asyncio.sleep(0.12)  # the trailing flush
        assert "continue_with(&#x27;approval&#x27;) failed: InterruptError" in panel.notices.widget.value
        assert not row.button.disabled and row.button.description == "Continue"
        await ex.async_close()

    asyncio.run(scenario())


def test_payload_text_is_json_or_the_raw_string():
    assert parse_payload("") is None and parse_payload("   ") is None
    assert parse_payload("42") == 42 and parse_payload('"quoted"') == "quoted"
    assert parse_payload("[1, 2") == "[1, 2" and parse_payload("yes please") == "yes please"


def writer_flow() -> TriggerFlow:
    flow = TriggerFlow(name="shared")

    def write(data):
        data.set_flow_data("last_input", data.input, no_warning=True)

    flow.to(write)
    return flow


def test_two_open_executions_writing_flow_data_warn_on_both_panels(comm_log):
    flow = writer_flow()

    async def scenario():
        first, second = flow.create_execution(auto_close=False), flow.create_execution(auto_close=False)
        first_panel, second_panel = watch(first), watch(second)
        await first.async_start(1)
        await second.async_start(2)
        await asyncio.sleep(0.25)
        for panel, other in ((first_panel, second), (second_panel, first)):
            text = panel.notices.widget.value
            assert "flow_data race" in text and f"execution {other.id[:8]} was open at the same time" in text
            assert "[&#x27;last_input&#x27;]" in text and "data.set_state" in text
            assert "<code>last_input</code></td><td" in panel.flow_data.widget.value
            assert ">2</td>" in panel.flow_data.widget.value
        await first.async_close()
        await second.async_close()

    asyncio.run(scenario())
    assert not flow.channel  # the last panel gone, nobody listens to the flow


def test_executions_that_do_not_overlap_do_not_warn(comm_log):
    flow = writer_flow()
    first = flow.create_execution(auto_close=False)
    first_panel = first.watch()
    first.start(1)
    first.close()
    second = flow.create_execution(auto_close=False)
    second_panel = second.watch()
    second.start(2)
    second.close()
    assert "flow_data race" not in first_panel.notices.widget.value
    assert "flow_data race" not in second_panel.notices.widget.value


def test_a_rejected_state_write_shows_the_error_and_its_advice(comm_log):
    flow = TriggerFlow(name="teaching")

    def keep_a_lock(data):
        try:
            data.set_state("lock", threading.Lock())
        except StateSerializationError:
            data.set_state("recovered", True)

    flow.to(keep_a_lock)
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    ex.start()
    ex.close()
    text = panel.notices.widget.value
    assert "state key &#x27;lock&#x27;" in text and "not JSON-compatible" in text
    assert "runtime_resources" in text and "require_resource(&#x27;lock&#x27;)" in text
    assert list(panel.state.previews) == ["recovered"]


def test_a_failed_chunk_is_shown(comm_log):
    flow = TriggerFlow(name="fails")

    def broken(data):
        raise ValueError("no such customer")

    flow.to(broken)
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    with pytest.raises(triggerflow_nb.ChunkError):
        ex.start()
    (row,) = panel.failures.rows.values()
    line = f"✖ chunk &#x27;broken&#x27; failed at {__file__}:{broken.__code__.co_firstlineno + 1}: " \
           f"ValueError: no such customer"
    assert row.info.value.startswith(f'<div style="font-size:12px;white-space:pre-wrap">{line}</div><details>')
    details = unescape(row.info.value.split("<pre", 1)[1])
    assert 'raise ValueError("no such customer")' in details and "triggerflow_nb" not in details
    assert panel.notices.widget.value.count("no such customer") == 0  # said once, in the failure row
    assert ">failed</span>" in panel.header.widget.value
    assert panel.header.widget.value.count("no such customer") == 1  # the close reason, once
    assert row.button.layout.display == "" and panel.is_following  # retry() can reopen it


def test_fan_outs_show_progress_bars(comm_log):
    flow = TriggerFlow(name="fan")
    flow.to(lambda d: list(range(5)), name="items").for_each().to(lambda d: d.input, name="each").end_for_each() \
        .batch(("x", lambda d: 1), ("y", lambda d: 2))
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    ex.start()
    ex.close()
    bars = panel.progress.bars
    assert sorted(bars) == ["batch[x,y]@for_each@items", "for_each@items"]
    assert (bars["for_each@items"].value, bars["for_each@items"].max) == (5, 5)
    assert (bars["batch[x,y]@for_each@items"].value, bars["batch[x,y]@for_each@items"].max) == (2, 2)
    assert all(bar.bar_style == "success" for bar in bars.values())


def test_the_stream_shows_the_last_items(comm_log):
    flow = TriggerFlow(name="streamy")
    flow.to(lambda d: [d.put_into_stream(f"item {i}") for i in range(10)], name="emit_ten")
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch(stream_items=3)
    ex.start()
    ex.close()
    value = panel.stream.widget.value
    assert "10 items, last 3 shown" in value and '<ol start="8"' in value
    assert "item 7" in value and "item 9" in value and "item 6" not in value


def test_the_running_badge_does_not_stick_once_the_work_settles(comm_log):
    flow = TriggerFlow(name="settles")

    async def slow(data):
        await data.async_set_state("started", True)
        await asyncio.sleep(0.25)  # no event for a while: the flush at ChunkFinished still sees "running"

    flow.to(slow)

    async def scenario():
        ex = flow.create_execution(auto_close=False)
        panel = watch(ex)
        await ex.async_start()
        assert ex.status == "idle"
        await asyncio.sleep(0.3)
        assert ">idle</span>" in panel.header.widget.value
        await ex.async_close()

    asyncio.run(scenario())


def test_a_panel_of_a_closed_execution_shows_the_snapshot_without_subscribing(comm_log):
    flow = greeting_flow()
    ex = flow.create_execution(auto_close=False)
    ex.start("late")
    ex.close()
    panel = triggerflow_nb.watch(ex)
    assert table_rows(panel.state.table.value)[0] == ("greeting", '"hello late"')
    assert not panel.is_following and not ex.channel


def test_watch_checks_its_arguments():
    ex = greeting_flow().create_execution()
    with pytest.raises(TypeError, match="watch\\(\\) takes an execution"):
        watch("not an execution")
    with pytest.raises(ValueError, match="stream_items"):
        watch(ex, stream_items=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        ex.watch(colour="red")


def test_the_coalescer_flushes_at_once_then_once_per_window():
    async def scenario():
        now = [0.0]
        flushed = []
        coalescer = Coalescer(lambda: flushed.append(now[0]), 0.1, clock=lambda: now[0])
        coalescer.mark()
        now[0] = 0.01
        coalescer.mark()  # inside the window: one trailing flush is scheduled
        now[0] = 0.05
        coalescer.mark()  # already scheduled: nothing more
        assert flushed == [0.0]
        await asyncio.sleep(0.15)
        assert flushed == [0.0, 0.05]
        now[0] = 0.3
        coalescer.mark()
        assert flushed == [0.0, 0.05, 0.3]

    asyncio.run(scenario())
