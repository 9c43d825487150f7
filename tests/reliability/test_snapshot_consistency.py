"""Each consistency rule of a snapshot, broken once: a typed refusal, an exact message, the
target untouched, and inspect_load saying exactly what load does."""

import copy
import json

import pytest

from triggerflow_nb import InvalidSnapshotError, TriggerFlow


def each_flow():
    flow = TriggerFlow(name="rules")

    async def item(data):
        if data.input % 2 and not data.is_resume:
            await data.async_pause_for(type="check", resume_to="self", interrupt_id=f"item-{data.input}")
            return None
        return data.input

    flow.to(lambda data: data.input, name="items").for_each(name="each").to(item).end_for_each() \
        .to(lambda data: data.set_state("items", data.input), name="store")
    flow.when(["A", "B"], mode="and").to(lambda data: data.set_state("joined", True), name="joined")

    async def half_join(data):
        await data.async_emit("A", 1)

    flow.to(half_join)
    return flow


@pytest.fixture
def saved():
    ex = each_flow().create_execution(auto_close=False)
    ex.start([1, 2, 3])
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    return snapshot


def refused(snapshot, message):
    target = each_flow().create_execution(auto_close=False)
    before = (target.status, target.get_state(), target.get_pending_interrupts(), target.node_status())
    report = target.inspect_load(snapshot)
    with pytest.raises(InvalidSnapshotError) as info:
        target.load(snapshot)
    assert str(info.value) == "corrupt snapshot: " + message
    assert report == {"ready": False, "missing_resource_keys": [],
                      "diagnostics": [f"InvalidSnapshotError: corrupt snapshot: {message}"]}
    assert (target.status, target.get_state(), target.get_pending_interrupts(), target.node_status()) == before
    assert target.is_fresh()


def mutate(saved, edit):
    snapshot = copy.deepcopy(saved)
    edit(snapshot)
    return snapshot


def test_the_valid_snapshot_loads_and_continues(saved):
    target = each_flow().create_execution(auto_close=False)
    assert target.inspect_load(saved)["ready"] is True
    target.load(saved)
    for interrupt_id in sorted(target.get_pending_interrupts()):
        target.continue_with(interrupt_id, "ok")
    assert target.close() == {"items": [1, 2, 3]}


def test_a_slot_frame_past_the_fan_outs_slots(saved):
    def edit(s):
        s["interrupts"][0]["continuation"] = [["slot", "each#1", 7]]
    refused(mutate(saved, edit), "continuation frame ['slot', 'each#1', 7] of interrupt 'item-1' refers to no slot "
                                 "of 'each#1'")


def test_a_slot_frame_naming_no_fan_out_of_the_flow(saved):
    def edit(s):
        s["interrupts"][0]["continuation"] = [["slot", "nothing#1", 0]]
    refused(mutate(saved, edit), "continuation frame ['slot', 'nothing#1', 0] of interrupt 'item-1' refers to no "
                                 "fan-out of this flow")


def test_a_main_path_into_a_fan_out_the_snapshot_lacks(saved):
    def edit(s):
        s["continuation"]["activations"] = []
    refused(mutate(saved, edit), "interrupt 'item-1' continues inside fan-out 'each#1', which the snapshot does "
                                 "not have")


def test_a_then_frame_naming_no_block(saved):
    def edit(s):
        s["interrupts"][0]["continuation"] = [["then", "store", 0]]
    refused(mutate(saved, edit), "continuation frame ['then', 'store', 0] of interrupt 'item-1' refers to nothing")


def test_remaining_that_disagrees_with_the_pending_paths(saved):
    def edit(s):
        s["continuation"]["activations"][0]["remaining"] = 3
    refused(mutate(saved, edit), "activation 'each#1' says 3 slot(s) remain, but pending paths point at 2")


def test_keys_on_a_for_each(saved):
    def edit(s):
        s["continuation"]["activations"][0]["keys"] = ["a", "b", "c"]
    refused(mutate(saved, edit), "activation 'each#1' of for_each 'each' has keys; a for_each has none")


def test_an_activation_id_beyond_the_counter(saved):
    def edit(s):
        s["continuation"]["activations"][0]["id"] = "each#5"
    refused(mutate(saved, edit), "activation id 'each#5' does not fit its node 'each' and the counter 1")


def test_a_duplicated_activation(saved):
    def edit(s):
        s["continuation"]["activations"].append(copy.deepcopy(s["continuation"]["activations"][0]))
    refused(mutate(saved, edit), "activation 'each#1' appears twice")


def test_a_join_on_an_unknown_node(saved):
    def edit(s):
        s["continuation"]["joins"][0]["node"] = "store"
    refused(mutate(saved, edit), "join 'store' is no and-join or collect of this flow")


def test_a_join_that_has_seen_every_event(saved):
    def edit(s):
        s["continuation"]["joins"][0]["seen"] = {"A": 1, "B": 2}
    refused(mutate(saved, edit), "join 'when:and(A,B)' has seen ['A', 'B']: expected some, not all, of ['A', 'B']")


def test_node_status_naming_unknown_nodes(saved):
    def edit(s):
        s["continuation"]["node_status"]["ghost"] = "done"
    refused(mutate(saved, edit), "node_status names nodes this flow does not have: ['ghost']")


def test_duplicate_and_empty_interrupt_ids(saved):
    def dup(s):
        s["interrupts"][1]["id"] = s["interrupts"][0]["id"]
    refused(mutate(saved, dup), "interrupt id 'item-1' is empty or used twice")

    def empty(s):
        s["interrupts"][0]["id"] = ""
    refused(mutate(saved, empty), "interrupt id '' is empty or used twice")


def test_resume_to_without_an_event(saved):
    def edit(s):
        s["interrupts"][0]["resume_to"] = {"evnt": "B"}
    refused(mutate(saved, edit), "interrupt 'item-1' resumes to {'evnt': 'B'}: expected 'next', 'self' or "
                                 "{'event': name}")


def test_a_resumed_interrupt_that_still_carries_a_continuation(saved):
    def edit(s):
        s["interrupts"][0]["status"] = "resumed"
        s["status"] = "waiting"
    refused(mutate(saved, edit), "interrupt 'item-1' is resumed but still carries a continuation")


def test_a_status_that_contradicts_the_pending_interrupts(saved):
    def edit(s):
        s["status"] = "idle"
    refused(mutate(saved, edit), "status 'idle' of an open execution with 2 pending interrupt(s): expected 'waiting'")


def test_a_closed_snapshot_with_pending_interrupts(saved):
    def edit(s):
        s["lifecycle_state"], s["status"], s["closed_at"] = "closed", "completed", s["saved_at"]
    refused(mutate(saved, edit), "a closed execution with status 'completed', closed_at "
                                 f"{saved['saved_at']!r} and 2 pending interrupt(s)")


def test_free_text_statuses_are_refused_by_the_schema(saved):
    target = each_flow().create_execution(auto_close=False)
    with pytest.raises(InvalidSnapshotError, match=r"^corrupt snapshot: status: Input should be 'created', "):
        target.load(mutate(saved, lambda s: s.update(status="kinda done")))
    assert target.is_fresh()
