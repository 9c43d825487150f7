import json

import pytest

from triggerflow_nb import BlueprintError, TriggerFlow


def is_big(data):
    return data.input > 10


def double(data):
    return data.input * 2


def label_big(data):
    return f"big {data.input}"


def store(data):
    data.set_state("out", data.input)


def wire(flow):
    flow.to(double).if_condition(is_big).to(label_big).else_condition().end_condition().to(store)
    flow.when("Ping").to(store, name="store_ping")


def test_blueprint_round_trip_rebuilds_the_same_runnable_flow():
    original = TriggerFlow(name="bp")
    wire(original)
    blueprint = original.save_blueprint()
    assert json.loads(json.dumps(blueprint)) == blueprint
    assert "def " not in json.dumps(blueprint)  # names only, never code

    rebuilt = TriggerFlow(name="bp")
    for fn in (double, is_big, label_big, store):
        rebuilt.register_chunk_handler(fn)
    rebuilt.register_chunk_handler(store, name="store_ping")
    rebuilt.load_blueprint(blueprint)
    assert rebuilt.save_blueprint() == blueprint
    assert rebuilt.start(3) == {"out": 6} and rebuilt.start(8) == {"out": "big 16"}


def test_a_loaded_blueprint_rewires_the_same_graph_object_an_open_execution_walks():
    """Executions bind their flow's graph once: loading a blueprint replaces its contents in place,
    so an execution created before the load runs the new wiring, and the version moves on."""
    flow = TriggerFlow(name="bp")
    flow.register_chunk_handler(store)
    flow.to(lambda data: data.set_state("out", "old"), name="old_step")
    graph, version = flow.flow_graph, flow.flow_graph.version
    execution = flow.create_execution(auto_close=False)
    source = TriggerFlow(name="bp")
    source.to(store)
    flow.load_blueprint(source.save_blueprint())
    assert flow.flow_graph is graph and graph.version > version and "old_step" not in graph.nodes
    execution.start(5)
    assert execution.close() == {"out": 5}


def test_loading_with_unregistered_handler_names_them():
    original = TriggerFlow(name="bp")
    wire(original)
    target = TriggerFlow(name="bp")
    target.register_chunk_handler(double)
    with pytest.raises(BlueprintError) as info:
        target.load_blueprint(original.save_blueprint())
    assert str(info.value) == (
        "blueprint of flow 'bp' names handlers that are not registered: ['is_big', 'label_big', 'store', "
        "'store_ping']; register each with flow.register_chunk_handler(fn) (or @flow.chunk('name')) before load_blueprint()"
    )


@pytest.mark.parametrize("bad, message", [
    ([1], "not a version-2 blueprint (expected a dict from flow.save_blueprint()), got list"),
    ({"blueprint_version": 2, "name": "x"}, "malformed blueprint: KeyError: 'nodes'"),
    ({"blueprint_version": 2, "name": "x", "nodes": [], "edges": [["a", "b"]]},
     "blueprint edge 'a' -> 'b' names a node it does not define"),
])
def test_malformed_blueprints(bad, message):
    with pytest.raises(BlueprintError) as info:
        TriggerFlow().load_blueprint(bad)
    assert str(info.value) == message
