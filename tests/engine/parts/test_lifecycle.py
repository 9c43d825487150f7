"""``Lifecycle`` (runtime/lifecycle.py) on its own: open -> sealed -> closed, the status, the
in-flight count and the auto-close timer, the close order and its checks, failing, reopening
for retry() and restoring from a snapshot.

Built directly, with a plain policy object, its own channels, an ``InterruptBook`` and a
``ResourceHost``; no flow is involved.
"""

import asyncio
from types import SimpleNamespace

import pytest

import triggerflow_nb
from triggerflow_nb.environments.manager import Lease
from triggerflow_nb.errors import (
    ChunkError,
    EnvironmentProviderError,
    InterruptError,
    InvalidArgumentError,
    LifecycleError,
)
from triggerflow_nb.observe import (
    AutoCloseScheduled,
    Channel,
    ExecutionClosed,
    ExecutionSealed,
    ExecutionSettled,
    StreamItem,
)
from triggerflow_nb.runtime.interrupts import InterruptBook
from triggerflow_nb.runtime.lifecycle import Lifecycle
from triggerflow_nb.runtime.resource_host import ResourceHost
from triggerflow_nb.runtime.scope import TaskScope
from triggerflow_nb.runtime.stream import RuntimeStream

SEALED_ADVICE = " (a sealed execution only drains what it already accepted; unseal() opens it again)"
CLOSED_ADVICE = "; create a new execution with flow.create_execution()"


def make(auto_close=False, timeout=None, requests=None):
    channel, flow_channel = Channel(), Channel()
    events, flow_events = [], []
    channel.subscribe(events.append)
    flow_channel.subscribe(flow_events.append)
    policy = SimpleNamespace(auto_close=auto_close, auto_close_timeout=timeout)
    interrupts = InterruptBook("ex-1")
    resources = ResourceHost("ex-1", channel, None, {}, requests)
    lifecycle = Lifecycle("ex-1", "flow", policy, channel=channel, flow_channel=flow_channel, interrupts=interrupts,
                          resources=resources)
    return SimpleNamespace(lifecycle=lifecycle, events=events, flow_events=flow_events, policy=policy,
                           interrupts=interrupts, resources=resources)


def started(**options):
    """``make`` then ``begin``: must run on a loop."""
    parts = make(**options)
    parts.lifecycle.begin(False, close_when_idle=False)
    return parts


def pause(interrupts, interrupt_id="i1"):
    return interrupts.open("n", None, (), "approval", None, "next", interrupt_id)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


# -- status and the checks of a state ------------------------------------------------------------------


def test_a_new_lifecycle_is_open_created_and_owns_its_scope_and_stream():
    parts = make()
    lifecycle = parts.lifecycle
    assert (lifecycle.state, lifecycle.status, lifecycle.current_status(), lifecycle.started, lifecycle.finished,
            lifecycle.inflight, lifecycle.home_loop, lifecycle.close_reason, lifecycle.error) == (
        "open", "created", "created", False, False, 0, None, None, None)
    assert isinstance(lifecycle.scope, TaskScope) and isinstance(lifecycle.stream, RuntimeStream)
    assert lifecycle.stream._lifecycle is lifecycle and lifecycle.stream._owner == "ex-1"


def test_begin_starts_on_the_running_loop_with_the_given_options():
    async def main():
        parts = make()
        parts.lifecycle.begin(True, close_when_idle=True)
        return parts.lifecycle, asyncio.get_running_loop()

    lifecycle, loop = run(main())
    assert (lifecycle.started, lifecycle.status, lifecycle.pause_fails_fast, lifecycle.close_when_idle) == (
        True, "running", True, True)
    assert lifecycle.home_loop is loop


def test_current_status_says_running_waiting_or_idle_once_started_and_the_final_status_once_finished():
    async def main():
        parts = started()
        lifecycle = parts.lifecycle
        seen = [lifecycle.current_status()]
        pause(parts.interrupts)
        seen.append(lifecycle.current_status())
        lifecycle.enter()
        seen.append(lifecycle.current_status())
        lifecycle.leave()
        parts.interrupts.cancel_pending()
        seen.append(lifecycle.current_status())
        await lifecycle.close(None, "reject")
        seen.append(lifecycle.current_status())
        return seen

    assert run(main()) == ["idle", "waiting", "running", "idle", "completed"]


