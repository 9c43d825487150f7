"""Faults injected at random points of random flows; the invariants hold whatever happens.

* close(timeout) returns within its bound;
* managed environments are released exactly once;
* no task of the execution is alive afterwards, and nothing of it runs later;
* a save taken at a pause loads into a fresh execution and continues to the same close
  snapshot as an uninterrupted run.

``TF_FAULT_EXAMPLES`` raises the number of examples (CI keeps it small).
"""

import asyncio
import os
import time

import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import triggerflow_nb
from triggerflow_nb import TriggerFlow, TriggerFlowError

EXAMPLES = int(os.environ.get("TF_FAULT_EXAMPLES", "40"))
# A property is one pytest test however many examples run: its hang guard (pytest-timeout,
# 300 s per test) grows with them, or a long run is cut as a hang halfway through.
pytestmark = pytest.mark.timeout(300 + 2 * EXAMPLES)
SLACK = 0.25  # a loaded CI machine's scheduling noise on top of a close timeout
BOUND = 10.0  # no wait here needs anywhere near this long: reaching it means a hang


class Ledger:
    def __init__(self):
        self.started = 0
        self.released = 0
        self.fail_release = False
        self.late = []  # chunk steps seen after close() returned


@pytest.fixture
def ledger():
    book = Ledger()
    manager = triggerflow_nb.execution_environment

    async def start(config):
        book.started += 1
        return {"id": book.started}

    async def release(resource):
        book.released += 1
        if book.fail_release:
            raise OSError("release failed")

    manager.register("res", start, release=release, replace=True, timeout=2.0)
    yield book
    manager.unregister("res")
    assert manager.active() == {}


step_spec = st.tuples(
    st.sampled_from(["sleep", "yield", "raise", "emit"]),
    st.floats(min_value=0.0, max_value=0.004),
)


def build(spec, book, closed_flag):
    flow = TriggerFlow(name="faulty")

    def make(index, kind, pause):
        async def step(data):
            data.require_resource("res")
            if closed_flag["closed"]:
                book.late.append(index)
            if kind == "sleep":
                await asyncio.sleep(pause)
            elif kind == "yield":
                await asyncio.sleep(0)
            elif kind == "raise":
                raise RuntimeError(f"step {index} broke")
            else:
                data.emit_nowait("side", index)
            await data.async_append_state("trail", index)
            return index

        step.__name__ = f"s{index}"
        return step

    chain = flow
    for index, (kind, pause) in enumerate(spec):
        chain = chain.to(make(index, kind, pause))

    async def on_side(data):
        await asyncio.sleep(0.002)
        await data.async_append_state("side", data.input)

    flow.when("side").to(on_side)
    return flow


fault = st.one_of(
    st.tuples(st.just("close"), st.floats(min_value=0.0, max_value=0.02), st.floats(min_value=0.0, max_value=0.05)),
    st.tuples(st.just("cancel"), st.floats(min_value=0.0, max_value=0.02), st.just(0.0)),
    st.tuples(st.just("none"), st.just(0.0), st.just(0.0)),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.lists(step_spec, min_size=1, max_size=6), when=fault, fail_release=st.booleans())
def test_close_is_bounded_releases_once_and_leaves_nothing_running(ledger, spec, when, fail_release):
    ledger.started = ledger.released = 0
    ledger.late.clear()
    ledger.fail_release = fail_release
    closed_flag = {"closed": False}
    flow = build(spec, ledger, closed_flag)
    kind, at, timeout = when

    async def main():
        ex = flow.create_execution(auto_close=False, execution_environments=["res"])
        runner = asyncio.ensure_future(ex.async_start(None))
        await asyncio.sleep(at)
        if kind == "cancel":
            runner.cancel()
        began = time.monotonic()
        try:
            await asyncio.wait_for(ex.async_close(timeout=timeout if kind == "close" else 0.05), 5.0)
        except TriggerFlowError:
            pass  # a failed chunk or a failed release: reported, not our concern here
        took = time.monotonic() - began
        closed_flag["closed"] = True
        try:
            await asyncio.wait_for(runner, 5.0)
        except (TriggerFlowError, asyncio.CancelledError):
            pass
        await asyncio.sleep(0.02)  # anything still scheduled would run now
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return ex, took, others

    ex, took, others = asyncio.run(main())
    bound = (timeout if kind == "close" else 0.05) + SLACK
    assert took < bound, f"close took {took:.3f}s, bound {bound:.3f}s"
    assert ledger.started <= 1 and ledger.released == ledger.started  # a close may come before the mount
    assert ex.lifecycle_state == "closed"
    assert ex._lifecycle.scope.tasks() == set() and others == []
    assert ledger.late == []


