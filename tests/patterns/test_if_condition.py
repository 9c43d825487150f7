"""if_condition / elif_condition / else_condition / end_condition."""

import asyncio

import pytest

from triggerflow_nb import ChunkError, TriggerFlow, TriggerFlowRuntimeData


def is_big(data):
    return data.input > 100


def is_mid(data):
    return data.input > 10


def is_even(data):
    return data.input % 2 == 0


def is_positive(data):
    return data.input > 0


def three_way_flow(sink):
    flow = TriggerFlow(name="three_way")
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_big).to(lambda d: f"big {d.input}", name="on_big")
        .elif_condition(is_mid).to(lambda d: f"mid {d.input}", name="on_mid")
        .else_condition().to(lambda d: f"small {d.input}", name="on_small")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    return flow


@pytest.mark.parametrize("value, expected", [(500, "big 500"), (50, "mid 50"), (5, "small 5"), (101, "big 101")])
def test_chosen_arm_return_value_flows_on(sink, value, expected):
    flow = three_way_flow(sink)
    assert flow.start(value) == {}
    assert sink == [expected]


def test_only_the_chosen_arm_runs_and_later_predicates_are_not_asked(sink):
    asked = []

    def yes(d):
        asked.append(("yes", d.input))
        return True

    def never_asked(d):
        asked.append(("never_asked", d.input))
        return True

    ran = []
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(yes).to(lambda d: ran.append("if") or "if-arm", name="if_arm")
        .elif_condition(never_asked).to(lambda d: ran.append("elif") or "elif-arm", name="elif_arm")
        .else_condition().to(lambda d: ran.append("else") or "else-arm", name="else_arm")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(1)
    assert asked == [("yes", 1)]
    assert ran == ["if"]
    assert sink == ["if-arm"]


@pytest.mark.parametrize("value", [5, 0, -3])
def test_no_arm_chosen_and_no_else_passes_the_input_unchanged(sink, value):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_big).to(lambda d: "big", name="on_big")
        .elif_condition(is_mid).to(lambda d: "mid", name="on_mid")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(value)
    assert sink == [value]


def test_unchanged_input_is_the_same_object(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(lambda d: False).to(lambda d: "no", name="no")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    payload = {"k": [1, 2]}
    flow.start(payload)
    assert sink == [payload] and sink[0] is payload


def test_several_chunks_in_an_arm_the_last_return_value_flows_on(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_even)
        .to(lambda d: d.input + 1, name="plus_one")
        .to(lambda d: d.input * 10, name="times_ten")
        .to(lambda d: f"even->{d.input}", name="label_even")
        .else_condition()
        .to(lambda d: d.input - 1, name="minus_one")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(4)
    flow.start(7)
    assert sink == ["even->50", 6]


def test_empty_arm_passes_its_input_through(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_even)  # nothing in this arm
        .else_condition().to(lambda d: d.input * 100, name="odd_times_100")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(2)
    flow.start(3)
    assert sink == [2, 300]


def test_predicates_receive_data_and_can_read_state(sink):
    seen = []

    def over_limit(data):
        seen.append((type(data) is TriggerFlowRuntimeData, data.input, data.value, data.get_state("limit")))
        return data.input > data.get_state("limit")

    async def set_limit(data):
        await data.async_set_state("limit", 10)
        return data.input

    flow = TriggerFlow()
    (
        flow.to(set_limit)
        .if_condition(over_limit).to(lambda d: "over", name="over")
        .else_condition().to(lambda d: "within", name="within")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    assert flow.start(11) == {"limit": 10}
    assert flow.start(10) == {"limit": 10}
    assert seen == [(True, 11, 11, 10), (True, 10, 10, 10)]
    assert sink == ["over", "within"]


def test_async_predicates(sink):
    async def slow_even(data):
        await asyncio.sleep(0)
        return data.input % 2 == 0

    async def slow_big(data):
        await asyncio.sleep(0)
        return data.input > 100

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(slow_big).to(lambda d: "big", name="big")
        .elif_condition(slow_even).to(lambda d: "even", name="even")
        .else_condition().to(lambda d: "odd", name="odd")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    for value in (1000, 4, 3):
        flow.start(value)
    assert sink == ["big", "even", "odd"]


def test_if_as_the_first_step_and_as_the_last_step():
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_even).to(lambda d: d.set_state("parity", "even"), name="even")
        .else_condition().to(lambda d: d.set_state("parity", "odd"), name="odd")
        .end_condition()
    )
    assert flow.start(2) == {"parity": "even"}
    assert flow.start(3) == {"parity": "odd"}


