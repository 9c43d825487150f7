"""The snapshot rules for the new blocks, each broken once: hit_all activations (which case each
slot runs), collect joins (which branches a collect has seen), and frames into a hit_all match."""

import json

import pytest
from snapshot_refusal import mutate
from snapshot_refusal import refused as check_refused

from triggerflow_nb import InvalidSnapshotError, TriggerFlow


async def wait(data):
    await data.async_pause_for(type="wait", interrupt_id="wait")


def block_flow():
    flow = TriggerFlow(name="block-rules")
    flow.to(lambda d: d.input, name="first").match(mode="hit_all", name="m") \
        .case(lambda d: True, name="yes").to(wait, name="wait").case(lambda d: False, name="no") \
        .to(lambda d: "no", name="never").case(lambda d: True, name="also").to(lambda d: "also", name="also_arm") \
        .case_else().to(lambda d: "else", name="else_arm").end_match() \
        .to(lambda d: d.set_state("hits", d.input), name="keep")
    flow.to(lambda d: 1, name="one").collect("c", "x")
    flow.when("Y").collect("c", "y").to(lambda d: d.set_state("c", d.input), name="keep_c")
    flow.to(lambda d: 2, name="two").collect("once", "p", mode="filled_then_empty")
    flow.when("Q").collect("once", "q", mode="filled_then_empty")
    return flow


@pytest.fixture
def saved():
    ex = block_flow().create_execution(auto_close=False)
    ex.start(0)
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    return snapshot


def refused(snapshot, message):
    check_refused(snapshot, message, block_flow)


def test_the_valid_snapshot_loads_and_continues(saved):
    assert saved["continuation"]["activations"][0]["arms"] == [0, 2]
    assert saved["continuation"]["joins"] == [{"node": "collect[c]", "scope": "", "seen": {"x": 1}},
                                              {"node": "collect[once]", "scope": "", "seen": {"p": 2}}]
    target = block_flow().create_execution(auto_close=False)
    target.load(saved)
    target.continue_with("wait", "w")
    target.emit("Y", "y")
    assert target.close() == {"hits": ["w", "also"], "c": {"x": 1, "y": "y"}}


@pytest.mark.parametrize("arms", [[0], [0, 1, 2], [2, 0], [0, 3], [0, 0], [], [0, 9]])
def test_hit_all_arms_must_be_distinct_cases_in_order_one_per_slot(saved, arms):
    def edit(s):
        s["continuation"]["activations"][0]["arms"] = arms
    refused(mutate(saved, edit), f"activation 'm#1' of hit_all match 'm' runs arms {arms!r}: expected one or more "
                                 f"of its cases [0, 1, 2], in order, one per slot")


def test_a_hit_all_activation_without_arms_is_refused(saved):
    refused(mutate(saved, lambda s: s["continuation"]["activations"][0].pop("arms")),
            "activation 'm#1' of hit_all match 'm' runs arms None: expected one or more of its cases [0, 1, 2], "
            "in order, one per slot")


def test_a_then_frame_into_a_hit_all_case_is_refused(saved):
    def edit(s):
        s["interrupts"][0]["continuation"] = [["then", "m", 0]]
    refused(mutate(saved, edit), "continuation frame ['then', 'm', 0] of interrupt 'wait' refers to nothing")


def test_a_collect_join_naming_an_unknown_branch_is_refused(saved):
    def edit(s):
        s["continuation"]["joins"][0]["seen"] = {"zz": 1}
    refused(mutate(saved, edit), "collect 'collect[c]' has seen branches ['zz']: expected some of ['x', 'y']")


def test_a_full_filled_then_empty_collect_is_refused_but_a_full_filled_and_update_one_loads(saved):
    def fill_once(s):
        s["continuation"]["joins"][1]["seen"] = {"p": 2, "q": 3}
    refused(mutate(saved, fill_once),
            "collect 'collect[once]' has seen branches ['p', 'q']: expected some, not all, of ['p', 'q']")

    def fill_update(s):
        s["continuation"]["joins"][0]["seen"] = {"x": 1, "y": 2}
    target = block_flow().create_execution(auto_close=False)
    target.load(mutate(saved, fill_update))
    target.continue_with("wait", "w")
    target.emit("Y", "new y")  # a filled_and_update collect fires again on every new value
    assert target.close() == {"hits": ["w", "also"], "c": {"x": 1, "y": "new y"}}


def test_an_empty_collect_join_is_refused(saved):
    def edit(s):
        s["continuation"]["joins"][0]["seen"] = {}
    refused(mutate(saved, edit), "collect 'collect[c]' has seen branches []: expected some of ['x', 'y']")


def test_arms_on_a_for_each_activation_are_refused():
    flow = TriggerFlow(name="each-arms")
    flow.for_each(name="each").to(wait, name="wait").end_for_each()
    ex = flow.create_execution(auto_close=False)
    ex.start([1])
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    snapshot["continuation"]["activations"][0]["arms"] = [0]
    target = flow.create_execution(auto_close=False)
    with pytest.raises(InvalidSnapshotError) as info:
        target.load(snapshot)
    assert str(info.value) == ("corrupt snapshot: activation 'each#1' of for_each 'each' has arms; only a hit_all "
                               "match has them")
