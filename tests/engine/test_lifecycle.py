import asyncio
import math

import pytest

from triggerflow_nb import InvalidArgumentError, LifecycleError, TriggerFlow


def make_flow():
    flow = TriggerFlow(name="life")
    flow.to(lambda d: d.set_state("started_with", d.input))
    flow.when("Ping").to(lambda d: d.append_state("pings", d.input))
    return flow


def test_open_sealed_closed_transitions_and_external_emit_rules():
    flow = make_flow()
    ex = flow.create_execution(auto_close=False)
    assert (ex.lifecycle_state, ex.status) == ("open", "created")
    assert ex.start(1) is ex
    assert (ex.lifecycle_state, ex.status) == ("open", "idle")
    ex.emit("Ping", "a")
    ex.seal()
    assert ex.lifecycle_state == "sealed"
    with pytest.raises(LifecycleError) as info:
        ex.emit("Ping", "b")
    assert str(info.value) == (
        f"cannot emit 'Ping': execution {ex.id} of flow 'life' is sealed (a sealed execution only drains "
        f"what it already accepted; unseal() opens it again)"
    )
    assert ex.close() == {"started_with": 1, "pings": ["a"]}
    assert (ex.lifecycle_state, ex.status) == ("closed", "completed")
    with pytest.raises(LifecycleError, match="is closed; create a new execution"):
        ex.emit("Ping", "c")
    assert ex.close() == {"started_with": 1, "pings": ["a"]}  # idempotent, frozen


def test_start_twice_is_an_error_and_an_emit_before_start_starts_the_execution():
    ex = make_flow().create_execution(auto_close=False)
    ex.start(1)
    with pytest.raises(LifecycleError) as info:
        ex.start(2)
    assert str(info.value) == (f"execution {ex.id} was already started; an execution runs once: create another "
                               f"with flow.create_execution()")
    emitted_first = make_flow().create_execution(auto_close=False)
    emitted_first.emit("Ping", 1)  # accepted: the execution is open, and this starts it
    assert (emitted_first.lifecycle_state, emitted_first.status) == ("open", "idle")
    with pytest.raises(LifecycleError) as info:
        emitted_first.start(2)
    assert str(info.value) == (
        f"execution {emitted_first.id} was already started by an outside emit (the first emit starts an execution "
        f"nobody started, without its start chain: call start(value) before emitting to run it); an execution "
        f"runs once: create another with flow.create_execution()"
    )
    assert emitted_first.close() == {"pings": [1]}


def test_execution_start_with_auto_close_returns_snapshot_after_idle_timeout():
    flow = make_flow()
    ex = flow.create_execution(auto_close_timeout=0.05)
    assert ex.start(3) == {"started_with": 3}
    assert ex.result.get_meta()["close_reason"] == "auto-close after 0.05s idle"


def test_auto_close_waits_for_idleness_and_is_reset_by_activity(eventually):
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("s", d.input))
    flow.when("Ping").to(lambda d: d.append_state("pings", d.input))

    async def main():
        ex = flow.create_execution(auto_close=True, auto_close_timeout=0.5)
        await ex.run(1, until="settled")
        for i in range(3):
            await asyncio.sleep(0.1)
            await ex.async_emit("Ping", i)  # each emit postpones the close
        assert ex.is_open()
        await eventually(ex.is_closed)
        return ex.result.get_state(), ex.result.get_meta()["close_reason"]

    assert asyncio.run(main()) == ({"s": 1, "pings": [0, 1, 2]}, "auto-close after 0.5s idle")


def test_auto_close_none_never_closes_by_itself():
    async def main():
        ex = make_flow().create_execution(auto_close=True, auto_close_timeout=None)
        await ex.run(1, until="settled")
        await asyncio.sleep(0.05)
        assert ex.is_open()
        return await ex.async_close()

    assert asyncio.run(main()) == {"started_with": 1}


def test_flow_start_rejects_auto_close_false_and_ignores_wait_for_result_with_warning():
    flow = make_flow()
    with pytest.raises(LifecycleError, match=r"flow.start\(\) always closes the execution it creates"):
        flow.start(1, auto_close=False)
    with pytest.warns(DeprecationWarning, match=r"^flow.start\(wait_for_result=...\) is deprecated and ignored"):
        assert flow.start(1, wait_for_result=True) == {"started_with": 1}


