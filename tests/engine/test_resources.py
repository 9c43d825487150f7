import pytest

from triggerflow_nb import MissingResourceError, TriggerFlow


class Client:
    pass


def test_resources_are_passed_by_identity_including_containers():
    flow = TriggerFlow()
    client, cache = Client(), {"hits": []}
    seen = {}

    def step(data):
        seen["client"] = data.require_resource("db")
        seen["cache"] = data.get_resource("cache")
        data.get_resource("cache")["hits"].append(1)

    flow.to(step)
    ex = flow.create_execution(auto_close=False, runtime_resources={"db": client, "cache": cache})
    ex.start(None)
    ex.close()
    assert seen["client"] is client and seen["cache"] is cache
    assert cache == {"hits": [1]}


def test_flow_level_defaults_and_execution_level_wins():
    flow = TriggerFlow()
    flow_logger, exec_logger, shared = Client(), Client(), Client()
    flow.update_runtime_resources(logger=flow_logger, shared=shared)
    got = {}
    flow.to(lambda d: got.update(logger=d.require_resource("logger"), shared=d.require_resource("shared")))
    ex = flow.create_execution(auto_close=False, runtime_resources={"logger": exec_logger})
    ex.start(None)
    assert got["logger"] is exec_logger and got["shared"] is shared
    assert ex.result.get_meta()["resource_keys"] == ["logger", "shared"]


def test_require_resource_names_missing_and_present_keys():
    flow = TriggerFlow()
    flow.to(lambda d: d.require_resource("db"), name="query")
    ex = flow.create_execution(auto_close=False, runtime_resources={"logger": Client(), "cache": {}})
    with pytest.raises(MissingResourceError) as info:
        ex.start(None)
    assert info.value.missing == ["db"] and info.value.present == ["cache", "logger"]
    assert str(info.value) == (
        "missing runtime resource 'db' in chunk 'query'; present: 'cache', 'logger'. Inject it with "
        "flow.create_execution(runtime_resources={...}), flow.update_runtime_resources(...), or "
        "load(saved, runtime_resources={...})."
    )
    assert isinstance(info.value, KeyError)


def test_get_set_del_resource_in_chunk():
    flow = TriggerFlow()
    marker = Client()
    flow.update_runtime_resources(flow_level=1)

    def step(data):
        assert data.get_resource("nope", "dflt") == "dflt"
        data.set_resource("made", marker)
        data.del_resource("flow_level")
        return data.get_resource("flow_level", "removed")

    flow.to(step).to(lambda d: d.set_state("after", d.input))
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ex.runtime_resources.get("made") is marker
    assert ex.result.get_state() == {"after": "removed"}
    assert flow._runtime_resources == {"flow_level": 1}  # the flow default itself is untouched


def test_resources_never_reach_state_or_snapshot():
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("n", 1))
    ex = flow.create_execution(auto_close=False, runtime_resources={"db": Client()})
    ex.start(None)
    assert ex.close() == {"n": 1}


def test_bad_resource_keys():
    flow = TriggerFlow()
    with pytest.raises(TypeError, match="runtime_resources keys must be strings, got 1"):
        flow.create_execution(runtime_resources={1: Client()})