def test_require_open_says_why_for_a_sealed_and_for_a_closed_execution():
    async def main():
        lifecycle = make().lifecycle
        lifecycle.require_open("emit 'X'")
        lifecycle.seal()
        with pytest.raises(LifecycleError) as sealed:
            lifecycle.require_open("emit 'X'")
        await lifecycle.close(None, "reject")
        with pytest.raises(LifecycleError) as closed:
            lifecycle.require_open("continue interrupt 'i'")
        return str(sealed.value), str(closed.value)

    assert run(main()) == (
        "cannot emit 'X': execution ex-1 of flow 'flow' is sealed" + SEALED_ADVICE,
        "cannot continue interrupt 'i': execution ex-1 of flow 'flow' is closed" + CLOSED_ADVICE,
    )


def test_require_startable_refuses_a_second_start_and_a_start_after_seal():
    async def main():
        once = make().lifecycle
        once.require_startable()
        once.begin(False, close_when_idle=False)
        with pytest.raises(LifecycleError) as twice:
            once.require_startable()
        sealed = make().lifecycle
        sealed.seal()
        with pytest.raises(LifecycleError) as after_seal:
            sealed.require_startable()
        return str(twice.value), str(after_seal.value)

    assert run(main()) == (
        "execution ex-1 was already started; an execution runs once: create another with flow.create_execution()",
        "cannot start: execution ex-1 of flow 'flow' is sealed" + SEALED_ADVICE,
    )


def test_require_startable_says_when_an_outside_emit_started_it():
    async def main():
        lifecycle = make().lifecycle
        lifecycle.begin(False, close_when_idle=False)
        lifecycle.started_by_emit = True
        with pytest.raises(LifecycleError) as info:
            lifecycle.require_startable()
        return str(info.value)

    assert run(main()) == (
        "execution ex-1 was already started by an outside emit (the first emit starts an execution nobody "
        "started, without its start chain: call start(value) before emitting to run it); an execution runs "
        "once: create another with flow.create_execution()"
    )


def test_note_interrupt_keeps_the_first_reason_and_ignores_a_finished_run():
    async def main():
        parts = started()
        lifecycle = parts.lifecycle
        lifecycle.note_interrupt("KeyboardInterrupt in chunk 'a'")
        lifecycle.note_interrupt("CancelledError")
        first = lifecycle.interrupted
        fresh = started().lifecycle
        await fresh.close(None, "reject")
        fresh.note_interrupt("CancelledError")
        return first, fresh.interrupted

    assert run(main()) == ("KeyboardInterrupt in chunk 'a'", None)


# -- seal --------------------------------------------------------------------------------------------


def test_seal_announces_once_on_both_channels_and_a_second_seal_does_nothing():
    parts = make()
    parts.lifecycle.seal()
    parts.lifecycle.seal()
    assert parts.lifecycle.state == "sealed"
    assert parts.events == parts.flow_events == [ExecutionSealed("ex-1")]


def test_sealing_a_closed_execution_leaves_it_closed_and_says_nothing():
    async def main():
        parts = make()
        await parts.lifecycle.close(None, "reject")
        parts.events.clear()
        parts.lifecycle.seal()
        return parts

    parts = run(main())
    assert (parts.lifecycle.state, parts.events) == ("closed", [])


# -- in flight and auto-close ----------------------------------------------------------------------


def test_leaving_the_last_work_announces_settled_on_the_execution_channel_only():
    async def main():
        parts = started()
        lifecycle = parts.lifecycle
        lifecycle.enter()
        lifecycle.enter()
        lifecycle.leave()
        counts = [lifecycle.inflight]
        lifecycle.leave()
        counts.append(lifecycle.inflight)
        return parts, counts

    parts, counts = run(main())
    assert counts == [1, 0]
    assert parts.events == [ExecutionSettled("ex-1", "idle")]
    assert parts.flow_events == []


def test_settled_says_waiting_when_an_interrupt_is_pending():
    async def main():
        parts = started(auto_close=True, timeout=30.0)
        pause(parts.interrupts)
        parts.lifecycle.enter()
        parts.lifecycle.leave()
        return parts

    parts = run(main())
    assert parts.events == [ExecutionSettled("ex-1", "waiting")]  # and no timer: the interrupt holds it off
    assert parts.lifecycle.idle_timer is None


