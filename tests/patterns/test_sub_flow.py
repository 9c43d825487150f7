"""to_sub_flow(child, capture=..., write_back=...): the bridging rules of contract section 9."""

import asyncio
import warnings

import pytest

from triggerflow_nb import ChunkError, FlowDefinitionError, MissingResourceError, TriggerFlow


def doubling_child():
    child = TriggerFlow(name="child")

    async def work(d):
        await d.async_set_state("doubled", d.input * 2)
        await d.async_set_state("nested", {"deep": [d.input, {"x": "leaf"}]})
        return d.input

    child.to(work)
    return child


def test_without_capture_or_write_back_the_next_input_is_the_childs_close_snapshot(sink):
    parent = TriggerFlow(name="parent")
    parent.to(lambda d: d.input + 1, name="first").to_sub_flow(doubling_child()).to(
        lambda d: sink.append(d.input), name="after")
    assert parent.start(4) == {}  # the child's state stays the child's
    assert sink == [{"doubled": 10, "nested": {"deep": [5, {"x": "leaf"}]}}]


def test_write_back_value_from_the_snapshot_and_a_snapshot_path(sink):
    child = doubling_child()
    parent = TriggerFlow()
    head = parent.to(lambda d: d.input, name="first")
    head.to_sub_flow(child, write_back={"value": "snapshot"}, name="whole").to(
        lambda d: sink.append(("whole", d.input)), name="after_whole")
    head.to_sub_flow(child, write_back={"value": "snapshot.doubled"}, name="one_key").to(
        lambda d: sink.append(("one_key", d.input)), name="after_one_key")
    head.to_sub_flow(child, write_back={"value": "snapshot.nested.deep.1.x"}, name="deep_path").to(
        lambda d: sink.append(("deep_path", d.input)), name="after_deep_path")
    parent.start(3)
    assert sorted(sink) == [
        ("deep_path", "leaf"),
        ("one_key", 6),
        ("whole", {"doubled": 6, "nested": {"deep": [3, {"x": "leaf"}]}}),
    ]


def test_result_prefers_final_result_set_with_set_result_and_warns(sink):
    child = TriggerFlow(name="child_with_result")

    def work(d):
        d.set_state("scratch", "ignored by result")
        d.set_result({"answer": d.input * 7, "parts": [d.input, 7]})

    child.to(work)
    parent = TriggerFlow()
    head = parent.to(lambda d: d.input, name="first")
    head.to_sub_flow(child, write_back={"value": "result"}, name="res").to(
        lambda d: sink.append(("result", d.input)), name="after_res")
    head.to_sub_flow(child, write_back={"value": "result.parts.1"}, name="res_path").to(
        lambda d: sink.append(("path", d.input)), name="after_res_path")
    with pytest.warns(DeprecationWarning, match=r"data\.set_result\(\) is deprecated"):
        parent.start(6)
    assert sorted(sink) == [("path", 7), ("result", {"answer": 42, "parts": [6, 7]})]


def test_result_from_a_childs_chain_end(sink):
    child = TriggerFlow(name="child_with_end")
    with pytest.warns(DeprecationWarning, match=r"chain\.end\(\) is deprecated"):
        child.to(lambda d: d.input.upper(), name="upper").end()
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(child, write_back={"value": "result"}).to(
        lambda d: sink.append(d.input), name="after")
    parent.start("abc")
    assert sink == ["ABC"]


def test_result_falls_back_to_the_close_snapshot(sink):
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(
        doubling_child(), write_back={"value": "result", "state.got": "result.doubled"}).to(
        lambda d: sink.append(d.input), name="after")
    assert parent.start(2) == {"got": 4}
    assert sink == [{"doubled": 4, "nested": {"deep": [2, {"x": "leaf"}]}}]


def test_write_back_into_parent_state_keeps_the_value_unchanged_when_value_is_not_mapped(sink):
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(
        doubling_child(), write_back={"state.doubled": "snapshot.doubled", "state.all": "snapshot"}).to(
        lambda d: sink.append(d.input), name="after")
    out = parent.start(5)
    assert out == {"doubled": 10, "all": {"doubled": 10, "nested": {"deep": [5, {"x": "leaf"}]}}}
    # only state.* targets: the next input is still the child's close snapshot
    assert sink == [{"doubled": 10, "nested": {"deep": [5, {"x": "leaf"}]}}]


