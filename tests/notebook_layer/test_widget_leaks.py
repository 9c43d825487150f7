"""Closed panels leave no widget alive and are never updated again (issue 25, item 8).

ipywidgets keeps every open widget model in its registry (``ipywidgets.Widget.widgets``) until
it is closed; a button is three models (itself, its layout, its style). These tests count that
registry before and after, with exact expectations.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref

import ipywidgets
import pytest

import triggerflow_nb
from triggerflow_nb import TriggerFlow
from triggerflow_nb._loop_bridge import run_sync
from triggerflow_nb.notebook.live_graph import LiveGraph
from triggerflow_nb.notebook.panel import watch
from triggerflow_nb.notebook.panel_row import side_by_side
from triggerflow_nb.notebook.widget_tree import close_tree


def live() -> int:
    """How many widget models are open."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the public name is deprecated in ipywidgets 8
        return len(ipywidgets.Widget.widgets)


def tree_size(widget) -> int:
    """How many open widgets ``close_tree(widget)`` would close, counted without closing them."""
    before = live()
    ids = set()
    stack = [widget]
    while stack:
        node = stack.pop()
        if id(node) in ids:
            continue
        ids.add(id(node))
        for name in node.keys:
            value = getattr(node, name)
            held = value if isinstance(value, tuple) else (value,)
            stack += [v for v in held if isinstance(v, ipywidgets.Widget)]
    assert live() == before
    return len(ids)


def approval_flow(name: str = "leaky") -> TriggerFlow:
    flow = TriggerFlow(name=name)

    async def record(data):
        await data.async_set_state("request", data.input)
        data.put_into_stream({"got": data.input})
        return data.input

    async def ask(data):
        await data.async_pause_for(type="approve", payload={"amount": 5}, interrupt_id="approval")

    def finish(data):
        data.set_state("reply", data.input)

    flow.to(record).to(ask).to(finish)
    return flow


def fan_flow() -> TriggerFlow:
    flow = TriggerFlow(name="fan-leak")
    flow.to(lambda d: list(range(3)), name="items").for_each().to(lambda d: d.input, name="each").end_for_each()
    return flow


def one_watched_run(flow: TriggerFlow, graph: bool = True) -> None:
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch(graph=graph, interval=0)
    execution.start({"n": 1})
    execution.continue_with("approval", "yes")
    execution.close()
    panel.close()


@pytest.mark.parametrize("graph", [True, False])
def test_close_frees_every_widget_of_the_panel(graph):
    flow = approval_flow()
    before = live()
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch(graph=graph, interval=0)
    execution.start({"n": 1})  # paused: a Continue row (text box, button, boxes) is on the panel
    assert "approval" in panel.interrupts.rows
    made = live() - before
    assert made == tree_size(panel) > 40  # every widget made is in the panel's tree, layouts and styles too
    panel.close()
    assert live() == before
    assert not panel.is_following and not execution.channel and not flow.channel
    assert execution._state.trackers == ()
    panel.close()  # twice: harmless
    assert live() == before
    execution.continue_with("approval", "yes")  # the execution goes on without the panel
    execution.close()
    assert live() == before and execution.get_state("reply") == "yes"


def test_many_watched_runs_each_closed_leave_nothing():
    flow = approval_flow()
    one_watched_run(flow)  # the first run may set up what every later one shares
    before = live()
    for _ in range(30):
        one_watched_run(flow)
    assert live() == before
    assert not flow.channel


def test_a_panel_with_progress_bars_failures_and_run_counts_closes_whole():
    fan = fan_flow()
    before = live()
    execution = fan.create_execution(auto_close=False)
    panel = execution.watch(interval=0)
    execution.start()
    execution.close()
    assert panel.progress.bars and panel.run_counts.counts
    panel.close()
    assert live() == before

    flow = TriggerFlow(name="fails-leak")

    def broken(data):
        raise ValueError("nope")

    flow.to(broken)
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch(interval=0)
    with pytest.raises(triggerflow_nb.ChunkError):
        execution.start()
    (row,) = panel.failures.rows.values()
    assert panel.is_following  # retry() could reopen it: the panel still listens
    panel.close()
    assert live() == before and not panel.is_following and not execution.channel
    assert row.button.comm is None and row.button.layout.comm is None and row.button.style.comm is None


