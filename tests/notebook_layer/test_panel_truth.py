"""A panel never contradicts the execution it watches: after every public operation (start, emit,
pause, save, load, continue_with, set_state, inject_resources, seal, close, failures) what its widgets
show equals what the execution holds. A table of scenarios with the live graph, and hypothesis
sequences of operations over several panels at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triggerflow_nb import ChunkError, InterruptError, LifecycleError, TriggerFlow
from triggerflow_nb.errors import SaveError

from .panel_reading import disagreements, table_body


class Client:
    """Stands in for a live object (a database client)."""


def truth_flow(broken: dict | None = None) -> TriggerFlow:
    """``broken["boom"]`` False makes the Boom handler work (the user fixed it)."""
    broken = {"boom": True} if broken is None else broken
    flow = TriggerFlow(name="truth")

    async def ask(data):
        await data.async_set_state("asked", data.input)
        await data.async_pause_for(type="approve", payload={"n": data.input}, interrupt_id="approval")

    def record(data):
        data.set_state("reply", data.input)
        data.put_into_stream({"reply": data.input})

    def boom(data):
        data.append_state("booms", data.input)
        if broken["boom"]:
            raise ValueError("boom")

    flow.to(ask).to(record)
    flow.when("Ping").to(lambda data: data.append_state("pings", data.input), name="ping")
    flow.when("Boom").to(boom)
    return flow


def agree(*panels: Any) -> None:
    for panel in panels:
        assert disagreements(panel) == [], panel.execution


def test_a_panel_opened_before_load_shows_the_loaded_execution_and_its_continue_button(comm_log):
    flow = truth_flow()
    original = flow.create_execution(auto_close=False, runtime_resources={"client": Client()})
    original.start(7)
    original.emit("Ping", 1)
    saved = original.save()
    original.close(pending_interrupts="cancel")

    target = flow.create_execution(auto_close=False)
    panel = target.watch(interval=0)
    agree(panel)
    assert table_body(panel.state.table.value) == []  # fresh: "no state yet"
    target.load(saved, runtime_resources={"client": Client()})
    agree(panel)
    assert [row[0] for row in table_body(panel.state.table.value)] == ["asked", "pings"]
    assert sorted(panel.interrupts.rows) == ["approval"] and panel.interrupts.widget.layout.display == ""
    assert [row[0] for row in table_body(panel.resources.widget.value)] == ["client"]
    target.continue_with("approval", "yes")
    agree(panel)  # the whole state after continuing, not only the keys written since
    assert [row[0] for row in table_body(panel.state.table.value)] == ["asked", "pings", "reply"]
    target.close()
    agree(panel)
    assert not panel.is_following


def test_a_panel_opened_before_loading_a_closed_snapshot_shows_it_and_stops_following(comm_log):
    flow = truth_flow()
    original = flow.create_execution(auto_close=False)
    original.start(3)
    original.continue_with("approval", "ok")
    original.close()
    target = flow.create_execution(auto_close=False)
    panel = target.watch(interval=0)
    target.load(original.save())
    agree(panel)
    assert not panel.is_following and not target.channel


SCENARIOS = {
    "run, ping, save, write, inject, continue, close": [
        ("start", 1), ("emit", "Ping"), ("save",), ("set_state",), ("inject",), ("continue", "yes"), ("emit", "Ping"),
        ("seal",), ("close",),
    ],
    "close with the interrupt cancelled": [("start", 2), ("close_cancel",)],
    "a chunk fails": [("start", 3), ("emit", "Ping"), ("emit_fails", "Boom")],
    "a chunk fails, is fixed and retried": [
        ("start", 3), ("emit_fails", "Boom"), ("retry",), ("fix",), ("retry",), ("continue", "go"), ("close",),
    ],
    "save, load into a watched execution, continue there": [
        ("start", 4), ("emit", "Ping"), ("load_into_new",), ("continue", "late"), ("close",),
    ],
}


class Session:
    """One flow, its executions and their panels; applies operations by name."""

    def __init__(self, *, graph: bool):
        self.broken = {"boom": True}
        self.flow = truth_flow(self.broken)
        self.graph = graph
        self.current = self.flow.create_execution(auto_close=False, runtime_resources={"client": Client()})
        self.panels = [self.current.watch(interval=0, graph=graph)]
        self.writes = 0

    def apply(self, op: tuple[Any, ...]) -> None:
        ex = self.current
        kind = op[0]
        if kind == "start":
            ex.start(op[1])
        elif kind == "emit":
            ex.emit(op[1], self.writes)
        elif kind == "emit_fails":  # fails while the handler is broken; once fixed, it runs
            if self.broken["boom"]:
                with pytest.raises(ChunkError, match="chunk 'boom' raised ValueError: boom"):
                    ex.emit(op[1])
            else:
                ex.emit(op[1])
        elif kind == "save":
            ex.save()
        elif kind == "set_state":
            self.writes += 1
            ex.set_state(f"note{self.writes}", self.writes)
        elif kind == "inject":
            ex.inject_resources(**{f"extra{self.writes}": Client()})
        elif kind == "continue":
            ex.continue_with("approval", op[1])
        elif kind == "fix":
            self.broken["boom"] = False
        elif kind == "retry":
            if self.broken["boom"]:
                with pytest.raises(ChunkError, match="chunk 'boom' raised ValueError: boom"):
                    ex.retry()
            else:
                ex.retry("boom")
        elif kind == "seal":
            ex.seal()
        elif kind == "close":
            ex.close()
        elif kind == "close_cancel":
            ex.close(pending_interrupts="cancel")
        elif kind == "load_into_new":
            saved = ex.save()
            target = self.flow.create_execution(auto_close=False)
            self.panels.append(target.watch(interval=0, graph=self.graph))
            target.load(saved, runtime_resources={key: Client() for key in ex.runtime_resources.keys()})
            self.current = target
        else:  # pragma: no cover - a typo in a scenario
            raise AssertionError(kind)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_after_every_operation_the_panel_shows_what_the_execution_holds(comm_log, name):
    session = Session(graph=True)
    agree(*session.panels)
    for op in SCENARIOS[name]:
        session.apply(op)
        agree(*session.panels)
    for panel in session.panels:  # a closed execution is followed only while retry() can reopen it
        if panel.execution.is_closed():
            assert panel.is_following == (panel.execution.retryable_chunk() is not None)


OPERATIONS = [("start", 5), ("emit", "Ping"), ("emit_fails", "Boom"), ("save",), ("set_state",), ("inject",),
              ("continue", "yes"), ("seal",), ("close",), ("close_cancel",), ("load_into_new",), ("retry",),
              ("fix",)]
# What an operation may refuse in some lifecycle state; anything else fails the test.
REFUSALS = (LifecycleError, InterruptError, SaveError)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=9))
def test_any_sequence_of_operations_keeps_every_panel_true(comm_log, ops):
    session = Session(graph=False)
    for op in ops:
        try:
            session.apply(op)
        except REFUSALS:
            pass
        except ChunkError:  # close() of a failed execution raises its error again
            assert session.current.status == "failed"
        agree(*session.panels)


def test_the_panel_agrees_after_each_coalesced_flush_on_a_running_loop(comm_log):
    """With the default interval the panel may lag by one flush, never more: after the trailing
    flush it agrees again."""

    async def scenario():
        flow = truth_flow()
        ex = flow.create_execution(auto_close=False)
        panel = ex.watch()
        for step in (lambda: ex.async_start(1), lambda: ex.async_emit("Ping", 1),
                     lambda: ex.async_continue_with("approval", "x"), lambda: ex.async_emit("Ping", 2)):
            await step()
            await asyncio.sleep(0.25)  # more than two intervals: the trailing flush has run
            agree(panel)
        await ex.async_close()
        agree(panel)

    asyncio.run(scenario())
