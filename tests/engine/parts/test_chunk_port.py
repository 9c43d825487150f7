"""``ChunkPort`` (runtime/chunk_port.py): what a chunk's ``data`` reaches of its execution.

State writes and the ``when({"state": key})`` branches they trigger (scheduled from sync
code, awaited from async code, handed over from a worker thread), the checks of emits, the
stream, and opening interrupts. Through real executions: the port only makes sense with a
walker behind it.
"""

import asyncio
import inspect
import threading

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.errors import ChunkError, InterruptError, InvalidArgumentError, LifecycleError
from triggerflow_nb.observe import InterruptOpened, StateChanged, StreamItem


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def port_of(execution):
    return execution._walker.port


def test_the_port_hands_out_the_executions_own_parts():
    flow = TriggerFlow(name="port")
    flow.to(lambda data: None, name="step")
    ex = flow.create_execution(auto_close=False)
    port = port_of(ex)
    assert port.execution is ex and port.execution_id == ex.id
    assert (port.state, port.resources, port.stream) == (ex._state, ex._resources, ex._lifecycle.stream)
    assert port.flow_data is flow._flow_data
    assert port.pause_fails_fast is False
    ex._lifecycle.pause_fails_fast = True
    assert port.pause_fails_fast is True


def test_every_chunk_run_reaches_the_same_port():
    flow = TriggerFlow(name="port")
    ports = []
    flow.to(lambda data: ports.append(data._port), name="a").to(lambda data: ports.append(data._port), name="b")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ports == [port_of(ex)] * 2 and ports[0] is ports[1]


# -- state writes and what they trigger ---------------------------------------------------------------


def test_a_sync_write_schedules_the_branch_it_triggers_which_gets_a_copy_and_close_waits_for_it():
    log = []
    flow = TriggerFlow(name="sync-write")

    def writer(data):
        data.set_state("k", [1])
        log.append(("writer returns", data.get_state("heard")))

    def listener(data):
        data.input.append("mine")
        log.append(("heard", data.input))
        data.set_state("heard", True, emit=False)

    flow.to(writer, name="writer")
    flow.when({"state": "k"}).to(listener, name="listener")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ex.close() == {"k": [1], "heard": True}
    assert log == [("writer returns", None), ("heard", [1, "mine"])]


def test_an_async_write_waits_for_the_branch_it_triggers():
    log = []
    flow = TriggerFlow(name="async-write")

    async def writer(data):
        await data.async_set_state("k", "v")
        log.append(("after the write", data.get_state("heard")))

    flow.to(writer, name="writer")
    flow.when({"state": "k"}).to(lambda data: data.set_state("heard", data.input, emit=False), name="listener")
    assert flow.start(None) == {"k": "v", "heard": "v"}
    assert log == [("after the write", "v")]


@pytest.mark.parametrize("op", ["set", "append", "del"])
def test_every_kind_of_write_triggers_the_branch_with_the_value_now(op):
    flow = TriggerFlow(name="ops")
    heard = []

    def writer(data):
        if op == "set":
            data.set_state("k", 2)
        elif op == "append":
            data.append_state("k", 2)
        else:
            data.set_state("k", 1, emit=False)
            data.del_state("k")

    flow.to(writer, name="writer")
    flow.when({"state": "k"}).to(lambda data: heard.append(data.input), name="listener")
    flow.start(None)
    assert heard == [{"set": 2, "append": [2], "del": None}[op]]


def test_a_write_with_emit_false_triggers_nothing():
    flow = TriggerFlow(name="quiet")
    heard = []

    async def writer(data):
        data.set_state("a", 1, emit=False)
        await data.async_set_state("b", 2, emit=False)

    flow.to(writer, name="writer")
    flow.when({"state": "a"}).to(lambda data: heard.append("a"), name="on_a")
    flow.when({"state": "b"}).to(lambda data: heard.append("b"), name="on_b")
    assert flow.start(None) == {"a": 1, "b": 2}
    assert heard == []