def test_going_idle_schedules_the_auto_close_timer_and_new_work_cancels_it():
    async def main():
        parts = started(auto_close=True, timeout=30.0)
        lifecycle = parts.lifecycle
        lifecycle.enter()
        lifecycle.leave()
        scheduled = (lifecycle.idle_timer is not None, lifecycle.auto_close_in())
        timer = lifecycle.idle_timer
        lifecycle.enter()
        after_enter = (lifecycle.idle_timer, lifecycle.auto_close_in(), timer.cancelled())
        lifecycle.leave()
        lifecycle.cancel_idle_timer()
        return parts, scheduled, after_enter

    parts, (has_timer, due_in), after_enter = run(main())
    assert has_timer and 29.0 < due_in <= 30.0
    assert after_enter == (None, None, True)
    assert parts.events == [ExecutionSettled("ex-1", "idle"), AutoCloseScheduled("ex-1", 30.0),
                            ExecutionSettled("ex-1", "idle"), AutoCloseScheduled("ex-1", 30.0)]


def test_auto_close_in_is_none_for_a_cancelled_timer():
    async def main():
        lifecycle = started(auto_close=True, timeout=30.0).lifecycle
        lifecycle.schedule_auto_close()
        lifecycle.idle_timer.cancel()
        return lifecycle.auto_close_in()

    assert run(main()) is None


@pytest.mark.parametrize("why", ["auto_close off", "no timeout", "not started", "in flight", "interrupt pending",
                                 "timer running", "closes when idle", "finished"])
def test_no_auto_close_timer_is_scheduled_when(why):
    async def main():
        parts = make(auto_close=why != "auto_close off", timeout=None if why == "no timeout" else 30.0)
        lifecycle = parts.lifecycle
        if why != "not started":
            lifecycle.begin(False, close_when_idle=why == "closes when idle")
        if why == "in flight":
            lifecycle.enter()
        if why == "interrupt pending":
            pause(parts.interrupts)
        if why == "timer running":
            lifecycle.schedule_auto_close()
            parts.events.clear()
        if why == "finished":
            await lifecycle.fail(ValueError("x"))
            parts.events.clear()
        timer = lifecycle.idle_timer
        lifecycle.schedule_auto_close()
        same = lifecycle.idle_timer is timer
        lifecycle.cancel_idle_timer()
        return parts.events, same

    assert run(main()) == ([], True)


def test_the_auto_close_timer_seals_and_closes_the_idle_execution():
    async def main():
        parts = started(auto_close=True, timeout=0.01)
        parts.lifecycle.enter()
        parts.lifecycle.leave()
        await parts.lifecycle.wait_closed()
        return parts

    parts = run(main())
    lifecycle = parts.lifecycle
    assert (lifecycle.state, lifecycle.status, lifecycle.close_reason, lifecycle.idle_timer) == (
        "closed", "completed", "auto-close after 0.01s idle", None)
    assert parts.events == [ExecutionSettled("ex-1", "idle"), AutoCloseScheduled("ex-1", 0.01),
                            ExecutionClosed("ex-1", "completed", "auto-close after 0.01s idle")]
    assert parts.flow_events == [ExecutionClosed("ex-1", "completed", "auto-close after 0.01s idle")]


def test_an_auto_close_after_an_interrupt_is_a_cancellation():
    async def main():
        parts = started(auto_close=True, timeout=0.01)
        parts.lifecycle.note_interrupt("KeyboardInterrupt in chunk 'a'")
        parts.lifecycle.schedule_auto_close()
        await parts.lifecycle.wait_closed()
        return parts.lifecycle

    lifecycle = run(main())
    assert (lifecycle.status, lifecycle.close_reason) == (
        "cancelled", "auto-close after 0.01s idle, after an interrupt (KeyboardInterrupt in chunk 'a')")


def test_close_idle_of_a_finished_execution_changes_nothing():
    async def main():
        lifecycle = started().lifecycle
        await lifecycle.fail(ValueError("first"))
        await lifecycle.close_idle("auto-close after 0s idle")
        return lifecycle

    lifecycle = run(main())
    assert (lifecycle.status, lifecycle.close_reason) == ("failed", "failed: first")


# -- settle ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("auto_close, timeout, pending", [(False, 1.0, False), (True, None, False), (True, 1.0, True)])
def test_settle_returns_false_and_leaves_the_execution_open_when_it_cannot_auto_close(auto_close, timeout, pending):
    async def main():
        parts = started(auto_close=auto_close, timeout=timeout)
        if pending:
            pause(parts.interrupts)
        return await parts.lifecycle.settle(close_now=True), parts.lifecycle

    settled, lifecycle = run(main())
    assert (settled, lifecycle.state, lifecycle.idle_timer) == (False, "open", None)


