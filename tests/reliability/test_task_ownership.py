"""One owner per execution: close(timeout) cuts every path, waits for cleanup, then releases.

Every test is bounded: the awaits under test run inside asyncio.wait_for, so a hang fails
the test instead of hanging the run.
"""

import asyncio
import gc
import subprocess
import sys
import threading
import time
import weakref

import pytest

import triggerflow_nb
from triggerflow_nb import (
    ChunkError,
    EnvironmentProviderError,
    InvalidArgumentError,
    LifecycleError,
    TriggerFlow,
)

BOUND = 5.0  # no test here needs anywhere near this long; reaching it means a hang


@pytest.fixture
def db_provider():
    """A managed resource ``db`` whose events are logged in order (with times)."""
    manager = triggerflow_nb.execution_environment
    log = []
    behaviour = {"release_hangs": False, "release_fails": False, "start_hangs": False}

    class Db:
        open = True

    async def start(config):
        if behaviour["start_hangs"]:
            await asyncio.sleep(3600)
        log.append("started")
        return Db()

    async def release(db):
        if behaviour["release_hangs"]:
            await asyncio.sleep(3600)
        if behaviour["release_fails"]:
            raise OSError("socket already gone")
        db.open = False
        log.append("released")

    manager.register("db", start, release=release, replace=True, timeout=1.0)
    yield log, behaviour
    manager.unregister("db")
    assert manager.active() == {}, "a test leaked a managed resource"


def slow_flow(log, seconds=30.0):
    flow = TriggerFlow(name="slow")

    async def slow(data):
        db = data.require_resource("db")
        try:
            await asyncio.sleep(seconds)
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            log.append(f"cleanup sees db open={db.open}")

    flow.to(slow)
    return flow


def test_close_timeout_cuts_the_start_callers_path_and_cleans_up_before_release(db_provider):
    log, _ = db_provider

    async def main():
        ex = slow_flow(log).create_execution(auto_close=False, execution_environments=["db"])
        caller = asyncio.ensure_future(ex.async_start(1))
        await asyncio.sleep(0.05)
        began = time.monotonic()
        snapshot = await asyncio.wait_for(ex.async_close(timeout=0.2), BOUND)
        took = time.monotonic() - began
        with pytest.raises(LifecycleError) as info:
            await asyncio.wait_for(caller, BOUND)
        return ex, snapshot, took, str(info.value)

    ex, snapshot, took, message = asyncio.run(main())
    assert snapshot == {}
    assert log == ["started", "cleanup sees db open=True", "released"]
    assert ex.status == "cancelled" and ex.lifecycle_state == "closed"
    assert message == (f"execution {ex.id} of flow 'slow' was closed while this call was running "
                       f"(close timeout after 0.2s: running work was cancelled); the path it ran was cancelled")
    assert took < 0.2 + 0.15  # returned within its timeout (a little slack for a loaded machine)
    assert ex._lifecycle.scope.tasks() == set()


def test_close_timeout_waits_for_an_emit_nowait_branch_to_clean_up_before_release(db_provider):
    log, _ = db_provider
    flow = TriggerFlow(name="branches")

    async def branch(data):
        db = data.require_resource("db")
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0)
            log.append(f"branch cleanup sees db open={db.open}")

    flow.when("go").to(branch)

    async def main():
        ex = flow.create_execution(auto_close=False, execution_environments=["db"])
        await ex.async_start(None)
        ex.emit_nowait("go")
        await asyncio.sleep(0.05)
        await asyncio.wait_for(ex.async_close(timeout=0.2), BOUND)
        return ex

    ex = asyncio.run(main())
    assert log == ["started", "branch cleanup sees db open=True", "released"]
    assert ex.node_status() == {"branch": "cancelled"}
    assert ex._lifecycle.scope.tasks() == set()


