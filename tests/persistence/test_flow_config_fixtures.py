"""Flow configs exported by Agently itself load here and run as they ran there, and back.

The fixtures in ``flow_config_fixtures/`` were written by ``flow_config_fixtures/make_fixtures.py``
with Agently 4.1.4.10 (Apache-2.0) installed in a throwaway venv outside this project, from the
flows of ``flow_config_flows`` (the same wiring on both sides). Each holds:

* ``config``: Agently's own ``get_flow_config()``; ``runs``: what its ``flow.start(value)`` gave;
* ``our_config``: this package's export of the same wiring, and ``our_config_runs``: what
  Agently gave running it (loaded with its ``load_flow_config``);
* ``back_config``: this package's export after loading ``config``, and ``back_config_runs``:
  what Agently gave running that.

``ours-<flow>.json`` holds flows only this package wires (``OURS_ONLY``): ``our_config``, its
``runs`` here and ``our_config_runs``, what Agently gave running it.

The tests never import Agently: they check that this package still exports exactly the configs
Agently ran, and runs every config to the results Agently recorded.
"""

import json
import pathlib

import pytest
from flow_config_flows import EXTRA_NAMES, FLOWS, HANDLERS, OURS_ONLY, build

from triggerflow_nb import TriggerFlow

FIXTURES = pathlib.Path(__file__).parent / "flow_config_fixtures"


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def with_handlers(name):
    flow = TriggerFlow(name=name)
    for handler in HANDLERS:
        flow.register_chunk_handler(handler)
    for extra, handler in EXTRA_NAMES.items():
        flow.register_chunk_handler(handler, name=extra)
    return flow


def runs(flow, recorded):
    return [[value, flow.start(value)] for value, _result in recorded]


def test_every_flow_has_a_fixture_written_by_agently_4_1_4_10():
    names = [*FLOWS, *(f"ours-{name}" for name in OURS_ONLY)]
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(names)
    assert {fixture(name)["agently"] for name in names} == {"4.1.4.10"}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_a_config_agently_exported_loads_here_and_runs_as_it_ran_there(name):
    recorded = fixture(name)
    flow = with_handlers(name).load_flow_config(recorded["config"])
    assert runs(flow, recorded["runs"]) == recorded["runs"]


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_our_export_is_the_config_agently_ran_to_the_same_results(name):
    recorded = fixture(name)
    ours = build(TriggerFlow, name)
    assert ours.get_flow_config() == recorded["our_config"]
    assert recorded["our_config_runs"] == recorded["runs"]
    assert runs(ours, recorded["runs"]) == recorded["runs"]


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_a_config_from_agently_goes_back_there_as_agently_ran_it(name):
    recorded = fixture(name)
    loaded = with_handlers(name).load_flow_config(recorded["config"])
    assert loaded.get_flow_config() == recorded["back_config"]
    assert recorded["back_config_runs"] == recorded["runs"]
    again = with_handlers(name).load_flow_config(recorded["back_config"])
    assert again.flow_graph.describe() == loaded.flow_graph.describe()


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_ours_to_config_to_ours_keeps_the_graph_and_the_runs(name):
    original = build(TriggerFlow, name)
    for text, load in ((original.get_json_flow(), "load_json_flow"), (original.get_yaml_flow(), "load_yaml_flow")):
        rebuilt = getattr(with_handlers(name), load)(text)
        assert rebuilt.flow_graph.describe() == original.flow_graph.describe()
        assert rebuilt.flow_graph.fingerprint() == original.flow_graph.fingerprint()
        assert rebuilt.get_flow_config() == original.get_flow_config()
        recorded = fixture(name)["runs"]
        assert runs(rebuilt, recorded) == runs(original, recorded) == recorded


@pytest.mark.parametrize("name", sorted(OURS_ONLY))
def test_flows_only_we_wire_export_configs_agently_runs_to_our_results(name):
    """Empty arms, a side branch ending an arm, hit_all with an else or an empty case, a collect that
    empties, a capture leaving its input implicit: what our export makes of them runs the same there."""
    recorded = fixture(f"ours-{name}")
    wire, _inputs = OURS_ONLY[name]
    ours = TriggerFlow(name=name)
    wire(ours)
    assert ours.get_flow_config() == recorded["our_config"]
    assert runs(ours, recorded["runs"]) == recorded["runs"] == recorded["our_config_runs"]
    rebuilt = with_handlers(name).load_flow_config(recorded["our_config"])
    assert rebuilt.flow_graph.describe() == ours.flow_graph.describe()
    assert runs(rebuilt, recorded["runs"]) == recorded["runs"]


def test_what_agently_blocks_become_here():
    """Their operators, read as our nodes: the shape of the graph their flows give here."""
    def shape(name):
        graph = with_handlers(name).load_flow_config(fixture(name)["config"]).flow_graph
        return [(node["kind"], [(arm["entry"], arm["tail"]) for arm in node.get("arms", [])])
                for node in graph.describe()["nodes"]]

    assert shape("chain_if") == [
        ("chunk", []), ("match", [("add_one", "add_one"), ("negate", "negate"), ("halve", "halve")]),
        ("chunk", []), ("chunk", []), ("chunk", []), ("chunk", [])]
    # their side_branch where an arm starts and where it ends: side branches in front of the arm's step
    # and after it, the last one the arm's end
    graph = with_handlers("side_in_arm").load_flow_config(fixture("side_in_arm")["config"]).flow_graph
    (for_each,) = [n for n in graph.nodes.values() if n.kind == "for_each"]
    entry, tail = for_each.branches[0].entry, for_each.branches[0].tail
    assert (entry, tail) == (f"side[note]@{for_each.id}#0", "side[mark]@double")
    assert graph.successors(entry) == ["double"] and graph.successors("double") == [tail]
    # a when() on a chunk there is a listener on its continuation: a step after it here
    graph = with_handlers("when_chunk").load_flow_config(fixture("when_chunk")["config"]).flow_graph
    assert graph.successors("double") == ["store", "mark"]
    # an event nobody emits in the config (a state key written) gets the listener flow.when() makes
    graph = with_handlers("state_trigger").load_flow_config(fixture("state_trigger")["config"]).flow_graph
    assert graph.describe()["nodes"][-1] == {"id": "when:$state:out", "kind": "event", "label": "$state:out",
                                             "events": ["$state:out"], "mode": "simple"}
