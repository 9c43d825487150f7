"""runtime/snapshot_assembly.py: an execution captured into one ``ExecutionSnapshot`` from its
parts' slices, refused while work is in flight, and restored into a fresh execution only.

Through real executions (the assembler reads the parts of one); restored snapshots first pass
persistence validation, as ``load()`` does.
"""

import json
import time

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.errors import LifecycleError, SaveError
from triggerflow_nb.persistence.save_load import validate_snapshot
from triggerflow_nb.runtime.snapshot import ExecutionSnapshot
from triggerflow_nb.runtime.snapshot_assembly import capture, require_fresh, restore

NOT_FRESH = ("load() needs a fresh execution: execution {id} was already started or loaded; create one with "
             "flow.create_execution(auto_close=False)")


def paused_flow(name="snap"):
    """A batch with one branch paused on an interrupt and the other finished: an open activation."""
    flow = TriggerFlow(name=name)
    flow.declare_resource_requirement("client")

    def ask(data):
        data.pause_for(type="approval", payload={"question": data.input}, interrupt_id="approval")

    flow.to(lambda data: data.set_state("first", data.input) or data.input, name="first").batch(
        ("x", ask), ("y", lambda data: data.input * 2)).to(lambda data: data.set_state("out", data.input),
                                                           name="after")
    return flow


def paused_execution(flow=None):
    flow = flow or paused_flow()
    ex = flow.create_execution(auto_close=False, runtime_resources={"client": object()})
    ex.start(3)
    return ex


def validated(snapshot, flow):
    return validate_snapshot(json.loads(json.dumps(snapshot, allow_nan=False)), flow)


def test_capture_puts_the_parts_slices_together_with_the_runs_record():
    before = time.time()
    ex = paused_execution()
    snapshot = capture(ex)
    after = time.time()
    assert set(snapshot) == set(ExecutionSnapshot.__annotations__)
    resource_keys, resources, environments = ex._resources.capture()
    assert {key: snapshot[key] for key in snapshot if key != "saved_at"} == {
        "schema_version": 2, "kind": "triggerflow_nb.execution", "execution_id": ex.id, "flow_name": "snap",
        "flow_fingerprint": ex.flow.flow_graph.fingerprint(), "status": "waiting", "lifecycle_state": "open",
        "started": True, "created_at": ex.created_at, "started_at": ex.started_at, "closed_at": None,
        "close_reason": None, "error": None, "state": ex._state.capture(), "interrupts": ex._interrupts.capture(),
        "resource_keys": resource_keys, "resources": resources, "required_resource_keys": ["client"],
        "environments": environments, "continuation": ex._walk_state.capture(),
        "history": ex._history.capture(),
    }
    assert before <= snapshot["saved_at"] <= after
    assert snapshot["state"] == {"first": 3}
    assert [i["id"] for i in snapshot["interrupts"]] == ["approval"]
    assert snapshot["resource_keys"] == ["client"]
    assert [(a["keys"], a["slots"], a["remaining"]) for a in snapshot["continuation"]["activations"]] == [
        (["x", "y"], [None, 6], 1)]
    json.dumps(snapshot, allow_nan=False)


def test_capture_of_a_failed_closed_run_records_its_error_and_close():
    flow = TriggerFlow(name="broken")
    flow.to(lambda data: 1 / 0, name="step")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(Exception):
        ex.start(None)
    snapshot = capture(ex)
    assert (snapshot["status"], snapshot["lifecycle_state"], snapshot["error"], snapshot["close_reason"],
            snapshot["closed_at"]) == (
        "failed", "closed", "ChunkError: chunk 'step' raised ZeroDivisionError: division by zero",
        "chunk 'step' failed: ZeroDivisionError: division by zero", ex.closed_at)


def test_capture_is_refused_while_work_is_in_flight():
    flow = TriggerFlow(name="busy")
    refused = []

    def step(data):
        try:
            capture(data.execution)
        except SaveError as exc:
            refused.append(str(exc))

    flow.to(step, name="step")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert refused == [f"cannot save execution {ex.id} while it is running (1 piece(s) of work in flight): save at "
                       f"a settled point, after start()/emit()/continue_with() has returned"]
    assert capture(ex)["status"] == "idle"


