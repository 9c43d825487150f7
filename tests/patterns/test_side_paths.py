"""A step with two successors inside a fan-out: the second path keeps the item's scope."""

import json

from triggerflow_nb import TriggerFlow


def test_side_path_emits_join_within_its_own_item():
    flow = TriggerFlow()
    item = flow.to(lambda d: d.input, name="items").for_each().to(lambda d: d.input, name="item")
    item.to(lambda d: d.emit("A", d.input), name="side_path")
    item.to(lambda d: d.emit("B", d.input * 10), name="main_path").end_for_each()
    flow.when(["A", "B"]).to(lambda d: d.append_state("joined", d.input["event"]), name="joined")
    out = flow.start([1, 2])
    assert sorted(out["joined"], key=lambda e: e["A"]) == [{"A": 1, "B": 10}, {"A": 2, "B": 20}]


def test_side_path_does_not_fill_the_item_slot_twice():
    flow = TriggerFlow()
    body = flow.to(lambda d: d.input, name="items").for_each()
    first = body.to(lambda d: d.input, name="fork")
    first.to(lambda d: d.append_state("side", d.input), name="side")
    first.to(lambda d: d.input * 2, name="main").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    # "side" is linked first, but "main" is the body's last step: its value is the item's result
    out = flow.start([1, 2, 3])
    assert out == {"side": [1, 2, 3], "out": [2, 4, 6]}


def test_pause_on_a_side_path_survives_save_and_load():
    def build():
        flow = TriggerFlow(name="side")
        body = flow.to(lambda d: d.input, name="items").for_each()
        fork = body.to(lambda d: d.input, name="fork")
        fork.to(lambda d: d.input + 100, name="main").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
        fork.to(lambda d: d.pause_for(type="side", payload=d.input), name="side")
        fork.to(lambda d: None, name="unused")  # a third successor, also a side path
        return flow

    ex = build().create_execution(auto_close=False)
    ex.start([1, 2])
    assert ex.result.get_state() == {"out": [101, 102]}
    saved = json.loads(json.dumps(ex.save()))
    assert [i["continuation"][-1][0] for i in saved["interrupts"]] == ["slot", "slot"]
    restored = build().create_execution(auto_close=False)
    restored.load(saved)
    for iid in list(restored.get_pending_interrupts()):
        restored.continue_with(iid, "resumed")
    assert restored.close() == {"out": [101, 102]}


def test_when_a_sub_flow_step_finishes():
    child = TriggerFlow(name="child")
    child.to(lambda d: d.set_state("c", d.input), name="c")
    parent = TriggerFlow(name="parent")
    parent.to(lambda d: d.input, name="p").to_sub_flow(child, name="child_step")
    parent.when({"chunk": "child_step"}).to(lambda d: d.set_state("after_child", d.input), name="after")
    assert parent.start(5) == {"after_child": {"c": 5}}


def test_two_named_for_each_blocks_after_one_step_stay_apart():
    flow = TriggerFlow()
    head = flow.to(lambda d: d.input, name="head")
    head.for_each(name="doubles").to(lambda d: d.input * 2, name="double").end_for_each() \
        .to(lambda d: d.set_state("doubles", d.input), name="keep_doubles")
    head.for_each(name="squares").to(lambda d: d.input ** 2, name="square").end_for_each() \
        .to(lambda d: d.set_state("squares", d.input), name="keep_squares")
    assert flow.start([1, 2, 3]) == {"doubles": [2, 4, 6], "squares": [1, 4, 9]}
