"""Flow configs (the other TriggerFlow's definition format): what maps to what, and what is refused.

Configs here are written by hand in that format, the way Agently's ``get_flow_config()`` writes them
(see test_flow_config_fixtures.py for configs Agently wrote itself): what a hostile or careless
user could hand to ``load_flow_config`` gets a FlowConfigError naming what is wrong.
"""

import copy
import json
import pathlib
import random
import sys

import pytest
from flow_config_flows import EXTRA_NAMES, HANDLERS, add_one, double, is_big, note, store

from triggerflow_nb import BlueprintError, FlowConfigError, TriggerFlow
from triggerflow_nb.persistence import flow_config


def sig(event, kind="event", role=None):
    entry = {"id": f"{kind}:{event}", "trigger_type": kind, "trigger_event": event}
    return entry if role is None else {**entry, "role": role}


def op(op_id, kind, listen=(), emit=(), options=None, **fields):
    return {"id": op_id, "kind": kind, "name": fields.pop("name", None), "listen_signals": list(listen),
            "emit_signals": list(emit), "options": options or {}, **fields}


def chunk(name, *listen, handler=None):
    return op(f"chunk-{name}", "chunk", listen, [sig(f"Chunk[{name}]", role="continuation")], name=name,
              handler_ref={"kind": "inspected", "name": handler or name, "callable_name": handler or name})


def out(name):
    return sig(f"Chunk[{name}]")


def config(*operators, name="hand"):
    return {"version": "trigger_flow/v1", "name": name, "operators": list(operators), "meta": {}, "contract": {}}


def cond(name):
    return {"kind": "inspected", "name": name}


def match(block, listen, cases, *, mode="hit_first", else_signal=None, hint=None):
    """A router with its case operators (``cases``: (condition_ref or None, value))."""
    options = {"mode": mode, "cases": [
        {"case_id": str(i), "route_signal": sig(f"{block}-Case-{i}"), "condition_ref": ref,
         "condition_value": value, "is_else": False} for i, (ref, value) in enumerate(cases)]}
    if else_signal:
        options["else_signal"] = sig(f"{block}-Else")
    if hint:
        options["triggerflow_nb"] = hint
    ops = [op(block, "match_route", listen, [sig(f"{block}-Result", role="continuation")], options)]
    ops += [op(f"{block}-case-{i}", "match_case", [sig(f"{block}-Case-{i}")], [sig(f"{block}-Case-{i}-Branch")],
               condition_ref=ref) for i, (ref, _value) in enumerate(cases)]
    if else_signal:
        ops.append(op(f"{block}-else", "match_case", [sig(f"{block}-Else")], [sig(f"{block}-Else-Branch")],
                      {"is_else": True}))
    return ops


def loaded(cfg, name="hand"):
    flow = TriggerFlow(name=name)
    for handler in HANDLERS:
        flow.register_chunk_handler(handler)
    return flow.load_flow_config(cfg)


def refused(cfg, flow=None):
    with pytest.raises(FlowConfigError) as info:
        (flow or loaded_flow()).load_flow_config(cfg)
    return str(info.value)


def loaded_flow():
    flow = TriggerFlow(name="target")
    for handler in HANDLERS:
        flow.register_chunk_handler(handler)
    return flow


# -- ours -> config --------------------------------------------------------------------------------


def test_a_chain_exports_as_chunks_listening_to_each_others_continuation():
    flow = TriggerFlow(name="chain")
    flow.to(double).to(store)
    ref = {"kind": "registered", "callable_name": None, "module": "flow_config_flows", "file": None, "line": None}
    group = {"group_id": None, "group_kind": None, "parent_group_id": None, "parent_group_kind": None}
    assert flow.get_flow_config() == {"version": "trigger_flow/v1", "name": "chain", "meta": {}, "contract": {},
                                      "operators": [
        {"id": "double", "kind": "chunk", "name": "double", "listen_signals": [sig("START")],
         "emit_signals": [sig("Chunk[double]", role="continuation")], "options": {},
         "handler_ref": {**ref, "name": "double", "callable_name": "double", "qualname": "double"},
         "condition_ref": None, **group},
        {"id": "store", "kind": "chunk", "name": "store", "listen_signals": [sig("Chunk[double]")],
         "emit_signals": [sig("Chunk[store]", role="continuation")], "options": {},
         "handler_ref": {**ref, "name": "store", "callable_name": "store", "qualname": "store"},
         "condition_ref": None, **group},
    ]}