def test_settle_close_now_closes_at_once_and_returns_true():
    async def main():
        parts = started(auto_close=True, timeout=30.0)
        return await parts.lifecycle.settle(close_now=True), parts

    settled, parts = run(main())
    assert settled is True
    assert parts.events == [ExecutionClosed("ex-1", "completed", "auto-close after 0s idle")]


def test_settle_waits_for_the_timer_to_close_the_execution():
    async def main():
        parts = started(auto_close=True, timeout=0.01)
        return await parts.lifecycle.settle(), parts

    settled, parts = run(main())
    assert settled is True
    assert parts.events == [AutoCloseScheduled("ex-1", 0.01),
                            ExecutionClosed("ex-1", "completed", "auto-close after 0.01s idle")]


def test_settle_raises_what_ended_the_run():
    error = ValueError("the chunk's")

    async def main():
        parts = started(auto_close=True, timeout=30.0)
        await parts.lifecycle.fail(error)
        await parts.lifecycle.settle(close_now=True)

    with pytest.raises(ValueError) as info:
        run(main())
    assert info.value is error


# -- close -------------------------------------------------------------------------------------------


def test_close_seals_then_closes_the_stream_and_announces_on_both_channels():
    async def main():
        parts = started()
        parts.lifecycle.stream.put_item("kept")
        await parts.lifecycle.close(None, "reject")
        return parts

    parts = run(main())
    lifecycle = parts.lifecycle
    assert (lifecycle.state, lifecycle.status, lifecycle.close_reason, lifecycle.finished, lifecycle.announced) == (
        "closed", "completed", "closed", True, True)
    assert lifecycle.stream.closed and lifecycle.stream.items == ["kept"]
    assert isinstance(lifecycle.closed_at, float)
    assert parts.events == [StreamItem("ex-1", 0, "kept"), ExecutionSealed("ex-1"),
                            ExecutionClosed("ex-1", "completed", "closed")]
    assert parts.flow_events == [ExecutionSealed("ex-1"), ExecutionClosed("ex-1", "completed", "closed")]


def test_a_second_close_returns_quietly_and_changes_nothing():
    async def main():
        parts = started()
        await parts.lifecycle.close(None, "reject")
        closed_at = parts.lifecycle.closed_at
        await parts.lifecycle.close(None, "cancel")
        return parts, closed_at

    parts, closed_at = run(main())
    assert parts.lifecycle.closed_at == closed_at
    assert parts.events == [ExecutionSealed("ex-1"), ExecutionClosed("ex-1", "completed", "closed")]


@pytest.mark.parametrize("kwargs, message", [
    ({"pending_interrupts": "drop"}, "pending_interrupts must be one of ('reject', 'cancel'), got 'drop'"),
    ({"pending_interrupts": None}, "pending_interrupts must be one of ('reject', 'cancel'), got None"),
    ({"timeout": -1}, "close(timeout=...) must be None (or math.inf: no limit) or a finite number of seconds >= 0, "
                      "got -1"),
    ({"timeout": float("nan")}, "close(timeout=...) must be None (or math.inf: no limit) or a finite number of "
                                "seconds >= 0, got nan"),
    ({"timeout": True}, "close(timeout=...) must be None (or math.inf: no limit) or a finite number of seconds >= 0, "
                        "got True"),
    ({"timeout": "1"}, "close(timeout=...) must be None (or math.inf: no limit) or a finite number of seconds >= 0, "
                       "got '1'"),
])
def test_close_checks_its_arguments_before_anything_changes(kwargs, message):
    async def main():
        parts = started()
        arguments = {"timeout": None, "pending_interrupts": "reject", **kwargs}
        with pytest.raises(InvalidArgumentError) as info:
            await parts.lifecycle.close(arguments["timeout"], arguments["pending_interrupts"])
        return str(info.value), parts

    text, parts = run(main())
    assert text == message
    assert (parts.lifecycle.state, parts.events) == ("open", [])


def test_close_with_an_infinite_timeout_is_a_close_without_limit():
    async def main():
        parts = started()
        await parts.lifecycle.close(float("inf"), "reject")
        return parts.lifecycle

    assert run(main()).close_reason == "closed"


