"""Each consistency rule of a snapshot, broken once: a typed refusal, an exact message, the
target untouched, and inspect_load saying exactly what load does."""

import copy
import json

import pytest
from snapshot_refusal import mutate
from snapshot_refusal import refused as check_refused

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


def refused(snapshot, message, flow=each_flow):
    check_refused(snapshot, message, flow)


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


def test_a_fan_out_item_paused_to_an_event(saved):
    """pause_for refuses it (the block would wait for the item for good); a snapshot may not hold it."""
    def edit(s):
        s["interrupts"][0]["resume_to"] = {"event": "B"}
    refused(mutate(saved, edit), "interrupt 'item-1' pauses inside a fan-out item and resumes to {'event': 'B'}: "
                                 "only 'next' or 'self' can fill the item's slot")


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


# --- rules that only an exact refusal pins (found by scripts/mutate.py) -----------------------


def test_an_activation_naming_no_node_of_the_flow(saved):
    def edit(s):
        s["continuation"]["activations"][0]["node"] = "ghost"
    refused(mutate(saved, edit), "activation 'each#1' names 'ghost', which is no batch, for_each or hit_all match node")


def test_an_interrupt_paused_at_no_chunk_of_the_flow(saved):
    def edit(s):
        s["interrupts"][0]["chunk"] = "ghost"
    refused(mutate(saved, edit), "interrupt 'item-1' names unknown chunk 'ghost'")


def test_a_resumed_interrupt_that_still_carries_its_input(saved):
    def edit(s):
        s["interrupts"][0].update(status="resumed", continuation=[], input=1)
    refused(mutate(saved, edit), "interrupt 'item-1' is resumed but still carries a continuation")


def test_a_join_recorded_twice_in_one_scope(saved):
    def edit(s):
        s["continuation"]["joins"].append(copy.deepcopy(s["continuation"]["joins"][0]))
    refused(mutate(saved, edit), "join 'when:and(A,B)' appears twice in scope ''")


def test_a_slot_frame_one_past_the_last_slot(saved):
    def edit(s):
        s["interrupts"][0]["continuation"] = [["slot", "each#1", 3]]
    refused(mutate(saved, edit), "continuation frame ['slot', 'each#1', 3] of interrupt 'item-1' refers to no slot "
                                 "of 'each#1'")


def test_a_snapshot_that_never_started_but_records_progress(saved):
    def edit(s):
        s.update(started=False, status="created")
    refused(mutate(saved, edit), "an execution that never started has status 'created' or recorded progress")


def test_a_snapshot_that_never_started_with_only_a_join_recorded():
    ex = each_flow().create_execution(auto_close=False)
    fresh = json.loads(json.dumps(ex.save()))
    target = each_flow().create_execution(auto_close=False)
    target.load(fresh)  # the plain unstarted snapshot is fine
    assert target.status == "created"

    def edit(s):
        s["continuation"]["joins"] = [{"node": "when:and(A,B)", "scope": "", "seen": {"A": 1}}]
    refused(mutate(fresh, edit), "an execution that never started has status 'created' or recorded progress")


def test_every_item_paused_is_a_fan_out_with_all_its_slots_remaining():
    ex = each_flow().create_execution(auto_close=False)
    ex.start([1, 3, 5])
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    assert snapshot["continuation"]["activations"][0]["remaining"] == 3
    target = each_flow().create_execution(auto_close=False)
    target.load(snapshot)
    for interrupt_id in ["item-1", "item-3", "item-5"]:
        target.continue_with(interrupt_id, "ok")
    assert target.close() == {"items": [1, 3, 5]}


IS_LIST, EACH = "if[is_list]@$start", "each"


def nested_flow():
    """A pause inside a for_each item inside an if arm: two frames, if outermost."""
    flow = TriggerFlow(name="nested-rules")

    async def item(data):
        if not data.is_resume:
            await data.async_pause_for(type="check", resume_to="self", interrupt_id=f"item-{data.input}")
            return None
        return data.input * 10

    (flow.if_condition(lambda data: isinstance(data.input, list), name="is_list")
         .for_each(name="each").to(item).to(lambda data: data.input + 1, name="bump").end_for_each()
         .else_condition().to(lambda data: [], name="nothing")
     .end_condition()
     .to(lambda data: data.set_state("out", data.input), name="store"))
    return flow


@pytest.fixture
def nested_saved():
    ex = nested_flow().create_execution(auto_close=False)
    ex.start([1, 2])
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    return snapshot


def test_the_nested_snapshot_loads_and_continues(nested_saved):
    assert nested_saved["interrupts"][0]["continuation"] == [["then", IS_LIST, 0], ["slot", EACH + "#1", 0]]
    target = nested_flow().create_execution(auto_close=False)
    target.load(nested_saved)
    target.continue_with("item-1", None)
    target.continue_with("item-2", None)
    assert target.close() == {"out": [11, 21]}


