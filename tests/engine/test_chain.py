import asyncio

import pytest

from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData


def test_chain_passes_return_values_and_start_input():
    flow = TriggerFlow(name="chain")
    seen = []

    async def first(data: TriggerFlowRuntimeData):
        seen.append(("first", data.input))
        return data.input + 1

    def second(data):
        seen.append(("second", data.input, data.value))
        return data.input * 10

    flow.to(first).to(second).to(lambda d: d.set_state("out", d.input))
    assert flow.start(4) == {"out": 50}
    assert seen == [("first", 4), ("second", 5, 5)]


def test_start_returns_plain_deep_copied_state_dict():
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("items", [1, {"a": 2}]))
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    snapshot = ex.close()
    assert type(snapshot) is dict and snapshot == {"items": [1, {"a": 2}]}
    snapshot["items"][1]["a"] = 99
    assert ex.result.get_state() == {"items": [1, {"a": 2}]}
    assert ex.result.get_state("items")[1] == {"a": 2}


def test_chunk_decorator_by_name_and_string_reference():
    flow = TriggerFlow()

    @flow.chunk
    def double(data):
        return data.input * 2

    @flow.chunk("store")
    async def save_it(data):
        await data.async_set_state("out", data.input)

    flow.to(double).to("store")
    assert double.__name__ == "double" and double(type("D", (), {"input": 2})) == 4  # still callable
    assert flow.start(3) == {"out": 6}
    assert set(flow._graph.chunk_ids()) == {"double", "store"}


def test_two_lambdas_in_one_chain_are_distinct_nodes():
    flow = TriggerFlow()
    flow.to(lambda d: d.input + 1).to(lambda d: d.input * 3).to(lambda d: d.set_state("v", d.input))
    assert flow.start(1) == {"v": 6}
    assert len(flow._graph.chunk_ids()) == 3


def test_rerunning_wiring_does_not_duplicate_edges_and_reregistering_replaces():
    flow = TriggerFlow()

    def wire():
        @flow.chunk
        def inc(data):
            return data.input + 1

        flow.to(inc).to(lambda d: d.append_state("seen", d.input))

    wire()
    edges = flow._graph.edges()
    wire()  # the same notebook cell run again
    assert flow._graph.edges() == edges
    assert flow.start(1) == {"seen": [2]}

    @flow.chunk
    def inc(data):  # an edited cell: same name, new body
        return data.input + 100

    assert flow._graph.edges() == edges
    assert flow.start(1) == {"seen": [101]}


def test_same_function_in_two_chains_is_shared_unless_named():
    flow = TriggerFlow()

    def tag(data):
        data.append_state("tags", data.input)
        return data.input

    flow.to(tag).to(lambda d: d.set_state("a", d.input))
    flow.when("E").to(tag, name="tag_on_event")
    assert {"tag", "tag_on_event"} <= set(flow._graph.chunk_ids())


def test_unknown_chunk_name_is_reported_at_start():
    from triggerflow_nb import FlowDefinitionError

    flow = TriggerFlow(name="f")
    flow.to("missing_step")
    with pytest.raises(FlowDefinitionError) as info:
        flow.start(1)
    assert str(info.value) == (
        "flow 'f' uses chunk names with no handler: ['missing_step']; register them with "
        "@flow.chunk('name') or pass the function to .to(...)"
    )


def test_bad_arguments_to_to_are_typed_errors():
    flow = TriggerFlow()
    with pytest.raises(TypeError, match="takes a function, a lambda or a registered chunk name, got int"):
        flow.to(42)
    with pytest.raises(TypeError, match=r"name=\.\.\.\) must be a string, got int"):
        flow.to(lambda d: 1, name=3)
    with pytest.raises(TypeError, match="must be a string, got int"):
        TriggerFlow(name=5)


def test_several_successors_all_run():
    flow = TriggerFlow()
    head = flow.to(lambda d: d.input, name="head")
    head.to(lambda d: d.append_state("got", ("x", d.input)), name="x")
    head.to(lambda d: d.append_state("got", ("y", d.input)), name="y")
    out = flow.start(7)
    assert sorted(map(tuple, out["got"])) == [("x", 7), ("y", 7)]


def test_async_start_inside_asyncio_run():
    flow = TriggerFlow()

    async def slow(data):
        await asyncio.sleep(0.01)
        await data.async_set_state("done", data.input)

    flow.to(slow)
    assert asyncio.run(flow.async_start("ok")) == {"done": "ok"}