def test_the_config_is_json_and_its_yaml_has_no_anchors():
    flow = TriggerFlow(name="blocks")
    flow.to(double).if_condition(is_big).to(add_one).end_condition().side_branch(note).to(store)
    cfg = flow.get_flow_config()
    assert json.loads(flow.get_json_flow()) == cfg
    text = flow.get_yaml_flow()
    assert "&id" not in text and "*id" not in text
    assert flow_config.from_yaml(text) == cfg


def test_json_and_yaml_forms_are_written_where_save_to_says(tmp_path):
    flow = TriggerFlow(name="files")
    flow.to(double)
    json_text = flow.get_json_flow(save_to=tmp_path / "deep" / "flow.json")
    yaml_text = flow.get_yaml_flow(save_to=str(tmp_path / "flow.yaml"))
    assert (tmp_path / "deep" / "flow.json").read_text(encoding="utf-8") == json_text
    assert (tmp_path / "flow.yaml").read_text(encoding="utf-8") == yaml_text
    for source, load in ((tmp_path / "deep" / "flow.json", "load_json_flow"), (tmp_path / "flow.yaml", "load_yaml_flow")):
        target = TriggerFlow(name="files")
        target.register_chunk_handler(double)
        assert getattr(target, load)(source).flow_graph.describe() == flow.flow_graph.describe()


def test_an_if_block_is_marked_for_the_way_back_and_read_as_a_match_without_the_mark():
    flow = TriggerFlow(name="if")
    flow.if_condition(is_big).to(add_one).else_condition().to(double).end_condition().to(store)
    cfg = flow.get_flow_config()
    route = next(o for o in cfg["operators"] if o["kind"] == "match_route")
    assert route["options"]["triggerflow_nb"] == {"kind": "if"}
    assert loaded(cfg).flow_graph.describe() == flow.flow_graph.describe()
    del route["options"]["triggerflow_nb"]
    (node,) = [n for n in loaded(cfg).flow_graph.describe()["nodes"] if n["id"] == route["id"]]
    assert (node["kind"], [arm["label"] for arm in node["arms"]]) == ("match", ["case is_big", "else"])
    for value in (3, 20):
        assert loaded(cfg).start(value) == flow.start(value)


def test_the_if_mark_is_ignored_where_the_cases_say_otherwise():
    cfg = config(*match("m", [sig("START")], [(None, 1), (cond("is_big"), None)], hint={"kind": "if"}),
                 chunk("double", sig("m-Case-0-Branch")), chunk("add_one", sig("m-Case-1-Branch")),
                 op("m-collect", "match_collect", [out("double"), out("add_one")], [sig("m-Result")]),
                 chunk("store", sig("m-Result")))
    (node,) = [n for n in loaded(cfg).flow_graph.describe()["nodes"] if n["id"] == "m"]
    assert node == {"id": "m", "kind": "match", "label": "match", "arms": [
        {"label": "== 1", "entry": "double", "tail": "double", "default": False, "case": 1},
        {"label": "case is_big", "entry": "add_one", "tail": "add_one", "default": False, "predicate": "is_big"}]}
    assert [loaded(cfg).start(v) for v in (1, 20, 5)] == [{"out": 2}, {"out": 21}, {"out": 5}]


def test_a_side_branch_is_a_gate_naming_its_chunk_and_without_the_mark_runs_the_same():
    flow = TriggerFlow(name="side")
    flow.to(double).side_branch(note).to(store)
    cfg = flow.get_flow_config()
    gate = next(o for o in cfg["operators"] if o["kind"] == "signal_gate")
    assert (gate["id"], gate["options"]) == (
        "side[note]@double", {"mode": "simple_or", "triggerflow_nb": {"kind": "side_branch", "arm": "note"}})
    assert loaded(cfg).flow_graph.describe() == flow.flow_graph.describe()
    del gate["options"]["triggerflow_nb"]
    plain = loaded(cfg)
    assert plain.flow_graph.nodes["side[note]@double"].kind == "event"
    assert plain.start(3) == flow.start(3) == {"noted": 6, "out": 6}


def test_a_capture_leaving_the_input_implicit_is_kept_while_the_config_still_says_it():
    child = TriggerFlow(name="child")
    child.to(double).to(store)
    flow = TriggerFlow(name="parent")
    flow.to_sub_flow(child, capture={"resources": {"db": "resources.db"}}, write_back={"value": "result.out"},
                     name="step").to(store)
    cfg = flow.get_flow_config()
    (step,) = [o for o in cfg["operators"] if o["kind"] == "sub_flow"]
    assert step["options"]["capture"] == {"input": "value", "resources": {"db": "resources.db"}}
    assert step["options"]["triggerflow_nb"] == {"capture": {"resources": {"db": "resources.db"}}}
    assert loaded(cfg).flow_graph.describe() == flow.flow_graph.describe()
    step["options"]["capture"]["input"] = "runtime_data.seed"  # edited by hand: the fields win
    assert loaded(cfg).flow_graph.nodes["step"].capture == {"input": "state.seed",
                                                            "resources": {"db": "resources.db"}}


