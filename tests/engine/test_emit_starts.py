"""An open execution accepts an outside emit before anyone started it (issue 32, item 1).

The contract says an open execution accepts external emits, and flows made only of
``when(...)`` branches are driven exactly that way: ``ex = flow.create_execution();
ex.emit("Ping", 1)``. The first such emit starts the execution as ``start()`` would (its clock,
its managed environments, the auto-close timer once idle) but runs no start chain.
"""

import asyncio
import threading

import pytest

import triggerflow_nb
from triggerflow_nb import FlowDefinitionError, InvalidArgumentError, LifecycleError, TriggerFlow
from triggerflow_nb.observe import ChunkFinished, ChunkStarted, EventEmitted, ExecutionStarted


def event_only_flow(name="events-only"):
    flow = TriggerFlow(name=name)
    flow.when("Ping").to(lambda d: d.append_state("pings", d.input), name="on_ping")
    return flow


def run(coro, bound=10):
    return asyncio.run(asyncio.wait_for(coro, bound))


def test_an_event_only_flow_is_driven_by_emits_alone():
    ex = event_only_flow().create_execution(auto_close=False)
    assert (ex.lifecycle_state, ex.status, ex.started_at) == ("open", "created", None)
    ex.emit("Ping", 1)
    assert (ex.lifecycle_state, ex.status) == ("open", "idle")
    assert ex.started_at is not None and ex.started_at >= ex.created_at
    ex.emit("Ping", 2)
    assert ex.get_state() == {"pings": [1, 2]}
    assert ex.close() == {"pings": [1, 2]}
    assert ex.result.get_meta()["status"] == "completed"


def test_the_first_emit_runs_no_start_chain_and_a_later_start_is_refused_saying_why():
    flow = event_only_flow("with-start")
    flow.to(lambda d: d.set_state("start_chain_ran", True), name="begin")
    ex = flow.create_execution(auto_close=False)
    ex.emit("Ping", "x")
    assert ex.get_state() == {"pings": ["x"]}
    with pytest.raises(LifecycleError, match=r"^execution \w+ was already started by an outside emit \(the first "
                                             r"emit starts an execution nobody started, without its start chain"):
        ex.start(1)
    assert ex.close() == {"pings": ["x"]}


def test_the_first_emit_starts_the_auto_close_timer_as_start_would(eventually):
    async def main():
        ex = event_only_flow("auto").create_execution(auto_close_timeout=0.2)
        assert ex.auto_close_in() is None
        await ex.async_emit("Ping", 1)
        timer = ex.auto_close_in()
        assert timer is not None and 0.0 < timer <= 0.2
        await eventually(ex.is_closed)
        return ex.result.get_state(), ex.result.get_meta()["close_reason"]

    assert run(main()) == ({"pings": [1]}, "auto-close after 0.2s idle")


def test_the_start_is_announced_once_before_the_emits_branches():
    flow = event_only_flow("announced")
    flow_events = []
    flow.channel.subscribe(flow_events.append)
    ex = flow.create_execution(auto_close=False)
    seen = []
    ex.channel.subscribe(seen.append, state_changes=False)
    ex.emit("Ping", 1)
    ex.emit("Ping", 2)
    kinds = [type(e) for e in seen if isinstance(e, (ExecutionStarted, EventEmitted, ChunkStarted, ChunkFinished))]
    assert kinds == [ExecutionStarted, EventEmitted, ChunkStarted, ChunkFinished,
                     EventEmitted, ChunkStarted, ChunkFinished]
    assert seen[0] == ExecutionStarted(ex.id, None)
    assert [e for e in flow_events if isinstance(e, ExecutionStarted)] == [ExecutionStarted(ex.id, None)]
    ex.close()


def test_emit_nowait_in_a_running_loop_starts_it_at_once_and_runs_the_branch_later():
    async def main():
        ex = event_only_flow("nowait").create_execution(auto_close=False)
        ex.emit_nowait("Ping", 1)
        right_after = (ex.status, ex.get_state())
        await asyncio.sleep(0.01)
        return right_after, ex.status, await ex.async_close()

    assert run(main()) == (("running", {}), "idle", {"pings": [1]})


def test_emit_nowait_outside_a_loop_runs_it_through():
    ex = event_only_flow("nowait-script").create_execution(auto_close=False)
    ex.emit_nowait("Ping", 1)
    assert ex.close() == {"pings": [1]}


def test_bad_emits_before_start_are_refused_and_leave_it_unstarted():
    flow = event_only_flow("refused")
    ex = flow.create_execution(auto_close=False)
    for bad in ("", None, 3):
        with pytest.raises(InvalidArgumentError) as info:
            ex.emit(bad, 1)
        assert str(info.value) == f"an event name must be a non-empty string, got {bad!r}"
    assert (ex.status, ex.is_fresh()) == ("created", True)
    ex.seal()
    with pytest.raises(LifecycleError) as info:
        ex.emit("Ping", 1)
    assert str(info.value) == (f"cannot emit 'Ping': execution {ex.id} of flow 'refused' is sealed (a sealed "
                               f"execution only drains what it already accepted; unseal() opens it again)")
    assert ex.status == "created"
    closed = flow.create_execution(auto_close=False)
    closed.close()
    with pytest.raises(LifecycleError, match=r"^cannot emit 'Ping': execution \w+ of flow 'refused' is closed; "):
        closed.emit("Ping", 1)


