"""``ExecutionWork`` (runtime/work.py) on its own: root calls counted in flight, cut by a close
or by a failure elsewhere, interrupted or failing; detached work spawned from the loop or
handed over from a worker thread, dropped unstarted by a close; detached failures.

Built directly on a ``Lifecycle`` (see test_lifecycle.py); no flow is involved.
"""

import asyncio
import inspect
import threading
from types import SimpleNamespace

import pytest

from triggerflow_nb.errors import FULL_TRACEBACK, InvalidArgumentError, LifecycleError
from triggerflow_nb.observe import Channel, ExecutionClosed, ExecutionSettled
from triggerflow_nb.runtime.interrupts import InterruptBook
from triggerflow_nb.runtime.lifecycle import Lifecycle
from triggerflow_nb.runtime.resource_host import ResourceHost
from triggerflow_nb.runtime.work import ExecutionWork

NO_LOOP = ("execution ex-1 cannot take work from this thread: its event loop is not running (emit or write from the "
           "chunk itself, or from a thread while the chunk that started it still runs)")


def make():
    channel = Channel()
    events = []
    channel.subscribe(events.append)
    interrupts = InterruptBook("ex-1")
    lifecycle = Lifecycle("ex-1", "flow", SimpleNamespace(auto_close=False, auto_close_timeout=None), channel=channel,
                          flow_channel=Channel(), interrupts=interrupts,
                          resources=ResourceHost("ex-1", channel, None, {}, None))
    return ExecutionWork(lifecycle), lifecycle, events


def started():
    work, lifecycle, events = make()
    lifecycle.begin(False, close_when_idle=False)
    return work, lifecycle, events


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def detached_work(lifecycle, log, name="work", done=None):
    """Detached work as the walker makes it: it ends by ``leave()``."""
    async def piece():
        try:
            log.append((name, threading.get_ident(), lifecycle.inflight))
        finally:
            lifecycle.leave()
            if done is not None:
                done.set()

    return piece()


# -- root calls --------------------------------------------------------------------------------------


def test_a_root_call_returns_its_value_counted_in_flight_and_inside_the_scope_meanwhile():
    async def main():
        work, lifecycle, events = started()
        seen = []

        async def call():
            seen.append((lifecycle.inflight, lifecycle.current_status(), lifecycle.scope.inside()))
            return "value"

        result = await work.root(call())
        return result, seen, (lifecycle.inflight, lifecycle.scope.inside()), events

    result, seen, after, events = run(main())
    assert (result, seen, after) == ("value", [(1, "running", True)], (0, False))
    assert events == [ExecutionSettled("ex-1", "idle")]


def test_nested_root_calls_in_one_task_count_each():
    async def main():
        work, lifecycle, _ = started()
        seen = []

        async def inner():
            seen.append(lifecycle.inflight)

        async def outer():
            await work.root(inner())
            seen.append(lifecycle.inflight)

        await work.root(outer())
        return seen, lifecycle.inflight, lifecycle.scope._roots

    assert run(main()) == ([2, 1], 0, {})


def test_a_root_call_that_raises_fails_the_execution_with_that_very_error():
    error = ValueError("boom")

    async def main():
        work, lifecycle, events = started()

        async def call():
            raise error

        with pytest.raises(ValueError) as info:
            await work.root(call())
        return info.value, lifecycle, events

    raised, lifecycle, events = run(main())
    assert raised is error and lifecycle.error is error
    assert (lifecycle.status, lifecycle.state, lifecycle.close_reason, lifecycle.inflight) == (
        "failed", "closed", "failed: boom", 0)
    assert events == [ExecutionClosed("ex-1", "failed", "failed: boom")]  # no "settled": it has finished


def test_a_base_exception_that_is_no_interrupt_fails_the_execution_too():
    class Stop(BaseException):
        pass

    async def main():
        work, lifecycle, _ = started()

        async def call():
            raise Stop("odd")

        with pytest.raises(Stop):
            await work.root(call())
        return lifecycle

    lifecycle = run(main())
    assert (lifecycle.status, lifecycle.close_reason) == ("failed", "failed: odd")


def test_a_triggerflow_error_is_trimmed_to_the_callers_frames_and_another_error_is_left_whole():
    async def main():
        caught = []
        for error in (InvalidArgumentError("ours"), ValueError("theirs")):
            work, _, _ = started()

            async def call():
                raise error

            try:
                await work.root(call())
            except Exception as exc:
                caught.append(exc)
        return caught

    ours, theirs = run(main())
    assert hasattr(ours, FULL_TRACEBACK) and not hasattr(theirs, FULL_TRACEBACK)
    assert frame_names(ours) == ["main", "call"]  # the engine's frame (root) is gone
    assert frame_names(theirs) == ["main", "root", "call"]