def test_close_refuses_pending_interrupts_unless_told_to_cancel_them():
    async def main():
        parts = started()
        first, second = pause(parts.interrupts, "i1"), pause(parts.interrupts, "i2")
        with pytest.raises(InterruptError) as refused:
            await parts.lifecycle.close(None, "reject")
        after_refusal = (parts.lifecycle.state, first.status, list(parts.events))
        await parts.lifecycle.close(None, "cancel")
        return str(refused.value), after_refusal, parts, (first.status, second.status)

    refused, after_refusal, parts, statuses = run(main())
    assert refused == ("execution ex-1 has pending interrupts ['i1', 'i2']: resume them with "
                       "execution.continue_with(interrupt_id, payload), or close(pending_interrupts='cancel')")
    assert after_refusal == ("open", "waiting", [])
    assert statuses == ("cancelled", "cancelled")
    assert parts.events == [ExecutionSealed("ex-1"),
                            ExecutionClosed("ex-1", "completed", "closed with 2 interrupt(s) cancelled")]
    assert parts.lifecycle.cancelled_at_close == []  # cancelled by the caller's choice: retry() revives none


def test_close_from_inside_the_executions_own_work_is_refused():
    async def main():
        parts = started()
        inside = parts.lifecycle.scope.spawn(parts.lifecycle.close(None, "reject"))
        with pytest.raises(LifecycleError) as info:
            await asyncio.wait_for(inside, 5)
        return str(info.value), parts.lifecycle.state

    assert run(main()) == (
        "close() was called from inside execution ex-1's own work (a chunk or a branch it started), where it would "
        "wait for itself: call data.execution.seal() there (nothing new is accepted and the execution closes once "
        "idle, with auto_close), or close() from outside",
        "open",
    )


def test_close_waits_for_the_work_in_flight_to_drain():
    async def main():
        parts = started()
        lifecycle = parts.lifecycle
        lifecycle.enter()
        closing = asyncio.create_task(lifecycle.close(None, "reject"))
        await asyncio.sleep(0)  # close runs up to its wait for the drain
        waiting = (lifecycle.state, lifecycle.finished, closing.done())
        lifecycle.leave()
        await asyncio.wait_for(closing, 5)
        return waiting, parts

    waiting, parts = run(main())
    assert waiting == ("sealed", False, False)
    assert (parts.lifecycle.status, parts.lifecycle.close_reason) == ("completed", "closed")
    assert parts.events == [ExecutionSealed("ex-1"), ExecutionSettled("ex-1", "idle"),
                            ExecutionClosed("ex-1", "completed", "closed")]


def test_close_with_a_timeout_that_the_work_outlasts_is_a_cancellation():
    async def main():
        parts = started()
        parts.lifecycle.enter()  # never leaves
        await parts.lifecycle.close(0.05, "reject")
        return parts

    parts = run(main())
    assert (parts.lifecycle.status, parts.lifecycle.close_reason) == (
        "cancelled", "close timeout after 0.05s: running work was cancelled")
    assert parts.events[-1] == ExecutionClosed("ex-1", "cancelled",
                                               "close timeout after 0.05s: running work was cancelled")


def test_closing_after_an_interrupt_is_a_cancellation_that_names_it():
    async def main():
        parts = started()
        parts.lifecycle.note_interrupt("CancelledError")
        pause(parts.interrupts)
        await parts.lifecycle.close(None, "cancel")
        return parts.lifecycle

    lifecycle = run(main())
    assert (lifecycle.status, lifecycle.close_reason) == (
        "cancelled", "closed with 1 interrupt(s) cancelled after an interrupt (CancelledError)")


def test_close_cancels_the_executions_tasks_and_announces_only_after_their_cleanup():
    log = []

    async def main():
        parts = started()
        parts.lifecycle._channel.subscribe(lambda event: log.append(type(event).__name__))

        async def work():
            try:
                await asyncio.sleep(30)
            finally:
                log.append("cleanup")

        task = parts.lifecycle.scope.spawn(work())
        await asyncio.sleep(0)
        await parts.lifecycle.close(1.0, "reject")
        return task

    task = run(main())
    assert task.cancelled()
    assert log == ["ExecutionSealed", "cleanup", "ExecutionClosed"]