def test_start_execution_returns_handle_and_close_drains_running_work():
    flow = TriggerFlow()

    async def slow(data):
        await asyncio.sleep(0.05)
        await data.async_set_state("slow", "done")

    flow.to(lambda d: d.emit_nowait("Go", d.input))
    flow.when("Go").to(slow)

    async def main():
        ex = await flow.async_start_execution(1)
        assert ex.lifecycle_state == "open"
        return await ex.async_close()

    assert asyncio.run(main()) == {"slow": "done"}


def test_close_timeout_cancels_running_work():
    flow = TriggerFlow()

    async def forever(data):
        await data.async_set_state("entered", True)
        await asyncio.sleep(30)

    flow.to(lambda d: d.emit_nowait("Go"))
    flow.when("Go").to(forever)

    async def main():
        ex = await flow.async_start_execution(None)
        await asyncio.sleep(0.01)
        snapshot = await ex.async_close(timeout=0.05)
        return ex, snapshot

    ex, snapshot = asyncio.run(main())
    assert snapshot == {"entered": True}
    assert ex.status == "cancelled"
    assert ex.result.get_meta()["close_reason"] == "close timeout after 0.05s: running work was cancelled"


def test_concurrency_caps_running_chunks_per_execution():
    flow = TriggerFlow()
    live = {"now": 0, "max": 0}

    async def work(data):
        live["now"] += 1
        live["max"] = max(live["max"], live["now"])
        await asyncio.sleep(0.01)
        live["now"] -= 1
        return data.input

    flow.to(lambda d: d.input).for_each().to(work).end_for_each().to(lambda d: d.set_state("n", len(d.input)))
    ex = flow.create_execution(auto_close=False, concurrency=2)
    ex.start(list(range(10)))
    assert ex.close() == {"n": 10}
    assert live["max"] == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"auto_close": "yes"}, "auto_close must be True or False, got 'yes'"),
    ({"auto_close_timeout": -1}, "auto_close_timeout must be None or a finite number of seconds >= 0, got -1"),
    ({"concurrency": 0}, "concurrency must be None or a positive int, got 0"),
    ({"runtime_resources": ["db"]}, "runtime_resources must be a dict of name -> live object, got list"),
])
def test_create_execution_bad_arguments(kwargs, message):
    with pytest.raises((TypeError, ValueError)) as info:
        make_flow().create_execution(**kwargs)
    assert str(info.value) == message


def test_close_bad_policy():
    ex = make_flow().create_execution(auto_close=False)
    ex.start(1)
    with pytest.raises(ValueError, match=r"pending_interrupts must be one of \('reject', 'cancel'\), got 'drop'"):
        ex.close(pending_interrupts="drop")


def test_meta_reports_lifecycle():
    ex = make_flow().create_execution(auto_close=False, runtime_resources={"db": object()})
    ex.start(1)
    ex.close()
    meta = ex.result.get_meta()
    assert meta["execution_id"] == ex.id and meta["flow_name"] == "life"
    assert (meta["status"], meta["lifecycle_state"], meta["close_reason"]) == ("completed", "closed", "closed")
    assert meta["resource_keys"] == ["db"]
    assert meta["created_at"] <= meta["started_at"] <= meta["closed_at"]


def test_close_timeout_inf_means_no_limit_like_none():
    flow = TriggerFlow()

    async def slow(data):
        await asyncio.sleep(0.05)
        await data.async_set_state("slow", "done")

    flow.to(lambda d: d.emit_nowait("Go"))
    flow.when("Go").to(slow)

    async def main():
        ex = await flow.async_start_execution(None)
        return ex, await ex.async_close(timeout=math.inf)

    ex, snapshot = asyncio.run(main())
    assert snapshot == {"slow": "done"}
    assert (ex.status, ex.result.get_meta()["close_reason"]) == ("completed", "closed")


@pytest.mark.parametrize("timeout", [math.nan, -math.inf, -1])
def test_close_timeout_that_is_no_number_of_seconds_is_refused(timeout):
    ex = make_flow().create_execution(auto_close=False)
    ex.start(1)
    with pytest.raises(InvalidArgumentError) as info:
        ex.close(timeout=timeout)
    assert str(info.value) == (f"close(timeout=...) must be None (or math.inf: no limit) or a finite number of "
                               f"seconds >= 0, got {timeout!r}")
    assert ex.lifecycle_state == "open"
    ex.close()