def test_capture_input_value_is_a_copy(sink):
    child = TriggerFlow(name="mutating_child")

    def mutate(d):
        d.input["items"].append("from child")
        d.set_state("seen", d.input)

    child.to(mutate)
    parent = TriggerFlow()
    original = {}

    def make(d):
        original["value"] = {"items": ["parent"]}
        return original["value"]

    parent.to(make).to_sub_flow(child, capture={"input": "value"}, write_back={"value": "snapshot.seen"}).to(
        lambda d: sink.append(d.input), name="after")
    parent.start(None)
    assert original["value"] == {"items": ["parent"]}
    assert sink == [{"items": ["parent", "from child"]}]


def test_capture_input_from_parent_state_is_a_copy(sink):
    child = TriggerFlow(name="state_child")

    def mutate(d):
        d.input.append("child")
        d.set_state("list", d.input)

    child.to(mutate)
    parent = TriggerFlow()

    async def prepare(d):
        await d.async_set_state("todo", ["a", "b"])
        return "the chain value is not what the child gets"

    parent.to(prepare).to_sub_flow(
        child, capture={"input": "state.todo"}, write_back={"state.child_list": "snapshot.list"})
    assert parent.start(None) == {"todo": ["a", "b"], "child_list": ["a", "b", "child"]}


def test_capture_input_of_a_missing_state_key_is_none(sink):
    child = TriggerFlow(name="none_child")
    child.to(lambda d: d.set_state("got", d.input), name="got")
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(
        child, capture={"input": "state.absent"}, write_back={"value": "snapshot"}).to(
        lambda d: sink.append(d.input), name="after")
    parent.start(1)
    assert sink == [{"got": None}]


def test_capture_resources_by_identity(sink):
    class Db:
        def __init__(self):
            self.rows = []

    db = Db()
    cache = {"warm": True}
    child = TriggerFlow(name="resource_child")

    def use(d):
        sink.append((d.require_resource("store") is db, d.require_resource("cache") is cache,
                     d.get_resource("db")))
        d.require_resource("store").rows.append(d.input)

    child.to(use)
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(
        child, capture={"resources": {"store": "resources.db", "cache": "resources.cache"}})
    ex = parent.create_execution(runtime_resources={"db": db, "cache": cache}, auto_close_timeout=0.0)
    assert ex.start("row-1") == {}
    assert sink == [(True, True, None)]  # only what was captured, under the child's names
    assert db.rows == ["row-1"]


def test_capture_of_a_missing_parent_resource_names_it():
    child = TriggerFlow(name="needs_db")
    child.to(lambda d: d.require_resource("db"), name="use_db")
    parent = TriggerFlow(name="no_db_parent")
    parent.to(lambda d: d.input, name="first").to_sub_flow(
        child, capture={"resources": {"db": "resources.db"}}, name="run_child")
    with pytest.raises(ChunkError) as info:
        parent.start(None)
    assert "chunk 'run_child' raised MissingResourceError: missing runtime resource 'db'" in str(info.value)
    assert isinstance(info.value.__cause__, MissingResourceError)


def test_child_stream_items_appear_in_the_parent_stream():
    child = TriggerFlow(name="streaming_child")

    async def talk(d):
        for word in d.input.split():
            await d.async_put_into_stream(("child", word))

    child.to(talk)
    parent = TriggerFlow()

    def before(d):
        d.put_into_stream(("parent", "before"))
        return d.input

    parent.to(before).to_sub_flow(child).to(lambda d: d.put_into_stream(("parent", "after")), name="after")

    async def main():
        execution = await parent.async_start_execution("hello there")
        await execution.async_close()
        return [item async for item in execution.get_async_runtime_stream(timeout=1)]

    assert asyncio.run(main()) == [("parent", "before"), ("child", "hello"), ("child", "there"),
                                   ("parent", "after")]


