"""The execution's lifecycle at its edges: the auto-close timer around work and loads, closes
that race or cut calls, retry's reopening, sub-flow steps that fail or pause, and the checks of
the smaller public calls.

Each case pins behaviour that a mutation run (scripts/mutate.py execution) showed no test held.
"""

import asyncio
import gc
import logging
import threading
import time
import traceback
import warnings
import weakref

import pytest

import triggerflow_nb
from triggerflow_nb import ChunkError, FlowDefinitionError, InvalidArgumentError, LifecycleError, TriggerFlow
from triggerflow_nb.observe import (
    AutoCloseScheduled,
    EventEmitted,
    ExecutionClosed,
    ExecutionSettled,
    ResourcesChanged,
)
from triggerflow_nb.reproducibility import new_interrupt_id
from triggerflow_nb.runtime import lifecycle as lifecycle_module


def run(coro, bound=10):
    """Run ``coro`` on a fresh loop; a hang fails the test after ``bound`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, bound))


def slow_flow(seconds=5.0):
    flow = TriggerFlow(name="slow")

    async def slow(data):
        await asyncio.sleep(seconds)

    flow.to(slow)
    return flow


# -- the auto-close timer ---------------------------------------------------------------------------


def one_step_flow(name):
    flow = TriggerFlow(name=name)
    flow.to(lambda data: data.input, name="begin")
    return flow


async def started_in_a_task(flow, auto_close_timeout):
    """An execution started in a task of its own, once it has settled and its auto-close timer runs."""
    ex = flow.create_execution(auto_close_timeout=auto_close_timeout)
    started = asyncio.create_task(ex.async_start(1))
    await asyncio.sleep(0.05)
    return ex, started


def test_the_auto_close_timer_stops_while_work_runs_and_starts_again_after_it():
    flow = one_step_flow("timer")
    seen = {}

    async def work(data):
        seen["during"] = data.execution.auto_close_in()
        await asyncio.sleep(0.3)
        seen["work_ended"] = time.time()

    flow.when("Work").to(work)

    async def main():
        ex, started = await started_in_a_task(flow, 0.5)
        seen["before"] = ex.auto_close_in()
        await ex.async_emit("Work")
        seen["after"] = ex.auto_close_in()
        await started
        return ex

    ex = run(main())
    assert 0.3 < seen["before"] <= 0.5
    assert seen["during"] is None  # the timer that was running is cancelled, not left to fire
    assert 0.4 < seen["after"] <= 0.5  # a new one, counted from the end of the work
    assert ex.closed_at - seen["work_ended"] >= 0.45
    assert ex.get_status() == "completed"


def test_auto_close_in_can_be_read_from_another_thread_while_the_timer_runs():
    async def main():
        ex, started = await started_in_a_task(one_step_flow("timer-thread"), 0.5)
        remaining = await asyncio.to_thread(ex.auto_close_in)
        await started
        return remaining, ex.auto_close_in()

    remaining, after_close = run(main())
    assert 0.3 < remaining <= 0.5
    assert after_close is None


def test_a_watched_execution_announces_its_auto_close_timer():
    ex = one_step_flow("announced").create_execution(auto_close_timeout=0.05)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    assert ex.start(1) == {}
    scheduled = [e for e in events if isinstance(e, AutoCloseScheduled)]
    assert scheduled == [AutoCloseScheduled(ex.id, 0.05)]
    assert events.index(scheduled[0]) < [i for i, e in enumerate(events) if isinstance(e, ExecutionClosed)][0]


def failing_flow(name, message="no"):
    """A flow whose one chunk, ``broken``, raises ValueError(message)."""
    flow = TriggerFlow(name=name)

    def broken(data):
        raise ValueError(message)

    flow.to(broken)
    return flow


def test_a_failed_run_reports_no_settling_after_it_failed():
    flow = failing_flow("failing")
    ex = flow.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    kinds = [type(e).__name__ for e in events]
    assert "ExecutionSettled" not in kinds
    assert kinds[-1] == "ExecutionClosed"


def test_a_loaded_idle_execution_closes_by_itself_after_its_auto_close_delay():
    flow = TriggerFlow(name="loaded-idle")
    flow.to(lambda data: data.set_state("seen", data.input), name="record")
    source = flow.create_execution(auto_close=False)
    source.start(7)
    saved = source.save()

    async def main():
        target = flow.create_execution(auto_close_timeout=0.1)
        await target.async_load(saved)
        assert target.get_lifecycle_state() == "open"
        for _ in range(100):
            if target.is_closed():
                break
            await asyncio.sleep(0.02)
        return target

    target = run(main())
    assert (target.is_closed(), target.get_status(), target.result.get_state()) == (True, "completed", {"seen": 7})


def test_a_closed_execution_is_not_kept_alive_by_its_auto_close_timer():
    async def main():
        ex, started = await started_in_a_task(one_step_flow("collectable"), 30)
        assert ex.auto_close_in() > 29  # the timer runs, holding the execution
        await ex.async_close()
        await started
        ref = weakref.ref(ex)
        del ex, started
        gc.collect()
        return ref() is None

    assert run(main()) is True


# -- cut, cancelled and interrupted calls -------------------------------------------------------------


def test_a_close_that_cuts_a_start_leaves_the_callers_task_uncancelled():
    async def main():
        ex = slow_flow().create_execution(auto_close=False)

        async def caller():
            with pytest.raises(LifecycleError, match="was closed while this call was running"):
                await ex.async_start(1)
            return asyncio.current_task().cancelling()

        calling = asyncio.create_task(caller())
        await asyncio.sleep(0.05)
        await ex.async_close(timeout=0.2)
        return await calling

    assert run(main()) == 0


def test_a_start_cancelled_outside_any_chunk_is_remembered_as_the_interrupt():
    flow = TriggerFlow(name="deciding")

    async def undecided(data):
        await asyncio.sleep(5)
        return True

    flow.to(lambda data: data.input, name="first").if_condition(undecided, name="check") \
        .to(lambda data: 1, name="one").end_condition()

    async def main():
        ex = flow.create_execution(auto_close=False)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ex.async_start(1), 0.05)
        await ex.async_close()
        return ex

    ex = run(main())
    assert ex.get_status() == "cancelled"
    assert ex.result.get_meta()["close_reason"] == "closed after an interrupt (CancelledError)"


def test_a_keyboard_interrupt_outside_any_chunk_is_remembered_as_the_interrupt():
    def interrupted(data):
        raise KeyboardInterrupt

    flow = TriggerFlow(name="interrupted")
    flow.to(lambda data: data.input, name="first").if_condition(interrupted, name="check") \
        .to(lambda data: 1, name="one").end_condition()
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(KeyboardInterrupt):
        ex.start(1)
    ex.close()
    assert ex.result.get_meta()["close_reason"] == "closed after an interrupt (KeyboardInterrupt)"


def test_work_spawned_just_before_a_failure_is_never_started_and_not_left_counted():
    flow = TriggerFlow(name="spawn-then-fail")
    ran = []

    def emit_then_fail(data):
        data.emit_nowait("Ping", 1)
        raise ValueError("after the emit")

    flow.to(emit_then_fail)
    flow.when("Ping").to(lambda data: ran.append(data.input), name="on_ping")
    ex = flow.create_execution(auto_close=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the unstarted emit's coroutine is closed, not left "never awaited"
        with pytest.raises(ChunkError, match="after the emit"):
            ex.start(None)
        gc.collect()
    assert (ran, ex._lifecycle.inflight, ex._lifecycle.scope.tasks(), ex._lifecycle.scope._owned or {}, bool(ex._lifecycle.scope._queue)) == ([], 0, set(), {}, False)


@pytest.mark.parametrize("watch", [False, True], ids=["unwatched", "watched"])
def test_each_emit_nowait_handler_starts_on_a_fresh_stack_and_its_task_is_forgotten(watch):
    """A chain of handlers that emit_nowait each other: every handler runs one level deep (not one
    level deeper per link); handlers that never wait share one carrier task, and nothing stays
    owned or queued."""
    from triggerflow_nb.runtime.emit_depth import emit_depth

    flow = TriggerFlow(name="nowait-chain")
    depths, tasks = [], set()

    async def tick(data):
        depths.append(emit_depth.get())
        tasks.add(asyncio.current_task())
        if data.input < 60:
            data.emit_nowait("Tick", data.input + 1)

    flow.to(lambda data: data.emit_nowait("Tick", 1), name="kick")
    flow.when("Tick").to(tick)

    async def main():
        ex = flow.create_execution(auto_close=False)
        if watch:
            ex.channel.subscribe(lambda event: None, state_changes=False)
        await ex.async_start(None)
        ex.emit_nowait("Tick", 60)  # from outside too: its handler is one level deep
        await ex.async_close()
        return ex

    ex = run(main())
    assert depths == [1] * 61
    assert len(tasks) == 1 and None not in tasks
    assert _left_behind(ex) == (0, {}, False)


def _start_then_close(flow):
    """Start ``flow`` (input None) and close it, in one loop; the closed execution."""
    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(None)
        await ex.async_close(timeout=5)
        return ex

    return run(main())


def _left_behind(ex):
    """What a finished execution still counts, owns and has queued: (0, {}, False) when nothing."""
    return ex._lifecycle.inflight, ex._lifecycle.scope._owned or {}, bool(ex._lifecycle.scope._queue)


def test_emit_nowait_handlers_that_wait_each_keep_the_task_they_started_in():
    """A handler that suspends goes on in the task it started in (its carrier), one task per
    waiting handler, and the handlers interleave as tasks created at the emits would."""
    flow = TriggerFlow(name="nowait-waiting")
    seen, order = {}, []

    async def slow(data):
        before = asyncio.current_task()
        order.append(f"start {data.input}")
        await asyncio.sleep(0.01 * (3 - data.input))
        seen[data.input] = (before, asyncio.current_task())
        order.append(f"end {data.input}")

    async def kick(data):
        for n in range(3):
            data.emit_nowait("Slow", n)
        order.append("kick done")

    flow.to(kick)
    flow.when("Slow").to(slow)

    ex = _start_then_close(flow)
    assert order == ["kick done", "start 0", "start 1", "start 2", "end 2", "end 1", "end 0"]
    assert all(before is after for before, after in seen.values())
    assert len({before for before, _after in seen.values()}) == 3
    assert _left_behind(ex) == (0, {}, False)


def test_a_handler_that_waits_after_one_that_did_not_goes_on_in_the_carrier_left_idle_for_it():
    """A finishes in its first step and queues B for the next turn; the carrier it ran in is
    idle meanwhile (parked). B waits: the parked carrier must wake up and go on with B."""
    flow = TriggerFlow(name="idle-carrier-wakes")
    order = []

    async def step(data):
        order.append(f"start {data.input}")
        if data.input == "A":
            data.emit_nowait("Go", "B")
        else:
            await asyncio.sleep(0.01)
        order.append(f"end {data.input}")

    flow.to(lambda data: data.emit_nowait("Go", "A"), name="kick")
    flow.when("Go").to(step)

    ex = _start_then_close(flow)
    assert order == ["start A", "end A", "start B", "end B"]
    assert _left_behind(ex) == (0, {}, False)


@pytest.mark.parametrize("how", ["emit_nowait", "emit", "triggering write"])
def test_work_a_chunk_detaches_from_its_worker_thread_lands_on_the_executions_loop(how):
    """A chunk that hands blocking work to a thread (asyncio.to_thread) may emit, or write state a
    branch listens to, from there: the work goes to the execution's loop, counted as usual."""
    flow = TriggerFlow(name=f"from-a-thread-{how}")
    ran_on = []

    def in_thread(data):
        if how == "emit_nowait":
            data.emit_nowait("Go", 1)
        elif how == "emit":
            data.emit("Go", 1)
        else:
            data.set_state("k", 1)

    async def work(data):
        await asyncio.to_thread(in_thread, data)

    def go(data):
        ran_on.append(threading.current_thread() is threading.main_thread())
        data.set_state("went", data.input)

    flow.to(work)
    flow.when("Go").to(go)
    flow.when({"state": "k"}).to(go, name="on_k")

    ex = _start_then_close(flow)
    assert (ex.get_status(), ran_on) == ("completed", [True])
    assert ex.get_state()["went"] == 1
    assert _left_behind(ex) == (0, {}, False)