def test_a_resumed_interrupt_row_is_closed_not_just_dropped():
    flow = approval_flow()
    before = live()
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch(graph=False, interval=0)
    without_rows = live()
    execution.start({"n": 1})
    row = panel.interrupts.rows["approval"]
    assert live() - without_rows == tree_size(row.widget)
    execution.continue_with("approval", "yes")
    execution.close()
    assert panel.interrupts.rows == {} and live() == without_rows  # the row's widgets are closed
    assert row.button.comm is None and row.payload.comm is None
    panel.close()
    assert live() == before


def test_a_retry_closes_the_failure_rows_it_clears():
    flow = TriggerFlow(name="retry-leak")
    attempts = []

    def flaky(data):
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first time")
        data.set_state("ok", True)

    flow.to(flaky, name="flaky")
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch(graph=False, interval=0)
    without_rows = live()
    with pytest.raises(triggerflow_nb.ChunkError):
        execution.start()
    (row,) = panel.failures.rows.values()
    assert live() - without_rows == tree_size(row.widget)
    execution.retry()
    execution.close()
    assert panel.failures.rows == {} and live() == without_rows
    assert row.button.comm is None
    panel.close()


def test_a_closed_panel_is_not_kept_alive_by_its_execution():
    flow = approval_flow()
    execution = flow.create_execution(auto_close=False)
    panel = execution.watch(interval=0)
    execution.start({"n": 1})
    panel.close()
    ref = weakref.ref(panel)
    del panel
    # One turn of the loop the run lives on, as a kernel's loop keeps turning: a callback the run
    # queued just before start() returned (on a busy machine it may still wait) runs and lets go.
    run_sync(asyncio.sleep(0))
    gc.collect()
    assert ref() is None  # the execution (still waiting) holds nothing of the panel
    execution.continue_with("approval", "yes")
    execution.close()


def test_closing_a_panel_while_its_execution_runs_then_letting_it_finish(comm_log):
    flow = TriggerFlow(name="still-running")
    gate: dict[str, asyncio.Event] = {}

    async def slow(data):
        await data.async_set_state("started", True)
        await gate["go"].wait()
        for i in range(20):
            await data.async_set_state(f"k{i}", i)
            data.put_into_stream(i)
        await data.async_pause_for(type="late", payload=None, interrupt_id="late")

    def after(data):
        data.set_state("after", data.input)

    flow.to(slow).to(after)

    async def scenario():
        gate["go"] = asyncio.Event()
        before = live()
        execution = flow.create_execution(auto_close=False)
        panel = watch(execution, interval=0)
        run = asyncio.ensure_future(execution.async_start())
        await asyncio.sleep(0.05)
        assert execution.status == "running"
        flushes = panel._coalescer.flush_count
        panel.close()
        assert live() == before
        mark = comm_log.mark()
        gate["go"].set()  # state writes, stream items, a new interrupt, then its resume and the close
        await run
        await execution.async_continue_with("late", "done")
        await execution.async_close()
        await asyncio.sleep(0.15)  # any trailing flush would have happened by now
        assert execution.get_state("after") == "done"
        assert live() == before  # nothing was made for the interrupt that opened after close
        assert panel.interrupts.rows == {} and panel._coalescer.flush_count == flushes
        sent = [(kind, data) for _, kind, data in comm_log.log[mark:]]
        assert sent == []  # a closed panel sends nothing: no new widget, no update

    asyncio.run(scenario())