def test_a_close_that_finds_a_closed_execution_re_raises_what_ended_it():
    error = ValueError("chunk broke")

    async def main():
        parts = started()
        await parts.lifecycle.fail(error)
        with pytest.raises(ValueError) as first:
            await parts.lifecycle.close(None, "reject")
        with pytest.raises(ValueError) as second:
            await parts.lifecycle.close(None, "reject")
        return first.value, second.value

    assert run(main()) == (error, error)


# -- managed environments at the close -------------------------------------------------------------


@pytest.fixture
def pool():
    """A managed environment whose release can be held (``gate``) or made to fail (``failing``)."""
    manager = triggerflow_nb.execution_environment
    log, failing, gate = [], set(), {}

    async def start(config):
        log.append("start")
        return {"n": log.count("start")}

    async def release(resource):
        if "open" in gate:
            await gate["open"].wait()
        log.append("release")
        if resource["n"] in failing:
            raise RuntimeError("cannot release")

    manager.register("parts_lifecycle_pool", start, release=release, replace=True)
    yield SimpleNamespace(log=log, failing=failing, gate=gate)
    manager.unregister("parts_lifecycle_pool")
    assert manager.active() == {}, "a test leaked a managed resource"


POOL = ["parts_lifecycle_pool"]
RELEASE_FAILED = ("releasing managed resources failed: 'parts_lifecycle_pool': provider 'parts_lifecycle_pool' "
                  "failed to release resource 'parts_lifecycle_pool': RuntimeError('cannot release')")


def test_close_releases_the_managed_environments_before_it_announces(pool):
    async def main():
        parts = started(requests=POOL)
        await parts.resources.mount(lambda: False)
        parts.lifecycle._channel.subscribe(lambda event: pool.log.append(type(event).__name__))
        await parts.lifecycle.close(None, "reject")
        return parts

    parts = run(main())
    assert pool.log == ["start", "ExecutionSealed", "release", "ExecutionClosed"]
    assert parts.resources.leases == []


def test_a_failed_release_is_kept_raised_by_every_close_and_still_announced(pool):
    pool.failing.add(1)

    async def main():
        parts = started(requests=POOL)
        await parts.resources.mount(lambda: False)
        with pytest.raises(EnvironmentProviderError) as first:
            await parts.lifecycle.close(None, "reject")
        with pytest.raises(EnvironmentProviderError) as second:
            await parts.lifecycle.close(None, "reject")
        return parts, first.value, second.value

    parts, first, second = run(main())
    assert str(first) == RELEASE_FAILED and second is first is parts.lifecycle.release_error
    assert parts.events[-1] == ExecutionClosed("ex-1", "completed", "closed")
    assert parts.lifecycle.announced is True


def test_a_second_close_returns_only_once_the_first_has_released(pool):
    async def main():
        parts = started(requests=POOL)
        await parts.resources.mount(lambda: False)
        pool.gate["open"] = gate = asyncio.Event()
        first = asyncio.create_task(parts.lifecycle.close(None, "reject"))
        second = asyncio.create_task(parts.lifecycle.close(None, "reject"))
        for _ in range(5):
            await asyncio.sleep(0)
        pending = (first.done(), second.done(), parts.lifecycle.state, parts.lifecycle.announced)
        gate.set()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        return pending

    assert run(main()) == (False, False, "closed", False)
    assert pool.log == ["start", "release"]


# -- fail, finish_now and interrupted starts -------------------------------------------------------------


def test_fail_ends_the_run_naming_the_chunk_and_its_original_error_once():
    async def main():
        parts = started()
        waiting = pause(parts.interrupts)
        error = ChunkError("step", ValueError("no good"))
        await parts.lifecycle.fail(error)
        await parts.lifecycle.fail(RuntimeError("a later failure"))
        return parts, error, waiting

    parts, error, waiting = run(main())
    lifecycle = parts.lifecycle
    assert (lifecycle.status, lifecycle.state, lifecycle.error, lifecycle.close_reason) == (
        "failed", "closed", error, "chunk 'step' failed: ValueError: no good")
    assert lifecycle.cancelled_at_close == [waiting] and waiting.status == "cancelled"
    assert parts.events == parts.flow_events == [
        ExecutionClosed("ex-1", "failed", "chunk 'step' failed: ValueError: no good")]


def test_fail_with_an_error_of_no_chunk_says_failed_and_the_error():
    async def main():
        lifecycle = started().lifecycle
        await lifecycle.fail(RuntimeError("provider down"))
        return lifecycle.close_reason

    assert run(main()) == "failed: provider down"