def frame_names(error):
    names = []
    tb = error.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return names


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_in_a_root_call_is_noted_and_goes_on_up_without_failing_the_run(interrupt):
    async def main():
        work, lifecycle, events = started()

        async def call():
            raise interrupt()

        try:
            await work.root(call())
        except interrupt:
            pass
        else:
            pytest.fail("the interrupt was swallowed")
        return lifecycle, events

    lifecycle, events = run(main())
    assert (lifecycle.interrupted, lifecycle.status, lifecycle.state, lifecycle.error, lifecycle.inflight) == (
        interrupt.__name__, "running", "open", None, 0)
    assert events == [ExecutionSettled("ex-1", "idle")]


def test_a_root_call_cancelled_from_outside_is_noted_and_cancelled():
    async def main():
        work, lifecycle, _ = started()
        entered = asyncio.Event()

        async def call():
            entered.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(work.root(call()))
        await asyncio.wait_for(entered.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return lifecycle

    lifecycle = run(main())
    assert (lifecycle.interrupted, lifecycle.status, lifecycle.inflight) == ("CancelledError", "running", 0)


def test_a_root_call_cut_by_a_close_raises_a_lifecycle_error_naming_the_close():
    async def main():
        work, lifecycle, _ = started()
        entered = asyncio.Event()

        async def call():
            entered.set()
            await asyncio.Event().wait()

        async def caller():
            try:
                await work.root(call())
            except LifecycleError as exc:
                return str(exc), asyncio.current_task().cancelling()

        task = asyncio.create_task(caller())
        await asyncio.wait_for(entered.wait(), 5)
        await lifecycle.close(0.05, "reject")
        return await asyncio.wait_for(task, 5), lifecycle

    (message, cancelling), lifecycle = run(main())
    assert message == ("execution ex-1 of flow 'flow' was closed while this call was running (close timeout after "
                       "0.05s: running work was cancelled); the path it ran was cancelled")
    assert cancelling == 0  # the cancellation was the close's and ended in the root call
    assert (lifecycle.status, lifecycle.interrupted, lifecycle.inflight) == ("cancelled", None, 0)


def test_a_root_call_cut_by_a_failure_elsewhere_raises_that_failure_once_the_close_is_done():
    error = ValueError("failed elsewhere")

    async def main():
        work, lifecycle, events = started()
        entered = asyncio.Event()
        order = []

        async def call():
            entered.set()
            try:
                await asyncio.Event().wait()
            finally:
                order.append("root cleanup")

        async def caller():
            try:
                await work.root(call())
            except ValueError as exc:
                order.append(("caller hears", lifecycle.announced))
                return exc

        task = asyncio.create_task(caller())
        await asyncio.wait_for(entered.wait(), 5)
        failed = await work.detached_failed(error)
        raised = await asyncio.wait_for(task, 5)
        return failed, raised, order, lifecycle, events

    failed, raised, order, lifecycle, events = run(main())
    assert failed is True and raised is error
    assert order == ["root cleanup", ("caller hears", True)]
    assert (lifecycle.status, lifecycle.close_reason, lifecycle.inflight) == ("failed", "failed: failed elsewhere", 0)
    assert events == [ExecutionClosed("ex-1", "failed", "failed: failed elsewhere")]


# -- detached work -----------------------------------------------------------------------------------


def test_spawned_work_is_counted_at_once_and_runs_at_the_loops_next_turn():
    async def main():
        work, lifecycle, events = started()
        log = []
        piece = detached_work(lifecycle, log)
        work.spawn(piece, piece)
        counted = (lifecycle.inflight, list(log))
        await lifecycle.scope.wait_quiet(5)
        return counted, log, lifecycle.inflight, events, threading.get_ident()

    counted, log, inflight, events, loop_thread = run(main())
    assert counted == (1, [])
    assert log == [("work", loop_thread, 1)] and inflight == 0
    assert events == [ExecutionSettled("ex-1", "idle")]


def test_spawned_work_runs_in_the_order_it_was_spawned():
    async def main():
        work, lifecycle, _ = started()
        log = []
        for name in "abc":
            piece = detached_work(lifecycle, log, name)
            work.spawn(piece, piece)
        await lifecycle.scope.wait_quiet(5)
        return [name for name, _, _ in log], [count for _, _, count in log]

    assert run(main()) == (["a", "b", "c"], [3, 2, 1])


def test_work_spawned_from_a_worker_thread_is_handed_to_the_running_home_loop():
    async def main():
        work, lifecycle, _ = started()
        log, done = [], asyncio.Event()
        piece = detached_work(lifecycle, log, done=done)

        def in_thread():
            work.spawn(piece, piece)
            return threading.get_ident()

        lifecycle.enter()  # the chunk that runs the thread is in flight meanwhile
        worker = await asyncio.to_thread(in_thread)
        await asyncio.wait_for(done.wait(), 5)
        lifecycle.leave()
        return worker, log, lifecycle.inflight, threading.get_ident()

    worker, log, inflight, loop_thread = run(main())
    assert worker != loop_thread
    assert log == [("work", loop_thread, 2)] and inflight == 0


def thread_result(fn):
    result = []
    thread = threading.Thread(target=lambda: result.append(_call(fn)))
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    return result[0]


def _call(fn):
    try:
        fn()
    except BaseException as exc:
        return exc
    return None


def test_work_from_a_thread_when_the_execution_never_ran_on_a_loop_is_refused_and_closed():
    work, lifecycle, _ = make()
    log = []
    detached, unstarted = detached_work(lifecycle, log, "detached"), detached_work(lifecycle, log, "unstarted")
    raised = thread_result(lambda: work.spawn(detached, unstarted))
    assert isinstance(raised, LifecycleError) and str(raised) == NO_LOOP
    assert inspect.getcoroutinestate(detached) == inspect.getcoroutinestate(unstarted) == inspect.CORO_CLOSED
    assert (log, lifecycle.inflight) == ([], 0)


def test_work_from_a_thread_after_the_home_loop_closed_is_refused_and_closed():
    async def main():
        work, lifecycle, _ = started()
        return work, lifecycle

    work, lifecycle = run(main())  # asyncio.run has closed the loop the lifecycle began on
    assert lifecycle.home_loop.is_closed()
    log = []
    piece = detached_work(lifecycle, log)
    raised = thread_result(lambda: work.spawn(piece, piece))
    assert isinstance(raised, LifecycleError) and str(raised) == NO_LOOP
    assert inspect.getcoroutinestate(piece) == inspect.CORO_CLOSED
    assert (log, lifecycle.inflight) == ([], 0)


def test_work_dropped_by_a_close_before_it_started_is_closed_and_no_longer_counted():
    async def main():
        work, lifecycle, events = started()
        log = []
        wrapper, wrapped = detached_work(lifecycle, log, "wrapper"), detached_work(lifecycle, log, "wrapped")
        work.spawn(wrapper, wrapped)
        counted = lifecycle.inflight
        lifecycle.finish_now("cancelled", "closed at once")
        await lifecycle.wait_closed()
        await asyncio.sleep(0)
        return counted, (wrapper, wrapped), log, lifecycle.inflight, events

    counted, coros, log, inflight, events = run(main())
    assert (counted, log, inflight) == (1, [], 0)
    assert [inspect.getcoroutinestate(c) for c in coros] == [inspect.CORO_CLOSED, inspect.CORO_CLOSED]
    assert events == [ExecutionClosed("ex-1", "cancelled", "closed at once")]


# -- detached failures ---------------------------------------------------------------------------------


def test_a_detached_cancellation_goes_on_up_and_changes_nothing():
    async def main():
        work, lifecycle, _ = started()
        return await work.detached_failed(asyncio.CancelledError()), lifecycle

    handled, lifecycle = run(main())
    assert (handled, lifecycle.interrupted, lifecycle.status) == (False, None, "running")


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_a_detached_interrupt_is_noted_and_goes_on_up(interrupt):
    async def main():
        work, lifecycle, _ = started()
        return await work.detached_failed(interrupt()), lifecycle

    handled, lifecycle = run(main())
    assert (handled, lifecycle.interrupted, lifecycle.status, lifecycle.state) == (
        False, interrupt.__name__, "running", "open")


def test_a_detached_failure_closes_the_execution_as_failed():
    error = RuntimeError("nobody awaited this")

    async def main():
        work, lifecycle, events = started()
        return await work.detached_failed(error), lifecycle, events

    handled, lifecycle, events = run(main())
    assert (handled, lifecycle.error, lifecycle.status, lifecycle.close_reason) == (
        True, error, "failed", "failed: nobody awaited this")
    assert events == [ExecutionClosed("ex-1", "failed", "failed: nobody awaited this")]


def test_only_the_first_detached_failure_is_the_runs_error():
    first, second = RuntimeError("first"), RuntimeError("second")

    async def main():
        work, lifecycle, _ = started()
        return [await work.detached_failed(first), await work.detached_failed(second)], lifecycle.error

    assert run(main()) == ([True, True], first)
