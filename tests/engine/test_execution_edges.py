"""The execution's public calls at their edges: argument checks, lifecycle refusals, the
stream reading API, what the observation channel says, and the small accessors.

Each case pins behaviour that a mutation run (scripts/mutate.py) showed no test held.
"""

import asyncio

import pytest

from triggerflow_nb import ChunkError, InvalidArgumentError, LifecycleError, TriggerFlow
from triggerflow_nb.observe import (
    ChunkFinished,
    ChunkStarted,
    InterruptOpened,
    InterruptResumed,
    ResourcesChanged,
    StateRejected,
)


def two_step_flow():
    flow = TriggerFlow(name="edges")

    async def ask(data):
        if data.input == "ask":
            await data.async_pause_for(type="ok", interrupt_id="ok")
        data.put_into_stream(f"saw {data.input}")
        return data.input

    flow.to(ask).to(lambda data: data.set_state("last", data.input), name="record")
    flow.when("Ping").to(lambda data: data.set_state("ping", data.input), name="on_ping")
    return flow


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_auto_close_must_be_a_bool(value):
    with pytest.raises(InvalidArgumentError) as info:
        two_step_flow().create_execution(auto_close=value)
    assert str(info.value) == f"auto_close must be True or False, got {value!r}"


def test_auto_close_takes_both_bools_and_any_finite_non_negative_timeout():
    flow = two_step_flow()
    assert flow.create_execution(auto_close=True).auto_close is True
    assert flow.create_execution(auto_close=False).auto_close is False
    for timeout in (0.0, 0.5, 2, None):
        assert flow.create_execution(auto_close_timeout=timeout).auto_close_timeout == timeout


def test_lifecycle_accessors_in_every_state():
    ex = two_step_flow().create_execution(auto_close=False)
    assert (ex.get_lifecycle_state(), ex.get_status(), ex.is_open(), ex.is_sealed(), ex.is_closed()) == \
        ("open", "created", True, False, False)
    ex.start("go")
    ex.seal()
    assert (ex.get_lifecycle_state(), ex.get_status(), ex.is_sealed(), ex.is_closed()) == ("sealed", "idle", True, False)
    ex.close()
    assert (ex.get_lifecycle_state(), ex.get_status(), ex.is_sealed(), ex.is_closed()) == \
        ("closed", "completed", False, True)


def test_status_is_running_while_a_chunk_runs():
    seen = []
    flow = TriggerFlow(name="running")
    flow.to(lambda data: seen.append(data.execution.status), name="look")
    flow.start(None)
    assert seen == ["running"]


def test_start_refuses_an_unknown_until_and_a_closed_execution():
    ex = two_step_flow().create_execution(auto_close=False)

    async def bad_until():
        await ex.run("x", until="finished")
    with pytest.raises(InvalidArgumentError, match=r"^until must be one of \('closed', 'settled'\), got 'finished'$"):
        asyncio.run(bad_until())
    closed = two_step_flow().create_execution(auto_close=False)
    closed.close()
    with pytest.raises(LifecycleError) as info:
        closed.start("x")
    assert str(info.value) == (f"cannot start: execution {closed.id} of flow 'edges' is closed; create a new "
                               f"execution with flow.create_execution()")


def test_emit_checks_its_event_and_the_lifecycle():
    ex = two_step_flow().create_execution(auto_close=False)
    ex.start("go")
    for bad in ("", None, 3):
        with pytest.raises(InvalidArgumentError) as info:
            ex.emit_nowait(bad, 1)
        assert str(info.value) == f"an event name must be a non-empty string, got {bad!r}"
    ex.seal()
    with pytest.raises(LifecycleError, match=r"^cannot emit 'Ping': execution \w+ of flow 'edges' is sealed \(a "
                                             r"sealed execution only drains"):
        ex.emit_nowait("Ping", 1)
    ex.close()