def test_a_failing_child_fails_the_parent_step_naming_the_child_chunk():
    child = TriggerFlow(name="failing_child")

    def explode(d):
        raise ValueError(f"cannot handle {d.input}")

    child.to(lambda d: d.input, name="child_first").to(explode)
    parent = TriggerFlow(name="parent_of_failure")
    parent.to(lambda d: d.input, name="first").to_sub_flow(child, name="delegate").to(
        lambda d: d.set_state("never", True), name="after")
    execution = parent.create_execution(auto_close=False)
    with pytest.raises(ChunkError) as info:
        execution.start(7)
    assert str(info.value) == (
        "chunk 'delegate' raised ChunkError: chunk 'explode' raised ValueError: cannot handle 7"
    )
    assert info.value.chunk_name == "delegate"
    assert info.value.__cause__.chunk_name == "explode"
    assert execution.status == "failed"
    assert execution.result.get_state() == {}


def test_a_sub_flow_inside_a_for_each_runs_once_per_item(sink):
    child = TriggerFlow(name="square_child")
    child.to(lambda d: d.set_state("sq", d.input * d.input), name="square")
    parent = TriggerFlow()
    (
        parent.to(lambda d: d.input, name="first")
        .for_each().to_sub_flow(child, write_back={"value": "snapshot.sq"}).end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    parent.start([1, 2, 3])
    assert sink == [[1, 4, 9]]


def test_a_sub_flow_can_contain_patterns_and_its_own_sub_flow(sink):
    grandchild = TriggerFlow(name="grandchild")
    grandchild.to(lambda d: d.set_state("tag", f"<{d.input}>"), name="tag")
    child = TriggerFlow(name="pattern_child")
    (
        child.to(lambda d: d.input, name="first")
        .for_each()
        .if_condition(lambda d: d.input % 2 == 0, name="even")
        .to_sub_flow(grandchild, write_back={"value": "snapshot.tag"})
        .end_condition()
        .end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="store")
    )
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(child, write_back={"value": "snapshot.out"}).to(
        lambda d: sink.append(d.input), name="after")
    parent.start([1, 2, 3, 4])
    assert sink == [[1, "<2>", 3, "<4>"]]


@pytest.mark.parametrize("path, missing", [
    ("snapshot.nope", "nope"),
    ("snapshot.nested.deep.2", "2"),  # ``deep`` holds two items: one past the end, not an IndexError from inside
])
def test_a_missing_write_back_path_fails_with_its_name(path, missing):
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(doubling_child(), write_back={"value": path}, name="bad_path")
    with pytest.raises(ChunkError) as info:
        parent.start(1)
    assert str(info.value) == (
        f"chunk 'bad_path' raised KeyError: \"write_back source '{path}': no '{missing}' in the child's output\""
    )


@pytest.mark.parametrize("kwargs, message", [
    ({"capture": {"input": "nope"}}, "capture['input'] must be 'value' or 'state.<key>', got 'nope'"),
    ({"capture": {"other": 1}}, "capture has unknown keys ['other']; use 'input' and/or 'resources'"),
    ({"capture": {"resources": {"db": "db"}}},
     "capture['resources'] must map child names to 'resources.<parent name>', e.g. {'db': 'resources.db'}"),
    ({"write_back": {"elsewhere": "result"}}, "write_back target 'elsewhere' must be 'value' or 'state.<key>'"),
    ({"write_back": {"value": "output"}},
     "write_back['value'] must be 'result', 'result.<path>', 'snapshot' or 'snapshot.<path>', got 'output'"),
])
def test_bad_capture_and_write_back_are_definition_errors(kwargs, message):
    parent = TriggerFlow()
    with pytest.raises(FlowDefinitionError) as info:
        parent.to(lambda d: d.input, name="first").to_sub_flow(doubling_child(), **kwargs)
    assert str(info.value) == message


def test_a_flow_cannot_be_its_own_sub_flow():
    flow = TriggerFlow(name="selfish")
    with pytest.raises(FlowDefinitionError, match=r"^flow 'selfish' cannot be its own sub-flow$"):
        flow.to(lambda d: d.input, name="first").to_sub_flow(flow)
    with pytest.raises(TypeError, match=r"^to_sub_flow\(\) needs a TriggerFlow, got function$"):
        flow.to(lambda d: d.input, name="first").to_sub_flow(lambda d: 1)


def test_no_deprecation_warning_without_set_result():
    parent = TriggerFlow()
    parent.to(lambda d: d.input, name="first").to_sub_flow(doubling_child(), write_back={"value": "result"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parent.start(1) == {}