def test_a_hanging_release_cannot_hold_close_past_its_timeout(db_provider):
    log, behaviour = db_provider
    behaviour["release_hangs"] = True
    flow = TriggerFlow(name="hang")
    flow.to(lambda data: data.set_state("ok", True))

    async def main():
        ex = flow.create_execution(auto_close=False, execution_environments=["db"])
        await ex.async_start(None)
        began = time.monotonic()
        with pytest.raises(EnvironmentProviderError) as info:
            await asyncio.wait_for(ex.async_close(timeout=0.3), BOUND)
        return ex, time.monotonic() - began, str(info.value)

    ex, took, message = asyncio.run(main())
    assert took < 0.3 + 0.15
    assert message == ("releasing managed resources failed: 'db': not released within the close timeout (still being "
                       "released in the background, within its provider's limit)")
    assert ex.result.get_meta()["release_error"] == message
    assert ex.get_state() == {"ok": True} and ex.lifecycle_state == "closed"


def test_a_hanging_release_without_close_timeout_is_bounded_by_the_provider_limit(db_provider):
    log, behaviour = db_provider
    behaviour["release_hangs"] = True
    flow = TriggerFlow(name="hang2")
    flow.to(lambda data: None)
    ex = flow.create_execution(auto_close=False, execution_environments=["db"])
    ex.start(None)
    with pytest.raises(EnvironmentProviderError,
                       match=r"^releasing managed resources failed: 'db': provider 'db' did not release resource "
                             r"'db' within 1s; raise its limit with execution_environment.register\('db', ..., "
                             r"timeout=...\)$"):
        ex.close()


def test_a_hanging_provider_start_fails_the_start_within_its_limit(db_provider):
    log, behaviour = db_provider
    behaviour["start_hangs"] = True
    flow = TriggerFlow(name="nostart")
    flow.to(lambda data: None)
    began = time.monotonic()
    with pytest.raises(EnvironmentProviderError,
                       match=r"^provider 'db' did not start resource 'db' within 1s"):
        flow.start(None, execution_environments=["db"])
    assert time.monotonic() - began < BOUND


def test_a_release_error_during_auto_close_reaches_the_caller_and_the_meta(db_provider):
    log, behaviour = db_provider
    behaviour["release_fails"] = True
    flow = TriggerFlow(name="autoclose")
    flow.to(lambda data: data.set_state("done", 1))
    ex = flow.create_execution(auto_close=True, auto_close_timeout=0.01, execution_environments=["db"])
    with pytest.raises(EnvironmentProviderError) as info:
        ex.start(None)
    expected = ("releasing managed resources failed: 'db': provider 'db' failed to release resource 'db': "
                "OSError('socket already gone')")
    assert str(info.value) == expected
    assert ex.result.get_meta()["release_error"] == expected
    assert ex.status == "completed" and ex.get_state() == {"done": 1}
    with pytest.raises(EnvironmentProviderError):
        ex.close()  # asking again does not pretend it went well


@pytest.mark.parametrize("form", ["sync", "async"])
def test_close_from_inside_its_own_chunk_is_refused_not_a_deadlock(form):
    flow = TriggerFlow(name="selfclose")
    seen = []

    async def closes_itself(data):
        try:
            if form == "sync":
                data.execution.close()
            else:
                await data.execution.async_close()
        except LifecycleError as exc:
            seen.append(str(exc))
        data.execution.seal()
        return "sealed"

    flow.to(closes_itself).to(lambda data: data.set_state("after", data.input))
    ex = flow.create_execution(auto_close=True, auto_close_timeout=0.0)
    assert asyncio.run(asyncio.wait_for(ex.async_start(None), BOUND)) == {"after": "sealed"}
    assert seen == [
        f"close() was called from inside execution {ex.id}'s own work (a chunk or a branch it started), where "
        f"it would wait for itself: call data.execution.seal() there (nothing new is accepted and the execution "
        f"closes once idle, with auto_close), or close() from outside"
    ]


class Escape(BaseException):
    """Not an Exception, not an interrupt: a chunk raising it must still end the run properly."""


def test_any_base_exception_from_a_chunk_fails_the_run_and_releases_once(db_provider):
    log, _ = db_provider
    flow = TriggerFlow(name="escape")

    def raises(data):
        data.set_state("before", 1)
        raise Escape("out")

    flow.to(raises)
    with pytest.raises(Escape):
        flow.start(None, execution_environments=["db"])
    assert log == ["started", "released"]