def test_if_inside_an_if_arm(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_positive)
        .if_condition(is_even).to(lambda d: f"positive even {d.input}", name="pos_even")
        .else_condition().to(lambda d: f"positive odd {d.input}", name="pos_odd")
        .end_condition()
        .to(lambda d: d.input + "!", name="exclaim")  # still in the outer if arm
        .else_condition()
        .to(lambda d: f"not positive {d.input}", name="not_pos")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    for value in (4, 3, -2):
        flow.start(value)
    assert sink == ["positive even 4!", "positive odd 3!", "not positive -2"]


def test_three_levels_of_nested_ifs_each_falling_through(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(lambda d: d.input > 0, name="gt0")
        .if_condition(lambda d: d.input > 10, name="gt10")
        .if_condition(lambda d: d.input > 100, name="gt100")
        .to(lambda d: "huge", name="huge")
        .end_condition()  # no else: a value in (10, 100] passes through unchanged
        .to(lambda d: f"[{d.input}]", name="wrap")
        .end_condition()
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    for value in (1000, 50, 5, -5):
        flow.start(value)
    assert sink == ["[huge]", "[50]", 5, -5]


def test_if_inside_a_for_each_body(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .if_condition(is_even).to(lambda d: d.input * 10, name="even_x10")
        .end_condition()
        .to(lambda d: d.input + 1, name="plus_one")
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([1, 2, 3, 4])
    assert sink == [[2, 21, 4, 41]]


def test_batch_inside_an_if_arm(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_even)
        .batch(("half", lambda d: d.input // 2), ("double", lambda d: d.input * 2))
        .else_condition()
        .to(lambda d: {"odd": d.input}, name="odd")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(8)
    flow.start(3)
    assert sink == [{"half": 4, "double": 16}, {"odd": 3}]


def test_a_predicate_that_raises_fails_the_run_naming_the_block_and_arm():
    def broken(data):
        raise ValueError("cannot decide")

    flow = TriggerFlow(name="broken_if")
    flow.to(lambda d: d.input, name="first").if_condition(broken).to(lambda d: 1, name="one").end_condition()
    with pytest.raises(ChunkError) as info:
        flow.start(1)
    assert str(info.value) == "chunk 'if[broken]@first (if broken)' raised ValueError: cannot decide"
    assert isinstance(info.value.__cause__, ValueError)


def test_sync_handler_returning_an_awaitable_in_an_arm(sink):
    async def later(value):
        await asyncio.sleep(0)
        return value * 3

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(is_even).to(lambda d: later(d.input), name="triple_later")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(2)
    assert sink == [6]


def test_two_ifs_on_different_lambdas_after_the_same_step_stay_two_blocks(sink):
    flow = TriggerFlow()
    head = flow.to(lambda d: d.input, name="first")
    head.if_condition(lambda d: d.input > 0).to(
        lambda d: sink.append(("positive", d.input)), name="pos").end_condition()
    head.if_condition(lambda d: d.input % 2 == 0).to(
        lambda d: sink.append(("even", d.input)), name="even").end_condition()
    if_nodes = [n for n in flow._graph.nodes.values() if n.kind == "if"]
    assert len(if_nodes) == 2
    assert [n.branches[0].label for n in if_nodes] == ["if λ", "if λ"]
    flow.start(4)
    flow.start(-3)
    assert sorted(sink[:2]) == [("even", 4), ("positive", 4)]
    assert sink[2:] == []
