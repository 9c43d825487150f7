"""collect: independent paths each deliver a value; once all have, the chain after the collect runs."""

import asyncio

import pytest

from triggerflow_nb import FlowDefinitionError, InvalidArgumentError, TriggerFlow


def delay(seconds, result):
    async def handler(data):
        await asyncio.sleep(seconds)
        return result(data.input)
    return handler


def test_the_chain_after_collect_gets_every_branch_in_declaration_order(sink):
    flow = TriggerFlow()
    # "slow" is declared first but delivers last: the dict still lists it first.
    flow.to(delay(0.02, lambda v: v + 1), name="slow").collect("pair", "slow")
    flow.to(delay(0, lambda v: v * 10), name="quick").collect("pair", "quick") \
        .to(lambda d: sink.append(list(d.input.items())), name="after")
    flow.start(2)
    assert sink == [[("slow", 3), ("quick", 20)]]


def test_a_four_way_collect_fires_once_with_all_four(sink):
    flow = TriggerFlow()
    for index in range(4):
        joined = flow.to(delay(0.001 * (4 - index), lambda v, i=index: v * i), name=f"b{index}") \
            .collect("four", f"b{index}")
    joined.to(lambda d: sink.append(d.input), name="after")
    flow.start(3)
    assert sink == [{"b0": 0, "b1": 3, "b2": 6, "b3": 9}]


def test_branch_id_defaults_to_the_step_before(sink):
    flow = TriggerFlow()
    flow.to(lambda d: "L", name="left").collect("c")
    flow.to(lambda d: "R", name="right").collect("c").to(lambda d: sink.append(d.input), name="after")
    flow.start(None)
    assert sink == [{"left": "L", "right": "R"}]


def emits_twice(mode, sink):
    """Branch "a" delivers once from the start and once per "Again" event; branch "b" once."""
    flow = TriggerFlow()
    flow.to(lambda d: "a1", name="a_first").collect("c", "a", mode=mode)
    flow.when("Again").to(lambda d: d.input, name="a_again").collect("c", "a", mode=mode)
    flow.to(delay(0.01, lambda v: "b1"), name="b_first").collect("c", "b", mode=mode) \
        .to(lambda d: sink.append(d.input), name="after")
    return flow


def test_filled_and_update_fires_again_on_every_new_value(sink):
    ex = emits_twice("filled_and_update", sink).create_execution(auto_close=False)
    ex.start(None)
    ex.emit("Again", "a2")
    ex.emit("Again", "a3")
    ex.close()
    assert sink == [{"a": "a1", "b": "b1"}, {"a": "a2", "b": "b1"}, {"a": "a3", "b": "b1"}]


def test_filled_then_empty_fires_once_then_waits_for_every_branch_again(sink):
    ex = emits_twice("filled_then_empty", sink).create_execution(auto_close=False)
    ex.start(None)
    ex.emit("Again", "a2")  # only "a" delivered since the reset: no firing
    ex.close()
    assert sink == [{"a": "a1", "b": "b1"}]


def test_when_collect_listens_to_the_collected_dict(sink):
    flow = TriggerFlow()
    flow.to(lambda d: 1, name="one").collect("c", "x")
    flow.to(lambda d: 2, name="two").collect("c", "y")
    flow.when({"collect": "c"}).to(lambda d: sink.append(("when", d.input)), name="listener")
    flow.start(None)
    assert sink == [("when", {"x": 1, "y": 2})]


def test_collect_in_a_for_each_body_collects_per_item(sink):
    flow = TriggerFlow()
    body = flow.for_each(concurrency=2).to(lambda d: d.input, name="split")
    body.to(delay(0.002, lambda v: v + 100), name="plus").collect("per_item", "plus")
    body.to(delay(0, lambda v: v * 100), name="times").collect("per_item", "times") \
        .to(lambda d: d.input["plus"] + d.input["times"], name="combine").end_for_each() \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start([1, 2, 3])
    assert sink == [[201, 302, 403]]


def test_collect_inside_a_sub_flow():
    child = TriggerFlow(name="child")
    child.to(lambda d: d.input.upper(), name="up").collect("c", "up")
    child.to(lambda d: len(d.input), name="n").collect("c", "n").to(lambda d: d.set_state("got", d.input), name="keep")
    flow = TriggerFlow(name="parent")
    flow.to_sub_flow(child, write_back={"state.got": "snapshot.got"})
    assert flow.start("abc") == {"got": {"up": "ABC", "n": 3}}


def test_a_collect_at_the_end_of_a_for_each_body_fills_the_item(sink):
    flow = TriggerFlow()
    body = flow.for_each().to(lambda d: d.input, name="item")
    body.to(lambda d: -d.input, name="neg").collect("c", "neg")
    body.to(lambda d: d.input, name="same").collect("c", "same").end_for_each() \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start([1, 2])
    assert sink == [[{"neg": -1, "same": 1}, {"neg": -2, "same": 2}]]


