"""Every block opener also works on the flow itself, starting at START with the start input."""

import pytest

from triggerflow_nb import FlowDefinitionError, TriggerFlow


def test_if_condition_on_the_flow_tests_the_start_input(sink):
    flow = TriggerFlow()
    flow.if_condition(lambda d: d.input > 0, name="positive").to(lambda d: "pos", name="pos") \
        .else_condition().to(lambda d: "neg", name="neg").end_condition() \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start(3)
    flow.start(-3)
    assert sink == ["pos", "neg"]


def test_match_on_the_flow_switches_on_the_start_input(sink):
    flow = TriggerFlow()
    flow.match().case("a").to(lambda d: "A", name="on_a").case_else().to(lambda d: "other", name="on_else") \
        .end_match().to(lambda d: sink.append(d.input), name="after")
    for value in ("a", "b"):
        flow.start(value)
    assert sink == ["A", "other"]


def test_batch_on_the_flow_gives_every_branch_the_start_input(sink):
    flow = TriggerFlow()
    flow.batch(("double", lambda d: d.input * 2), ("square", lambda d: d.input ** 2)) \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start(5)
    assert sink == [{"double": 10, "square": 25}]


def test_for_each_on_the_flow_fans_out_the_start_input(sink):
    flow = TriggerFlow()
    flow.for_each(concurrency=2).to(lambda d: d.input + 1, name="inc").end_for_each() \
        .to(lambda d: sink.append(d.input), name="after")
    flow.start([1, 2, 3])
    assert sink == [[2, 3, 4]]


def test_to_sub_flow_on_the_flow_starts_the_child_with_the_start_input():
    child = TriggerFlow(name="child")
    child.to(lambda d: d.set_state("seen", d.input), name="keep")
    flow = TriggerFlow(name="parent")
    flow.to_sub_flow(child, write_back={"state.child_saw": "snapshot.seen"}) \
        .to(lambda d: d.set_state("after", True), name="after")
    assert flow.start("hello") == {"child_saw": "hello", "after": True}


def test_side_branch_and_collect_on_the_flow(sink):
    flow = TriggerFlow()
    flow.side_branch(lambda d: sink.append(("side", d.input)), name="peek").to(lambda d: d.input * 2, name="dbl") \
        .collect("both", "doubled")
    flow.collect("both", "raw").to(lambda d: sink.append(d.input), name="after")
    flow.start(4)
    assert sink == [("side", 4), {"doubled": 8, "raw": 4}]


def test_the_flow_openers_return_chains_that_refuse_what_chains_refuse():
    flow = TriggerFlow()
    with pytest.raises(FlowDefinitionError) as info:
        flow.match().to(lambda d: d)
    assert str(info.value) == ".to() directly after .match(): add .case(value) (or .case_else()) before it"
    with pytest.raises(FlowDefinitionError) as info:
        flow.batch()
    assert str(info.value) == "batch() needs at least one (name, handler) pair"