def test_an_emit_from_a_thread_that_outlives_the_executions_loop_is_refused_and_counts_nothing():
    flow = TriggerFlow(name="thread-outlives-loop")
    release, done = threading.Event(), threading.Event()
    seen = []

    def late(data):
        release.wait(10)
        try:
            data.emit_nowait("Go", 1)
        except Exception as exc:  # the thread's own caller would see this
            seen.append((type(exc).__name__, str(exc)))
        done.set()

    def work(data):
        threading.Thread(target=late, args=(data,), daemon=True).start()

    flow.to(work)
    flow.when("Go").to(lambda data: data.set_state("went", 1), name="go")
    ex = flow.create_execution(auto_close=False)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ex.async_start(None))
    loop.close()
    release.set()
    assert done.wait(10)
    assert seen == [("LifecycleError", f"execution {ex.id} cannot take work from this thread: its event loop is not "
                                       f"running (emit or write from the chunk itself, or from a thread while the "
                                       f"chunk that started it still runs)")]
    assert (ex._lifecycle.inflight, ex.get_state()) == (0, {})


# -- closing ---------------------------------------------------------------------------------------


@pytest.fixture
def slow_release():
    manager = triggerflow_nb.execution_environment
    log = []

    async def start(config):
        log.append("started")
        return {"config": config}

    async def release(resource):
        await asyncio.sleep(0.2)
        log.append("released")

    manager.register("slow_pool", start, release=release, replace=True)
    yield log
    manager.unregister("slow_pool")
    assert manager.active() == {}, "a test leaked a managed resource"