def test_re_running_the_wiring_cell_adds_nothing():
    flow = TriggerFlow()

    def wire():
        flow.to(lambda d: 1, name="one").collect("c", "x")
        flow.to(lambda d: 2, name="two").collect("c", "y").to(lambda d: d.set_state("got", d.input), name="keep")

    wire()
    before = flow.flow_graph.describe()
    wire()
    assert flow.flow_graph.describe() == before
    assert flow.start(None) == {"got": {"x": 1, "y": 2}}


# -- definition-time errors ----------------------------------------------------------------------------

def test_a_collect_with_one_branch_is_refused_when_the_flow_starts():
    flow = TriggerFlow(name="lonely")
    flow.to(lambda d: 1, name="one").collect("c", "x").to(lambda d: d, name="after")
    with pytest.raises(FlowDefinitionError) as info:
        flow.start(None)
    assert str(info.value) == (
        "flow 'lonely': collect 'c' has one branch only ('x'), so it would just pass that value on: end another "
        "path with .collect('c', '<branch id>'), or use .to() instead"
    )


def test_one_collect_has_one_mode():
    flow = TriggerFlow()
    flow.to(lambda d: 1, name="one").collect("c", "x")
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(lambda d: 2, name="two").collect("c", "y", mode="filled_then_empty")
    assert str(info.value) == (
        "collect 'c' was declared with mode='filled_and_update', here with mode='filled_then_empty': every "
        ".collect('c', ...) shares one mode (to change it, re-create the flow and wire it again)"
    )


@pytest.mark.parametrize("args, message", [
    (("",), ".collect(collection_name=...) must be a non-empty string, got ''"),
    ((3, "x"), ".collect(collection_name=...) must be a non-empty string, got 3"),
    (("c", ""), ".collect(branch_id=...) must be a non-empty string, got ''"),
    (("c", "x", "once"), ".collect(mode=...) must be one of ('filled_and_update', 'filled_then_empty'), got 'once'"),
])
def test_collect_arguments_are_checked(args, message):
    with pytest.raises(InvalidArgumentError) as info:
        TriggerFlow().to(lambda d: d, name="x").collect(*args)
    assert str(info.value) == message


def test_when_collect_on_a_collect_that_does_not_exist_is_refused():
    flow = TriggerFlow(name="deaf")
    flow.to(lambda d: d, name="x")
    flow.when({"collect": "nothing"}).to(lambda d: d, name="listener")
    with pytest.raises(FlowDefinitionError) as info:
        flow.start(None)
    assert str(info.value) == (
        "flow 'deaf': when({'collect': 'nothing'}) listens to a collect this flow does not have: end two or more "
        "paths with .collect('nothing', '<branch id>')"
    )


def test_a_collect_name_that_clashes_with_a_chunk_name_is_refused():
    flow = TriggerFlow()
    flow.to(lambda d: d, name="collect[c]")
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(lambda d: d, name="x").collect("c", "x")
    assert str(info.value) == "'collect[c]' already names a chunk node; choose another collection name"


def test_what_a_collect_saw_in_a_for_each_item_is_dropped_when_the_item_ends():
    flow = TriggerFlow()
    body = flow.for_each().to(lambda d: d.input, name="item")
    body.to(lambda d: -d.input, name="neg").collect("c", "neg")
    body.to(lambda d: d.input, name="same").collect("c", "same").end_for_each()
    flow.to(lambda d: "top", name="top").collect("kept", "a")
    flow.when("B").collect("kept", "b")
    ex = flow.create_execution(auto_close=False)
    ex.start(list(range(50)))
    ex.emit("B", "b")
    # the top-level filled_and_update collect keeps its values; the 50 finished items keep nothing
    assert ex.save()["continuation"]["joins"] == [{"node": "collect[kept]", "scope": "", "seen": {"a": "top", "b": "b"}}]
    ex.close()


@pytest.mark.parametrize("trigger, message", [
    ({"collect": ""}, "when({'collect': ...}) must be a non-empty string, got ''"),
    ({"collect": [3]}, "when({'collect': ...}) must be a non-empty string, got 3"),
    ({"gather": "c"}, "when({'gather': ...}): unknown trigger kind; use 'event', 'state', 'chunk' or 'collect'"),
])
def test_when_collect_arguments_are_checked(trigger, message):
    with pytest.raises(InvalidArgumentError) as info:
        TriggerFlow().when(trigger)
    assert str(info.value) == message


def test_a_collect_value_that_is_not_json_refuses_save_but_the_run_goes_on():
    from triggerflow_nb import SaveError

    flow = TriggerFlow()
    flow.to(lambda d: object(), name="live").collect("c", "live")
    flow.when("Other").collect("c", "other").to(lambda d: d, name="after")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(SaveError) as info:
        ex.save()
    assert str(info.value).startswith("cannot save: what join 'collect[c]' has collected is not JSON-compatible")
    ex.close()