def test_loaded_sub_flows_are_flows_of_their_own_that_run():
    child = TriggerFlow(name="child")
    child.to(double).to(store)
    flow = TriggerFlow(name="parent")
    flow.to(add_one).to_sub_flow(child, write_back={"value": "result.out"}).to(store)
    again = loaded(flow.get_flow_config())
    (step,) = [n for n in again.flow_graph.nodes.values() if n.kind == "sub_flow"]
    assert type(step.sub_flow) is TriggerFlow and step.sub_flow.name == "child"
    assert again.start(3) == {"out": 8}


def _flow_with(wire):
    flow = TriggerFlow(name="x")
    wire(flow)
    return flow


def _child():
    child = TriggerFlow(name="c")
    child.to(double)
    return child


@pytest.mark.parametrize("wire, message", [
    (lambda f: f.to(double).if_condition(is_big).to(add_one),
     "flow 'x' has unclosed blocks ['if[is_big]@double']; close them first"),
    (lambda f: f.to(double).collect("c", "only"),
     "flow 'x': collect 'c' has one branch only ('only'), so it would just pass that value on: end another path "
     "with .collect('c', '<branch id>'), or use .to() instead"),
    (lambda f: f.match(name="m").case(lambda d: True).to(double).end_match(),
     "flow 'x': the predicate of arm 'case λ' in 'm' is a lambda without a name: pass name='...' to "
     "if_condition/elif_condition/case and register the function under that name"),
    (lambda f: f.match(name="m").case({1, 2}).to(double).end_match(),
     "flow 'x': match case {1, 2} in 'm' is not JSON-compatible"),
    (lambda f: f.when({"chunk": "ghost"}).to(double),
     "flow 'x': 'when:$chunk:ghost' waits for step 'ghost', which this flow does not have"),
    (lambda f: f.when("START").to(double),
     "flow 'x': 'when:START' listens to an event named 'START', which there is the flow starting; rename the event"),
    (lambda f: (f.match(name="m").case(1).to(double).end_match(), f.to(add_one, name="m#collect")),
     "flow 'x': the operator 'collect' of block 'm' would take the id 'm#collect', which a step of this flow "
     "already has; rename that step"),
    (lambda f: f.to_sub_flow(_child(), write_back={"state.k": "result"}, name="s"),
     "flow 'x': sub-flow step 's': a write_back without a 'value' target hands the child's snapshot on here, and "
     "the parent's own value there; add 'value': 'result' (or the path you want)"),
    (lambda f: f.to_sub_flow(_child(), write_back={"value": "snapshot.out"}, name="s"),
     "flow 'x': sub-flow step 's': write_back source 'snapshot.out' has no equivalent there; use 'result' or "
     "'result.<path>' (the child's final result, else its snapshot)"),
    (lambda f: f.to_sub_flow(_child(), write_back={"value": "result.items.0"}, name="s"),
     "flow 'x': sub-flow step 's': write_back source 'result.items.0' cannot be read there: use 'result' or "
     "'result.<name>.<name>...' (names of letters, digits and _, not starting with a digit)"),
    (lambda f: f.to_sub_flow(_child(), capture={"input": "state.a.b"}, name="s"),
     "flow 'x': sub-flow step 's': the name 'a.b' cannot be bound there (letters, digits and _ only, not starting "
     "with a digit)"),
])
def test_what_the_other_format_cannot_say_is_refused_on_export(wire, message):
    with pytest.raises(FlowConfigError) as info:
        _flow_with(wire).get_flow_config()
    assert str(info.value) == message
    assert isinstance(info.value, BlueprintError)


def test_two_arms_ending_at_one_step_list_it_once_and_come_back_so():
    flow = TriggerFlow(name="shared")
    flow.match(name="m").case(1).to("store").case(2).to("store").end_match()
    flow.register_chunk_handler(store)
    cfg = flow.get_flow_config()
    (collector,) = [o for o in cfg["operators"] if o["kind"] == "match_collect"]
    assert collector["listen_signals"] == [sig("Chunk[store]")]
    again = loaded(cfg)
    assert again.flow_graph.describe() == flow.flow_graph.describe()
    assert [again.start(v) for v in (1, 2, 3)] == [{"out": 1}, {"out": 2}, {}]