def test_write_and_trigger_returns_the_unstarted_dispatch_only_for_a_key_someone_listens_to():
    flow = TriggerFlow(name="direct")
    flow.to(lambda data: None, name="step")
    flow.when({"state": "watched"}).to(lambda data: None, name="listener")
    ex = flow.create_execution(auto_close=False)
    port = port_of(ex)
    assert port.write_and_trigger("set", "unwatched", 1, True, "from outside a chunk", (), False) is None
    assert port.write_and_trigger("set", "watched", 2, False, "from outside a chunk", (), False) is None
    triggered = port.write_and_trigger("set", "watched", 3, True, "from outside a chunk", (), True)
    try:
        assert inspect.getcoroutinestate(triggered) == inspect.CORO_CREATED
        assert triggered.cr_code.co_name == "detached_dispatch"
    finally:
        triggered.close()
    awaited = port.write_and_trigger("set", "watched", 4, True, "from outside a chunk", (), False)
    try:
        assert awaited.cr_code.co_name == "dispatch_event"
    finally:
        awaited.close()
    assert ex.get_state() == {"unwatched": 1, "watched": 4}


def test_a_refused_write_triggers_nothing():
    flow = TriggerFlow(name="refused")
    heard = []

    def writer(data):
        try:
            data.set_state("k", {1, 2})
        except TypeError as exc:
            data.set_state("refused", type(exc).__name__, emit=False)

    flow.to(writer, name="writer")
    flow.when({"state": "k"}).to(lambda data: heard.append(data.input), name="listener")
    assert flow.start(None) == {"refused": "StateSerializationError"}
    assert heard == []


def test_a_write_from_a_worker_thread_hands_the_branch_it_triggers_to_the_loop():
    flow = TriggerFlow(name="thread-write")
    threads = {}

    async def writer(data):
        threads["loop"] = threading.get_ident()

        def in_thread():
            threads["writer"] = threading.get_ident()
            data.set_state("k", "from a thread")

        await asyncio.to_thread(in_thread)

    def listener(data):
        threads["listener"] = threading.get_ident()
        data.set_state("heard", data.input, emit=False)

    flow.to(writer, name="writer")
    flow.when({"state": "k"}).to(listener, name="listener")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ex.close() == {"k": "from a thread", "heard": "from a thread"}
    assert threads["listener"] == threads["loop"] != threads["writer"]


def test_the_port_reads_state_as_a_copy():
    flow = TriggerFlow(name="read")
    flow.to(lambda data: data.set_state("k", {"n": [1]}), name="step")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    got = port_of(ex).get_state("k", None)
    got["n"].append(2)
    assert port_of(ex).get_state(None, None) == {"k": {"n": [1]}}
    assert port_of(ex).get_state("missing", "default") == "default"


# -- emits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [5, "", None, b"E"])
def test_an_emit_of_a_bad_event_name_is_refused_at_the_call(event):
    flow = TriggerFlow(name="emits")
    flow.to(lambda data: None, name="step")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    port = port_of(ex)
    for call in (port.emit, port.emit_nowait):
        with pytest.raises(InvalidArgumentError) as info:
            call(event, None, ())
        assert str(info.value) == f"an event name must be a non-empty string, got {event!r}"
    assert ex._lifecycle.inflight == 0


def test_a_bad_event_name_in_a_chunk_fails_it_with_the_reason():
    flow = TriggerFlow(name="emits")
    flow.to(lambda data: data.emit(""), name="step")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError) as info:
        ex.start(None)
    assert str(info.value) == "chunk 'step' raised InvalidArgumentError: an event name must be a non-empty string, got ''"


def kept_data_of_a_closed_execution():
    kept = []
    flow = TriggerFlow(name="kept")
    flow.to(lambda data: kept.append(data), name="step")
    flow.when("X").to(lambda data: None, name="on_x")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    return ex, kept[0]


def test_a_data_kept_past_the_close_cannot_emit_write_or_put():
    ex, data = kept_data_of_a_closed_execution()
    for emit in (data.emit, data.emit_nowait, data.async_emit):
        with pytest.raises(LifecycleError) as info:
            emit("X", 1)  # async_emit refuses at the call: no coroutine is left unawaited
        assert str(info.value) == f"cannot emit 'X' from a chunk of execution {ex.id}: it is closed"
    with pytest.raises(LifecycleError) as write:
        data.set_state("k", 1)
    assert str(write.value) == f"cannot write state key 'k' in chunk 'step': execution {ex.id} is closed"
    with pytest.raises(LifecycleError) as async_write:
        run(data.async_set_state("k", 1))  # refused when awaited
    assert str(async_write.value) == str(write.value)
    with pytest.raises(LifecycleError) as put:
        data.put_into_stream("late")
    assert str(put.value) == f"cannot put into the stream of execution {ex.id}: it is closed"
    assert (ex.get_state(), ex.get_stream_items(), ex._lifecycle.inflight) == ({}, [], 0)