def test_sync_calls_from_a_worker_thread_run_on_the_executions_loop():
    flow = TriggerFlow(name="threads")
    flow.when("ping").to(lambda data: data.append_state("pings", threading.current_thread().name))

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(None)
        loop_thread = threading.current_thread().name
        done = []

        def worker():
            ex.emit("ping")  # handed to the loop the execution lives on
            done.append(ex.close())

        thread = threading.Thread(target=worker, name="worker")
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.01)  # keep this loop free to run what the worker hands over
        thread.join(BOUND)
        return loop_thread, done

    loop_thread, done = asyncio.run(asyncio.wait_for(main(), BOUND))
    assert done == [{"pings": [loop_thread]}]


def test_sync_calls_from_a_thread_whose_home_loop_is_idle_are_refused_not_stranded():
    flow = TriggerFlow(name="idlehome")
    flow.when("ping").to(lambda data: data.append_state("pings", 1))
    ex = flow.create_execution(auto_close=False)
    ex.start(None)  # lives on this thread's private loop, which runs only during sync calls
    errors = []

    def worker():
        try:
            ex.emit("ping")
        except LifecycleError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(BOUND)
    assert errors == [
        f"execution {ex.id} lives on the event loop of the thread that started it, and that loop is not running "
        f"now: call it from that thread (or use its async_ form on that loop)"
    ]
    ex.emit("ping")
    assert ex.close() == {"pings": [1]}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, True, "10"])
def test_auto_close_timeout_rejects_nan_infinity_negatives_bools_and_strings(value):
    with pytest.raises(InvalidArgumentError, match=r"^auto_close_timeout must be None or a finite number"):
        TriggerFlow().create_execution(auto_close_timeout=value)


@pytest.mark.parametrize("value", [float("nan"), -0.5, True])
def test_close_timeout_rejects_nan_negatives_and_bools(value):
    flow = TriggerFlow()
    flow.to(lambda data: None)
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(InvalidArgumentError, match=r"^close\(timeout=...\) must be None \(or math.inf: no limit\) or a finite number"):
        ex.close(timeout=value)
    assert ex.close() == {}


def test_a_failing_background_branch_ends_the_run_while_start_waits():
    flow = TriggerFlow(name="bg")

    def boom(data):
        raise ValueError("branch broke")

    flow.when("bg").to(boom)

    async def first(data):
        data.emit_nowait("bg")
        await asyncio.sleep(30)  # cut when the branch fails

    flow.to(first)
    ex = flow.create_execution(auto_close=True, auto_close_timeout=0.0)
    with pytest.raises(ChunkError, match=r"^chunk 'boom' raised ValueError: branch broke$"):
        asyncio.run(asyncio.wait_for(ex.async_start(None), BOUND))
    assert ex.status == "failed"
    assert ex.result.get_meta()["close_reason"] == "chunk 'boom' failed: ValueError: branch broke"
    assert ex._lifecycle.scope.tasks() == set()


def test_a_failure_that_cuts_a_waiting_start_call_finishes_closing_as_soon_as_the_call_has_left():
    """The failure's close waits for the cut start call to leave, and is woken when it does:
    a close() after the start call has raised returns at once, not after the 10 s cleanup grace."""
    flow = TriggerFlow(name="bg-close")
    flow.when("bg").to(lambda data: 1 / 0, name="boom")

    async def first(data):
        data.emit_nowait("bg")
        try:
            await asyncio.sleep(30)  # cut when the branch fails
        finally:
            await asyncio.sleep(0.05)  # a cleanup that takes a while: the close waits for it

    flow.to(first)

    async def main():
        ex = flow.create_execution(auto_close=False)
        with pytest.raises(ChunkError, match=r"^chunk 'boom' raised ZeroDivisionError"):
            await asyncio.wait_for(ex.async_start(None), BOUND)
        with pytest.raises(ChunkError, match=r"^chunk 'boom' raised ZeroDivisionError"):  # close reports it too
            await asyncio.wait_for(ex.async_close(), 2.0)
        return ex

    ex = asyncio.run(main())
    assert (ex.get_status(), ex._lifecycle.scope.tasks()) == ("failed", set())