def test_an_event_listener_that_also_follows_a_step_cannot_be_said_there():
    source = TriggerFlow(name="odd")
    source.to(double)
    source.when("Ping").to(store)
    blueprint = source.save_blueprint()
    blueprint["edges"].append(["double", "when:Ping"])  # only a hand-edited blueprint wires this
    flow = loaded_flow().load_blueprint(blueprint)
    with pytest.raises(FlowConfigError) as info:
        flow.get_flow_config()
    assert str(info.value) == ("flow 'target': event listener 'when:Ping' also follows a step; there it could only "
                               "do one")


def test_a_refusal_inside_a_sub_flow_names_both_flows():
    child = TriggerFlow(name="child")
    child.when("START").to(double)
    flow = TriggerFlow(name="parent")
    flow.to_sub_flow(child, name="s")
    with pytest.raises(FlowConfigError) as info:
        flow.get_flow_config()
    assert str(info.value) == ("flow 'parent': flow 'child': 'when:START' listens to an event named 'START', which "
                               "there is the flow starting; rename the event")


# -- config -> ours ----------------------------------------------------------------------------------


def test_their_when_on_an_event_or_a_state_key_gets_the_listener_flow_when_makes():
    cfg = config(chunk("double", sig("START")), chunk("store", sig("Ping")), chunk("note", sig("out", "runtime_data")))
    described = loaded(cfg).flow_graph.describe()
    assert described == {"nodes": [
        {"id": "double", "kind": "chunk", "label": "double"}, {"id": "store", "kind": "chunk", "label": "store"},
        {"id": "note", "kind": "chunk", "label": "note"},
        {"id": "when:Ping", "kind": "event", "label": "Ping", "events": ["Ping"], "mode": "simple"},
        {"id": "when:$state:out", "kind": "event", "label": "$state:out", "events": ["$state:out"], "mode": "simple"},
    ], "edges": [["$start", "double"], ["when:Ping", "store"], ["when:$state:out", "note"]]}
    execution = loaded(cfg).create_execution(auto_close=False)
    execution.start(3)
    execution.emit("Ping", 7)
    assert execution.close() == {"out": 7, "noted": 7}


def test_batch_keys_concurrency_and_collect_modes_come_through():
    cfg = config(
        chunk("add_one", sig("START")),
        op("b", "batch_fanout", [out("add_one")], [sig("b-in-0"), sig("b-in-1")], {"concurrency": 0}),
        chunk("double", sig("b-in-0")), chunk("halve", sig("b-in-1")),
        op("b-collect", "batch_collect", [out("double"), out("halve")], [sig("b-done", role="continuation")],
           {"result_keys": {"event:Chunk[double]": "twice", "event:Chunk[halve]": "half"}}),
        chunk("store", sig("b-done")))
    flow = loaded(cfg)
    node = flow.flow_graph.nodes["b"]
    assert (node.kind, node.concurrency, [(a.label, a.entry, a.tail) for a in node.branches]) == (
        "batch", None, [("twice", "double", "double"), ("half", "halve", "halve")])
    assert flow.start(3) == {"out": {"twice": 8, "half": 2.0}}
    cfg["operators"][1]["options"]["concurrency"] = 3
    assert loaded(cfg).flow_graph.nodes["b"].concurrency == 3


def test_a_config_naming_unregistered_handlers_is_refused_with_their_names_and_changes_nothing():
    cfg = config(*match("m", [sig("START")], [(cond("is_tiny"), None)]),
                 chunk("shrink", sig("m-Case-0-Branch")),
                 op("m-collect", "match_collect", [out("shrink")], [sig("m-Result")]),
                 chunk("store", sig("m-Result"), handler="persist"))
    target = TriggerFlow(name="target")
    target.register_chunk_handler(store)
    target.to(store)
    before, graph, version = target.flow_graph.describe(), target.flow_graph, target.flow_graph.version
    assert refused(cfg, target) == (
        "flow config 'hand' names handlers that are not registered: ['is_tiny', 'persist', 'shrink']; register each "
        "with flow.register_chunk_handler(fn) (or @flow.chunk('name')) before load_flow_config()")
    assert target.flow_graph is graph and graph.version == version and graph.describe() == before


def test_a_handler_missing_in_a_nested_sub_flow_is_named_too():
    child = config(chunk("ghost", sig("START")), name="child")
    cfg = config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
                    {"sub_flow_config": child, "write_back": {"value": "result"}}))
    assert refused(cfg).startswith("flow config 'hand' names handlers that are not registered: ['ghost'];")


def _side_arm_config(*, listeners):
    return config(op("fe", "for_each_split", [sig("START")], [sig("fe-Send"), sig("fe-End")]),
                  *[chunk(name, sig("fe-Send")) for name in listeners],
                  op("fe-collect", "for_each_collect", [out("double")], [sig("fe-End")]),
                  chunk("store", sig("fe-End")))