def test_emit_from_inside_a_chunk_checks_the_event_name():
    for method in ("emit", "emit_nowait"):
        flow = TriggerFlow(name=f"inner-{method}")

        async def step(data, method=method):
            call = getattr(data, "async_emit" if method == "emit" else "emit_nowait")
            result = call("", 1)
            if asyncio.iscoroutine(result):
                await result

        flow.to(step)
        with pytest.raises(ChunkError) as info:
            flow.start(None)
        assert str(info.value) == "chunk 'step' raised InvalidArgumentError: an event name must be a non-empty " \
                                  "string, got ''"


def test_stream_length_and_the_last_items():
    flow = TriggerFlow(name="streamy")
    flow.to(lambda data: [data.put_into_stream(i) for i in range(5)], name="fill")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ex.stream_length == 5
    assert ex.get_stream_items() == [0, 1, 2, 3, 4]
    assert ex.get_stream_items(last=2) == [3, 4]
    assert ex.get_stream_items(last=9) == [0, 1, 2, 3, 4]
    ex.put_into_stream("outside")
    asyncio.run(ex.async_put_into_stream("async outside"))
    assert ex.get_stream_items(last=2) == ["outside", "async outside"]
    ex.close()


def test_a_stream_reader_left_early_does_not_hold_the_execution():
    ex = two_step_flow().create_execution(auto_close=False)
    ex.start("go")
    reader = ex.get_runtime_stream(timeout=5)
    assert next(reader) == "saw go"
    reader.close()  # the async generator under it is closed too
    ex.close()
    assert ex.is_closed()


def test_the_channel_reports_interrupts_rejected_writes_and_resource_changes():
    flow = two_step_flow()
    ex = flow.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    ex.start("ask")
    ex.inject_resources(client=object())
    ex.continue_with("ok", None)
    with pytest.raises(Exception):
        ex.set_state("bad", object())
    kinds = [type(e) for e in events]
    assert InterruptOpened(ex.id, "ok", "ask") in events
    assert InterruptResumed(ex.id, "ok") in events
    assert kinds.count(ResourcesChanged) == 1
    rejected = [e for e in events if isinstance(e, StateRejected)]
    assert [(e.key, e.message.startswith("state key 'bad': value is a builtins.object")) for e in rejected] == \
        [("bad", True)]
    ex.close()


def test_a_sub_flow_step_is_reported_like_a_chunk():
    child = TriggerFlow(name="child")
    child.to(lambda data: data.set_state("x", 1), name="inner")
    parent = TriggerFlow(name="parent")
    parent.to_sub_flow(child, name="sub")
    ex = parent.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    ex.start(None)
    ex.close()
    steps = [(type(e).__name__, e.node_id) for e in events if isinstance(e, (ChunkStarted, ChunkFinished))]
    assert steps == [("ChunkStarted", "sub"), ("ChunkFinished", "sub")]


def test_interrupt_ids_must_be_non_empty_strings():
    flow = TriggerFlow(name="bad-id")

    async def ask(data):
        await data.async_pause_for(type="ok", interrupt_id="")

    flow.to(ask)
    with pytest.raises(ChunkError) as info:
        flow.create_execution(auto_close=False).start(None)
    assert str(info.value) == "chunk 'ask' raised InvalidArgumentError: interrupt_id must be a non-empty string, got ''"


def test_continue_with_on_a_sealed_execution_is_refused():
    ex = two_step_flow().create_execution(auto_close=False)
    ex.start("ask")
    ex.seal()
    with pytest.raises(LifecycleError, match=r"^cannot continue interrupt 'ok': execution \w+ of flow 'edges' is "
                                             r"sealed"):
        ex.continue_with("ok", None)
    assert list(ex.get_pending_interrupts()) == ["ok"]
    ex.close(pending_interrupts="cancel")


def test_reprs_name_the_execution_and_its_result():
    ex = two_step_flow().create_execution(auto_close=False)
    assert repr(ex) == f"<TriggerFlowExecution {ex.id[:8]} of flow 'edges': open, created>"
    ex.start("go")
    ex.close()
    assert repr(ex.result) == "<ExecutionResult completed/closed state_keys=['last']>"


def test_execution_environments_must_be_a_list():
    with pytest.raises(InvalidArgumentError) as info:
        two_step_flow().create_execution(execution_environments="db")
    assert str(info.value) == "execution_environments must be a list, got str"