def test_a_start_call_cut_by_a_failure_elsewhere_raises_once_that_close_is_done():
    """The caller hears of a failure elsewhere only once the failure's close is done: the cut
    path's cleanup has run and no task of the execution is left. Before, the start call raised
    while the cleanup still waited to run, and on Python 3.12+ (whose wait_for adds no task of
    its own) a loop that stopped with the call (nest_asyncio's run) never ran it."""
    flow = TriggerFlow(name="bg-settled")
    flow.when("bg").to(lambda data: 1 / 0, name="boom")
    cleaned = []

    async def first(data):
        data.emit_nowait("bg")
        try:
            await asyncio.sleep(30)  # cut when the branch fails
        finally:
            for _ in range(3):  # a cleanup of a few turns of the loop
                await asyncio.sleep(0)
            cleaned.append("first")

    flow.to(first)

    async def main():
        ex = flow.create_execution(auto_close=False)
        with pytest.raises(ChunkError, match=r"^chunk 'boom' raised ZeroDivisionError"):
            await asyncio.wait_for(ex.async_start(None), BOUND)
        return ex, list(cleaned), ex._lifecycle.scope.tasks(), ex.get_lifecycle_state()

    ex, cleaned_when_raised, tasks_when_raised, lifecycle = asyncio.run(main())
    assert (cleaned_when_raised, tasks_when_raised, lifecycle, ex.get_status()) == (["first"], set(), "closed",
                                                                                    "failed")


def test_close_from_a_handler_that_an_outside_emit_nowait_started_is_refused_too():
    """A handler started by ``execution.emit_nowait`` from a notebook cell (outside any of the
    execution's work) is the execution's own work all the same: close() there is refused."""
    flow = TriggerFlow(name="selfclose-nowait")
    flow.to(lambda data: None, name="begin")
    seen = []

    async def closes_itself(data):
        try:
            await data.execution.async_close()
        except LifecycleError as exc:
            seen.append(type(exc).__name__)

    flow.when("Poke").to(closes_itself)

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(None)
        ex.emit_nowait("Poke", 1)
        await asyncio.sleep(0.05)
        await ex.async_close(timeout=1)
        return ex

    ex = asyncio.run(asyncio.wait_for(main(), BOUND))
    assert seen == ["LifecycleError"]
    assert ex.is_closed()


@pytest.mark.parametrize("timeout, cleanup_seconds, warned", [
    (0.2, 0.0, False),  # a cleanup that needs one turn of the loop
    (1.0, 0.02, False),  # cleanups that need many turns (20 and 40 ms), well within their share (0.1 s of 1 s)
    (0.0, 0.0, False),  # no time at all: the one turn a cancelled task needs is still given
    (0.2, 0.3, True),
], ids=["prompt", "many-turns", "no-time", "stuck"])
def test_close_warns_exactly_when_cancelled_work_outlasts_its_cleanup_share(caplog, timeout, cleanup_seconds, warned):
    """close(timeout) cancels what runs and waits for its cleanup within the timeout: no word when
    the cleanup finishes in time, one warning (releasing anyway) when it does not."""
    flow = TriggerFlow(name="cleanup")

    async def slow(data):
        try:
            await asyncio.sleep(3600)
        finally:  # a cleanup that ignores cancellation for cleanup_seconds (the second handler's twice as long)
            loop = asyncio.get_running_loop()
            end = loop.time() + cleanup_seconds * data.input
            while loop.time() < end:
                try:
                    await asyncio.sleep(end - loop.time())
                except asyncio.CancelledError:
                    pass

    flow.to(lambda data: [data.emit_nowait("Go", 1), data.emit_nowait("Go", 2)], name="begin")
    flow.when("Go").to(slow)

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(None)
        await asyncio.sleep(0.01)
        started = time.monotonic()
        await ex.async_close(timeout=timeout)
        return ex, time.monotonic() - started

    with caplog.at_level("WARNING", logger="triggerflow_nb"):
        ex, took = asyncio.run(asyncio.wait_for(main(), BOUND))
    warnings_logged = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
    assert len(warnings_logged) == (1 if warned else 0)
    if warned:
        assert warnings_logged[0].startswith(f"execution {ex.id}: work still running ")
        assert warnings_logged[0].endswith("s after it was cancelled; releasing anyway")
    assert took < BOUND and ex.is_closed()