def test_an_arm_that_starts_at_several_steps_keeps_the_one_reaching_its_end_and_runs_the_others_beside_it():
    flow = loaded(_side_arm_config(listeners=["note", "double"]))
    arm = flow.flow_graph.nodes["fe"].branches[0]
    assert (arm.entry, arm.tail) == ("side[note]@fe#0", "double")
    assert flow.start([5]) == {"noted": 5, "out": [10]}


@pytest.mark.parametrize("bad, message", [
    ([1], "a flow config is a mapping (from get_flow_config()), got list"),
    ({"version": "trigger_flow/v2"}, "flow config None: version 'trigger_flow/v2' is not read here; expected "
                                     "'trigger_flow/v1'"),
    ({**config(), "operators": {}}, "flow config 'hand': 'operators' must be a list, got dict"),
    ({**config(), "meta": []}, "flow config 'hand': 'meta' must be a mapping, got list"),
    (config("chunk"), "flow config 'hand': an operator must be a mapping, got str"),
    (config({"kind": "chunk"}), "flow config 'hand': an operator needs a non-empty string 'id' and a string 'kind', "
                                "got id=None, kind='chunk'"),
    (config(chunk("double", sig("START")), chunk("double", sig("START"))),
     "flow config 'hand': two operators have the id 'chunk-double'"),
    (config(op("t", "teleport", emit=[sig("x")])),
     "flow config 'hand': operator 't' has kind 'teleport', which is not an operator kind read here"),
    (config(op("i", "intervention_point", [sig("START")], [sig("i-out")])),
     "flow config 'hand': operator 'i' is an intervention point (planned interventions), which has no equivalent "
     "here"),
    (config(op("r", "result_sink", [sig("START")])),
     "flow config 'hand': operator 'r' is the result sink of the deprecated end(), which has no equivalent here: "
     "write the result to state in a chunk of your own (data.set_state(...))"),
    (config({**chunk("double"), "options": []}),
     "flow config 'hand': operator 'chunk-double': 'options' must be a mapping and 'name' a string"),
    (config(chunk("double", {"trigger_type": "rumour", "trigger_event": "x"})),
     "flow config 'hand': operator 'chunk-double': a signal needs a 'trigger_type' among ('event', 'runtime_data', "
     "'flow_data') and a non-empty 'trigger_event', got {'trigger_type': 'rumour', 'trigger_event': 'x'}"),
    (config({**chunk("double"), "listen_signals": "START"}),
     "flow config 'hand': operator 'chunk-double': 'listen_signals' must be a list, got str"),
    (config({**chunk("double"), "emit_signals": [sig("x", role="declared_emit")]}),
     "flow config 'hand': operator 'chunk-double' (chunk) emits no signal to go on with"),
    (config(chunk("double", sig("budget", "flow_data"))),
     "flow config 'hand': 'chunk-double' listens to flow_data 'budget': there are no flow_data triggers here"),
    (config({**chunk("double", sig("START")), "handler_ref": {"kind": "anonymous", "callable_name": "<lambda>"}}),
     "flow config 'hand': the handler of operator 'chunk-double' is not a named function ('<lambda>'); it cannot be "
     "found by name"),
    (config(chunk("double", sig("START")), chunk("twice", sig("START"), handler="double")),
     "flow config 'hand': two operators make the step 'double'"),
    (config(chunk("double", sig("START")), op("g", "signal_gate", [sig("A")], [out("double")], {"mode": "or"})),
     "flow config 'hand': the signal 'event:Chunk[double]' is emitted by two different steps ('double' and 'g')"),
    (config(op("g", "signal_gate", [sig("A")], [sig("g-out")], {"mode": "and"})),
     "flow config 'hand': signal_gate 'g' hands on one signal with mode 'and' (a wrapped payload), which a "
     "one-event when() here does not: use mode 'simple_or'"),
    (config(op("g", "signal_gate", [sig("START"), sig("A")], [sig("g-out")], {"mode": "or"})),
     "flow config 'hand': 'g' listens to 'event:START', the end of '$start', which when() cannot name here"),
    (config(op("fe", "for_each_split", [sig("START")], [sig("fe-Send"), sig("fe-End")]),
            op("fe-collect", "for_each_collect", [sig("fe-Send")], [sig("fe-End")]),
            op("g", "signal_gate", [sig("fe-Send"), sig("A")], [sig("g-out")], {"mode": "or"})),
     "flow config 'hand': 'g' listens to 'event:fe-Send', a signal inside 'fe', which when() cannot name here"),
    (config(*match("m", [sig("START")], [(None, 1)]), chunk("double", sig("m-Case-0")),
            op("m-collect", "match_collect", [sig("m-Case-0-Branch")], [sig("m-Result")])),
     "flow config 'hand': 'chunk-double' listens to 'event:m-Case-0', a case's signal inside match 'm': only its "
     "match_case may"),
    (config(chunk("double", sig("START"), out("double"))),
     "flow config 'hand': 'double' listens to its own continuation: it would run after itself, forever"),
    (config(op("g", "signal_gate", [sig("A"), sig("k", "flow_data")], [sig("g-out")], {"mode": "or"})),
     "flow config 'hand': 'g' listens to flow_data 'k': there are no flow_data triggers here"),
    (config(op("g", "signal_gate", [sig("A"), sig("B")], [sig("g-out")], {"mode": "xor"})),
     "flow config 'hand': signal_gate 'g' needs signals to listen to and a mode among 'and', 'or', 'simple_or', "
     "got 'xor'"),
    (config(*match("m", [sig("START")], [(None, 1)]), chunk("double", sig("m-Case-0-Branch"))),
     "flow config 'hand': block 'm' (match_route) is never closed: no collector emits its end signal "
     "'event:m-Result'"),
    (config(op("c", "match_collect", [sig("x")], [sig("nowhere")])),
     "flow config 'hand': match_collect 'c' belongs to no block of this config"),
    (config(*match("m", [sig("START")], [(None, 1)], mode="hit_some")),
     "flow config 'hand': block 'm' (match_route) is never closed: no collector emits its end signal "
     "'event:m-Result'"),
    (config(op("b", "batch_fanout", [sig("START")], [sig("b-in")]), chunk("double", sig("b-in")),
            op("b-collect", "batch_collect", [out("double")], [sig("b-done")],
               {"result_keys": {"event:Chunk[double]": "d"}}), chunk("store", out("double"))),
     "flow config 'hand': 'store' listens to the last signal of an arm, beside the block's own collector"),
    (config(*match("m", [sig("START")], [(cond("is_big"), None)]), chunk("double", sig("m-Case-0-Branch")),
            chunk("add_one", sig("m-Case-0-Branch")),
            op("m-collect", "match_collect", [out("double"), out("add_one")], [sig("m-Result")])),
     "flow config 'hand': arm 0 of 'm' has 2 first steps that reach the block's end (of ['double', 'add_one']); it "
     "needs one"),
    (config(*match("m", [sig("START")], [(cond("is_big"), None), (None, 2)]), chunk("double", sig("m-Case-0-Branch")),
            chunk("add_one", sig("m-Case-1-Branch")),
            op("m-collect", "match_collect", [out("double")], [sig("m-Result")])),
     "flow config 'hand': arm 1 of 'm' has 0 first steps that reach the block's end (of ['add_one']); it needs one"),
    (config(*match("m", [sig("START")], [(None, {1, 2})]),
            op("m-collect", "match_collect", [sig("m-Case-0-Branch")], [sig("m-Result")])),
     "flow config 'hand': case 0 of 'm' compares with a value that is not JSON"),
    (config(op("b", "batch_fanout", [sig("START")], [sig("b-in")]), chunk("double", sig("b-in"))),
     "flow config 'hand': batch 'b' has no batch_collect of its own listening to exactly its branches"),
    (config(op("b", "batch_fanout", [sig("START")], [sig("b-in")]),
            op("b-collect", "batch_collect", [], [sig("b-done")])),
     "flow config 'hand': batch 'b': the branch signal 'event:b-in' must start one chunk, not []"),
    (config(op("b", "batch_fanout", [sig("START")], [sig("b-in")]), chunk("double", sig("b-in")),
            op("b-collect", "batch_collect", [out("double")], [sig("b-done")], {"result_keys": {}})),
     "flow config 'hand': batch 'b': the branch of chunk 'chunk-double' has no result key of its own"),
    (config(op("fe", "for_each_split", [sig("START")], [sig("fe-Send")])),
     "flow config 'hand': for_each_split 'fe' emits no '...-End' signal"),
    (config(op("c1", "collect_branch", [sig("START")], [sig("Collect-c")],
               {"collection_name": "c", "branch_id": "a", "branch_ids": ["a", "b"]})),
     "flow config 'hand': collect 'c' waits for a branch no operator delivers"),
    (config(op("c1", "collect_branch", [sig("START")], [sig("Collect-c")],
               {"collection_name": "c", "branch_id": "a", "branch_ids": ["a"]})),
     "flow 'hand': collect 'c' has one branch only ('a'), so it would just pass that value on: end another path "
     "with .collect('c', '<branch id>'), or use .to() instead"),
    (config(op("c1", "collect_branch", [sig("START")], [sig("Collect-c")],
               {"collection_name": "c", "branch_id": "a", "branch_ids": ["a", "b"]}),
            op("c2", "collect_branch", [sig("START")], [sig("Collect-c")],
               {"collection_name": "c", "branch_id": "b", "branch_ids": ["b", "a"]})),
     "flow config 'hand': the operators of collect 'c' disagree on its mode or branch ids"),
    (config(*[op(f"c{b}", "collect_branch", [sig("START")], [sig("Collect-c")],
                 {"collection_name": "c", "branch_id": b, "branch_ids": ["a", "b"]}) for b in ("a", "b", "z")]),
     "flow config 'hand': collect_branch 'cz' delivers branch 'z', which collect 'c' does not wait for (['a', 'b'])"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")], {})),
     "flow config 'hand': sub_flow 's' has no 'sub_flow_config' mapping"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")], {"sub_flow_config": config(), "concurrency": 2})),
     "flow config 'hand': sub_flow 's': concurrency= on a sub-flow step has no equivalent here"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
               {"sub_flow_config": {**config(), "version": 1}})),
     "flow config 'hand': version 1 is not read here; expected 'trigger_flow/v1'"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
               {"sub_flow_config": config(), "capture": {"runtime_data": {"k": "value"}}})),
     "flow config 'hand': sub-flow step 's': capture into ['runtime_data'] has no equivalent here (a child starts with its input and "
     "forwarded resources only)"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
               {"sub_flow_config": config(), "capture": {"resources": {"db": "resources.db"}}})),
     "flow config 'hand': sub-flow step 's': a capture without 'input' starts the child with None there, and here with the parent's "
     "value; bind 'input' ('value' or 'runtime_data.<key>')"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
               {"sub_flow_config": config(), "capture": {"input": "value.items"}})),
     "flow config 'hand': sub-flow step 's': capture input 'value.items' has no equivalent here; use 'value' or 'runtime_data.<key>'"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
               {"sub_flow_config": config(), "write_back": {"runtime_data": {"k": "result"}}})),
     "flow config 'hand': sub-flow step 's': a write_back without a 'value' binding keeps the parent's value there, and hands the "
     "child's snapshot on here; bind 'value' ('result' or 'result.<path>')"),
    (config(op("s", "sub_flow", [sig("START")], [sig("s-done")],
               {"sub_flow_config": config(), "write_back": {"value": "result", "flow_data": {"k": "result"}}})),
     "flow config 'hand': sub-flow step 's': write_back into ['flow_data'] has no equivalent here"),
    (config(*match("m", [sig("START")], [(cond("is_big"), None)]),
            op("m-collect", "match_collect", [out("double")], [sig("m-Result")]))
     | {"operators": [{**o, "options": {"mode": "hit_first", "cases": [{"case_id": "0"}]}} if o["id"] == "m" else o
                      for o in config(*match("m", [sig("START")], [(cond("is_big"), None)]),
                                      op("m-collect", "match_collect", [sig("x")], [sig("m-Result")]))["operators"]]},
     "flow config 'hand': match_route 'm': 'cases' must be a list of case mappings, each with a 'route_signal'"),
])
def test_malformed_and_untranslatable_configs_are_refused_by_name(bad, message):
    target = loaded_flow()
    before = target.flow_graph.describe()
    assert refused(copy.deepcopy(bad), target) == message
    assert target.flow_graph.describe() == before