def test_finish_now_freezes_at_once_and_releases_in_an_owned_task():
    async def main():
        parts = started()
        parts.lifecycle.finish_now("cancelled", "interrupted (GeneratorExit)")
        frozen = (parts.lifecycle.state, parts.lifecycle.status, parts.lifecycle.announced, list(parts.events))
        await parts.lifecycle.wait_closed()
        parts.lifecycle.finish_now("completed", "again")  # closed already: nothing
        return frozen, parts

    frozen, parts = run(main())
    assert frozen == ("closed", "cancelled", False, [])
    assert parts.events == [ExecutionClosed("ex-1", "cancelled", "interrupted (GeneratorExit)")]


def test_an_interrupted_start_that_was_to_close_when_idle_closes_as_cancelled():
    async def main():
        parts = make()
        parts.lifecycle.begin(True, close_when_idle=True)
        parts.lifecycle.note_interrupt("KeyboardInterrupt in chunk 'a'")
        await parts.lifecycle.start_interrupted(asyncio.CancelledError())
        return parts

    parts = run(main())
    assert (parts.lifecycle.status, parts.lifecycle.close_reason) == (
        "cancelled", "interrupted (KeyboardInterrupt in chunk 'a')")
    assert parts.events == [ExecutionClosed("ex-1", "cancelled", "interrupted (KeyboardInterrupt in chunk 'a')")]


def test_an_interrupted_start_whose_loop_goes_away_closes_without_awaiting():
    async def main():
        parts = make()
        parts.lifecycle.begin(True, close_when_idle=True)
        parts.lifecycle.note_interrupt("GeneratorExit")
        await parts.lifecycle.start_interrupted(GeneratorExit())
        frozen = (parts.lifecycle.state, parts.lifecycle.announced)
        await parts.lifecycle.wait_closed()
        return frozen, parts

    frozen, parts = run(main())
    assert frozen == ("closed", False)
    assert parts.events == [ExecutionClosed("ex-1", "cancelled", "interrupted (GeneratorExit)")]


def test_an_interrupted_start_that_holds_a_handle_stays_open():
    async def main():
        parts = started()
        parts.lifecycle.note_interrupt("CancelledError")
        await parts.lifecycle.start_interrupted(asyncio.CancelledError())
        return parts

    parts = run(main())
    assert (parts.lifecycle.state, parts.lifecycle.status, parts.events) == ("open", "running", [])


# -- reopen, restore ------------------------------------------------------------------------------------


def test_reopen_undoes_the_failures_close_and_revives_the_interrupts_it_cancelled():
    async def main():
        parts = started()
        waiting = pause(parts.interrupts)
        parts.lifecycle.note_interrupt("CancelledError")
        first_close = asyncio.create_task(parts.lifecycle.wait_closed())
        await asyncio.sleep(0)  # someone waits for the first close
        await parts.lifecycle.fail(ValueError("x"))
        await asyncio.wait_for(first_close, 5)
        parts.lifecycle.reopen()
        reopened = (parts.lifecycle.state, parts.lifecycle.status, parts.lifecycle.finished, parts.lifecycle.error,
                    parts.lifecycle.close_reason, parts.lifecycle.closed_at, parts.lifecycle.announced,
                    parts.lifecycle.interrupted, parts.lifecycle.stream.closed, parts.lifecycle.cancelled_at_close,
                    waiting.status, parts.lifecycle.home_loop is asyncio.get_running_loop())
        closing = asyncio.create_task(parts.lifecycle.wait_closed())
        await asyncio.sleep(0)
        still_waiting = not closing.done()  # the first close's announcement does not count any more
        await parts.lifecycle.close(None, "cancel")
        await asyncio.wait_for(closing, 5)
        return reopened, still_waiting, parts

    reopened, still_waiting, parts = run(main())
    assert reopened == ("open", "running", False, None, None, None, False, None, False, (), "waiting", True)
    assert still_waiting
    assert parts.events == [ExecutionClosed("ex-1", "failed", "failed: x"), ExecutionSealed("ex-1"),
                            ExecutionClosed("ex-1", "completed", "closed with 1 interrupt(s) cancelled")]