def test_an_unrunnable_flow_refuses_the_first_emit_as_it_refuses_start():
    flow = TriggerFlow(name="unrunnable")
    flow.when("Ping").to("nowhere")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(FlowDefinitionError) as info:
        ex.emit("Ping", 1)
    assert str(info.value) == (
        "flow 'unrunnable' uses chunk names with no handler: ['nowhere']; register them with "
        "@flow.chunk('name') or pass the function to .to(...)"
    )
    assert (ex.status, ex.is_fresh(), ex.started_at) == ("created", True, None)


def test_a_chunk_error_reaches_the_first_emitter_and_fails_the_execution():
    flow = TriggerFlow(name="fails")

    def boom(data):
        data.set_state("before", data.input)
        raise ValueError("no good")

    flow.when("Ping").to(boom, name="boom")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(triggerflow_nb.ChunkError) as info:
        ex.emit("Ping", 1)
    assert str(info.value) == "chunk 'boom' raised ValueError: no good"
    assert type(info.value.__cause__) is ValueError
    assert (ex.lifecycle_state, ex.status) == ("closed", "failed")
    assert ex.result.get_meta()["close_reason"] == "chunk 'boom' failed: ValueError: no good"
    assert ex.result.get_state() == {"before": 1}


@pytest.fixture
def pool_provider():
    manager = triggerflow_nb.execution_environment
    log = []

    async def start(config):
        log.append(("start", config["name"]))
        return {"name": config["name"]}

    async def release(pool):
        log.append(("release", pool["name"]))

    manager.register("emit-pool", start, release=release, replace=True)
    yield log
    manager.unregister("emit-pool")
    assert manager.active() == {}, "a test leaked a managed resource"


def pool_flow():
    flow = TriggerFlow(name="pooled")
    flow.when("Ping").to(lambda d: d.append_state("used", d.require_resource("pool")["name"]), name="use")
    return flow


REQUEST = [{"kind": "emit-pool", "key": "pool", "config": {"name": "p1"}}]


def test_the_first_emit_mounts_managed_environments_before_its_branches(pool_provider):
    ex = pool_flow().create_execution(auto_close=False, execution_environments=REQUEST)
    ex.emit("Ping", 1)
    ex.emit("Ping", 2)
    assert pool_provider == [("start", "p1")]
    assert ex.close() == {"used": ["p1", "p1"]}
    assert pool_provider == [("start", "p1"), ("release", "p1")]


def test_emit_nowait_first_mounts_managed_environments_before_its_branches(pool_provider):
    async def main():
        ex = pool_flow().create_execution(auto_close=False, execution_environments=REQUEST)
        ex.emit_nowait("Ping", 1)
        for _ in range(100):
            if ex.status == "idle":
                break
            await asyncio.sleep(0.005)
        return await ex.async_close()

    assert run(main()) == {"used": ["p1"]}
    assert pool_provider == [("start", "p1"), ("release", "p1")]


def test_a_failing_mount_on_the_first_emit_nowait_fails_the_execution():
    manager = triggerflow_nb.execution_environment

    async def start(config):
        raise OSError("pool down")

    manager.register("broken-pool", start, replace=True)
    try:
        async def main():
            ex = pool_flow().create_execution(
                auto_close=False, execution_environments=[{"kind": "broken-pool", "key": "pool", "config": {}}])
            ex.emit_nowait("Ping", 1)
            for _ in range(200):
                if ex.is_closed():
                    break
                await asyncio.sleep(0.005)
            return ex

        ex = run(main())
    finally:
        manager.unregister("broken-pool")
    assert (ex.lifecycle_state, ex.status) == ("closed", "failed")
    assert ex.result.get_meta()["close_reason"] == ("failed: provider 'broken-pool' failed to start resource 'pool': "
                                                         "OSError('pool down')")
    assert ex.result.get_state() == {}


def test_an_emit_started_execution_saves_and_loads_as_started():
    flow = event_only_flow("saved")
    ex = flow.create_execution(auto_close=False)
    ex.emit("Ping", 1)
    saved = ex.save()
    assert (saved["started"], saved["status"], saved["started_at"]) == (True, "idle", ex.started_at)
    restored = flow.create_execution(auto_close=False).load(saved)
    restored.emit("Ping", 2)
    with pytest.raises(LifecycleError, match=r"^execution \w+ was already started; an execution runs once"):
        restored.start(3)
    assert restored.close() == {"pings": [1, 2]}


def test_the_first_emit_from_another_thread_while_the_loop_is_elsewhere():
    """A worker thread with no loop of its own emits first: the execution then lives on that
    thread's loop, as it would after a start() there; nothing is stranded or lost."""
    ex = event_only_flow("thread").create_execution(auto_close=False)
    errors = []

    def worker():
        try:
            ex.emit("Ping", "from thread")
            ex.emit("Ping", "again")
            ex.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert errors == []
    assert ex.result.get_state() == {"pings": ["from thread", "again"]}
