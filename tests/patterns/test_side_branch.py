"""side_branch: a handler runs on the current value; the chain goes on from the step before with that value."""

import pytest

from triggerflow_nb import ChunkError, TriggerFlow


def test_the_side_branch_and_the_next_step_get_the_same_value_and_its_result_is_dropped(sink):
    flow = TriggerFlow()
    flow.to(lambda d: d.input + 1, name="inc").side_branch(lambda d: sink.append(("side", d.input)) or "ignored",
                                                             name="log") \
        .to(lambda d: sink.append(("main", d.input)), name="main")
    flow.start(1)
    assert sink == [("side", 2), ("main", 2)]


def test_side_branches_chain_one_after_another(sink):
    flow = TriggerFlow()
    flow.to(lambda d: "v", name="first").side_branch(lambda d: sink.append("s1"), name="s1") \
        .side_branch(lambda d: sink.append("s2"), name="s2").to(lambda d: sink.append(d.input), name="after")
    flow.start(None)
    assert sink == ["s1", "s2", "v"]


def test_an_async_side_branch_runs_beside_the_main_path(overlap, sink):
    async def side(data):
        await overlap.hold("side", 0.03)

    async def main(data):
        await overlap.hold("main", 0.005)
        sink.append(data.input)

    flow = TriggerFlow()
    flow.to(lambda d: 7, name="seven").side_branch(side).to(main)
    flow.start(None)
    assert sink == [7]
    assert overlap.log == [("enter", "side"), ("enter", "main"), ("exit", "main"), ("exit", "side")]


def test_a_side_branch_as_the_last_step_of_an_if_arm_hands_the_arm_value_on(sink):
    flow = TriggerFlow()
    flow.if_condition(lambda d: d.input > 0, name="pos").to(lambda d: d.input * 10, name="times") \
        .side_branch(lambda d: sink.append(("side", d.input)), name="peek").end_condition() \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start(2)
    assert sink == [("side", 20), 20]


def test_a_side_branch_as_the_last_step_of_a_for_each_body_keeps_the_item_results(sink):
    flow = TriggerFlow()
    flow.for_each(concurrency=2).to(lambda d: d.input * 2, name="dbl") \
        .side_branch(lambda d: sink.append(("side", d.input)) or "dropped", name="peek").end_for_each() \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start([1, 2, 3])
    assert sink == [("side", 2), ("side", 4), ("side", 6), [2, 4, 6]]


def test_a_side_branch_in_a_hit_all_case_and_a_sub_flow():
    child = TriggerFlow(name="child")
    child.side_branch(lambda d: d.set_state("peeked", d.input), name="peek").to(lambda d: d.input + 1, name="inc") \
        .to(lambda d: d.set_state("out", d.input), name="keep")
    flow = TriggerFlow(name="parent")
    flow.match(mode="hit_all").case(lambda d: True).side_branch(lambda d: d.set_state("case_saw", d.input),
                                                                  name="case_peek") \
        .case(lambda d: True).to(lambda d: d.input, name="same").end_match() \
        .to(lambda d: d.set_state("hits", d.input), name="hits") \
        .to(lambda d: 41, name="n") \
        .to_sub_flow(child, write_back={"state.peeked": "snapshot.peeked", "state.out": "snapshot.out"})
    assert flow.start(5) == {"case_saw": 5, "hits": [5, 5], "peeked": 41, "out": 42}


def test_a_failing_side_branch_fails_the_run_naming_its_chunk():
    flow = TriggerFlow()
    flow.to(lambda d: 1, name="one").side_branch(lambda d: 1 / 0, name="bad").to(lambda d: d, name="after")
    with pytest.raises(ChunkError) as info:
        flow.start(None)
    assert str(info.value) == "chunk 'bad' raised ZeroDivisionError: division by zero"


def test_a_side_branch_can_deliver_to_a_collect(sink):
    flow = TriggerFlow()
    chain = flow.to(lambda d: d.input, name="first")
    chain.side_branch(lambda d: d.input * 2, name="dbl")
    flow.to(lambda d: "x", name="other").collect("c", "other")
    flow.when({"chunk": "dbl"}).collect("c", "doubled").to(lambda d: sink.append(d.input), name="after")
    flow.start(4)
    assert sink == [{"other": "x", "doubled": 8}]


def test_two_paths_may_deliver_under_one_branch_id_and_the_newest_value_counts(sink):
    flow = TriggerFlow()
    flow.to(lambda d: "early", name="early").collect("c", "x")
    flow.when("Late").to(lambda d: d.input, name="late").collect("c", "x")
    flow.when("Y").collect("c", "y").to(lambda d: sink.append(d.input), name="after")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.emit("Late", "late")
    ex.emit("Y", "y")
    ex.close()
    assert sink == [{"x": "late", "y": "y"}]


@pytest.mark.parametrize("handler, message", [
    (3, ".to() takes a function, a lambda or a registered chunk name, got int"),
    (None, ".to() takes a function, a lambda or a registered chunk name, got NoneType"),
])
def test_a_side_branch_needs_a_handler(handler, message):
    from triggerflow_nb import InvalidArgumentError

    flow = TriggerFlow()
    with pytest.raises(InvalidArgumentError) as info:
        flow.to(lambda d: d, name="x").side_branch(handler)
    assert str(info.value) == message
    assert [n for n in flow.flow_graph.nodes if n.startswith("side")] == []  # nothing half-wired


def test_a_side_branch_directly_after_match_is_refused():
    from triggerflow_nb import FlowDefinitionError

    with pytest.raises(FlowDefinitionError) as info:
        TriggerFlow().match().side_branch(lambda d: d, name="s")
    assert str(info.value) == ".side_branch() directly after .match(): add .case(value) (or .case_else()) before it"
