"""``flow.get_runtime_stream(value)`` / ``get_async_runtime_stream``: start an execution and read its
stream in one call; and ``data.inputs``, the alias of ``data.input`` (issue 32, item 6)."""

import asyncio

import pytest

from triggerflow_nb import (
    ChunkError,
    InvalidArgumentError,
    LifecycleError,
    PauseNotSupportedError,
    TriggerFlow,
)
from triggerflow_nb.observe import ExecutionClosed


def producing_flow(name="producer", count=3):
    flow = TriggerFlow(name=name)

    async def produce(data):
        for i in range(count):
            await data.async_put_into_stream({"i": i, "of": data.input})
            await asyncio.sleep(0)
        data.put_into_stream("last")

    flow.to(produce, name="produce")
    return flow


def closes_of(flow):
    closed = []
    flow.channel.subscribe(lambda e: closed.append((e.status, e.reason)) if isinstance(e, ExecutionClosed) else None)
    return closed


def test_the_sync_form_yields_every_item_in_order_and_ends_at_the_close():
    flow = producing_flow()
    closed = closes_of(flow)
    assert list(flow.get_runtime_stream("go")) == [{"i": 0, "of": "go"}, {"i": 1, "of": "go"},
                                                   {"i": 2, "of": "go"}, "last"]
    assert closed == [("completed", "auto-close after 0s idle")]
    assert list(flow.get_runtime_stream("again", timeout=None))[-1] == "last"  # a new execution each call


def test_the_async_form_reads_two_runs_side_by_side():
    flow = producing_flow("side-by-side", count=2)

    async def collect(value):
        return [item async for item in flow.get_async_runtime_stream(value)]

    async def main():
        return await asyncio.gather(collect("a"), collect("b"))

    assert asyncio.run(main()) == [
        [{"i": 0, "of": "a"}, {"i": 1, "of": "a"}, "last"],
        [{"i": 0, "of": "b"}, {"i": 1, "of": "b"}, "last"],
    ]


def test_items_of_event_branches_and_sub_flows_are_read_before_the_end():
    child = TriggerFlow(name="child")
    child.to(lambda d: d.put_into_stream(("child", d.input)), name="child_puts")
    flow = TriggerFlow(name="branches")

    def begin(data):
        data.emit("Later", data.input + 1)  # scheduled: the execution closes only once it has run
        return data.input

    flow.to(begin, name="begin").to(child)
    flow.when("Later").to(lambda d: d.put_into_stream(("later", d.input)), name="later")
    assert sorted(flow.get_runtime_stream(1), key=str) == [("child", 1), ("later", 2)]


def test_a_chunk_error_reaches_the_reader_after_the_items_before_it():
    flow = TriggerFlow(name="fails")

    def boom(data):
        data.put_into_stream("before")
        raise ValueError("no good")

    flow.to(boom, name="boom")
    got = []
    with pytest.raises(ChunkError) as info:
        for item in flow.get_runtime_stream(1):
            got.append(item)
    assert got == ["before"]
    assert str(info.value) == "chunk 'boom' raised ValueError: no good"

    async def read_async():
        return [item async for item in flow.get_async_runtime_stream(1)]

    with pytest.raises(ChunkError, match=r"^chunk 'boom' raised ValueError: no good$"):
        asyncio.run(read_async())


def test_a_pause_fails_fast_as_in_flow_start():
    flow = TriggerFlow(name="pauses")

    async def ask(data):
        data.put_into_stream("asking")
        await data.async_pause_for(type="approval")

    flow.to(ask, name="ask")
    got = []
    with pytest.raises(PauseNotSupportedError, match=r"^chunk 'ask' paused for 'approval', but flow.start\(\) "):
        for item in flow.get_runtime_stream(None):
            got.append(item)
    assert got == ["asking"]


def test_waiting_longer_than_timeout_cancels_the_run_and_says_so():
    flow = TriggerFlow(name="slow")
    cleaned = []

    async def slow(data):
        data.put_into_stream("first")
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.append("finally ran")

    flow.to(slow, name="slow")
    closed = closes_of(flow)
    got = []
    with pytest.raises(LifecycleError) as info:
        for item in flow.get_runtime_stream(None, timeout=0.1):
            got.append(item)
    assert got == ["first"]
    message = str(info.value)
    assert message.startswith("no runtime stream item came for 0.1s from execution ")
    assert message.endswith(" of flow 'slow': it was closed and its running work cancelled; pass a larger "
                            "timeout= (None waits as long as it takes)")
    assert cleaned == ["finally ran"]
    assert closed == [("cancelled", "interrupted (CancelledError in chunk 'slow')")]


def test_a_reader_that_stops_early_cancels_the_run_without_an_error():
    flow = TriggerFlow(name="endless")
    cleaned = []

    async def endless(data):
        try:
            i = 0
            while True:
                data.put_into_stream(i)
                i += 1
                await asyncio.sleep(0.001)
        finally:
            cleaned.append("finally ran")

    flow.to(endless, name="endless")
    closed = closes_of(flow)
    for item in flow.get_runtime_stream(None):
        if item == 2:
            break
    assert cleaned == ["finally ran"]
    assert closed == [("cancelled", "interrupted (CancelledError in chunk 'endless')")]

    async def read_two():
        stream = flow.get_async_runtime_stream(None)
        taken = [item async for item in _take(stream, 2)]
        await stream.aclose()
        return taken

    assert asyncio.run(read_two()) == [0, 1]
    assert cleaned == ["finally ran", "finally ran"]


async def _take(stream, count):
    async for item in stream:
        yield item
        count -= 1
        if count == 0:
            return


def test_a_break_after_the_start_returned_closes_what_still_runs():
    flow = TriggerFlow(name="detached")
    cleaned = []

    async def background(data):
        try:
            data.put_into_stream("background")
            await asyncio.sleep(30)
        finally:
            cleaned.append("background finally")

    flow.to(lambda d: d.emit("Bg", None), name="begin")  # the start returns; "Bg" runs detached
    flow.when("Bg").to(background, name="background")
    closed = closes_of(flow)
    for item in flow.get_runtime_stream(None):
        assert item == "background"
        break
    assert cleaned == ["background finally"]
    assert [status for status, _ in closed] == ["cancelled"]


def test_resources_are_passed_by_identity_and_options_are_checked():
    flow = TriggerFlow(name="resourced")
    client = object()
    flow.to(lambda d: d.put_into_stream(d.require_resource("client") is client), name="check")
    assert list(flow.get_runtime_stream(None, runtime_resources={"client": client})) == [True]
    for bad in ("soon", -1, float("nan"), True):
        with pytest.raises(InvalidArgumentError) as info:
            flow.get_runtime_stream(None, timeout=bad)
        assert str(info.value) == f"timeout must be None or a finite number of seconds >= 0, got {bad!r}"
        with pytest.raises(InvalidArgumentError):
            flow.get_async_runtime_stream(None, timeout=bad)
    with pytest.raises(TypeError):
        flow.get_runtime_stream(None, 5)  # timeout is keyword-only


def test_data_inputs_is_data_input():
    flow = TriggerFlow(name="inputs")
    marker = {"k": [1]}

    def check(data):
        data.set_state("same", data.inputs is data.input is data.value)
        return data.inputs

    flow.to(lambda d: marker, name="give").to(check, name="check").to(
        lambda d: d.set_state("next_got", d.inputs), name="after")
    assert flow.start(None) == {"same": True, "next_got": {"k": [1]}}
