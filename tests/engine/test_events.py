import asyncio

import pytest

from triggerflow_nb import TriggerFlow


def test_every_emit_is_a_business_event():
    flow = TriggerFlow()

    async def start(data):
        for i in range(3):
            await data.async_emit("Item", i)

    flow.to(start)
    flow.when("Item").to(lambda d: d.append_state("items", d.input))
    assert flow.start() == {"items": [0, 1, 2]}


def test_async_emit_waits_for_triggered_handlers_emit_nowait_does_not():
    flow = TriggerFlow()

    async def handler(data):
        await asyncio.sleep(0.02)
        data.append_state("log", f"handled {data.input}")

    async def start(data):
        await data.async_emit("E", "waited")
        data.append_state("log", "after async_emit")
        data.emit_nowait("E", "not waited")
        data.append_state("log", "after emit_nowait")

    flow.to(start)
    flow.when("E").to(handler)
    assert flow.start() == {"log": ["handled waited", "after async_emit", "after emit_nowait", "handled not waited"]}


def test_sync_emit_from_sync_chunk_is_scheduled_and_drained_before_close():
    flow = TriggerFlow()
    flow.to(lambda d: d.emit("E", d.input))
    flow.when("E").to(lambda d: d.set_state("got", d.input))
    assert flow.start(5) == {"got": 5}


def test_and_join_waits_for_all_events_then_resets():
    flow = TriggerFlow()

    async def start(data):
        await data.async_emit("A", 1)
        await data.async_emit("A", 2)  # latest payload before completion wins
        await data.async_emit("B", 3)
        await data.async_emit("B", 4)  # starts a new round that never completes

    flow.to(start)
    flow.when(["A", "B"], mode="and").to(lambda d: d.append_state("joined", d.input))
    assert flow.start() == {"joined": [{"event": {"A": 2, "B": 3}}]}


def test_or_and_simple_or_modes():
    flow = TriggerFlow()

    async def start(data):
        await data.async_emit("A", 1)
        await data.async_emit("B", 2)

    flow.to(start)
    flow.when(["A", "B"], mode="or").to(lambda d: d.append_state("or", d.input))
    flow.when(["A", "B"], mode="simple_or").to(lambda d: d.append_state("simple", d.input))
    assert flow.start() == {"or": [["event", "A", 1], ["event", "B", 2]], "simple": [1, 2]}


def test_when_chunk_finishes():
    flow = TriggerFlow()

    def produce(data):
        return data.input * 2

    flow.to(produce)
    flow.when(produce).to(lambda d: d.set_state("after_produce", d.input))
    assert flow.start(4) == {"after_produce": 8}


def test_external_emit_while_open():
    flow = TriggerFlow()
    flow.to(lambda d: None)
    flow.when("Ext").to(lambda d: d.append_state("ext", d.input))
    ex = flow.create_execution(auto_close=False)
    ex.start()
    ex.emit("Ext", 1)
    ex.emit_nowait("Ext", 2)
    assert ex.close() == {"ext": [1, 2]}


def test_joins_are_per_execution():
    flow = TriggerFlow()
    flow.to(lambda d: None)
    flow.when(["A", "B"]).to(lambda d: d.set_state("joined", d.input))

    async def main():
        one = await flow.async_start_execution()
        two = await flow.async_start_execution()
        await one.async_emit("A", 1)
        await two.async_emit("B", 2)  # must not complete one's join
        return await one.async_close(), await two.async_close()

    assert asyncio.run(main()) == ({}, {})


@pytest.mark.parametrize("bad", [None, "", 3])
def test_bad_event_names(bad):
    flow = TriggerFlow()
    flow.to(lambda d: None)
    ex = flow.create_execution(auto_close=False)
    ex.start()
    with pytest.raises(TypeError, match=f"an event name must be a non-empty string, got {bad!r}"):
        ex.emit(bad, 1)


def test_bad_when_arguments():
    flow = TriggerFlow()
    with pytest.raises(ValueError, match=r"when\(mode=...\) must be one of \('and', 'or', 'simple_or'\), got 'xor'"):
        flow.when(["A", "B"], mode="xor")
    with pytest.raises(ValueError, match=r"when\(\[...\]\) needs at least one event name"):
        flow.when([])
    with pytest.raises(TypeError, match="an event name must be a non-empty string, got 5"):
        flow.when(5)
