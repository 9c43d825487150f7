"""when([...], mode="and") joins belong to one execution and one fan-out scope."""

import asyncio

from triggerflow_nb import TriggerFlow


def joined_record(d):
    d.append_state("joined", d.input)


def test_two_concurrent_executions_never_complete_each_others_join():
    flow = TriggerFlow(name="join_per_execution")
    both_emitted_first = asyncio.Event()
    first_emits = []

    async def emitter(d):
        tag = d.input
        first, second = ("A", "B") if tag == "x" else ("B", "A")
        await d.async_emit(first, f"{tag}-{first}")
        first_emits.append(tag)
        if len(first_emits) == 2:
            both_emitted_first.set()
        # x has emitted A and y has emitted B: a shared join would fire now, across executions
        await asyncio.wait_for(both_emitted_first.wait(), 5)
        await d.async_emit(second, f"{tag}-{second}")

    flow.to(emitter)
    flow.when(["A", "B"], mode="and").to(joined_record)

    async def main():
        return await asyncio.gather(flow.async_start("x"), flow.async_start("y"))

    x, y = asyncio.run(main())
    assert x == {"joined": [{"event": {"A": "x-A", "B": "x-B"}}]}
    assert y == {"joined": [{"event": {"A": "y-A", "B": "y-B"}}]}


def test_a_half_join_in_one_execution_is_not_completed_by_another():
    flow = TriggerFlow()
    flow.to(lambda d: None, name="noop")
    flow.when(["A", "B"], mode="and").to(joined_record)

    async def main():
        one = await flow.async_start_execution()
        two = await flow.async_start_execution()
        await one.async_emit("A", 1)
        await two.async_emit("B", 2)
        await two.async_emit("A", 3)  # completes two's join only
        return await one.async_close(), await two.async_close()

    assert asyncio.run(main()) == ({}, {"joined": [{"event": {"A": 3, "B": 2}}]})


def test_inside_a_for_each_each_item_completes_only_its_own_join():
    flow = TriggerFlow(name="join_per_item")
    items = [0, 1, 2, 3]
    barrier = None

    async def body(d):
        await d.async_emit("A", f"{d.input}-A")
        # every item has emitted A before any emits B: an execution-wide join would mix items
        await asyncio.wait_for(barrier.wait(), 5)
        await d.async_emit("B", f"{d.input}-B")
        return d.input

    flow.to(lambda d: d.input, name="first").for_each().to(body).end_for_each().to(
        lambda d: d.set_state("items", d.input), name="after")
    flow.when(["A", "B"], mode="and").to(joined_record)

    async def main():
        nonlocal barrier
        barrier = asyncio.Barrier(len(items))
        return await flow.async_start(items)

    out = asyncio.run(main())
    assert out["items"] == [0, 1, 2, 3]
    assert sorted(out["joined"], key=lambda j: j["event"]["A"]) == [
        {"event": {"A": f"{i}-A", "B": f"{i}-B"}} for i in items
    ]


def test_sync_emits_from_for_each_items_keep_their_scope():
    flow = TriggerFlow()

    def body(d):
        d.emit("A", d.input * 10)  # scheduled, not awaited: the scope travels with it
        d.emit("B", d.input * 100)
        return d.input

    flow.to(lambda d: d.input, name="first").for_each().to(body).end_for_each()
    flow.when(["A", "B"], mode="and").to(joined_record)
    out = flow.start([1, 2, 3])
    assert sorted(out["joined"], key=lambda j: j["event"]["A"]) == [
        {"event": {"A": 10, "B": 100}}, {"event": {"A": 20, "B": 200}}, {"event": {"A": 30, "B": 300}},
    ]


def test_joins_in_nested_for_each_are_per_inner_item():
    flow = TriggerFlow()

    async def body(d):
        await d.async_emit("A", d.input)
        await d.async_emit("B", -d.input)
        return d.input

    (
        flow.to(lambda d: d.input, name="first")
        .for_each().for_each().to(body).end_for_each().end_for_each()
    )
    flow.when(["A", "B"], mode="and").to(joined_record)
    out = flow.start([[1, 2], [3]])
    assert sorted(out["joined"], key=lambda j: j["event"]["A"]) == [
        {"event": {"A": 1, "B": -1}}, {"event": {"A": 2, "B": -2}}, {"event": {"A": 3, "B": -3}},
    ]


def test_a_top_level_join_still_works_after_a_loop():
    flow = TriggerFlow()

    async def emit_both(d):
        await d.async_emit("A", sum(d.input))
        await d.async_emit("B", len(d.input))

    flow.to(lambda d: d.input, name="first").for_each().to(lambda d: d.input + 1, name="inc").end_for_each().to(
        emit_both)
    flow.when(["A", "B"], mode="and").to(joined_record)
    assert flow.start([1, 2, 3]) == {"joined": [{"event": {"A": 9, "B": 3}}]}


def test_the_branches_of_one_batch_share_a_scope_and_complete_a_join_together():
    flow = TriggerFlow()

    async def emit_a(d):
        await d.async_emit("A", f"a{d.input}")
        return "a"

    def emit_b(d):
        d.emit("B", f"b{d.input}")
        return "b"

    flow.to(lambda d: d.input, name="first").batch(("a", emit_a), ("b", emit_b)).to(
        lambda d: d.set_state("batch", d.input), name="after")
    flow.when(["A", "B"], mode="and").to(joined_record)
    assert flow.start(1) == {"batch": {"a": "a", "b": "b"}, "joined": [{"event": {"A": "a1", "B": "b1"}}]}


def test_batches_in_different_for_each_items_do_not_mix():
    flow = TriggerFlow()
    barrier = None

    async def emit_a(d):
        await d.async_emit("A", f"a{d.input}")
        await asyncio.wait_for(barrier.wait(), 5)  # every item's A is out before any B

    async def emit_b(d):
        await asyncio.wait_for(barrier.wait(), 5)
        await d.async_emit("B", f"b{d.input}")

    flow.to(lambda d: d.input, name="first").for_each().batch(("a", emit_a), ("b", emit_b)).end_for_each()
    flow.when(["A", "B"], mode="and").to(joined_record)

    async def main():
        nonlocal barrier
        barrier = asyncio.Barrier(6)  # 3 items x 2 branches
        return await flow.async_start([1, 2, 3])

    out = asyncio.run(main())
    assert sorted(out["joined"], key=lambda j: j["event"]["A"]) == [
        {"event": {"A": "a1", "B": "b1"}}, {"event": {"A": "a2", "B": "b2"}}, {"event": {"A": "a3", "B": "b3"}},
    ]


def test_a_top_level_emit_does_not_complete_a_join_started_inside_a_batch():
    flow = TriggerFlow()

    async def emit_a(d):
        await d.async_emit("A", "inside")

    async def emit_b(d):
        await d.async_emit("B", "outside")

    flow.to(lambda d: d.input, name="first").batch(("a", emit_a), ("noop", lambda d: None)).to(emit_b)
    flow.when(["A", "B"], mode="and").to(joined_record)
    assert flow.start(None) == {}
