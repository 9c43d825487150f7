"""``ExecutionResult`` (runtime/result.py): ``execution.result``, the read-only view of a run's
state and meta. Built directly on the parts it reads, and read through a real execution."""

import asyncio
from types import SimpleNamespace

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.errors import ChunkError, LifecycleError
from triggerflow_nb.observe import Channel
from triggerflow_nb.runtime.interrupts import InterruptBook
from triggerflow_nb.runtime.lifecycle import Lifecycle
from triggerflow_nb.runtime.resource_host import ResourceHost
from triggerflow_nb.runtime.result import ExecutionResult
from triggerflow_nb.runtime.state_store import StateStore


def make(given=None, flow_level=None):
    channel = Channel()
    interrupts = InterruptBook("ex-1")
    resources = ResourceHost("ex-1", channel, given, flow_level or {}, None)
    lifecycle = Lifecycle("ex-1", "flow", SimpleNamespace(auto_close=False, auto_close_timeout=None), channel=channel,
                          flow_channel=Channel(), interrupts=interrupts, resources=resources)
    state = StateStore("ex-1", lifecycle, channel)
    record = SimpleNamespace(id="ex-1", flow=SimpleNamespace(name="flow"), created_at=100.0, started_at=None)
    return ExecutionResult(record, lifecycle, state, resources), SimpleNamespace(
        record=record, lifecycle=lifecycle, state=state, interrupts=interrupts, resources=resources)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def test_the_meta_of_a_fresh_run():
    result, _ = make(given={"client": object()}, flow_level={"shared": 1})
    assert result.get_meta() == {
        "execution_id": "ex-1", "flow_name": "flow", "status": "created", "lifecycle_state": "open",
        "created_at": 100.0, "started_at": None, "closed_at": None, "close_reason": None,
        "resource_keys": ["client", "shared"], "error": None, "release_error": None,
    }


def test_the_meta_shows_the_status_now_not_the_status_last_set():
    result, parts = make()

    async def main():
        parts.lifecycle.begin(False, close_when_idle=False)
        parts.record.started_at = 101.0
        seen = [result.get_meta()["status"]]
        parts.interrupts.open("n", None, (), "t", None, "next", "i1")
        seen.append(result.get_meta()["status"])
        parts.lifecycle.enter()
        seen.append(result.get_meta()["status"])
        parts.lifecycle.leave()
        return seen

    assert run(main()) == ["idle", "waiting", "running"]
    assert result.get_meta()["started_at"] == 101.0


def test_the_meta_of_a_failed_run_names_the_error_and_the_failed_release():
    result, parts = make()

    async def main():
        parts.lifecycle.begin(False, close_when_idle=False)
        await parts.lifecycle.fail(ChunkError("step", ValueError("no")))
        parts.lifecycle.release_error = RuntimeError("release broke")

    run(main())
    meta = result.get_meta()
    assert (meta["status"], meta["lifecycle_state"], meta["close_reason"], meta["error"], meta["release_error"]) == (
        "failed", "closed", "chunk 'step' failed: ValueError: no", "ChunkError: chunk 'step' raised ValueError: no",
        "release broke")
    assert meta["closed_at"] == parts.lifecycle.closed_at and isinstance(meta["closed_at"], float)


def test_state_reads_are_copies_and_keys_keep_their_write_order():
    result, parts = make()
    parts.state.apply("set", "b", {"n": [1]}, "from outside a chunk")
    parts.state.apply("set", "a", None, "from outside a chunk")
    everything = result.get_state()
    everything["b"]["n"].append(2)
    one = result.get_state("b")
    one["n"].append(3)
    assert result.get_state() == {"b": {"n": [1]}, "a": None}
    assert (result.state_keys(), result.has_state("a"), result.has_state("zz")) == (["b", "a"], True, False)
    assert result.get_state("zz", [0]) == [0]
    keys = result.state_keys()
    keys.append("mine")
    assert result.state_keys() == ["b", "a"]


def test_repr_shows_status_lifecycle_and_state_keys():
    result, parts = make()
    parts.state.apply("set", "x", 1, "from outside a chunk")
    assert repr(result) == "<ExecutionResult created/open state_keys=['x']>"


def test_the_result_of_a_real_execution_follows_it_and_is_frozen_with_it():
    flow = TriggerFlow(name="result")
    flow.to(lambda data: data.set_state("n", data.input), name="step")
    ex = flow.create_execution(auto_close=False, runtime_resources={"client": object()})
    result = ex.result
    assert result.get_meta()["status"] == "created"
    ex.start(3)
    assert (result.get_state(), result.get_meta()["status"]) == ({"n": 3}, "idle")
    closed = ex.close()
    with pytest.raises(LifecycleError):
        ex.set_state("n", 4)
    meta = result.get_meta()
    assert closed == result.get_state() == {"n": 3}
    assert (meta["execution_id"], meta["flow_name"], meta["status"], meta["lifecycle_state"], meta["close_reason"],
            meta["resource_keys"], meta["created_at"], meta["started_at"]) == (
        ex.id, "result", "completed", "closed", "closed", ["client"], ex.created_at, ex.started_at)
    assert repr(result) == "<ExecutionResult completed/closed state_keys=['n']>"