def test_closing_a_panel_while_its_continue_button_resumes(comm_log):
    flow = TriggerFlow(name="continue-then-close")
    gate: dict[str, asyncio.Event] = {}

    async def ask(data):
        await data.async_pause_for(type="approve", payload=None, interrupt_id="approval")

    async def slow_after(data):
        await gate["go"].wait()
        await data.async_pause_for(type="again", payload=None, interrupt_id="again")

    flow.to(ask).to(slow_after)

    async def scenario():
        gate["go"] = asyncio.Event()
        before = live()
        execution = await flow.async_start_execution(0)
        panel = watch(execution, interval=0)
        row = panel.interrupts.rows["approval"]
        row.payload.value = '"yes"'
        row.button.click()
        (task,) = panel.continue_tasks
        await asyncio.sleep(0.05)  # resumed: the path after it waits on the gate
        rows_at_close = dict(panel.interrupts.rows)
        panel.close()
        assert live() == before
        mark = comm_log.mark()
        gate["go"].set()
        await task  # the resume finishes after the panel closed: its done callback touches nothing
        assert list(execution.get_pending_interrupts()) == ["again"]
        await execution.async_close(pending_interrupts="cancel")
        await asyncio.sleep(0.1)
        assert live() == before and comm_log.log[mark:] == []
        assert panel.interrupts.rows == rows_at_close  # as it was at close: never updated again
        assert row.button.description == "continuing…" and row.button.comm is None

    asyncio.run(scenario())


def test_closing_a_panel_stops_its_auto_close_countdown(comm_log):
    flow = TriggerFlow(name="countdown-leak")
    flow.to(lambda d: d.input)

    async def scenario():
        before = live()
        execution = flow.create_execution(auto_close=True, auto_close_timeout=5)
        panel = watch(execution, interval=0)
        started = asyncio.ensure_future(execution.async_start(1))  # returns once auto-closed
        await asyncio.sleep(0.05)
        assert panel.countdown._tick is not None  # ticking once a second
        panel.close()
        assert panel.countdown._tick is None and live() == before
        mark = comm_log.mark()
        await execution.async_close()
        await started
        assert comm_log.log[mark:] == [] and live() == before

    asyncio.run(scenario())


def test_a_live_graph_and_a_panel_row_close_whole():
    flow = approval_flow()
    execution = flow.create_execution(auto_close=False)
    before = live()
    graph = LiveGraph(execution)
    assert live() - before == 3  # the HTML widget, its layout and its style
    graph.close()
    graph.close()
    assert live() == before and not execution.channel

    first, second = flow.create_execution(auto_close=False), flow.create_execution(auto_close=False)
    row = side_by_side(first, second)
    row.close()
    assert live() == before
    assert not first.channel and not second.channel and not flow.channel


def test_close_tree_closes_the_widgets_displayed_in_an_output():
    before = live()
    shown = ipywidgets.VBox([ipywidgets.Button(description="inside"), ipywidgets.Text()])
    output = ipywidgets.Output()
    output.outputs = ({"output_type": "display_data",
                       "data": {"text/plain": "VBox()",
                                "application/vnd.jupyter.widget-view+json": {"model_id": shown.model_id,
                                                                             "version_major": 2,
                                                                             "version_minor": 0}}},
                      {"output_type": "stream", "name": "stdout", "text": "not a widget\n"})
    box = ipywidgets.HBox([output])
    assert live() - before == 2 + 2 + 3 + 3 + 2  # box, output, vbox (+layouts), button (+style), text (+style)
    assert close_tree(box) == 12
    assert live() == before
    assert close_tree(box) == 0  # twice: nothing left to close


def test_a_panel_closed_by_an_observer_during_an_event_ignores_that_event(comm_log):
    flow = approval_flow()
    execution = flow.create_execution(auto_close=False)
    panels = []

    def close_on_pause(event):  # subscribed before the panel: runs first on the same event
        if type(event).__name__ == "InterruptOpened" and panels:
            panels[0].close()

    unsubscribe = execution.channel.subscribe(close_on_pause)
    before = live()
    panels.append(execution.watch(interval=0))
    mark = comm_log.mark()
    execution.start({"n": 1})
    (panel,) = panels
    assert not panel.is_following and panel.interrupts.rows == {}  # the interrupt's row was never made
    assert live() == before
    assert [kind for _, kind, _ in comm_log.log[mark:] if kind == "comm_open"] == []
    unsubscribe()
    execution.continue_with("approval", "yes")
    execution.close()
    assert live() == before
