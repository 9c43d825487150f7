"""Blueprints of flows with predicate cases, hit_all matches, collects and side branches:
exported as names only, imported into a flow with the same handlers, run the same."""

import json

import pytest

from triggerflow_nb import BlueprintError, TriggerFlow


def positive(data):
    return data.input > 0


def even(data):
    return data.input % 2 == 0


def label_positive(data):
    return "positive"


def label_even(data):
    return "even"


def label_other(data):
    return "other"


def halve(data):
    return data.input / 2


def negate(data):
    return -data.input


def note(data):
    data.set_state("noted", data.input)


def store(data):
    data.set_state("out", data.input)


HANDLERS = (positive, even, label_positive, label_even, label_other, halve, negate, note, store)


def wire(flow):
    flow.side_branch(note).match(mode="hit_all", name="kinds") \
        .case(positive).to(label_positive).case(even).to(label_even).case(0).to(label_other) \
        .end_match().collect("both", "kinds")
    flow.to(halve).collect("both", "half")
    flow.to(negate).collect("both", "negated", ).to(store)


def rebuilt_from(blueprint):
    flow = TriggerFlow(name="bp-blocks")
    for fn in HANDLERS:
        flow.register_chunk_handler(fn)
    flow.load_blueprint(blueprint)
    return flow


def test_the_blueprint_names_the_new_blocks_and_round_trips():
    original = TriggerFlow(name="bp-blocks")
    wire(original)
    blueprint = original.save_blueprint()
    assert json.loads(json.dumps(blueprint)) == blueprint
    nodes = {node["id"]: node for node in blueprint["nodes"]}
    assert nodes["kinds"]["mode"] == "hit_all"
    assert [(arm["label"], arm.get("predicate"), arm.get("case")) for arm in nodes["kinds"]["arms"]] == [
        ("case positive", "positive", None), ("case even", "even", None), ("== 0", None, 0)]
    assert (nodes["collect[both]"]["kind"], nodes["collect[both]"]["mode"]) == ("collect", "filled_and_update")
    assert [arm["label"] for arm in nodes["collect[both]"]["arms"]] == ["kinds", "half", "negated"]
    side = nodes["side[note]@$start"]
    assert (side["kind"], side["arms"][0]["entry"]) == ("side_branch", "note")

    rebuilt = rebuilt_from(blueprint)
    assert rebuilt.save_blueprint() == blueprint
    assert rebuilt.flow_graph.fingerprint() == original.flow_graph.fingerprint()
    for value in (4, -3, 0):
        assert rebuilt.start(value) == original.start(value)
    assert rebuilt.start(4) == {"noted": 4, "out": {"kinds": ["positive", "even"], "half": 2.0, "negated": -4}}


def test_a_predicate_case_whose_function_is_not_registered_is_named():
    original = TriggerFlow(name="bp-blocks")
    wire(original)
    target = TriggerFlow(name="bp-blocks")
    for fn in HANDLERS:
        if fn is not even:
            target.register_chunk_handler(fn)
    with pytest.raises(BlueprintError) as info:
        target.load_blueprint(original.save_blueprint())
    assert str(info.value).startswith("blueprint of flow 'bp-blocks' names handlers that are not registered: ['even'];")


def test_a_hit_first_match_keeps_the_blueprint_and_fingerprint_it_had_before_modes():
    flow = TriggerFlow(name="old")
    flow.match(name="m").case(1).to(store).end_match()
    (node,) = [n for n in flow.save_blueprint()["nodes"] if n["id"] == "m"]
    assert "mode" not in node
    assert flow.flow_graph.fingerprint() == rebuilt_single(flow.save_blueprint()).flow_graph.fingerprint()


def rebuilt_single(blueprint):
    flow = TriggerFlow(name="old")
    flow.register_chunk_handler(store)
    flow.load_blueprint(blueprint)
    assert flow.flow_graph.nodes["m"].mode == "hit_first"
    return flow


def test_a_collect_with_one_branch_cannot_be_exported():
    flow = TriggerFlow(name="lonely")
    flow.to(halve).collect("c", "only")
    with pytest.raises(BlueprintError) as info:
        flow.save_blueprint()
    assert str(info.value) == (
        "flow 'lonely': collect 'c' has one branch only ('only'), so it would just pass that value on: end another "
        "path with .collect('c', '<branch id>'), or use .to() instead"
    )


def test_changing_the_match_mode_or_a_case_kind_changes_the_fingerprint():
    def fingerprint(mode, case):
        flow = TriggerFlow()
        flow.match(name="m", mode=mode).case(case).to(store).end_match()
        return flow.flow_graph.fingerprint()

    assert len({fingerprint("hit_first", 1), fingerprint("hit_all", 1), fingerprint("hit_first", positive)}) == 3