def test_closing_with_nothing_left_to_wait_for_says_nothing_and_leaves_no_task(caplog):
    """Idle, completed or failed: a close that has nothing running to wait for neither warns nor
    waits out a cleanup grace, and leaves no task of its own behind."""
    flow = TriggerFlow(name="nothing-to-wait-for")
    flow.to(lambda data: data.set_state("x", data.input), name="store")
    failing = TriggerFlow(name="fails")
    failing.to(lambda data: 1 / 0, name="boom")

    async def main():
        async with asyncio.timeout(BOUND):  # bounded without a task of its own around this one
            # once a test made a loop re-entrant, asyncio.run reuses a loop earlier tests left tasks on
            before = asyncio.all_tasks()
            idle = flow.create_execution(auto_close=False)
            await idle.async_start(1)
            started = time.monotonic()
            snapshot = await idle.async_close()
            took = time.monotonic() - started
            completed = await flow.async_start(2)
            with pytest.raises(ChunkError):
                await failing.async_start(None)
            await asyncio.sleep(0)
            left = asyncio.all_tasks() - before
            return snapshot, took, completed, left

    with caplog.at_level("WARNING", logger="triggerflow_nb"):
        snapshot, took, completed, left = asyncio.run(main())
    assert (snapshot, completed, left) == ({"x": 1}, {"x": 2}, set())
    assert [r.getMessage() for r in caplog.records] == []
    assert took < 0.5  # far below the 10 s cleanup grace a close waits out for work it thinks runs


def test_a_start_cancelled_while_its_failure_closes_the_run_still_lets_the_close_finish(db_provider):
    """A chunk fails while a detached handler still runs: the start call closes the run, waiting for
    that handler's cleanup. Cancelling the start call right then (an interrupted cell) must not
    leave the close half done: the cleanup still runs before the release, the release happens
    once, and a close() from outside returns instead of waiting for an announcement that never comes."""
    log, _ = db_provider
    flow = TriggerFlow(name="cancelled-while-failing")

    async def begin(data):
        data.require_resource("db")
        data.emit_nowait("Side", 1)
        await asyncio.sleep(0)  # the side handler starts and waits
        raise RuntimeError("begin broke")

    async def side(data):
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)  # cleanup that itself awaits
            log.append("side cleaned up")

    flow.to(begin)
    flow.when("Side").to(side)

    async def main():
        ex = flow.create_execution(auto_close=False, execution_environments=["db"])
        starting = asyncio.ensure_future(ex.async_start(None))
        while not ex.is_closed():  # the failure froze the run: the start call now waits for the cleanup
            await asyncio.sleep(0)
        starting.cancel()
        await asyncio.wait([starting], timeout=BOUND)
        try:
            await asyncio.wait_for(ex.async_close(timeout=1), BOUND)
        except ChunkError:
            pass  # the close reports the chunk's failure
        return ex, starting

    ex, starting = asyncio.run(asyncio.wait_for(main(), BOUND))
    assert starting.cancelled()
    assert log == ["started", "side cleaned up", "released"]
    assert (ex.get_status(), ex._lifecycle.scope.tasks()) == ("failed", set())


@pytest.mark.parametrize("observed", [False, True], ids=["unwatched", "watched"])
@pytest.mark.parametrize("where", ["emit_nowait handler", "start call"])
def test_a_run_whose_loop_is_closed_under_it_cleans_up_without_calling_it_a_failure(where, observed):
    """A loop closed while a chunk waits (a kernel shut down, a script's loop dropped): the
    garbage collector closes the waiting coroutines with GeneratorExit. The chunk's cleanup
    runs; the engine awaits nothing more (that would be "coroutine ignored GeneratorExit",
    an unraisable error, which this suite turns into a failure) and records the chunk as
    cancelled, not failed. Watched, an emit goes through the dispatch instead of a direct walk."""
    flow = TriggerFlow(name="loop-closed-under-it")
    seen = []

    async def wait_forever(data):
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            seen.append(f"cleanup of {data.input}")

    async def kick(data):
        data.emit_nowait("Go", "handler")

    if where == "emit_nowait handler":
        flow.to(kick)
        flow.when("Go").to(wait_forever)
    else:
        flow.to(wait_forever)

    loop = asyncio.new_event_loop()
    ex = flow.create_execution(auto_close=False)
    events = []
    if observed:
        ex.channel.subscribe(lambda event: events.append(type(event).__name__), state_changes=False)
    starting = loop.create_task(ex.async_start("start"))
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))
    assert seen == []  # it waits
    loop.close()
    del ex, starting, loop
    gc.collect()
    assert seen == ["cleanup of handler" if where == "emit_nowait handler" else "cleanup of start"]
    if observed:
        before = ["ExecutionStarted", "ChunkStarted", "ChunkFinished", "EventEmitted"] if where == "emit_nowait handler" else ["ExecutionStarted"]
        assert events == [*before, "ChunkStarted", "ChunkCancelled", "ExecutionSettled"]