SLOW_POOL = [{"kind": "slow_pool", "key": "db", "config": {}}]


def test_a_second_close_returns_only_once_the_first_has_released(slow_release):
    flow = one_step_flow("two-closes")

    async def main():
        ex = flow.create_execution(auto_close=False, execution_environments=SLOW_POOL)
        await ex.async_start(1)
        first = asyncio.create_task(ex.async_close())
        await asyncio.sleep(0)
        second = await ex.async_close()
        released_when_second_returned = list(slow_release)
        assert await first == second
        return released_when_second_returned

    assert run(main()) == ["started", "released"]
    assert slow_release == ["started", "released"]  # once


def test_two_closes_waiting_for_the_same_drain_both_return_only_once_released(slow_release):
    """Both closes wait for the running chunk; whichever freezes first releases, and the other
    must not return before that release has finished."""
    flow = slow_flow(seconds=0.1)

    async def main():
        ex = flow.create_execution(auto_close=False, execution_environments=SLOW_POOL)
        started = asyncio.create_task(ex.async_start(1))
        await asyncio.sleep(0.02)
        seen = []

        async def close_and_look():
            snapshot = await ex.async_close()
            seen.append(list(slow_release))
            return snapshot

        first, second = await asyncio.gather(close_and_look(), close_and_look())
        assert first == second
        assert await started is ex
        return seen

    assert run(main()) == [["started", "released"], ["started", "released"]]
    assert slow_release == ["started", "released"]


