"""for_each(concurrency=None) ... end_for_each()."""

import asyncio

import pytest

from triggerflow_nb import ChunkError, TriggerFlow


def doubling_flow(sink, **options):
    flow = TriggerFlow(name="doubling")
    (
        flow.to(lambda d: d.input, name="first")
        .for_each(**options).to(lambda d: d.input * 2, name="double").end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    return flow


@pytest.mark.parametrize("value, expected", [
    ([1, 2, 3], [2, 4, 6]),
    ((1, 2, 3), [2, 4, 6]),
    (range(4), [0, 2, 4, 6]),
    ([[1], [2]], [[1, 1], [2, 2]]),  # items that are lists are not flattened further
    ([], []),
])
def test_sequences_fan_out_item_by_item(sink, value, expected):
    doubling_flow(sink).start(value)
    assert sink == [expected]


@pytest.mark.parametrize("value, expected", [
    (5, [10]),
    (2.5, [5.0]),
    ("abc", ["abcabc"]),
    (b"xy", [b"xyxy"]),
    (True, [2]),
])
def test_scalars_strings_and_bytes_are_one_item(sink, value, expected):
    doubling_flow(sink).start(value)
    assert sink == [expected]


def test_a_dict_and_none_are_one_item(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each().to(lambda d: ("item", d.input), name="tag").end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start({"k": 1, "j": 2})
    flow.start(None)
    assert sink == [[("item", {"k": 1, "j": 2})], [("item", None)]]


def test_an_empty_body_collects_the_items_unchanged(sink):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().end_for_each().to(lambda d: sink.append(d.input), name="after")
    flow.start((3, 1, 2))
    flow.start("one")
    assert sink == [[3, 1, 2], ["one"]]


def test_results_come_back_in_input_order_whatever_the_finishing_order(sink):
    finished = []

    async def slow_then_fast(d):
        # item 0 sleeps longest, the last item shortest: they finish in reverse order
        await asyncio.sleep(0.01 * (5 - d.input))
        finished.append(d.input)
        return f"item {d.input}"

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each().to(slow_then_fast).end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([0, 1, 2, 3, 4])
    assert finished == [4, 3, 2, 1, 0]
    assert sink == [["item 0", "item 1", "item 2", "item 3", "item 4"]]


def test_without_a_cap_all_items_are_in_flight_together(overlap, sink):
    async def hold(d):
        await overlap.hold(d.input, 0.02)
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(hold).end_for_each().to(
        lambda d: sink.append(d.input), name="after")
    flow.start(list(range(6)))
    assert overlap.max_active == 6
    assert overlap.log[:6] == [("enter", i) for i in range(6)]
    assert sink == [list(range(6))]


@pytest.mark.parametrize("cap", [1, 2, 3, 10])
def test_concurrency_caps_the_items_in_flight(overlap, sink, cap):
    async def hold(d):
        await overlap.hold(d.input, 0.005 * (d.input % 3 + 1))  # uneven durations
        return d.input * 10

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(concurrency=cap).to(hold).end_for_each().to(
        lambda d: sink.append(d.input), name="after")
    flow.start(list(range(7)))
    assert overlap.max_active == min(cap, 7)
    assert len(overlap.log) == 14
    assert sink == [[0, 10, 20, 30, 40, 50, 60]]


def test_concurrency_1_runs_items_one_after_another_in_order(overlap):
    async def hold(d):
        await overlap.hold(d.input, 0.001)

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(concurrency=1).to(hold).end_for_each()
    flow.start(["a", "b", "c"])
    assert overlap.log == [("enter", "a"), ("exit", "a"), ("enter", "b"), ("exit", "b"), ("enter", "c"),
                           ("exit", "c")]


def test_nested_for_each(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .for_each().to(lambda d: d.input * 2, name="double").end_for_each()
        .to(lambda d: sum(d.input), name="row_sum")
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([[1, 2], [3], [], 4])
    assert sink == [[6, 6, 0, 8]]


def test_nested_for_each_with_async_inner_items_keeps_both_orders(sink):
    async def slow(d):
        await asyncio.sleep(0.001 * (10 - d.input))
        return d.input

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .for_each().to(slow).end_for_each()
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([[1, 2, 3], [4, 5], [6]])
    assert sink == [[[1, 2, 3], [4, 5], [6]]]


def test_a_multi_step_body_and_steps_after_the_loop(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input.split(), name="words")
        .for_each()
        .to(lambda d: d.input.strip(",."), name="strip")
        .to(lambda d: (d.input, len(d.input)), name="measure")
        .end_for_each()
        .to(lambda d: dict(d.input), name="as_dict")
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start("one, three. four")
    assert sink == [{"one": 3, "three": 5, "four": 4}]


def test_a_failing_item_fails_the_run_with_the_chunk_name_and_cancels_the_others(overlap):
    async def item(d):
        if d.input == 2:
            await asyncio.sleep(0.01)
            raise ValueError(f"bad item {d.input}")
        await overlap.hold(d.input, 5)

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(item).end_for_each()
    with pytest.raises(ChunkError) as info:
        flow.start([0, 1, 2, 3])
    assert str(info.value) == "chunk 'item' raised ValueError: bad item 2"
    assert sorted(overlap.log) == [("enter", 0), ("enter", 1), ("enter", 3), ("exit", 0), ("exit", 1), ("exit", 3)]


def test_a_sync_failing_item_fails_the_run():
    def item(d):
        if d.input == 1:
            raise KeyError("one")
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(item).end_for_each()
    with pytest.raises(ChunkError, match=r"^chunk 'item' raised KeyError: 'one'$"):
        flow.start([0, 1, 2])


def test_the_loop_runs_again_when_reached_twice_in_one_execution(sink):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(lambda d: d.input + 1, name="inc").end_for_each().to(
        lambda d: sink.append(d.input), name="after")
    flow.when("again").for_each().to(lambda d: d.input * 100, name="x100").end_for_each().to(
        lambda d: sink.append(d.input), name="after_again")

    async def main():
        execution = await flow.async_start_execution([1, 2])
        await execution.async_emit("again", [3, 4])
        await execution.async_emit("again", [5])
        return await execution.async_close()

    assert asyncio.run(main()) == {}
    assert sink == [[2, 3], [300, 400], [500]]
