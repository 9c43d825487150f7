import json
import warnings

import pytest

from triggerflow_nb import (
    FingerprintMismatchError,
    InvalidSnapshotError,
    LifecycleError,
    MissingResourceError,
    ResourceTypeWarning,
    SaveError,
    SchemaVersionError,
    TriggerFlow,
)
from triggerflow_nb.persistence import load_from_file, save_to_file


class Client:
    pass


def build(name="orders"):
    flow = TriggerFlow(name=name)

    async def receive(data):
        await data.async_set_state("order", data.input)
        await data.async_pause_for(type="approval", payload={"order": data.input})

    async def ship(data):
        data.require_resource("db")
        await data.async_set_state("shipped", data.input)

    flow.to(receive).to(ship)
    return flow


def paused(flow=None):
    flow = flow or build()
    ex = flow.create_execution(auto_close=False, runtime_resources={"db": Client()})
    ex.start({"id": 7})
    return ex


def test_saved_snapshot_contents():
    flow = build()
    flow.set_flow_data("shared", 1, no_warning=True)
    ex = paused(flow)
    saved = ex.save()
    assert json.loads(json.dumps(saved)) == saved
    assert set(saved) == {
        "schema_version", "kind", "execution_id", "flow_name", "flow_fingerprint", "status", "lifecycle_state",
        "started", "created_at", "started_at", "closed_at", "saved_at", "close_reason", "error", "state",
        "interrupts", "resource_keys", "resources", "required_resource_keys", "environments", "continuation",
        "history",
    }
    assert (saved["schema_version"], saved["kind"], saved["execution_id"], saved["flow_name"]) == (
        2, "triggerflow_nb.execution", ex.id, "orders")
    assert saved["state"] == {"order": {"id": 7}}
    assert saved["resources"] == {"db": {"type": "test_save_load.Client", "level": "execution", "managed": False}}
    assert saved["flow_fingerprint"].startswith("sha256:")
    (interrupt,) = saved["interrupts"]
    assert (interrupt["type"], interrupt["payload"], interrupt["resume_to"], interrupt["chunk"], interrupt["status"]) == (
        "approval", {"order": {"id": 7}}, "next", "receive", "waiting")
    assert "shared" not in json.dumps(saved)  # flow_data never goes in


def test_load_with_reinjection_then_continue_equals_uninterrupted_run():
    saved = paused().save()
    fresh_flow = build()  # like a restarted kernel: a new flow object with the same wiring
    db = Client()
    restored = fresh_flow.create_execution(auto_close=False)
    restored.load(saved, runtime_resources={"db": db})
    assert restored.runtime_resources.get("db") is db
    assert restored.loaded_from == saved["execution_id"]
    (iid,) = restored.get_pending_interrupts()
    restored.continue_with(iid, "approved")
    assert restored.close() == {"order": {"id": 7}, "shipped": "approved"}


def test_missing_resources_raise_listing_keys_and_leave_target_untouched():
    flow = build()
    flow.declare_resource_requirement("mailer")
    saved = paused(flow).save()
    restored = flow.create_execution(auto_close=False)
    with pytest.raises(MissingResourceError) as info:
        restored.load(saved, prompt=False)
    assert info.value.missing == ["db", "mailer"]
    assert str(info.value).startswith("missing runtime resources 'db', 'mailer' to load the snapshot of execution ")
    assert restored.result.get_state() == {} and not restored.get_pending_interrupts() and restored.status == "created"
    restored.load(saved, runtime_resources={"db": Client(), "mailer": Client()})
    assert restored.status == "waiting"


def test_inspect_load_reports_without_loading():
    saved = paused().save()
    target = build().create_execution(auto_close=False)
    report = target.inspect_load(saved)
    assert report["ready"] is False and report["missing_resource_keys"] == ["db"]
    assert report["diagnostics"][0] == "missing runtime resources ['db']: pass them to load(saved, runtime_resources={...})"
    assert target.inspect_load(saved, runtime_resources={"db": 1})["ready"] is True
    assert target.inspect_load([1])["diagnostics"] == [
        "InvalidSnapshotError: load() takes the dict that execution.save() returned (or load_from_file(path)), got list"]
    assert target.status == "created"


@pytest.mark.parametrize("mutate, error, message", [
    (lambda s: [s], InvalidSnapshotError, "load() takes the dict that execution.save() returned (or load_from_file(path)), got list"),
    (lambda s: {k: v for k, v in s.items() if k != "schema_version"}, InvalidSnapshotError, "not a saved execution: it has no 'schema_version' key"),
    (lambda s: {**s, "schema_version": 99}, SchemaVersionError, "snapshot schema version 99 is not readable by this triggerflow_nb, which reads version 2; save it again with a matching version of the package"),
    (lambda s: {**s, "state": "oops"}, InvalidSnapshotError, "corrupt snapshot: state: Input should be a valid dictionary"),
    (lambda s: {**s, "surprise": 1}, InvalidSnapshotError, "corrupt snapshot: surprise: Extra inputs are not permitted"),
    (lambda s: {**s, "interrupts": [{**s["interrupts"][0], "continuation": [["then", "no-such-node"]]}]}, InvalidSnapshotError,
     "corrupt snapshot: continuation frame ['then', 'no-such-node'] of interrupt "),
    (lambda s: {**s, "state": {"client": Client()}}, InvalidSnapshotError, "corrupt snapshot: state key 'client': value is a test_save_load.Client"),
])
def test_bad_snapshots_are_refused_with_typed_errors_and_target_untouched(mutate, error, message):
    saved = paused().save()
    target = build().create_execution(auto_close=False)
    with pytest.raises(error) as info:
        target.load(mutate(saved), runtime_resources={"db": Client()})
    assert str(info.value).startswith(message)
    assert target.status == "created" and target.result.get_state() == {} and target.runtime_resources.keys() == []