def test_close_with_a_timeout_returns_in_time_when_a_chunk_ignores_its_cancellation(caplog):
    flow = TriggerFlow(name="stubborn")

    async def stubborn(data):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(1.5)  # cleanup that takes far longer than the close allows

    flow.to(stubborn)

    async def main():
        ex = flow.create_execution(auto_close=False)
        started = asyncio.create_task(ex.async_start(1))
        await asyncio.sleep(0.05)
        began = time.perf_counter()
        with caplog.at_level(logging.WARNING, logger="triggerflow_nb"):
            await ex.async_close(timeout=0.4)
        took = time.perf_counter() - began
        # The chunk swallowed its cancellation, so its path ends normally, once its cleanup does.
        assert await asyncio.wait_for(started, 3) is ex
        return ex, took

    ex, took = run(main())
    assert took < 0.6
    assert ex.get_status() == "cancelled"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"execution {ex.id}: work still running 0.")
    assert warnings[0].endswith("s after it was cancelled; releasing anyway")
    grace = float(warnings[0].split("work still running ")[1].split("s after")[0])
    # What is left of the timeout after the drain, shared between the cleanup and the release.
    left = 0.4 * (1 - lifecycle_module._DRAIN_SHARE) * lifecycle_module._CLEANUP_SHARE
    assert left * 0.5 < grace <= left


def test_close_of_a_run_that_drains_quietly_logs_nothing(caplog):
    flow = TriggerFlow(name="quiet")

    async def brief(data):
        await asyncio.sleep(0.05)

    flow.when("Go").to(brief)
    flow.to(lambda data: data.input, name="begin")

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(1)
        ex.emit_nowait("Go")
        with caplog.at_level(logging.WARNING, logger="triggerflow_nb"):
            await ex.async_close(timeout=2)
        return ex

    ex = run(main())
    assert ex.get_status() == "completed"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def read_stream_in_a_task(ex):
    """A task reading ``ex``'s stream until it ends, and the list it reads into."""
    items = []

    async def read():
        async for item in ex.get_async_runtime_stream(timeout=None):
            items.append(item)

    return asyncio.create_task(read()), items


def test_the_stream_ends_when_the_execution_closes():
    flow = TriggerFlow(name="streaming")
    flow.to(lambda data: data.put_into_stream(data.input), name="put")

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start("a")
        reading, items = read_stream_in_a_task(ex)
        await asyncio.sleep(0.02)
        await ex.async_close()
        await asyncio.wait_for(reading, 2)
        return items

    assert run(main()) == ["a"]


def test_reading_the_stream_of_an_unstarted_execution_does_not_start_it():
    async def main():
        ex = slow_flow().create_execution(auto_close=False)
        items = [item async for item in ex.get_async_runtime_stream(timeout=0.1)]
        return items, ex.get_status()

    assert run(main()) == ([], "created")


# -- retry ------------------------------------------------------------------------------------------


def flaky_flow(fixed):
    flow = TriggerFlow(name="flaky")
    flow.to(lambda data: data.put_into_stream("a"), name="first")

    def second(data):
        if not fixed:
            raise ValueError("not yet")
        data.put_into_stream("b")

    flow.to(second)
    return flow


def test_retry_and_retryable_chunk_on_a_completed_closed_execution():
    ex = flaky_flow(fixed=[True]).create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    assert ex.retryable_chunk() is None
    with pytest.raises(LifecycleError) as info:
        ex.retry()
    assert str(info.value) == (f"retry() re-runs the chunk whose failure ended an execution; execution {ex.id} "
                               f"is closed, completed")


def test_retry_opens_the_stream_again():
    fixed = []

    async def main():
        ex = flaky_flow(fixed).create_execution(auto_close=False)
        with pytest.raises(ChunkError):
            await ex.async_start(None)
        fixed.append(True)
        await ex.async_retry()
        reading, items = read_stream_in_a_task(ex)
        await asyncio.sleep(0.02)
        ex.put_into_stream("late")
        await asyncio.sleep(0.02)
        await ex.async_close()
        await asyncio.wait_for(reading, 2)
        return items

    assert run(main()) == ["a", "b", "late"]


def test_retry_refuses_a_flow_whose_wiring_was_left_unfinished():
    fixed = []
    flow = flaky_flow(fixed)
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(None)
    flow.when("Later").to(lambda data: data.input, name="split").for_each()  # never closed
    with pytest.raises(FlowDefinitionError, match="has unclosed blocks"):
        ex.retry()
    assert ex.get_status() == "failed"


@pytest.fixture
def pool():
    manager = triggerflow_nb.execution_environment
    log = {"started": 0, "released": 0}

    async def start(config):
        log["started"] += 1
        return {"dsn": config["dsn"], "generation": log["started"]}

    async def release(resource):
        log["released"] += 1

    manager.register("retry_pool", start, release=release, replace=True)
    yield log
    manager.unregister("retry_pool")
    assert manager.active() == {}, "a test leaked a managed resource"