def test_too_many_operators_and_too_deep_sub_flows_are_refused_before_being_read(monkeypatch):
    monkeypatch.setattr(flow_config, "MAX_OPERATORS", 3)
    assert refused(config(*[chunk(f"c{i}", sig("START")) for i in range(4)])) == (
        "flow config 'hand': more than 3 operators (sub-flows included)")
    monkeypatch.undo()
    nested = config(chunk("double", sig("START")), name="leaf")
    for depth in range(40):
        nested = config(op(f"s{depth}", "sub_flow", [sig("START")], [sig(f"s{depth}-done")],
                           {"sub_flow_config": nested, "write_back": {"value": "result"}}), name=f"level{depth}")
    assert refused(nested) == "flow config 'level6': sub-flows are nested more than 32 deep"


# -- text forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, text, message", [
    ("load_json_flow", "not json", "not a JSON flow config: Expecting value: line 1 column 1 (char 0)"),
    ("load_json_flow", "flows/etl.json", "not a JSON flow config: Expecting value: line 1 column 1 (char 0) (to read "
                                         "the file 'flows/etl.json', pass pathlib.Path('flows/etl.json'))"),
    ("load_json_flow", "[" * 100_000, "not a JSON flow config: nested too deeply"),
    ("load_json_flow", b"{}", "load_json_flow() takes the config's text (a str) or a pathlib.Path, got bytes"),
    ("load_json_flow", "[]", "a flow config is a mapping (from get_flow_config()), got list"),
    ("load_yaml_flow", "a: &a [*a]", "not a YAML flow config: an alias makes it contain itself"),
    ("load_yaml_flow", "\n".join(["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
                                 + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]),
     "not a YAML flow config: its aliases expand it past 1000000 values"),
    ("load_yaml_flow", pathlib.Path("/nonexistent/flow.yaml"),
     "load_yaml_flow(): cannot read '/nonexistent/flow.yaml': [Errno 2] No such file or directory: "
     "'/nonexistent/flow.yaml'"),
])
def test_text_that_is_not_a_flow_config_is_refused(method, text, message):
    with pytest.raises(FlowConfigError) as info:
        getattr(loaded_flow(), method)(text)
    assert str(info.value) == message


