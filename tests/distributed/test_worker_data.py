"""``WorkerData`` as a handler on a worker sees it, checked in this process: every answer exact.

The Dask tests show that handlers get it on workers; these pin each of its answers (the
read-only state view, identity, the refusals) without a cluster, so a wrong one is caught
by a test that names it.
"""

import re

import pytest

from triggerflow_nb.definition.item_executor import WorkerContext
from triggerflow_nb.distributed import RemoteOperationError, RemoteResourceError, RemoteStateWriteError
from triggerflow_nb.distributed.worker_data import WorkerData


def data(state=None, value="item", index=3, **context):
    state = {"factor": 10, "nested": {"a": [1]}} if state is None else state
    return WorkerData(WorkerContext("ex-1", "for_each@first", state, **context), "scale", value, index)


def test_identity_answers():
    d = data()
    assert d.input == "item" and d.value == "item" and d.inputs == "item"
    assert d.chunk_name == "scale"
    assert d.execution_id == "ex-1"
    assert d.item_index == 3
    assert d.is_resume is False
    assert d.resume is None
    assert repr(d) == "<WorkerData chunk='scale' item=3 input='item'>"


def test_state_reads_are_copies_of_the_fan_out_snapshot():
    state = {"factor": 10, "nested": {"a": [1]}}
    d = data(state)
    whole = d.get_state()
    assert whole == state and whole is not state
    whole["nested"]["a"].append(2)
    assert state == {"factor": 10, "nested": {"a": [1]}}
    one = d.get_state("nested")
    assert one == {"a": [1]} and one is not state["nested"]
    assert d.get_state("missing") is None
    assert d.get_state("missing", "dflt") == "dflt"
    assert d.get_state("factor", "dflt") == 10


def test_a_falsy_stored_value_is_returned_not_the_default():
    d = data({"zero": 0, "none": None})
    assert d.get_state("zero", "dflt") == 0
    assert d.get_state("none", "dflt") is None
    assert d.state["none"] is None
    assert d.state.get("zero", "dflt") == 0


def test_the_state_view_reads_like_a_mapping():
    d = data({"factor": 10, "none": None})
    view = d.state
    assert view["factor"] == 10
    assert view.get("factor") == 10 and view.get("missing") is None and view.get("missing", 5) == 5
    assert "factor" in view and "none" in view and "missing" not in view
    assert view.keys() == ["factor", "none"]
    with pytest.raises(KeyError) as info:
        view["missing"]
    assert info.value.args == ("missing",)


WRITE = ("chunk 'scale' tried to write state key 'k': state is a read-only snapshot on Dask workers (taken when "
         "the fan-out started): return the value from the item's chunk instead and write it to state after "
         "end_for_each(), where the next step receives the results in item order")


@pytest.mark.parametrize("write", [
    lambda d: d.set_state("k", 1), lambda d: d.append_state("k", 1), lambda d: d.del_state("k"),
    lambda d: d.state.set("k", 1), lambda d: d.state.append("k", 1), lambda d: d.state.delete("k"),
])
def test_every_state_write_is_refused(write):
    d = data()
    with pytest.raises(RemoteStateWriteError) as info:
        write(d)
    assert str(info.value) == WRITE
    assert d.get_state() == {"factor": 10, "nested": {"a": [1]}}


@pytest.mark.parametrize("name", ["async_set_state", "async_append_state", "async_del_state"])
def test_every_async_state_write_is_refused(name):
    import asyncio

    d = data()
    args = ("k",) if name == "async_del_state" else ("k", 1)
    with pytest.raises(RemoteStateWriteError) as info:
        asyncio.run(getattr(d, name)(*args))
    assert str(info.value) == WRITE


@pytest.mark.parametrize("call, what", [
    (lambda d: d.set_resource("r", 1), "set_resource"),
    (lambda d: d.del_resource("r"), "del_resource"),
    (lambda d: d.emit_nowait("E"), "emit_nowait"),
    (lambda d: d.async_put_into_stream(1).send(None), "async_put_into_stream"),
    (lambda d: d.async_emit("E").send(None), "async_emit"),
    (lambda d: d.async_pause_for(type="x").send(None), "async_pause_for"),
    (lambda d: d.set_flow_data("k", 1), "*_flow_data"),
])
def test_notebook_only_calls_are_refused_naming_the_call(call, what):
    with pytest.raises(RemoteOperationError) as info:
        call(data())
    assert str(info.value).startswith(f"chunk 'scale' called data.{what}() on a Dask worker, where it is not "
                                      f"supported: ")


def test_a_resource_the_workers_lack_is_refused_listing_what_they_have():
    d = data(environments=[{"kind": "k", "key": "b", "config": {}}, {"kind": "k", "key": "a", "config": {}}],
             providers={"k": object()})
    with pytest.raises(RemoteResourceError) as info:
        d.require_resource("nope")
    assert re.search(r"which Dask workers do not have \(available on workers: \['a', 'b'\]\);", str(info.value))
    assert d.get_resource("nope") is None and d.get_resource("nope", "dflt") == "dflt"


def test_a_resource_of_the_notebook_process_is_refused_as_live():
    d = data(driver_only_keys=["db"])
    with pytest.raises(RemoteResourceError) as info:
        d.require_resource("db")
    assert str(info.value).startswith("chunk 'scale' needs runtime resource 'db', a live object of the notebook "
                                      "process, which is never shipped to Dask workers.")
    with pytest.raises(RemoteResourceError) as none:
        data().require_resource("db")
    assert "(available on workers: none)" in str(none.value)