def test_retry_mounts_the_managed_environments_again(pool):
    fixed = []
    flow = TriggerFlow(name="flaky-db")

    def use(data):
        if not fixed:
            raise ValueError("not yet")
        data.set_state("generation", data.require_resource("db")["generation"])

    flow.to(use)
    ex = flow.create_execution(auto_close=False,
                               execution_environments=[{"kind": "retry_pool", "key": "db", "config": {"dsn": "x"}}])
    with pytest.raises(ChunkError):
        ex.start(None)
    assert pool == {"started": 1, "released": 1}
    fixed.append(True)
    ex.retry()
    assert ex.result.get_state("generation") == 2
    ex.close()
    assert pool == {"started": 2, "released": 2}


# -- sub-flow steps ---------------------------------------------------------------------------------


def test_a_failing_sub_flow_step_is_marked_failed():
    child = failing_flow("child", "child broke")
    parent = TriggerFlow(name="parent")
    parent.to_sub_flow(child, name="sub")
    ex = parent.create_execution(auto_close=False)
    with pytest.raises(ChunkError, match="chunk 'sub' raised ChunkError"):
        ex.start(1)
    assert ex.node_status() == {"sub": "failed"}


def test_a_sub_flow_that_pauses_fails_its_step_and_its_child_is_closed():
    child = TriggerFlow(name="pausing-child")
    child.to(lambda data: data.pause_for(type="ask"), name="ask")
    parent = TriggerFlow(name="parent")
    parent.to_sub_flow(child, name="sub")
    closed = []
    child.channel.subscribe(lambda e: closed.append(e) if isinstance(e, ExecutionClosed) else None,
                            state_changes=False)
    with pytest.raises(ChunkError) as info:
        parent.start(1)
    assert str(info.value) == (
        "chunk 'sub' raised LifecycleError: sub-flow 'pausing-child' paused; pause_for inside a sub-flow is "
        "not supported yet: pause in the parent flow before or after the to_sub_flow() step")
    assert [(e.status, e.reason) for e in closed] == [("completed", "closed with 1 interrupt(s) cancelled")]


def test_a_sub_flow_write_back_triggers_the_state_listeners():
    child = TriggerFlow(name="adding")
    child.to(lambda data: data.set_state("total", data.input + 1), name="add")
    parent = TriggerFlow(name="parent")
    parent.to_sub_flow(child, write_back={"state.total": "snapshot.total"}, name="sub")
    parent.when({"state": "total"}).to(lambda data: data.set_state("heard", data.input), name="listen")
    assert parent.start(4) == {"total": 5, "heard": 5}


def test_a_sub_flow_step_after_a_sync_step_in_a_fan_out_runs_in_a_task_of_its_own():
    child = TriggerFlow(name="where")
    tasks = []

    async def record(data):
        tasks.append(asyncio.current_task())
        await asyncio.sleep(0.01)

    child.to(record)
    parent = TriggerFlow(name="parent")

    async def begin(data):
        tasks.append(asyncio.current_task())
        return [1, 2]

    parent.to(begin).for_each().to(lambda data: data.input, name="sync_step") \
        .to_sub_flow(child, name="sub").end_for_each()
    parent.start(None)
    caller, *items = tasks
    assert len(items) == 2 and caller not in items


# -- small public calls ------------------------------------------------------------------------------


def test_emit_nowait_checks_its_event_and_the_lifecycle():
    flow = one_step_flow("nowait")
    ex = flow.create_execution(auto_close=False)
    ex.start(1)
    with pytest.raises(InvalidArgumentError, match="^an event name must be a non-empty string, got ''$"):
        ex.emit_nowait("")
    ex.close()
    with pytest.raises(LifecycleError, match="emit 'Ping'"):
        ex.emit_nowait("Ping")


def ping_flow(name):
    """A one-step flow with a handler for "Ping", and the list of inputs that handler heard."""
    flow = one_step_flow(name)
    heard = []
    flow.when("Ping").to(lambda data: heard.append(data.input), name="on_ping")
    return flow, heard


def test_emit_nowait_inside_a_running_loop_checks_before_it_spawns_anything():
    """With a loop running, emit_nowait does not fall back to emit(): its own checks must refuse."""
    flow, heard = ping_flow("nowait-in-loop")

    async def main():
        ex = flow.create_execution(auto_close=False)
        refused = []
        for when, event in (("started", ""), ("closed", "Ping")):
            if when == "started":
                await ex.async_start(1)
            else:
                await ex.async_close()
            try:
                ex.emit_nowait(event, 2)
            except (LifecycleError, InvalidArgumentError) as exc:
                refused.append((type(exc).__name__, str(exc)))
            await asyncio.sleep(0.01)
        return ex, refused

    ex, refused = run(main())
    assert refused == [
        ("InvalidArgumentError", "an event name must be a non-empty string, got ''"),
        ("LifecycleError", f"cannot emit 'Ping': execution {ex.id} of flow 'nowait-in-loop' is closed; "
                           f"create a new execution with flow.create_execution()"),
    ]
    assert heard == []


def test_async_emit_nowait_runs_the_handlers_after_it_returns():
    flow, heard = ping_flow("nowait-async")

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(1)
        await ex.async_emit_nowait("Ping", 2)
        right_after = list(heard)
        await ex.async_close()
        return right_after

    assert run(main()) == []
    assert heard == [2]