def test_snapshot_of_another_definition_is_refused():
    saved = paused().save()
    other = TriggerFlow(name="orders")
    other.to(lambda d: None, name="different")
    with pytest.raises(FingerprintMismatchError, match="does not match this execution's flow 'orders'"):
        other.create_execution(auto_close=False).load(saved, runtime_resources={"db": Client()})


def test_editing_a_chunk_body_keeps_snapshots_loadable():
    saved = paused().save()
    flow = build()

    @flow.chunk("ship")
    async def ship(data):  # a new body under the same name
        await data.async_set_state("shipped_v2", data.input)

    restored = flow.create_execution(auto_close=False)
    restored.load(saved, runtime_resources={"db": Client()})
    (iid,) = restored.get_pending_interrupts()
    restored.continue_with(iid, "ok")
    assert restored.close() == {"order": {"id": 7}, "shipped_v2": "ok"}


def test_load_needs_a_fresh_execution():
    saved = paused().save()
    used = paused()
    with pytest.raises(LifecycleError, match="load\\(\\) needs a fresh execution"):
        used.load(saved)


def test_save_refuses_unserializable_values_in_flight():
    flow = TriggerFlow()
    flow.to(lambda d: Client()).to(lambda d: d.pause_for(type="hold"), name="hold")
    ex = flow.create_execution(auto_close=False)
    ex.start()
    with pytest.raises(SaveError, match=r"cannot save: the input of paused chunk 'hold' is not JSON-compatible \(test_save_load.Client\)"):
        ex.save()


def test_file_round_trip(tmp_path):
    saved = paused().save()
    path = save_to_file(saved, tmp_path / "run.json")
    loaded = load_from_file(path)
    assert loaded == saved
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidSnapshotError, match="bad.json is not a saved execution: invalid JSON"):
        load_from_file(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(InvalidSnapshotError, match="list.json is not a saved execution: it holds a JSON list"):
        load_from_file(tmp_path / "list.json")


def test_closed_and_failed_executions_save_and_load_as_records():
    flow = TriggerFlow(name="rec")
    flow.to(lambda d: d.set_state("v", d.input))
    ex = flow.create_execution(auto_close=False)
    ex.start(3)
    ex.close()
    restored = flow.create_execution(auto_close=False)
    restored.load(ex.save())
    assert (restored.lifecycle_state, restored.status, restored.close()) == ("closed", "completed", {"v": 3})


def test_saved_repr_is_readable():
    saved = paused().save()
    assert repr(saved) == (f"<saved execution {saved['execution_id'][:8]} of flow 'orders': waiting, state keys "
                           f"['order'], 1 pending interrupt(s), resources ['db']>")


class Mailer:
    pass


def test_load_warns_when_a_resource_has_another_type_than_the_saved_one():
    saved = paused().save()  # db was a test_save_load.Client
    target = build().create_execution(auto_close=False)
    message = ("runtime resource 'db' had type test_save_load.Client when the execution was saved, but load() got "
               "type test_save_load.Mailer: chunks that use it may fail; pass an object of type "
               "test_save_load.Client under 'db', or ignore this warning if the new type is intended")
    report = target.inspect_load(saved, runtime_resources={"db": Mailer()})
    assert report["ready"] is True and report["diagnostics"][0] == message
    with pytest.warns(ResourceTypeWarning) as caught:
        target.load(saved, runtime_resources={"db": Mailer()})
    assert [str(w.message) for w in caught] == [message]
    assert target.status == "waiting"  # a warning, not a refusal


def test_a_flow_level_resource_of_another_type_is_named_too():
    saved = paused().save()
    flow = build()
    flow.update_runtime_resources(db=3)
    target = flow.create_execution(auto_close=False)
    assert target.inspect_load(saved)["diagnostics"][0].startswith(
        "runtime resource 'db' had type test_save_load.Client when the execution was saved, but load() got type "
        "int: ")
    with pytest.warns(ResourceTypeWarning, match=r"^runtime resource 'db' had type test_save_load\.Client when"):
        target.load(saved)


def test_load_with_the_saved_types_does_not_warn():
    saved = paused().save()
    target = build().create_execution(auto_close=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (interrupt,) = saved["interrupts"]
        assert target.inspect_load(saved, runtime_resources={"db": Client()})["diagnostics"] == [
            f"pending interrupts after load: [{interrupt['id']!r}] (resume with continue_with)"]
        target.load(saved, runtime_resources={"db": Client()})
