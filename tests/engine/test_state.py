import dataclasses
import threading

import pydantic
import pytest

from triggerflow_nb import InvalidArgumentError, StateSerializationError, TriggerFlow


class Point(pydantic.BaseModel):
    x: int
    y: int


@dataclasses.dataclass
class Box:
    w: int
    tags: tuple


def run_chunk(fn, value=None):
    flow = TriggerFlow(name="state")
    flow.to(fn, name="step")
    return flow.start(value)


def test_full_state_api_sync_and_async():
    async def step(data):
        await data.async_set_state("a", 1)
        data.set_state("b", [1])
        data.append_state("b", 2)
        await data.async_append_state("c", "x")
        data.set_state("gone", 0)
        data.del_state("gone")
        data.set_state("gone2", 0)
        await data.async_del_state("gone2")
        data.state.set("ns", {"k": "v"})
        data.state.append("ns_list", 1)
        data.state.delete("never_there")
        assert data.get_state("a") == 1 and data.get_state("missing", "dflt") == "dflt"
        assert data.state.get("ns") == {"k": "v"} and "ns" in data.state and data.state["a"] == 1
        assert data.get_state() == {"a": 1, "b": [1, 2], "c": ["x"], "ns": {"k": "v"}, "ns_list": [1]}

    assert run_chunk(step) == {"a": 1, "b": [1, 2], "c": ["x"], "ns": {"k": "v"}, "ns_list": [1]}


def test_set_replaces_lists_and_dicts_append_is_explicit():
    def step(data):
        data.set_state("l", [1, 2])
        data.set_state("l", [3])
        data.set_state("d", {"a": 1})
        data.set_state("d", {"b": 2})
        data.set_state("scalar", 1)
        data.append_state("scalar", 2)

    assert run_chunk(step) == {"l": [3], "d": {"b": 2}, "scalar": [1, 2]}


def test_pydantic_models_and_dataclasses_are_stored_as_dicts():
    def step(data):
        data.set_state("p", Point(x=1, y=2))
        data.set_state("b", Box(3, ("a", "b")))
        data.set_state("nested", {"pts": [Point(x=0, y=0)]})

    assert run_chunk(step) == {"p": {"x": 1, "y": 2}, "b": {"w": 3, "tags": ["a", "b"]}, "nested": {"pts": [{"x": 0, "y": 0}]}}


@pytest.mark.parametrize("value, detail", [
    (threading.Lock(), "value is a _thread.lock, which is not JSON-compatible"),
    ({"client": object()}, "value['client'] is a builtins.object, which is not JSON-compatible"),
    ([1, len], "value[1] is a builtins.builtin_function_or_method, which is not JSON-compatible"),
    ({1: "a"}, "value has a dict key 1 of type int; JSON objects need string keys"),
    ({"s"}, "value is a builtins.set, which is not JSON-compatible"),
])
def test_non_serializable_state_raises_naming_key_and_advising_resources(value, detail):
    def step(data):
        data.set_state("k", value)

    with pytest.raises(StateSerializationError) as info:
        run_chunk(step)
    assert info.value.key == "k"
    assert str(info.value) == (
        f"state key 'k': {detail}. State must stay serializable (it goes into the close snapshot and save()); "
        f"put live objects such as clients, locks, sockets or callbacks into runtime_resources instead "
        f"(create_execution(runtime_resources={{'k': obj}}) and data.require_resource('k')). (in chunk 'step')"
    )


def test_rejected_write_leaves_state_as_it_was_and_execution_failed():
    flow = TriggerFlow()

    def step(data):
        data.set_state("ok", 1)
        data.set_state("bad", object())

    flow.to(step)
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(StateSerializationError):
        ex.start(None)
    assert ex.result.get_state() == {"ok": 1}
    assert ex.status == "failed"


def test_state_is_copied_at_write_and_read():
    captured = []

    def step(data):
        value = {"n": [1]}
        data.set_state("v", value)
        value["n"].append(2)  # the chunk's own object changes; state does not
        got = data.get_state("v")
        got["n"].append(3)  # mutating what was read changes nothing
        captured.append(data.get_state("v"))

    assert run_chunk(step) == {"v": {"n": [1]}}
    assert captured == [{"n": [1]}]


def test_state_is_execution_local():
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("mine", d.input))
    assert flow.start(1) == {"mine": 1}
    assert flow.start(2) == {"mine": 2}


def test_state_change_can_trigger_when_state():
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("stage", "ready"))
    flow.when({"state": "stage"}).to(lambda d: d.set_state("seen", d.input, emit=False))
    assert flow.start(None) == {"stage": "ready", "seen": "ready"}

    quiet = TriggerFlow()
    quiet.to(lambda d: d.set_state("stage", "ready", emit=False))
    quiet.when({"state": "stage"}).to(lambda d: d.set_state("seen", d.input))
    assert quiet.start(None) == {"stage": "ready"}


def test_when_state_handlers_get_a_copy_from_sync_and_async_writes():
    flow = TriggerFlow()

    async def writer(data):
        data.set_state("sync_list", [1])
        await data.async_set_state("async_list", [1])

    def mutate(data):
        data.input.append("changed by handler")  # must not reach state behind the write check

    flow.to(writer)
    flow.when({"state": "sync_list"}).to(mutate, name="mutate_sync")
    flow.when({"state": "async_list"}).to(mutate, name="mutate_async")
    assert flow.start() == {"sync_list": [1], "async_list": [1]}


@pytest.mark.parametrize("trigger, shown", [
    ({"state": ""}, "''"),
    ({"state": ["stage", ""]}, "''"),
    ({"runtime_data": ""}, "''"),
    ({"state": [None]}, "None"),
    ({"state": 3}, "3"),
])
def test_when_state_needs_a_non_empty_key_at_wiring(trigger, shown):
    flow = TriggerFlow()
    with pytest.raises(InvalidArgumentError) as info:
        flow.when(trigger)
    kind = next(iter(trigger))
    assert str(info.value) == (f"when({{{kind!r}: ...}}) names a state key, which must be a non-empty string, "
                               f"got {shown}")