def test_deleting_a_resource_is_reported_to_watchers():
    flow = TriggerFlow(name="resources")
    flow.to(lambda data: data.del_resource("client"), name="drop")
    ex = flow.create_execution(auto_close=False, runtime_resources={"client": object()})
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    ex.start(None)
    assert events.count(ResourcesChanged(ex.id)) == 1
    assert ex.runtime_resources.keys() == []


def test_generated_interrupt_ids_are_numbered_per_execution_in_reproducible_mode():
    flow = TriggerFlow(name="two-pauses")

    async def ask_twice(data):
        await data.async_pause_for(type="first")
        await data.async_pause_for(type="second")

    flow.to(ask_twice)
    with triggerflow_nb.reproducible(seed=5):
        ex = flow.create_execution(auto_close=False)
        ex.start(None)
        assert list(ex.get_pending_interrupts()) == [new_interrupt_id(ex.id, 0), new_interrupt_id(ex.id, 1)]
        ex.close(pending_interrupts="cancel")


def test_a_resumed_pause_marks_its_chunk_done():
    flow = TriggerFlow(name="resumed")
    flow.to(lambda data: data.pause_for(type="ok", interrupt_id="ok"), name="ask") \
        .to(lambda data: data.set_state("answer", data.input), name="record")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ex.node_status() == {"ask": "waiting"}
    ex.continue_with("ok", "yes")
    assert ex.node_status() == {"ask": "done", "record": "done"}


def test_a_hand_picked_id_that_takes_a_seeded_one_moves_the_generated_ids_on():
    flow = TriggerFlow(name="picked")

    async def ask_three_times(data):
        await data.async_pause_for(type="picked", interrupt_id=data.input)
        await data.async_pause_for(type="second")
        await data.async_pause_for(type="third")

    flow.to(ask_three_times)
    with triggerflow_nb.reproducible(seed=5):
        ex = flow.create_execution(auto_close=False)
        ex.start(new_interrupt_id(ex.id, 0))
        assert list(ex.get_pending_interrupts()) == [new_interrupt_id(ex.id, n) for n in (0, 1, 2)]
        ex.close(pending_interrupts="cancel")


def test_a_pause_resumed_to_an_event_marks_its_chunk_done():
    flow = TriggerFlow(name="resumed-to-event")
    flow.to(lambda data: data.pause_for(type="ok", interrupt_id="ok", resume_to={"event": "Go"}), name="ask")
    flow.when("Go").to(lambda data: data.set_state("answer", data.input), name="record")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert ex.node_status() == {"ask": "waiting"}
    ex.continue_with("ok", "yes")
    assert ex.node_status() == {"ask": "done", "record": "done"}
    assert ex.get_state("answer") == "yes"


def test_a_stream_reader_that_stops_early_closes_what_it_read_from():
    flow = TriggerFlow(name="early-stop")
    flow.to(lambda data: [data.put_into_stream(i) for i in range(3)], name="put")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    reader = ex.get_runtime_stream(timeout=1)
    assert next(reader) == 0
    source = reader.gi_frame.f_locals["agen"]
    reader.close()
    assert source.ag_frame is None  # finished, not left suspended at its yield
    ex.close()


def test_loading_a_closed_snapshot_mounts_no_environment(pool):
    flow = TriggerFlow(name="closed-db")
    flow.to(lambda data: data.set_state("dsn", data.require_resource("db")["dsn"]), name="use")
    request = [{"kind": "retry_pool", "key": "db", "config": {"dsn": "y"}}]
    ex = flow.create_execution(auto_close=False, execution_environments=request)
    ex.start(None)
    ex.close()
    saved = ex.save()
    loaded = flow.create_execution(auto_close=False)
    loaded.load(saved)
    assert (loaded.is_closed(), loaded.result.get_state()) == (True, {"dsn": "y"})
    assert pool == {"started": 1, "released": 1}


def test_the_sync_bridge_frame_is_hidden_from_ipython_tracebacks():
    flow = failing_flow("hidden")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError) as info:
        ex.start(None)
    frames = [frame for frame, _ in traceback.walk_tb(info.value.__traceback__)]
    bridge = [f for f in frames if f.f_code.co_name == "run_sync"]
    assert bridge and all(f.f_locals.get("__tracebackhide__") is True for f in bridge)


@pytest.mark.parametrize("value", [{}, "", 0])
def test_execution_environments_must_be_a_list_even_when_empty(value):
    with pytest.raises(InvalidArgumentError) as info:
        TriggerFlow(name="envs").create_execution(execution_environments=value)
    assert str(info.value) == f"execution_environments must be a list, got {type(value).__name__}"


def test_an_unknown_event_settles_the_execution_at_once():
    flow = one_step_flow("settles")
    ex = flow.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    ex.start(1)
    ex.emit("Nobody")
    assert events.count(ExecutionSettled(ex.id, "idle")) == 2
    ex.close()