def test_after_the_close_a_bad_event_name_is_still_reported_as_such():
    _, data = kept_data_of_a_closed_execution()
    with pytest.raises(InvalidArgumentError, match=r"^an event name must be a non-empty string, got 3$"):
        data.emit(3)


def test_a_chunks_emit_reaches_the_branch_from_sync_and_async_code():
    flow = TriggerFlow(name="emit")
    heard = []

    async def emitter(data):
        data.emit("Later", "nowait")
        await data.async_emit("Now", "awaited")
        heard.append("emitter done")

    flow.to(emitter, name="emitter")
    flow.when("Now").to(lambda data: heard.append(data.input), name="now")
    flow.when("Later").to(lambda data: heard.append(data.input), name="later")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    assert heard.index("awaited") < heard.index("emitter done")
    assert sorted(heard) == ["awaited", "emitter done", "nowait"]


# -- the stream and interrupts ---------------------------------------------------------------------------


def test_put_into_stream_from_a_chunk_is_an_item_of_the_executions_stream():
    flow = TriggerFlow(name="stream")
    flow.to(lambda data: [data.put_into_stream(n) for n in (1, 2)], name="step")
    ex = flow.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(lambda event: events.append(event) if isinstance(event, StreamItem) else None)
    ex.start(None)
    assert ex.get_stream_items() == [1, 2]
    assert events == [StreamItem(ex.id, 0, 1), StreamItem(ex.id, 1, 2)]


def test_opening_an_interrupt_announces_it_on_both_channels_and_stops_the_auto_close_timer():
    flow = TriggerFlow(name="pauses")
    flow.to(lambda data: None, name="step")

    async def main():
        ex = flow.create_execution(auto_close=True, auto_close_timeout=30.0)
        await ex.run(None, until="settled")
        timer_before = ex.auto_close_in()
        events, flow_events = [], []
        ex.channel.subscribe(events.append, state_changes=False)
        unsubscribe = flow.channel.subscribe(flow_events.append)
        node = flow.flow_graph.nodes["step"]
        interrupt = port_of(ex).open_interrupt(node, "input", (), "approval", {"ask": 1}, "next", "i1")
        seen = (timer_before is not None, ex.auto_close_in(), ex._lifecycle.idle_timer, ex.status,
                list(events), list(flow_events), interrupt.public()["chunk"])
        unsubscribe()
        await ex.async_close(pending_interrupts="cancel")
        return ex, seen

    ex, seen = run(main())
    assert seen == (True, None, None, "waiting", [InterruptOpened(ex.id, "i1", "step")],
                    [InterruptOpened(ex.id, "i1", "step")], "step")


def test_a_second_pause_with_the_same_interrupt_id_fails_the_run_with_the_reason():
    flow = TriggerFlow(name="same-id")
    flow.to(lambda data: data.pause_for(interrupt_id="same"), name="first")
    flow.when("Again").to(lambda data: data.pause_for(interrupt_id="same"), name="second")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(InterruptError) as info:
        ex.emit("Again")
    assert str(info.value) == (f"interrupt id 'same' is already used in execution {ex.id}; pick another or let "
                               f"pause_for() generate one")
    assert (ex.status, ex.node_status()) == ("failed", {"first": "waiting", "second": "failed"})


def test_state_changed_events_of_a_chunks_write_name_the_operation():
    flow = TriggerFlow(name="events")

    def step(data):
        data.set_state("a", 1)
        data.append_state("b", 1)
        data.del_state("a")

    flow.to(step, name="step")
    ex = flow.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(lambda event: events.append(event) if isinstance(event, StateChanged) else None)
    ex.start(None)
    assert events == [StateChanged(ex.id, "a", "set"), StateChanged(ex.id, "b", "append"),
                      StateChanged(ex.id, "a", "del")]