def test_a_then_frame_one_past_the_last_arm(nested_saved):
    def edit(s):
        s["interrupts"][0]["continuation"][0] = ["then", IS_LIST, 2]
    refused(mutate(nested_saved, edit), f"continuation frame ['then', {IS_LIST!r}, 2] of interrupt 'item-1' refers "
                                        "to nothing", flow=nested_flow)


def test_a_dropped_outer_frame(nested_saved):
    def edit(s):
        del s["interrupts"][0]["continuation"][0]
    refused(mutate(nested_saved, edit), "the continuation of interrupt 'item-1' names blocks ['each'], but 'item' "
                                        f"sits inside ['each', {IS_LIST!r}]", flow=nested_flow)


def test_a_frame_named_twice(nested_saved):
    def edit(s):
        frames = s["interrupts"][0]["continuation"]
        frames.insert(0, list(frames[0]))
    refused(mutate(nested_saved, edit), "the continuation of interrupt 'item-1' names blocks "
                                        f"[{IS_LIST!r}, {IS_LIST!r}, 'each'], but 'item' sits inside ['each', {IS_LIST!r}]", flow=nested_flow)


def test_frames_in_the_wrong_order(nested_saved):
    def edit(s):
        s["interrupts"][0]["continuation"].reverse()
    refused(mutate(nested_saved, edit), f"the continuation of interrupt 'item-1' nests {IS_LIST!r} inside 'each', "
                                        "which does not hold it", flow=nested_flow)


def arm_flow():
    """A pause in an if arm inside a for_each item: the arm's end leads on to the item's last step."""
    flow = TriggerFlow(name="arm-rules")

    async def hold(data):
        if not data.is_resume:
            await data.async_pause_for(type="check", resume_to="self", interrupt_id=f"hold-{data.input}")
            return None
        return data.input

    (flow.for_each(name="each")
         .if_condition(lambda data: data.input > 0, name="positive").to(hold).end_condition()
         .to(lambda data: data.input * 2, name="double")
     .end_for_each()
     .to(lambda data: data.set_state("out", data.input), name="store"))
    return flow


def test_a_path_leaving_an_if_arm_into_a_fan_out_the_snapshot_lacks():
    ex = arm_flow().create_execution(auto_close=False)
    ex.start([-1, 2])  # item 0 goes past the if; item 1 pauses inside it
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    assert snapshot["interrupts"][0]["continuation"] == [["slot", "each#1", 1], ["then", "if[positive]@each#0", 0]]
    target = arm_flow().create_execution(auto_close=False)
    target.load(snapshot)
    target.continue_with("hold-2", None)
    assert target.close() == {"out": [-2, 4]}

    def edit(s):
        s["continuation"]["activations"] = []
    refused(mutate(snapshot, edit), "interrupt 'hold-2' continues inside fan-out 'each#1', which the snapshot does not "
                                    "have", flow=arm_flow)


def test_a_path_whose_later_steps_end_a_fan_out_the_snapshot_lacks(nested_saved):
    def edit(s):
        s["continuation"]["activations"] = []
    refused(mutate(nested_saved, edit), "interrupt 'item-1' continues inside fan-out 'each#1', which the snapshot "
                                        "does not have", flow=nested_flow)


def test_a_slot_frame_naming_a_chunk_as_a_fan_out(saved):
    def edit(s):
        s["interrupts"][0]["continuation"] = [["slot", "store#1", 0]]
    refused(mutate(saved, edit), "continuation frame ['slot', 'store#1', 0] of interrupt 'item-1' refers to no "
                                 "fan-out of this flow")


def batch_flow():
    flow = TriggerFlow(name="batch-rules")

    async def slow(data):
        if not data.is_resume:
            await data.async_pause_for(type="check", resume_to="self", interrupt_id="slow")
            return None
        return "slow done"

    flow.batch(("fast", lambda data: "fast done"), ("slow", slow), name="both") \
        .to(lambda data: data.set_state("out", data.input), name="store")
    return flow


def test_a_batch_activation_with_its_branch_names_but_a_slot_too_many():
    ex = batch_flow().create_execution(auto_close=False)
    ex.start(None)
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    target = batch_flow().create_execution(auto_close=False)
    target.load(snapshot)
    target.continue_with("slow", None)
    assert target.close() == {"out": {"fast": "fast done", "slow": "slow done"}}

    def edit(s):
        s["continuation"]["activations"][0]["slots"].append(None)
    refused(mutate(snapshot, edit), "activation 'both#1' of batch 'both' does not have its branches ['fast', 'slow']",
            flow=batch_flow)