def test_a_close_after_a_retry_waits_for_the_retried_work_like_the_first_close_did():
    """The first close waited for running work (and saw it fail); retry() runs it again, and a
    second close must wait for that work too, not find the first close's "idle" still standing."""
    flow = TriggerFlow(name="close-retry-close")
    attempts = []

    async def flaky(data):
        attempts.append(len(attempts) + 1)
        await asyncio.sleep(0.05)
        if len(attempts) == 1:
            raise ValueError("first attempt")
        await data.async_set_state("done", len(attempts))

    flow.to(flaky)

    async def main():
        ex = flow.create_execution(auto_close=False)
        started = asyncio.create_task(ex.async_start(1))
        await asyncio.sleep(0.01)
        with pytest.raises(ChunkError, match="first attempt"):
            await ex.async_close()
        with pytest.raises(ChunkError, match="first attempt"):
            await started
        retried = asyncio.create_task(ex.async_retry())
        await asyncio.sleep(0.01)
        closed = await ex.async_close()
        await retried
        return ex, closed

    ex, closed = run(main())
    assert (ex.get_status(), closed, attempts) == ("completed", {"done": 2}, [1, 2])


def test_a_watched_sub_flow_step_reports_no_done_event_nobody_listens_to():
    child = TriggerFlow(name="child-quiet")
    child.to(lambda data: data.input + 1, name="inc")
    parent = TriggerFlow(name="parent-quiet")
    parent.to_sub_flow(child, name="sub")
    parent.when("Other").to(lambda data: data.input, name="on_other")  # some listener, not on the step
    ex = parent.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    ex.start(1)
    assert ex.node_status() == {"sub": "done"}
    assert [e for e in events if isinstance(e, EventEmitted)] == []


def test_a_keyboard_interrupt_in_an_emit_nowait_handler_strands_none_of_the_handlers_queued_after_it():
    """A cell interrupted while the first of three queued handlers runs: the interrupt reaches the
    loop's caller, as from a task; the other two still run when the loop goes on, and the close
    says the run was cut short."""
    flow = TriggerFlow(name="nowait-interrupt")
    ran = []

    def on_hit(data):
        if data.input == 0:
            raise KeyboardInterrupt
        ran.append(data.input)

    async def kick(data):
        for n in range(3):
            data.emit_nowait("Hit", n)

    flow.to(kick)
    flow.when("Hit").to(on_hit, name="on_hit")
    loop = asyncio.new_event_loop()
    try:
        ex = flow.create_execution(auto_close=False)
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(asyncio.wait_for(ex.async_start(None), 5))
        loop.run_until_complete(asyncio.wait_for(ex.async_close(timeout=5), 5))
    finally:
        loop.close()
    assert ran == [1, 2]
    assert ex.result.get_meta()["close_reason"] == "closed after an interrupt (KeyboardInterrupt in chunk 'on_hit')"
    assert (ex.get_status(), *_left_behind(ex)) == ("cancelled", 0, {}, False)


def test_an_emit_nowait_handler_that_cancels_its_own_task_leaves_the_next_handler_alone():
    """The handlers that never wait share a carrier task; one that cancels ``current_task()`` must
    not cancel the next handler: that one runs in a fresh carrier."""
    flow = TriggerFlow(name="nowait-self-cancel")
    ran, tasks = [], []

    async def on_hit(data):
        tasks.append(asyncio.current_task())
        if data.input == 0:
            asyncio.current_task().cancel()
            return
        await asyncio.sleep(0)
        ran.append(data.input)

    async def kick(data):
        for n in range(3):
            data.emit_nowait("Hit", n)

    flow.to(kick)
    flow.when("Hit").to(on_hit)

    ex = _start_then_close(flow)
    assert ran == [1, 2]
    assert len(set(tasks)) == 3 and tasks[0].cancelled()
    assert _left_behind(ex) == (0, {}, False)


def test_a_keyboard_interrupt_outside_any_chunk_of_an_emit_nowait_handler_is_noted_too():
    """An interrupt raised by a watcher while a detached handler's path runs (not by the chunk, so
    the chunk's own bookkeeping never sees it): the close still says the run was cut short."""
    from triggerflow_nb.observe import ChunkStarted

    flow = TriggerFlow(name="nowait-watcher-interrupt")
    flow.to(lambda data: data.emit_nowait("Hit", 1), name="kick")
    flow.when("Hit").to(lambda data: None, name="on_hit")

    def watcher(event):
        if isinstance(event, ChunkStarted) and event.node_id == "on_hit":
            raise KeyboardInterrupt

    loop = asyncio.new_event_loop()
    try:
        ex = flow.create_execution(auto_close=False)
        ex.channel.subscribe(watcher, state_changes=False)
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(asyncio.wait_for(ex.async_start(None), 5))
        loop.run_until_complete(asyncio.wait_for(ex.async_close(timeout=5), 5))
    finally:
        loop.close()
    assert ex.result.get_meta()["close_reason"] == "closed after an interrupt (KeyboardInterrupt)"
    assert (ex.get_status(), *_left_behind(ex)) == ("cancelled", 0, {}, False)


