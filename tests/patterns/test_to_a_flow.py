""".to(child_flow): a TriggerFlow given to ``.to()`` is a sub-flow step (issue 32, item 5).

It is the shorthand of ``to_sub_flow(child_flow)`` with the default capture and write_back:
the child starts with a copy of the value, and the parent's next input is the child's close
snapshot. The same graph is built, so fingerprints, blueprints and drawings agree.
"""

import pytest

from triggerflow_nb import FlowDefinitionError, InvalidArgumentError, TriggerFlow


def doubling_child():
    child = TriggerFlow(name="child")

    def work(d):
        d.set_state("doubled", d.input * 2)
        d.put_into_stream(("child saw", d.input))
        return d.input

    child.to(work, name="work")
    return child


def test_to_a_flow_runs_it_as_a_sub_flow_step(sink):
    parent = TriggerFlow(name="parent")
    parent.to(lambda d: d.input + 1, name="first").to(doubling_child()).to(
        lambda d: sink.append(d.input), name="after")
    ex = parent.create_execution(auto_close=False)
    ex.start(4)
    assert ex.close() == {}  # the child's state stays the child's
    assert sink == [{"doubled": 10}]
    assert ex.get_stream_items() == [("child saw", 5)]  # what the child streams reaches the parent's stream
    assert ex.node_status() == {"first": "done", "sub_flow[child]@first": "done", "after": "done"}


def test_it_builds_exactly_the_graph_to_sub_flow_builds():
    child = doubling_child()
    by_to, by_sub_flow = TriggerFlow(name="same"), TriggerFlow(name="same")
    by_to.to(lambda d: d.input, name="first").to(child).to(lambda d: d.input, name="after")
    by_sub_flow.to(lambda d: d.input, name="first").to_sub_flow(child).to(lambda d: d.input, name="after")
    assert by_to.flow_graph.fingerprint() == by_sub_flow.flow_graph.fingerprint()
    assert by_to.to_mermaid() == by_sub_flow.to_mermaid()
    assert by_to.save_blueprint() == by_sub_flow.save_blueprint()


def test_at_the_start_after_an_event_and_with_a_name(sink):
    child = doubling_child()
    parent = TriggerFlow(name="places")
    parent.to(child).to(lambda d: sink.append(("start", d.input)), name="after_start")
    parent.when("Go").to(child, name="on_go").to(lambda d: sink.append(("event", d.input)), name="after_go")
    ex = parent.create_execution(auto_close=False)
    ex.start(1)
    ex.emit("Go", 7)
    ex.close()
    assert sink == [("start", {"doubled": 2}), ("event", {"doubled": 14})]
    assert set(ex.node_status()) == {"sub_flow[child]@$start", "after_start", "on_go", "after_go"}


def test_inside_a_for_each_body_each_item_runs_the_child(sink):
    parent = TriggerFlow(name="fan")
    parent.for_each().to(doubling_child()).end_for_each().to(lambda d: sink.append(d.input), name="all")
    parent.start([1, 2, 3])
    assert sink == [[{"doubled": 2}, {"doubled": 4}, {"doubled": 6}]]


def test_rewiring_the_same_cell_does_not_duplicate_the_step(sink):
    child = doubling_child()
    parent = TriggerFlow(name="rewired")
    for _ in range(2):
        parent.to(lambda d: d.input, name="first").to(child).to(lambda d: sink.append(d.input), name="after")
    parent.start(3)
    assert sink == [{"doubled": 6}]


def test_a_flow_cannot_be_its_own_step_and_non_flows_are_refused_as_before():
    flow = TriggerFlow(name="selfish")
    with pytest.raises(FlowDefinitionError, match=r"^flow 'selfish' cannot be its own sub-flow$"):
        flow.to(lambda d: d.input, name="first").to(flow)
    with pytest.raises(FlowDefinitionError, match=r"^flow 'selfish' cannot be its own sub-flow$"):
        flow.to(flow)
    with pytest.raises(InvalidArgumentError) as info:
        flow.to(lambda d: d.input, name="first").to(object())
    assert str(info.value) == ".to() takes a function, a lambda or a registered chunk name, got object"


def test_a_failing_child_fails_the_parent_naming_the_childs_chunk():
    child = TriggerFlow(name="bad_child")

    def broken(data):
        raise ValueError("child broke")

    child.to(broken, name="broken")
    parent = TriggerFlow(name="parent_of_bad")
    parent.to(lambda d: d.input, name="first").to(child)
    with pytest.raises(Exception) as info:
        parent.start(1)
    assert type(info.value).__name__ == "ChunkError"
    assert str(info.value) == ("chunk 'sub_flow[bad_child]@first' raised ChunkError: chunk 'broken' raised "
                               "ValueError: child broke")
