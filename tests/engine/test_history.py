"""An execution's step history: every chunk run recorded, and the state as it was after any step."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import triggerflow_nb as tf
from triggerflow_nb import (
    ABSENT,
    ChunkError,
    Emit,
    HistoryError,
    HistoryLimitWarning,
    InvalidArgumentError,
    NotRecorded,
    StepRecord,
    TriggerFlow,
    Write,
)


def chain_flow() -> TriggerFlow:
    flow = TriggerFlow(name="history-chain")

    @flow.chunk
    def first(data):
        data.set_state("x", data.input)
        data.append_state("log", "first")
        return data.input + 1

    @flow.chunk
    async def second(data):
        await data.async_set_state("x", data.input * 10)
        await data.async_append_state("log", "second")
        await data.async_del_state("gone")
        data.emit_nowait("noticed", {"n": data.input})
        return {"total": data.input * 10}

    flow.to(first).to(second)
    return flow


def without_times(step: StepRecord) -> dict:
    record = step.as_dict()
    assert isinstance(record.pop("started_at"), float) and isinstance(record.pop("duration"), float)
    return record


def test_a_chain_records_each_step_with_its_input_result_writes_and_emits():
    ex = chain_flow().create_execution(auto_close=False)
    ex.set_state("gone", True)
    ex.start(1)
    steps = ex.history()
    assert [without_times(s) for s in steps] == [
        {"seq": 0, "chunk": "first", "input": 1, "result": 2, "status": "completed", "error": None,
         "writes": [{"layer": "state", "key": "x", "after": 1},
                    {"layer": "state", "key": "log", "after": ["first"]}],
         "emits": []},
        {"seq": 1, "chunk": "second", "input": 2, "result": {"total": 20}, "status": "completed", "error": None,
         "writes": [{"layer": "state", "key": "x", "before": 1, "after": 20},
                    {"layer": "state", "key": "log", "before": ["first"], "after": ["first", "second"]},
                    {"layer": "state", "key": "gone", "before": True}],
         "emits": [{"event": "noticed", "value": {"n": 2}}]},
    ]
    assert steps[1].writes[2] == Write("state", "gone", True, ABSENT)
    assert steps[0].writes[0].before is ABSENT and not ABSENT
    assert steps[1].emits == [Emit("noticed", {"n": 2})]
    assert json.loads(json.dumps([s.as_dict() for s in steps])) == [s.as_dict() for s in steps]


def test_state_at_is_the_state_right_after_the_step_and_a_new_dict_each_time():
    ex = chain_flow().create_execution(auto_close=False)
    ex.set_state("gone", True)
    ex.start(1)
    assert ex.state_at(0) == {"gone": True, "x": 1, "log": ["first"]}
    assert ex.state_at(1) == {"x": 20, "log": ["first", "second"]}
    taken = ex.state_at(0)
    taken["log"].append("changed")
    assert ex.state_at(0)["log"] == ["first"]
    assert ex.get_state() == {"x": 20, "log": ["first", "second"]}  # the execution is unchanged


def test_recorded_values_are_copies_a_chunk_cannot_change_afterwards():
    flow = TriggerFlow(name="history-copies")

    @flow.chunk
    def make(data):
        return {"items": [1]}

    @flow.chunk
    def spoil(data):
        data.input["items"].append(2)
        return "done"

    flow.to(make).to(spoil)
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    steps = ex.history()
    assert steps[0].result == {"items": [1]} and steps[1].input == {"items": [1]}
    steps[0].result["items"].append(99)  # a record's value is the reader's copy too
    assert ex.history()[0].result == {"items": [1]}


def test_a_value_that_is_not_json_is_recorded_by_its_type_and_survives_save_and_load():
    flow = TriggerFlow(name="history-live")

    @flow.chunk
    def passes(data):
        return data.input

    flow.to(passes)
    ex = flow.create_execution(auto_close=False)
    ex.start(object())
    [step] = ex.history()
    assert step.input == NotRecorded("builtins.object") and step.result == NotRecorded("builtins.object")
    assert repr(step.input) == "<not recorded: builtins.object>"
    assert step.as_dict()["input"] == {"$not_recorded": "builtins.object"}
    loaded = flow.create_execution(auto_close=False).load(ex.save())
    assert loaded.history()[0].input == NotRecorded("builtins.object")


def test_failed_paused_and_cancelled_steps():
    flow = TriggerFlow(name="history-outcomes")

    @flow.chunk
    def ask(data):
        if data.is_resume:
            return data.resume.value
        data.pause_for(type="approve", resume_to="self")
        return None

    @flow.chunk
    def breaks(data):
        raise ValueError(f"bad {data.input}")

    flow.to(ask).to(breaks)
    ex = flow.create_execution(auto_close=False)
    ex.start("in")
    [interrupt] = ex.get_pending_interrupts()
    with pytest.raises(ChunkError, match=r"^chunk 'breaks' raised ValueError: bad yes$"):
        ex.continue_with(interrupt, "yes")
    assert [(s.seq, s.chunk, s.status, s.input, s.result, s.error) for s in ex.history()] == [
        (0, "ask", "paused", "in", None, None),
        (1, "ask", "completed", "in", "yes", None),
        (2, "breaks", "failed", "yes", None, "ValueError: bad yes"),
    ]

    stopped = TriggerFlow(name="history-stopped")

    @stopped.chunk
    async def waits(data):
        await asyncio.sleep(30)

    stopped.to(waits)
    run = stopped.create_execution(auto_close=False)

    async def cut():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run.async_start(None), 0.05)
        await run.async_close(timeout=5)

    asyncio.run(cut())
    assert [(s.chunk, s.status, s.error) for s in run.history()] == [("waits", "cancelled", "CancelledError: ")]


def test_retry_shows_as_a_new_step_and_state_at_stays_exact_across_its_undo():
    flow = TriggerFlow(name="history-retry")
    attempts = []

    @flow.chunk
    def flaky(data):
        data.append_state("tries", len(attempts))
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first time")
        return "ok"

    flow.to(flaky)
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(None)
    ex.retry()
    steps = ex.history()
    assert [(s.seq, s.chunk, s.status) for s in steps] == [(0, "flaky", "failed"), (1, "flaky", "completed")]
    assert steps[0].writes == [Write("state", "tries", ABSENT, [0])]
    assert steps[1].writes == [Write("state", "tries", ABSENT, [1])]  # retry undid the first try's write
    assert ex.state_at(0) == {"tries": [0]} and ex.state_at(1) == {"tries": [1]}


def test_flow_data_writes_are_recorded_with_what_they_replaced():
    flow = TriggerFlow(name="history-flow-data")
    flow.set_flow_data("shared", 1, no_warning=True)

    @flow.chunk
    def writes(data):
        data.set_flow_data("shared", data.input, no_warning=True)
        data.append_flow_data("seen", "a", no_warning=True)
        data.del_flow_data("shared", no_warning=True)
        data.set_state("own", 1)

    flow.to(writes)
    ex = flow.create_execution(auto_close=False)
    ex.start(5)
    assert ex.history()[0].writes == [
        Write("flow_data", "shared", 1, 5), Write("flow_data", "seen", ABSENT, ["a"]),
        Write("flow_data", "shared", 5, ABSENT), Write("state", "own", ABSENT, 1),
    ]
    assert ex.state_at(0) == {"own": 1}  # flow_data is not state


def test_history_off_and_bad_arguments_are_typed_errors():
    flow = chain_flow()
    ex = flow.create_execution(auto_close=False, history=False)
    ex.start(1)
    message = (f"history(): execution {ex.id} keeps no history (it was created with history=False, or by "
               f"flow.start(), which returns no handle); create it with flow.create_execution() to record one")
    with pytest.raises(HistoryError) as caught:
        ex.history()
    assert str(caught.value) == message
    with pytest.raises(HistoryError, match=r"^state_at\(\): execution \w+ keeps no history"):
        ex.state_at(0)
    assert "history" not in ex.save()
    with pytest.raises(InvalidArgumentError, match=r"^history must be True or False, got 'yes'$"):
        flow.create_execution(history="yes")
    with pytest.raises(InvalidArgumentError, match=r"^history_limit must be a positive int, got 0$"):
        flow.create_execution(history_limit=0)
    with pytest.raises(InvalidArgumentError, match=r"^history must be True or False, got 1$"):
        flow.create_execution(auto_close=False).save(history=1)

    recorded = flow.create_execution(auto_close=False)
    with pytest.raises(HistoryError) as caught:
        recorded.state_at(0)
    assert str(caught.value) == f"state_at(): execution {recorded.id} has no step 0 (no step has run yet)"
    recorded.start(1)
    for bad, text in [(2, f"state_at(): execution {recorded.id} has no step 2 (its steps are 0 to 1)"),
                      (-1, f"state_at(): execution {recorded.id} has no step -1 (its steps are 0 to 1)"),
                      (True, "state_at() takes a step's seq (an int), got True"),
                      ("0", "state_at() takes a step's seq (an int), got '0'")]:
        with pytest.raises(HistoryError) as caught:
            recorded.state_at(bad)
        assert str(caught.value) == text
    assert issubclass(HistoryError, tf.TriggerFlowError) and issubclass(HistoryError, LookupError)


def test_state_at_of_the_running_step_itself_is_refused():
    flow = TriggerFlow(name="history-inside")
    seen = []

    @flow.chunk
    def looks(data):
        with pytest.raises(HistoryError) as caught:
            data.execution.state_at(0)
        seen.append(str(caught.value))
        seen.append([(s.chunk, s.status) for s in data.execution.history()])

    flow.to(looks)
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert seen == [f"state_at(): step 0 ('looks') of execution {ex.id} has not finished yet",
                    [("looks", "running")]]


def test_flow_start_keeps_no_history_and_costs_nothing_for_it():
    flow = chain_flow()
    ex = flow.create_execution(auto_close=False)
    assert ex._history is not None
    assert flow.start(1)["x"] == 20


def test_the_limit_keeps_the_last_steps_and_warns_once():
    flow = TriggerFlow(name="history-limit")

    @flow.chunk
    def count(data):
        data.set_state("n", data.input)

    flow.for_each().to(count).end_for_each()
    ex = flow.create_execution(auto_close=False, history_limit=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ex.start(list(range(12)))
    assert [str(w.message) for w in caught if w.category is HistoryLimitWarning] == [
        f"execution {ex.id} ran more than 4 steps: its history keeps the last 4 and drops older ones (create the "
        f"execution with a larger history_limit= to keep more, or history=False to record none)"]
    assert [s.seq for s in ex.history()] == [8, 9, 10, 11]
    assert ex.state_at(8) == {"n": 8}
    with pytest.raises(HistoryError) as dropped:
        ex.state_at(7)
    assert str(dropped.value) == (f"state_at(): step 7 of execution {ex.id} was dropped (the history keeps the last "
                                  f"4 steps; create the execution with a larger history_limit=)")
    saved = ex.save()["history"]
    assert (saved["first_seq"], saved["dropped"], len(saved["steps"])) == (8, 8, 4)
    loaded = flow.create_execution(auto_close=False, history_limit=4).load(ex.save())
    assert loaded.history() == ex.history() and loaded.state_at(9) == {"n": 9}


def test_save_and_load_carry_the_history_and_save_can_leave_it_out():
    flow = chain_flow()
    ex = flow.create_execution(auto_close=False)
    ex.set_state("gone", True)
    ex.start(1)
    loaded = flow.create_execution(auto_close=False).load(ex.save())
    assert loaded.history() == ex.history()
    assert [loaded.state_at(0), loaded.state_at(1)] == [ex.state_at(0), ex.state_at(1)]
    bare = flow.create_execution(auto_close=False).load(ex.save(history=False))
    assert bare.history() == []


def test_a_notebook_shows_the_history_as_a_table():
    with tf.reproducible(seed=3):
        ex = chain_flow().create_execution(auto_close=False)
        ex.start(1)
        steps = ex.history()
        assert steps[0].started_at is None and steps[0].duration is None
        html = steps._repr_html_()
    assert html == (
        "<table class='tfnb-history'><thead><tr><th>seq</th><th>chunk</th><th>status</th><th>input</th>"
        "<th>result</th><th>writes</th><th>emits</th></tr></thead><tbody>"
        "<tr><td>0</td><td>first</td><td>completed</td><td>1</td><td>2</td>"
        "<td>state &#x27;x&#x27;: ABSENT → 1<br>state &#x27;log&#x27;: ABSENT → [&#x27;first&#x27;]</td><td></td></tr>"
        "<tr><td>1</td><td>second</td><td>completed</td><td>2</td><td>{&#x27;total&#x27;: 20}</td>"
        "<td>state &#x27;x&#x27;: 1 → 20<br>state &#x27;log&#x27;: [&#x27;first&#x27;] → [&#x27;first&#x27;, "
        "&#x27;second&#x27;]<br>state &#x27;gone&#x27;: ABSENT → ABSENT</td><td>noticed: {&#x27;n&#x27;: 2}</td></tr>"
        "</tbody></table><p>2 step(s)</p>")
    assert repr(steps[0]) == ("StepRecord(seq=0, chunk='first', status='completed', input=1, result=2, writes=2, "
                              "emits=0)")


# -- concurrency: state_at against what each step saw as it ended -------------------------------------------


def writing_items_flow(name: str, concurrency: int | None, then: Any = None) -> TriggerFlow:
    """A for_each whose items (pause, op, key) sleep, then set, append to, delete or emit about a key,
    sleep again and return the whole state as they see it right then: nothing runs between that read
    and the step's end, so each step's result is the state at its end."""
    flow = TriggerFlow(name=name)

    @flow.chunk
    async def item(data):
        pause, op, key = data.input
        await asyncio.sleep(pause)
        if op == "set":
            await data.async_set_state(key, pause)
        elif op == "append":
            await data.async_append_state(key, pause)
        elif op == "del":
            await data.async_del_state(key)
        else:
            data.emit_nowait("noted", key)
        await asyncio.sleep(pause / 2)
        return data.get_state()

    after = flow.for_each(concurrency=concurrency).to(item).end_for_each()
    if then is not None:
        after.to(then)
    return flow


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(st.tuples(st.sampled_from([0.0, 0.001, 0.002]), st.sampled_from(["set", "append", "del"]),
                               st.sampled_from(["a", "b"])), min_size=1, max_size=8),
       concurrency=st.sampled_from([None, 2]))
def test_state_at_each_step_of_a_concurrent_fan_out_is_what_that_step_saw_as_it_ended(plan, concurrency):
    """Each item sleeps, writes, sleeps again and returns the whole state as it sees it right then:
    nothing runs between that read and the step's end, so it is the state at the step's end."""
    def after(data):
        data.set_state("done", len(data.input))
        return data.get_state()

    flow = writing_items_flow("history-concurrent", concurrency, then=after)
    ex = flow.create_execution(auto_close=False)
    ex.set_state("a", "start")
    ex.start([list(step) for step in plan])
    steps = ex.history()
    assert sorted(s.chunk for s in steps) == ["after"] + ["item"] * len(plan)
    assert [s.seq for s in steps] == list(range(len(plan) + 1))
    for step in steps:
        assert ex.state_at(step.seq) == step.result, step
    loaded = flow.create_execution(auto_close=False).load(ex.save())
    for step in steps:
        assert loaded.state_at(step.seq) == step.result


# -- one chunk alone ------------------------------------------------------------------------------------------

def lone_flow() -> TriggerFlow:
    flow = TriggerFlow(name="history-lone")
    flow.set_flow_data("shared", "flow's own", no_warning=True)

    @flow.chunk
    def a(data):
        raise AssertionError("a must not run")

    @flow.chunk
    async def b(data):
        client = data.require_resource("client")
        await data.async_set_state("x", data.get_state("x") + data.input)
        data.set_flow_data("shared", client.tag, no_warning=True)
        await data.async_emit("told", data.input)
        data.emit_nowait("noticed", 1)
        return {"seen": data.input, "client": client}

    @flow.chunk
    def after_b(data):
        raise AssertionError("nothing after b may run")

    @flow.chunk
    def on_told(data):
        raise AssertionError("b's emits trigger nothing")

    @flow.chunk
    def on_x(data):
        raise AssertionError("b's state writes trigger nothing")

    flow.to(a).to(b).to(after_b)
    flow.when({"event": "told"}).to(on_told)
    flow.when({"state": "x"}).to(on_x)
    flow.when({"chunk": "b"}).to(on_told)
    return flow


class Client:
    tag = "client-1"


def test_run_chunk_runs_one_chunk_alone_and_records_what_it_did():
    flow = lone_flow()
    client = Client()
    run = flow.run_chunk("b", 3, state={"x": 1}, flow_data={"shared": 0}, resources={"client": client})
    assert (run.chunk, run.status) == ("b", "completed")
    assert run.result == {"seen": 3, "client": client} and run.result["client"] is client  # the value itself
    assert run.state == {"x": 4}
    assert run.writes == [Write("state", "x", 1, 4), Write("flow_data", "shared", 0, "client-1")]
    assert run.emits == [Emit("told", 3), Emit("noticed", 1)]
    assert run.step.result == NotRecorded("builtins.dict")  # the record holds JSON only; result is the object
    assert run.execution.is_closed()
    assert flow.peek_flow_data()["shared"] == "flow's own"  # the flow's shared flow_data is never touched


def test_run_chunk_refuses_what_it_cannot_run_and_raises_what_the_chunk_raises():
    flow = lone_flow()
    with pytest.raises(InvalidArgumentError) as caught:
        flow.run_chunk("nope")
    assert str(caught.value) == ("run_chunk('nope'): flow 'history-lone' has no such chunk (its chunks: a, after_b, "
                                 "b, on_told, on_x)")
    with pytest.raises(InvalidArgumentError, match=r"^run_chunk\(state=\.\.\.\) must be a dict or None, got list$"):
        flow.run_chunk("b", 1, state=[1])
    with pytest.raises(InvalidArgumentError, match=r"^run_chunk\(resources=\.\.\.\) must be a dict or None, got str$"):
        flow.run_chunk("b", 1, resources="client")
    with pytest.raises(ChunkError, match=r"^chunk 'a' raised AssertionError: a must not run$"):
        flow.run_chunk("a", 1)
    with pytest.raises(tf.MissingResourceError):
        flow.run_chunk("b", 1, state={"x": 0})


def test_run_chunk_of_a_chunk_that_pauses_leaves_its_execution_open_to_resume():
    flow = TriggerFlow(name="history-lone-pause")

    @flow.chunk
    def ask(data):
        if data.is_resume:
            return f"got {data.resume.value}"
        data.pause_for(type="question", payload="which?", resume_to="self")

    flow.to(ask)
    run = asyncio.run(flow.async_run_chunk("ask", "q"))
    assert (run.status, run.result) == ("paused", None)
    [interrupt] = run.execution.get_pending_interrupts()
    run.execution.continue_with(interrupt, "this")
    assert [(s.status, s.result) for s in run.execution.history()] == [("paused", None), ("completed", "got this")]


# -- the timeline -----------------------------------------------------------------------------------------------

def fan_flow() -> TriggerFlow:
    flow = TriggerFlow(name="history-timeline")

    @flow.chunk
    def items(data):
        return [3, 1, 2]

    @flow.chunk
    async def work(data):
        await asyncio.sleep(0.005 * data.input)
        if data.input == 2:
            raise ValueError("two")
        return data.input

    @flow.chunk
    def total(data):
        return sum(data.input)

    flow.to(items).for_each().to(work).end_for_each().to(total)
    return flow


def test_a_timeline_puts_runs_going_on_at_once_in_lanes_and_draws_the_same_in_reproducible_mode():
    with tf.reproducible(seed=5):
        ex = fan_flow().create_execution(auto_close=False)
        with pytest.raises(ChunkError):
            ex.start(None)
        timeline = ex.timeline()
    # Steps clock: step 0 runs [0, 1]; the items (inputs 3, 1, 2) begin at 1, 2, 3; input 1 ends first,
    # input 2 fails next, when all three had begun, and its failure cancels input 3's run.
    assert repr(timeline) == ("Timeline: 4 step(s) in 3 lane(s)\n"
                              "  lane 1: 0 items (completed), 1 work (cancelled)\n"
                              "  lane 2: 2 work (completed)\n"
                              "  lane 3: 3 work (failed)")
    assert [(bar.seq, bar.start, bar.end) for bar in timeline.bars] == [(0, 0.0, 1.0), (1, 1.0, 4.0), (2, 2.0, 4.0),
                                                                        (3, 3.0, 4.0)]
    svg = timeline.to_svg()
    assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg' width='720' height='100'")
    assert "<title>step 3: work failed (ValueError: two)</title>" in svg
    assert svg.count("fill='#f4a6a6'") == 1 and svg.count("fill='#d9d9d9'") == 1  # failed red, cancelled grey
    assert "times hidden in reproducible mode" in svg and " ms " not in svg
    assert timeline._repr_html_() == f"<div class='tfnb-timeline'>{svg}</div>"


def test_a_timeline_in_seconds_follows_the_clock():
    ex = fan_flow().create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(None)
    timeline = ex.timeline()
    steps = ex.history()
    assert [(bar.seq, round(bar.start, 6)) for bar in timeline.bars] == [(s.seq, s.started_at) for s in steps]
    assert all(bar.end >= bar.start for bar in timeline.bars)
    assert len(timeline.lanes) == 3 and " ms from the first step&#x27;s start to the last one&#x27;s end" in timeline.to_svg()


def test_an_empty_timeline_and_one_without_history():
    flow = fan_flow()
    assert flow.create_execution().timeline().to_svg().endswith(">no step has run yet</text></svg>")
    with pytest.raises(HistoryError, match=r"^timeline\(\): execution \w+ keeps no history"):
        flow.create_execution(history=False).timeline()


# -- the limit, against an unlimited run of the same work -----------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(min_value=1, max_value=6),
       plan=st.lists(st.tuples(st.sampled_from([0.0, 0.001, 0.003]), st.sampled_from(["set", "append", "del", "emit"]),
                               st.sampled_from(["a", "b"])), min_size=1, max_size=14),
       concurrency=st.sampled_from([None, 1, 3]))
def test_a_limited_history_keeps_exactly_the_last_steps_of_the_unlimited_one(limit, plan, concurrency):
    """The same work run twice, with history_limit=limit and without: the limited run keeps the same
    last steps, state_at() of each is exactly what that step saw as it ended, through a save and load
    too, and older ones are refused as dropped."""
    def run(history_limit):
        flow = writing_items_flow("history-limited", concurrency)
        ex = flow.create_execution(auto_close=False, history_limit=history_limit)
        ex.set_state("a", "start")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HistoryLimitWarning)
            ex.start([list(step) for step in plan])
        return ex

    whole, limited = run(10_000), run(limit)
    every = whole.history()
    kept = limited.history()
    assert [s.seq for s in kept] == [s.seq for s in every][-limit:]
    for step, same in zip(kept, every[-limit:], strict=True):
        assert (step.chunk, step.status) == (same.chunk, same.status)
        assert limited.state_at(step.seq) == step.result  # each item's result is the state as it ended
    for seq in range(0, len(every) - limit):
        with pytest.raises(HistoryError, match=rf"^state_at\(\): step {seq} of execution \w+ was dropped"):
            limited.state_at(seq)
    loaded = TriggerFlow(name="history-limited")

    @loaded.chunk
    async def item(data):  # the same chunk name: the loaded run only reads its history back
        return None

    loaded.for_each(concurrency=concurrency).to(item).end_for_each()
    back = loaded.create_execution(auto_close=False, history_limit=limit).load(limited.save())
    assert back.history() == kept
    for step in kept:
        assert back.state_at(step.seq) == step.result