def test_an_emit_nowait_handler_resets_a_contextvar_token_it_set_before_a_wait():
    """Every step of a detached handler runs in the one context its first step ran in, as in a
    task: a token set before an await resets after it; the emitter's value is untouched."""
    import contextvars

    request_id = contextvars.ContextVar("request_id", default="none")
    seen = []

    async def handler(data):
        token = request_id.set(f"req-{data.input}")
        await asyncio.sleep(0)
        seen.append(request_id.get())
        request_id.reset(token)
        seen.append(request_id.get())

    async def kick(data):
        request_id.set("kick")
        data.emit_nowait("Go", 1)

    flow = TriggerFlow(name="nowait-token")
    flow.to(kick)
    flow.when("Go").to(handler)
    ex = _start_then_close(flow)
    assert seen == ["req-1", "kick"]
    assert _left_behind(ex) == (0, {}, False)


def test_emit_nowait_after_the_execution_moved_to_a_new_loop_still_costs_no_task_per_handler():
    """An execution started under one event loop and emitting under a later one (the first one
    closed, as after a second ``asyncio.run``): its detached work moves to the new loop, so
    handlers that never wait still share one carrier instead of a task each."""
    flow = TriggerFlow(name="nowait-moved")
    tasks = []

    async def handler(data):
        tasks.append(asyncio.current_task())

    flow.to(lambda data: data.emit_nowait("Go", 0), name="begin")
    flow.when("Go").to(handler)
    ex = flow.create_execution(auto_close=False)
    run(ex.async_start(None))

    async def emit_three_then_close():
        for n in range(1, 4):
            ex.emit_nowait("Go", n)
        await ex.async_close(timeout=5)

    run(emit_three_then_close())
    assert len(tasks) == 4
    assert len(set(tasks[1:])) == 1
    assert _left_behind(ex) == (0, {}, False)


def test_a_chunks_emits_after_the_close_are_refused_like_its_writes():
    """A ``data`` kept past its run: every emit form raises, as set_state and the stream do;
    none is dropped without a word, and no handler runs."""
    flow = TriggerFlow(name="late-emits")
    kept, heard = [], []
    flow.to(lambda data: kept.append(data), name="keep")
    flow.when("Late").to(lambda data: heard.append(data.input), name="hear")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    data = kept[0]
    closed = f"from a chunk of execution {ex.id}: it is closed"
    with pytest.raises(LifecycleError, match=rf"^cannot emit 'Late' {closed}$"):
        data.emit("Late", 1)
    with pytest.raises(LifecycleError, match=rf"^cannot emit 'Late' {closed}$"):
        data.emit_nowait("Late", 2)
    with pytest.raises(LifecycleError, match=rf"^cannot emit 'Late' {closed}$"):
        asyncio.run(data.async_emit("Late", 3))
    with pytest.raises(LifecycleError, match=rf"^cannot write state key 'x' .*: execution {ex.id} is closed$"):
        data.set_state("x", 1)
    assert heard == []


def _paused_flow():
    flow = TriggerFlow(name="script-continue")

    async def ask(data):
        await data.async_pause_for(type="go", resume_to="next")

    flow.to(ask).to(lambda data: data.set_state("done", data.input), name="finish")
    return flow


def test_a_script_that_continues_the_last_interrupt_gets_the_auto_close():
    """In a plain script (here a worker thread with its own private loop) nothing runs the loop
    after a sync call returns: continue_with waits for the auto-close as start() does (before,
    the run stayed open and idle for good)."""
    outcome = {}

    def script():
        ex = _paused_flow().create_execution(auto_close_timeout=0.05)
        assert ex.start(1) is ex  # paused: start() returns the open execution
        ex.continue_with(next(iter(ex.get_pending_interrupts())), "ok")
        outcome["after"] = (ex.get_lifecycle_state(), ex.get_status(), ex.get_state())

    thread = threading.Thread(target=script)
    thread.start()
    thread.join(10)
    assert outcome["after"] == ("closed", "completed", {"done": "ok"})


def test_a_continue_from_another_thread_while_the_home_loop_is_idle_is_refused_and_changes_nothing():
    ex = _paused_flow().create_execution(auto_close_timeout=0.05)
    ex.start(1)
    interrupt_id = next(iter(ex.get_pending_interrupts()))
    refused = []

    def other_thread():
        try:
            ex.continue_with(interrupt_id, "from a thread")
        except LifecycleError as exc:
            refused.append(str(exc))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(10)
    assert refused == [f"execution {ex.id} lives on the event loop of the thread that started it, and that loop is "
                       f"not running now: call it from that thread (or use its async_ form on that loop)"]
    assert (list(ex.get_pending_interrupts()), ex.get_lifecycle_state(), ex.get_state()) == ([interrupt_id], "open", {})
    ex.continue_with(interrupt_id, "here")  # the thread that started it can
    assert (ex.get_lifecycle_state(), ex.get_state()) == ("closed", {"done": "here"})


def test_emit_nowait_from_plain_sync_code_runs_the_handlers_through_before_it_returns():
    """No loop runs between calls in a plain script: nothing would ever run work left for later."""
    flow = TriggerFlow(name="nowait-sync")
    flow.when({"event": "ping"}).to(lambda d: d.set_state("got", d.input), name="on_ping")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.emit_nowait("ping", 5)
    assert ex.get_state() == {"got": 5}
    ex.close()