def test_close_cuts_a_start_call_that_made_a_nested_root_call_and_keeps_nothing_of_it(caplog):
    """A chunk that emits through the execution itself (a root call nested in the start call's
    task): once the nested call returns, the start call is still a root call, so a close cuts it,
    waits for its cleanup without a warning, and keeps no reference to its task afterwards."""
    flow = TriggerFlow(name="nested-root")
    log = []

    async def begin(data):
        await data.execution.async_emit("Side", 1)  # a root call inside this root call
        try:
            await asyncio.sleep(3600)
        finally:
            log.append("begin cleaned up")

    flow.to(begin)
    flow.when("Side").to(lambda data: data.set_state("side", data.input), name="side")

    async def main():
        async with asyncio.timeout(BOUND):
            ex = flow.create_execution(auto_close=False)
            starting = asyncio.ensure_future(ex.async_start(None))
            await asyncio.sleep(0.01)
            snapshot = await ex.async_close(timeout=1.0)
            await asyncio.wait([starting])
            error = starting.exception()
            caller = weakref.ref(starting)
            del starting
            return ex, snapshot, (type(error), str(error)), caller  # the error's frames hold the task

    with caplog.at_level("WARNING", logger="triggerflow_nb"):
        ex, snapshot, (error_type, message), caller = asyncio.run(main())
    assert (snapshot, log, ex.get_status()) == ({"side": 1}, ["begin cleaned up"], "cancelled")
    assert error_type is LifecycleError and "was closed while this call was running" in message
    assert [r.getMessage() for r in caplog.records] == []
    gc.collect()
    assert caller() is None  # the closed execution does not hold the cut caller's task


def test_a_caller_that_closed_a_run_with_work_left_to_cut_can_close_it_again():
    """The close hands its waiting to a task of the execution's own; the caller's context must
    not come back marked as the execution's work, or its next close() would be refused as a close
    from inside."""
    flow = TriggerFlow(name="close-twice")

    async def waits(data):
        await asyncio.sleep(3600)

    flow.to(lambda data: data.emit_nowait("Go", 1), name="begin")
    flow.when("Go").to(waits)

    async def main():
        async with asyncio.timeout(BOUND):
            ex = flow.create_execution(auto_close=False)
            await ex.async_start(None)
            await asyncio.sleep(0)
            first = await ex.async_close(timeout=0.1)
            return ex, first, await ex.async_close()

    ex, first, again = asyncio.run(main())
    assert (first, again, ex.get_status()) == ({}, {}, "cancelled")


def test_a_handler_whose_failure_closes_the_run_cancels_every_other_waiting_handler():
    """The failing handler closes the run from its own task, which the close skips; every other
    handler still waiting is cancelled (its cleanup runs) whatever order they started in."""
    flow = TriggerFlow(name="fail-cancels-the-rest")
    log = []

    async def handler(data):
        if data.input == "fails":
            await asyncio.sleep(0.01)
            raise RuntimeError("handler broke")
        try:
            await asyncio.sleep(3600)
        finally:
            log.append(f"{data.input} cleaned up")

    flow.to(lambda data: [data.emit_nowait("Go", name) for name in ("before", "fails", "after")], name="kick")
    flow.when("Go").to(handler)

    async def main():
        async with asyncio.timeout(BOUND):
            ex = flow.create_execution(auto_close=False)
            await ex.async_start(None)  # returns once kick has run; the handlers go on
            with pytest.raises(ChunkError, match=r"^chunk 'handler' raised RuntimeError: handler broke$"):
                await ex.async_close()  # waits for the handlers, until the failure closes the run
            return ex, sorted(log)

    ex, cleaned = asyncio.run(main())
    assert cleaned == ["after cleaned up", "before cleaned up"]
    assert (ex.get_status(), ex._lifecycle.scope.tasks()) == ("failed", set())