def test_an_open_inner_fan_out_whose_outer_fan_out_is_gone():
    flow_factory = _two_level_flow
    ex = flow_factory().create_execution(auto_close=False)
    ex.start([[1]])
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    inner, outer = sorted(snapshot["continuation"]["activations"], key=lambda a: a["id"])
    assert (outer["id"], inner["id"], inner["continuation"]) == ("outer#1", "inner#2", [["slot", "outer#1", 0]])

    def edit(s):
        s["continuation"]["activations"] = [a for a in s["continuation"]["activations"] if a["id"] != "outer#1"]
        s["interrupts"] = []
        s["status"] = "idle"
    refused(mutate(snapshot, edit), "activation 'inner#2' continues inside fan-out 'outer#1', which the snapshot "
                                    "does not have", flow=flow_factory)


def _two_level_flow():
    flow = TriggerFlow(name="two-level")

    async def leaf(data):
        if not data.is_resume:
            await data.async_pause_for(type="check", resume_to="self", interrupt_id=f"leaf-{data.input}")
            return None
        return data.input

    (flow.for_each(name="outer").for_each(name="inner").to(leaf).end_for_each().end_for_each()
     .to(lambda data: data.set_state("out", data.input), name="store"))
    return flow


def test_inspect_load_reports_pending_interrupts_and_a_started_target(saved):
    target = each_flow().create_execution(auto_close=False)
    assert target.inspect_load(saved) == {
        "ready": True, "missing_resource_keys": [],
        "diagnostics": ["pending interrupts after load: ['item-1', 'item-3'] (resume with continue_with)"],
    }
    target.start([2])
    assert target.inspect_load(saved) == {
        "ready": False, "missing_resource_keys": [],
        "diagnostics": ["the target execution was already started: load into a fresh create_execution()",
                        "pending interrupts after load: ['item-1', 'item-3'] (resume with continue_with)"],
    }
    target.close()


def test_a_then_frame_retargeted_to_the_other_arm(nested_saved):
    """Found by the fuzzer: the path's end was never recognised as its arm's end, and the
    steps after the block silently never ran."""
    def edit(s):
        s["interrupts"][0]["continuation"][0] = ["then", IS_LIST, 1]
    refused(mutate(nested_saved, edit), f"the continuation of interrupt 'item-1' returns into arm 1 of {IS_LIST!r}, "
                                        "but 'each' sits in another arm", flow=nested_flow)


def test_a_batch_slot_frame_retargeted_to_the_other_branch():
    ex = batch_flow().create_execution(auto_close=False)
    ex.start(None)
    snapshot = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    assert snapshot["interrupts"][0]["continuation"] == [["slot", "both#1", 1]]

    def edit(s):
        s["interrupts"][0]["continuation"] = [["slot", "both#1", 0]]
        s["continuation"]["activations"][0]["slots"] = [None, None]
    refused(mutate(snapshot, edit), "the continuation of interrupt 'slow' returns into arm 0 of 'both', but 'slow' "
                                    "sits in another arm", flow=batch_flow)


def hit_all_flow():
    flow = TriggerFlow(name="hit-all-rules")

    async def case_wait(data):
        await data.async_pause_for(type="case", interrupt_id="case")

    flow.to(lambda data: data.input, name="first") \
        .match(mode="hit_all", name="m").case(lambda data: data.input > 1, name="gt1").to(case_wait, name="case_wait") \
        .case(lambda data: data.input > 2, name="gt2").to(lambda data: "gt2", name="gt2_arm") \
        .end_match().to(lambda data: data.set_state("hits", data.input), name="hits")
    return flow


def test_a_hit_all_slot_frame_naming_the_slot_of_another_case():
    """Found by the snapshot fuzzer: a path paused in case 0 that says it returns into the slot of
    case 1 would end where case 1 ends nothing, and the steps after the match would never run."""
    ex = hit_all_flow().create_execution(auto_close=False)
    ex.start(3)
    saved = json.loads(json.dumps(ex.save()))
    ex.close(pending_interrupts="cancel")
    assert saved["interrupts"][0]["continuation"] == [["slot", "m#1", 0]]

    target = hit_all_flow().create_execution(auto_close=False)
    target.load(saved)
    target.continue_with("case", "ok")
    assert target.close() == {"hits": ["ok", "gt2"]}

    def edit(s):
        s["interrupts"][0]["continuation"] = [["slot", "m#1", 1]]
    refused(mutate(saved, edit), "the continuation of interrupt 'case' returns into arm 1 of 'm', but 'case_wait' "
                                 "sits in another arm", flow=hit_all_flow)


def test_an_open_execution_with_a_closed_at(saved):
    def edit(s):
        s["closed_at"] = s["saved_at"]
    refused(mutate(saved, edit), f"an open execution with closed_at {saved['saved_at']!r}: only a closed "
                                 f"execution has one")


def test_a_waiting_interrupt_with_a_resumed_at(saved):
    def edit(s):
        s["interrupts"][0]["resumed_at"] = s["saved_at"]
    refused(mutate(saved, edit), f"interrupt 'item-1' is waiting but has resumed_at {saved['saved_at']!r}: only a "
                                 f"resumed interrupt has one")