def test_yaml_is_read_safely_never_building_python_objects():
    with pytest.raises(FlowConfigError) as info:
        loaded_flow().load_yaml_flow("version: trigger_flow/v1\noperators: !!python/object/apply:os.getpid []")
    assert str(info.value).startswith(
        "not a YAML flow config: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.getpid'")


def test_a_side_branch_at_an_arms_end_there_is_one_here_and_the_arm_ends_after_it():
    cfg = config(*match("m", [sig("START")], [(cond("is_big"), None)]), chunk("double", sig("m-Case-0-Branch")),
                 op("m-collect", "match_collect", [out("double")], [sig("m-Result")]), chunk("note", out("double")),
                 chunk("store", sig("m-Result")))
    flow = loaded(cfg)
    arm = flow.flow_graph.nodes["m"].branches[0]
    assert (arm.entry, arm.tail) == ("double", "side[note]@double")
    assert flow.start(20) == {"noted": 40, "out": 40}
    assert flow.start(3) == {"out": 3}


def test_without_pyyaml_the_yaml_forms_say_what_to_install_and_json_still_works(monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    flow = TriggerFlow(name="no-yaml")
    flow.to(double)
    message = ("YAML flow configs need PyYAML, which is not installed: pip install pyyaml (or triggerflow_nb[yaml]); "
               "the JSON forms (get_json_flow / load_json_flow) need nothing more")
    for call in (flow.get_yaml_flow, lambda: flow.load_yaml_flow("version: trigger_flow/v1")):
        with pytest.raises(FlowConfigError) as info:
            call()
        assert str(info.value) == message
    assert loaded_flow().load_json_flow(flow.get_json_flow()).flow_graph.describe() == flow.flow_graph.describe()


def test_a_damaged_real_config_loads_or_is_refused_with_a_flow_config_error_never_another():
    """Configs Agently and this package exported, each damaged in one to three places (a value
    replaced by junk or by another part of the config, a key dropped, an item repeated): reading
    one gives a flow or a FlowConfigError, and a flow read from one exports or says why not."""
    fixtures = pathlib.Path(__file__).parent / "flow_config_fixtures"
    configs = [fx[key] for path in sorted(fixtures.glob("*.json")) for fx in [json.loads(path.read_text())]
               for key in ("config", "our_config", "back_config") if key in fx]
    junk = [None, 0, -1, 1.5, "", "x", [], {}, [1], {"a": 1}, True, "START", sig("START")]
    rng = random.Random(32)

    def places(value, at=()):
        yield at
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            yield from places(child, (*at, key))

    loaded_count = 0
    for _ in range(400):
        cfg = copy.deepcopy(rng.choice(configs))
        for _ in range(rng.randint(1, 3)):
            where = rng.choice([p for p in places(cfg) if p])
            parent = cfg
            for key in where[:-1]:
                parent = parent[key]
            roll = rng.random()
            if roll < 0.4:
                parent[where[-1]] = rng.choice(junk)
            elif roll < 0.6:
                del parent[where[-1]]
            elif roll < 0.8:
                source = cfg
                for key in rng.choice([p for p in places(cfg) if p]):
                    source = source[key]
                parent[where[-1]] = copy.deepcopy(source)
            elif isinstance(parent, list):
                parent.insert(where[-1], copy.deepcopy(parent[where[-1]]))
        flow = loaded_flow()
        for extra, handler in EXTRA_NAMES.items():
            flow.register_chunk_handler(handler, name=extra)
        try:
            flow.load_flow_config(cfg)
        except FlowConfigError as exc:
            assert not str(exc).startswith("malformed flow config"), str(exc)
            continue
        loaded_count += 1
        try:
            flow.get_flow_config()
        except FlowConfigError:
            pass
    assert 50 < loaded_count < 350  # the damage reached both readable and refused configs