def test_a_close_that_drops_queued_handlers_ends_the_idle_task_waiting_to_carry_them():
    """Handler A queued handler B and finished; the carrier task that would run B's first step is
    idle. A failure in the start call closes the run before B starts: B is dropped, and the idle
    carrier must end with it, not wait forever for work that will never come."""
    flow = TriggerFlow(name="drop-ends-the-carrier")
    ran = []

    async def kick(data):
        data.emit_nowait("Go", "A")
        await asyncio.sleep(0)  # A runs, and queues B
        raise RuntimeError("kick broke")

    async def handler(data):
        ran.append(data.input)
        if data.input == "A":
            data.emit_nowait("Go", "B")

    flow.to(kick)
    flow.when("Go").to(handler)

    async def main():
        async with asyncio.timeout(BOUND):
            before = asyncio.all_tasks()  # asyncio.run may reuse a loop earlier tests left tasks on
            ex = flow.create_execution(auto_close=False)
            with pytest.raises(ChunkError, match=r"^chunk 'kick' raised RuntimeError: kick broke$"):
                await ex.async_start(None)
            for _ in range(3):
                await asyncio.sleep(0)
            return ex, asyncio.all_tasks() - before

    ex, left = asyncio.run(main())
    assert (ran, ex.get_status(), left) == (["A"], "failed", set())


@pytest.mark.parametrize("queued", ["emit_nowait", "state write"])
def test_a_close_drops_queued_detached_work_so_a_watcher_hears_nothing_after_the_close(queued):
    """The start call's chunk queues work (an emit, or a write a branch listens to) and then
    fails: the failure closes the run before that work starts. Dropped, it never runs, and
    nothing of it is left never awaited: the last event a watcher hears is the close."""
    flow = TriggerFlow(name="dropped-when-closed")

    def kick(data):
        if queued == "emit_nowait":
            data.emit_nowait("Go", 1)
        else:
            data.set_state("k", 1, emit=True)
        raise RuntimeError("kick broke")

    flow.to(kick)
    flow.when("Go").to(lambda data: data.set_state("went", data.input), name="go")
    flow.when({"state": "k"}).to(lambda data: data.set_state("went", data.input), name="on_k")
    events = []

    async def main():
        async with asyncio.timeout(BOUND):
            ex = flow.create_execution(auto_close=False)
            ex.channel.subscribe(lambda event: events.append(type(event).__name__), state_changes=False)
            with pytest.raises(ChunkError, match=r"^chunk 'kick' raised RuntimeError: kick broke$"):
                await ex.async_start(None)
            for _ in range(3):
                await asyncio.sleep(0)
            return ex

    ex = asyncio.run(main())
    assert events[-1] == "ExecutionClosed" and "EventEmitted" not in events
    assert (ex.get_state(), ex._lifecycle.inflight) == ({} if queued == "emit_nowait" else {"k": 1}, 0)


def test_an_interrupted_flow_start_releases_its_environment_before_the_script_exits():
    """A script interrupted in flow.start() exits at once: the release must not wait for a later
    turn of a loop that never comes (before, it ran only if something used the loop again).
    In a fresh interpreter, as a user's script is (and away from CPython 3.11.7's 'AST constructor
    recursion depth mismatch', which a KeyboardInterrupt on a loop made re-entrant by an earlier
    test sets off in pytest's own assertion rewriting)."""
    script = (
        "import triggerflow_nb\n"
        "from triggerflow_nb import TriggerFlow\n"
        "async def start(config):\n"
        "    print('started', flush=True)\n"
        "    return object()\n"
        "async def release(db):\n"
        "    print('released', flush=True)\n"
        "triggerflow_nb.execution_environment.register('db', start, release=release, timeout=1.0)\n"
        "flow = TriggerFlow(name='interrupted-env')\n"
        "async def interrupted(data):\n"
        "    data.require_resource('db')\n"
        "    print('chunk', flush=True)\n"
        "    raise KeyboardInterrupt\n"
        "flow.to(interrupted)\n"
        "flow.start(None, execution_environments=[{'kind': 'db', 'key': 'db'}])\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout == "started\nchunk\nreleased\n"
    assert done.stderr.rstrip().endswith("KeyboardInterrupt")