def pausing_flow(pause_at, length):
    flow = TriggerFlow(name="pausing")

    def make(index):
        async def step(data):
            if index == pause_at and not data.is_resume:
                await data.async_pause_for(type="check", resume_to="self", interrupt_id=f"p{index}")
                return None
            await data.async_append_state("trail", [index, data.resume.value if data.resume else None])
            return index

        step.__name__ = f"s{index}"
        return step

    chain = flow
    for index in range(length):
        chain = chain.to(make(index))
    return flow


@settings(max_examples=EXAMPLES, deadline=None)
@given(length=st.integers(min_value=1, max_value=6), data=st.data())
def test_a_save_at_a_pause_continues_to_the_uninterrupted_close_snapshot(length, data):
    pause_at = data.draw(st.integers(min_value=0, max_value=length - 1))
    live = pausing_flow(pause_at, length).create_execution(auto_close=False)
    live.start(None)
    saved = live.save()
    live.continue_with(f"p{pause_at}", "ok")
    expected = live.close()

    restored = pausing_flow(pause_at, length).create_execution(auto_close=False)
    restored.load(saved)
    restored.continue_with(f"p{pause_at}", "ok")
    assert restored.close() == expected
    assert expected["trail"] == [[i, "ok" if i == pause_at else None] for i in range(length)]


# -- emit_nowait handlers: queued, started eagerly, some suspending, and a close at any turn -----------

HANDLER_KINDS = ("finish", "sleep", "sleep_long", "raise", "cancel_self", "emit_more")


# asyncio's own loop, where queued work waits in the loop's ready queue itself, and uvloop, where
# it goes through call_soon
LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.mark.parametrize("loop_kind", sorted(LOOPS))
@settings(max_examples=EXAMPLES, deadline=None)
@given(kinds=st.lists(st.sampled_from(HANDLER_KINDS), min_size=1, max_size=8),
       close_after_turns=st.integers(min_value=0, max_value=6), close_timeout=st.sampled_from([0.0, 0.05, None]))
def test_emit_nowait_handlers_start_in_order_and_none_is_stranded_or_runs_after_close(loop_kind, kinds,
                                                                                       close_after_turns,
                                                                                       close_timeout):
    """Whatever the handlers do (finish, wait, fail, cancel their own task, emit more) and whenever
    the close comes, on either kind of loop: the handlers that started did so in the order of
    their emits, none starts or goes on after close() returns, and the execution is left
    counting, owning and queueing nothing, with no task of its own alive."""
    flow = TriggerFlow(name="nowait-faults")
    started, finished, late = [], [], []
    closed = {"yes": False}

    async def handler(data):
        index = data.input
        (late if closed["yes"] or data.execution.is_closed() else started).append(index)
        kind = kinds[index] if index < len(kinds) else "finish"
        if kind == "raise":
            raise RuntimeError(f"handler {index} broke")
        if kind == "cancel_self":
            asyncio.current_task().cancel()
        elif kind == "sleep":
            await asyncio.sleep(0)
        elif kind == "sleep_long":  # cut by a close with a timeout; a close without one waits for it
            try:
                await asyncio.sleep(30 if close_timeout is not None else 0.05)
            finally:
                await asyncio.sleep(0)  # cleanup that itself awaits
        elif kind == "emit_more" and index < 50:
            data.emit_nowait("Go", index + 100)
        if closed["yes"]:
            late.append(index)
        finished.append(index)

    kicked = []

    async def kick(data):  # never waits: if it starts, it finishes (an emit_nowait that raised would stop it)
        kicked.append("started")
        for index in range(len(kinds)):
            data.emit_nowait("Go", index)
        kicked.append("done")

    flow.to(kick)
    flow.when("Go").to(handler)

    loop_errors = []  # what reached the loop's exception handler: a callback that failed, a lost task error

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: loop_errors.append(context))
        ex = flow.create_execution(auto_close=False)
        starting = asyncio.ensure_future(ex.async_start(None))
        for _ in range(close_after_turns):  # the close comes while handlers are queued, running or done
            await asyncio.sleep(0)
        try:
            await asyncio.wait_for(ex.async_close(timeout=close_timeout), BOUND)
        except TriggerFlowError:
            pass  # the close reports the handler's failure
        closed["yes"] = True
        await asyncio.wait([starting], timeout=BOUND)
        assert starting.done()
        if not starting.cancelled():
            starting.exception()  # a failure or a cut path is the start's to report; retrieved here
        for _ in range(3):  # anything left of the execution would run in these turns
            await asyncio.sleep(0)
        leftover = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        return ex, leftover

    with asyncio.Runner(loop_factory=LOOPS[loop_kind]) as runner:
        ex, leftover = runner.run(main())
    assert loop_errors == []
    assert kicked in ([], ["started", "done"])
    assert late == []
    assert [i for i in started if i < 100] == sorted(i for i in started if i < 100)
    assert (ex._lifecycle.inflight, ex._lifecycle.scope._owned or {}, bool(ex._lifecycle.scope._queue), ex._lifecycle.scope.tasks()) == (0, {}, False, set())
    assert leftover == set()
    assert ex.is_closed()