def test_reopen_moves_the_home_loop_to_the_loop_that_retries():
    parts = make()

    async def fail_on_the_first_loop():
        parts.lifecycle.begin(False, close_when_idle=False)
        await parts.lifecycle.fail(ValueError("x"))
        return asyncio.get_running_loop()

    async def reopen_on_a_second_loop():
        parts.lifecycle.reopen()
        return asyncio.get_running_loop()

    first = run(fail_on_the_first_loop())
    second = run(reopen_on_a_second_loop())
    assert first is not second and parts.lifecycle.home_loop is second


def test_reopen_forgets_a_release_error_of_the_close_it_undoes(pool):
    """After retry() the run is open again: the failed close's release error is history, not
    something the next close (whose own release succeeds) should raise."""
    pool.failing.add(1)

    async def main():
        parts = started(requests=POOL)
        await parts.resources.mount(lambda: False)
        await parts.lifecycle.fail(ValueError("x"))
        parts.lifecycle.reopen()
        reopened = parts.lifecycle.release_error
        await parts.resources.mount(lambda: False)  # retry() mounts again; this release succeeds
        try:
            await parts.lifecycle.close(None, "reject")
            raised = None
        except EnvironmentProviderError as exc:
            raised = str(exc)
        return reopened, raised

    assert run(main()) == (None, None)
    assert pool.log == ["start", "release", "start", "release"]


@pytest.mark.parametrize("state, status", [("open", "idle"), ("open", "waiting"), ("sealed", "idle"),
                                           ("open", "created")])
def test_restore_of_an_unfinished_run_takes_its_status_and_state(state, status):
    lifecycle = make().lifecycle
    lifecycle.restore(status != "created", status, state, None, None)
    assert (lifecycle.started, lifecycle.status, lifecycle.state, lifecycle.finished, lifecycle.announced,
            lifecycle.stream.closed) == (status != "created", status, state, False, False, False)


def test_restore_of_a_closed_run_is_finished_announced_and_its_stream_ended():
    async def main():
        lifecycle = make().lifecycle
        lifecycle.restore(True, "failed", "closed", "chunk 'x' failed: E: e", 123.5)
        await lifecycle.wait_closed()  # nothing left to wait for
        return lifecycle

    lifecycle = run(main())
    assert (lifecycle.started, lifecycle.status, lifecycle.state, lifecycle.finished, lifecycle.announced,
            lifecycle.close_reason, lifecycle.closed_at, lifecycle.stream.closed, lifecycle.current_status()) == (
        True, "failed", "closed", True, True, "chunk 'x' failed: E: e", 123.5, True, "failed")
    with pytest.raises(LifecycleError, match="is closed; create a new execution"):
        lifecycle.require_open("emit 'X'")


def test_after_restore_adopts_leases_and_restarts_the_auto_close_timer_of_a_started_run():
    lease = Lease("db", "parts_no_provider", "the resource", "parts_no_provider:db:{}")

    async def main():
        parts = make(auto_close=True, timeout=30.0)
        parts.lifecycle.restore(True, "idle", "open", None, None)
        parts.lifecycle.after_restore([lease])
        seen = (parts.lifecycle.home_loop is asyncio.get_running_loop(), parts.resources.leases,
                parts.resources.resources.get("db"), 29.0 < parts.lifecycle.auto_close_in() <= 30.0)
        parts.lifecycle.cancel_idle_timer()
        return seen, parts

    seen, parts = run(main())
    assert seen == (True, [lease], "the resource", True)
    assert parts.events == [AutoCloseScheduled("ex-1", 30.0)]


@pytest.mark.parametrize("started_, state", [(False, "open"), (True, "closed")])
def test_after_restore_of_an_unstarted_or_closed_run_schedules_nothing(started_, state):
    lease = Lease("db", "parts_no_provider", "the resource", "parts_no_provider:db:{}")

    async def main():
        parts = make(auto_close=True, timeout=30.0)
        parts.lifecycle.restore(started_, "completed" if state == "closed" else "created", state, None, None)
        parts.lifecycle.after_restore([lease])
        return parts

    parts = run(main())
    assert (parts.lifecycle.idle_timer, parts.events) == (None, [])
    assert parts.resources.leases == ([] if state == "closed" else [lease])


def test_loop_stops_after_call_only_outside_a_running_loop():
    lifecycle = make().lifecycle
    outside = lifecycle.loop_stops_after_call()

    async def main():
        lifecycle.begin(False, close_when_idle=False)
        return lifecycle.loop_stops_after_call()

    inside = run(main())
    assert (outside, inside, lifecycle.loop_stops_after_call()) == (True, False, True)  # its loop has stopped