def test_capture_refuses_a_paused_path_whose_input_cannot_be_saved():
    flow = TriggerFlow(name="live-input")
    flow.to(lambda data: object(), name="make").to(lambda data: data.pause_for(interrupt_id="i"), name="ask")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(SaveError) as info:
        capture(ex)
    assert str(info.value) == (
        "cannot save: the input of paused chunk 'ask' is not JSON-compatible (builtins.object). Values that wait in a "
        "paused path must be serializable; keep live objects in runtime_resources")


# -- require_fresh and restore ------------------------------------------------------------------------


def test_a_new_execution_is_fresh():
    require_fresh(paused_flow().create_execution(auto_close=False))


@pytest.mark.parametrize("how", ["started", "state written", "sealed", "loaded"])
def test_an_execution_that_was_used_is_not_a_load_target(how):
    flow = paused_flow()
    ex = flow.create_execution(auto_close=False, runtime_resources={"client": object()})
    if how == "started":
        ex.start(3)
    elif how == "state written":
        ex.set_state("k", 1)
    elif how == "sealed":
        ex.seal()
    else:
        restore(ex, validated(capture(paused_execution(flow)), flow), {})
    with pytest.raises(LifecycleError) as info:
        require_fresh(ex)
    assert str(info.value) == NOT_FRESH.format(id=ex.id)


def test_restore_into_a_used_execution_is_refused_and_changes_nothing():
    flow = paused_flow()
    snapshot = validated(capture(paused_execution(flow)), flow)
    target = flow.create_execution(auto_close=False)
    target.set_state("mine", 1)
    with pytest.raises(LifecycleError, match="^load\\(\\) needs a fresh execution"):
        restore(target, snapshot, {"client": object()})
    assert (target.get_state(), target.loaded_from, target._interrupts.by_id, target.runtime_resources.keys()) == (
        {"mine": 1}, None, {}, [])


def test_a_restored_execution_captures_as_the_original_but_for_its_own_id():
    flow = paused_flow()
    source = paused_execution(flow)
    original = capture(source)
    target = flow.create_execution(auto_close=False)
    client = object()
    restore(target, validated(original, flow), {"client": client})
    again = capture(target)
    assert again["execution_id"] == target.id != source.id
    assert {k: v for k, v in again.items() if k not in ("execution_id", "saved_at")} == {
        k: v for k, v in original.items() if k not in ("execution_id", "saved_at")}
    assert target.loaded_from == source.id
    assert target.runtime_resources.get("client") is client
    assert (target.status, target.lifecycle_state, target._lifecycle.started) == ("waiting", "open", True)


def test_a_restored_paused_run_goes_on_to_the_same_result_as_the_original():
    flow = paused_flow()
    source = paused_execution(flow)
    target = flow.create_execution(auto_close=False)
    restore(target, validated(capture(source), flow), {"client": object()})
    source.continue_with("approval", "approved")
    target.continue_with("approval", "approved")
    assert target.close() == source.close() == {"first": 3, "out": {"x": "approved", "y": 6}}


def test_a_restored_closed_run_is_frozen():
    flow = TriggerFlow(name="done")
    flow.to(lambda data: data.set_state("n", data.input), name="step")
    source = flow.create_execution(auto_close=False)
    source.start(1)
    source.close()
    target = flow.create_execution(auto_close=False)
    restore(target, validated(capture(source), flow), {})
    assert (target.lifecycle_state, target.status, target.closed_at, target.result.get_meta()["close_reason"]) == (
        "closed", "completed", source.closed_at, "closed")
    with pytest.raises(LifecycleError, match=f"^cannot write state key 'n' from outside a chunk: execution {target.id} "
                                             f"is closed$"):
        target.set_state("n", 2)
    assert target.close() == {"n": 1}
