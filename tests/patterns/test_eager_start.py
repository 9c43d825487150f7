"""Paths whose first step is user async code start eagerly (runtime/tasks.py, EagerStarter).

The first step runs at once; the path gets a task only if it suspends. What user code sees
must be what a task of its own gives it: ``asyncio.current_task()`` is the task that goes
on with it, its contextvars are its own, a failure or a cancellation reaches the run as
before, and nothing is left running afterwards.
"""

import asyncio
import contextvars

import pytest

from triggerflow_nb import ChunkError, TriggerFlow
from triggerflow_nb.runtime.scope import _running

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def async_for_each(body, after=None):
    flow = TriggerFlow()
    loop = flow.to(lambda d: d.input, name="first").for_each().to(body).end_for_each()
    if after is not None:
        loop.to(after, name="after")
    return flow


def test_async_items_that_never_wait_share_one_idle_task_and_leave_none():
    counts = []
    before = set()  # once a test made a loop re-entrant, asyncio.run reuses a loop earlier tests left tasks on

    async def item(d):
        await d.async_set_state("last", d.input)
        counts.append(len(asyncio.all_tasks() - before))
        return d.input * 2

    async def main():
        before.update(asyncio.all_tasks() - {asyncio.current_task()})
        snapshot = await async_for_each(item, after=lambda d: d.set_state("out", d.input)).async_start(
            list(range(3000)))
        await asyncio.sleep(0)  # the idle carrier ends at the loop's next turn
        return snapshot, [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]

    snapshot, left = asyncio.run(main())
    assert snapshot == {"last": 2999, "out": [i * 2 for i in range(3000)]}
    # the caller's task and one idle carrier, for item 0 as for item 2999 (the loop turns every 1,024)
    assert set(counts) == {2}
    assert left == []


def test_current_task_in_the_first_step_is_the_task_that_goes_on_with_the_item():
    seen = {}

    async def item(d):
        before = asyncio.current_task()
        await asyncio.sleep(0.001 * d.input)
        after = asyncio.current_task()
        seen[d.input] = (before, after)
        return before is after

    async def main():
        caller = asyncio.current_task()
        out = await async_for_each(item, after=lambda d: d.set_state("out", d.input)).async_start([1, 2, 3])
        return caller, out

    caller, out = asyncio.run(main())
    assert out == {"out": [True, True, True]}
    item_tasks = [seen[i][0] for i in (1, 2, 3)]
    assert len({id(t) for t in item_tasks}) == 3 and caller not in item_tasks


def test_asyncio_timeout_in_an_async_first_item_cancels_only_that_item():
    async def maybe_slow(d):
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(5 if d.input == "slow" else 0)
        except TimeoutError:
            return f"{d.input}: timed out"
        return f"{d.input}: done"

    out = async_for_each(maybe_slow, after=lambda d: d.set_state("out", d.input)).start(["fast", "slow", "fast too"])
    assert out == {"out": ["fast: done", "slow: timed out", "fast too: done"]}


def test_a_task_group_in_an_async_first_item_cancels_its_own_children_only():
    log = []

    async def child(name, seconds, fail):
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            log.append(f"{name} cancelled")
            raise
        if fail:
            raise ValueError(name)
        log.append(f"{name} done")

    async def item(d):
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(child(f"{d.input}/quick", 0.001, d.input == "b"))
                group.create_task(child(f"{d.input}/slow", 0.05, False))
        except Exception as group_error:  # an ExceptionGroup (a 3.11 builtin, like TaskGroup)
            return f"{d.input}: {type(group_error).__name__} {group_error.exceptions!r}"
        return f"{d.input}: ok"

    out = async_for_each(item, after=lambda d: d.set_state("out", d.input)).start(["a", "b"])
    assert out == {"out": ["a: ok", "b: ExceptionGroup (ValueError('b/quick'),)"]}
    assert sorted(log) == ["a/quick done", "a/slow done", "b/slow cancelled"]


def test_each_async_item_has_its_own_contextvars_and_resets_them_after_waiting():
    seen = []

    async def item(d):
        outside = request_id.get()
        token = request_id.set(f"item {d.input}")
        await asyncio.sleep(0.001 * (3 - d.input))
        seen.append((d.input, outside, request_id.get()))
        request_id.reset(token)  # a token from before the wait: same context after it
        return request_id.get()

    async def main():
        request_id.set("caller")
        out = await async_for_each(item, after=lambda d: d.set_state("out", d.input)).async_start([0, 1, 2])
        return out, request_id.get()

    out, after = asyncio.run(main())
    assert out == {"out": ["caller", "caller", "caller"]}
    assert after == "caller"
    assert sorted(seen) == [(0, "caller", "item 0"), (1, "caller", "item 1"), (2, "caller", "item 2")]


def test_items_may_all_wait_on_one_future():
    box = {}

    async def hold(d):
        box["started"] += 1
        if box["started"] == 5:
            box["gate"].set_result("open")
            return d.input
        return f"{d.input} {await box['gate']}"

    async def main():
        box.update(started=0, gate=asyncio.get_running_loop().create_future())
        return await async_for_each(hold, after=lambda d: d.set_state("out", d.input)).async_start(list(range(5)))

    assert asyncio.run(main()) == {"out": ["0 open", "1 open", "2 open", "3 open", 4]}


def test_a_failing_first_step_cancels_the_items_that_wait_and_leaves_no_task(overlap):
    async def item(d):
        if d.input == 2:
            raise RuntimeError("refused at once")
        await overlap.hold(d.input, 5)

    async def main():
        flow = async_for_each(item)
        execution = flow.create_execution(auto_close=False)
        with pytest.raises(ChunkError, match=r"^chunk 'item' raised RuntimeError: refused at once$"):
            await execution.async_start([0, 1, 2, 3])
        await asyncio.sleep(0)
        return execution, [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]

    execution, left = asyncio.run(main())
    assert overlap.log == [("enter", 0), ("enter", 1), ("exit", 0), ("exit", 1)]  # item 3 never started
    assert left == []
    # one status per node: item 2 failed, then items 0 and 1 were cancelled
    assert execution.node_status()["item"] == "cancelled" and execution.status == "failed"


def test_close_with_a_timeout_cuts_waiting_eager_items_and_leaves_no_task(overlap):
    async def item(d):
        await overlap.hold(d.input, 30)

    async def main():
        execution = async_for_each(item).create_execution(auto_close=False)
        runner = asyncio.ensure_future(execution.async_start(list(range(50))))
        await asyncio.sleep(0.02)
        await asyncio.wait_for(execution.async_close(timeout=0.1), 5)
        with pytest.raises(Exception):
            await asyncio.wait_for(runner, 5)
        await asyncio.sleep(0.01)
        return execution, [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]

    execution, left = asyncio.run(main())
    assert execution.status == "cancelled" and execution.lifecycle_state == "closed"
    assert overlap.active == 0 and len(overlap.log) == 100  # every item entered and left
    assert left == [] and execution._lifecycle.scope.tasks() == set()


def test_a_long_emit_nowait_chain_keeps_one_entry_per_execution_in_the_running_context():
    lengths = []

    async def tick(d):
        if d.input % 250 == 0:
            lengths.append(len(_running.get()))
        if d.input < 1000:
            d.emit_nowait("Tick", d.input + 1)

    flow = TriggerFlow()
    flow.to(lambda d: d.emit_nowait("Tick", 1), name="kick")
    flow.when("Tick").to(tick)
    flow.start(None)
    assert lengths == [1, 1, 1, 1]


def test_an_awaited_emit_still_returns_after_its_handlers_and_checks_the_event_first():
    flow = TriggerFlow()
    order = []

    async def handler(d):
        await asyncio.sleep(0.001)
        order.append(f"handled {d.input}")

    async def first(d):
        await d.async_emit("Go", 1)
        order.append("after emit")
        with pytest.raises(Exception, match=r"^an event name must be a non-empty string, got ''$"):
            d.async_emit("")  # refused when called, before anything is scheduled
        return None

    flow.to(first)
    flow.when("Go").to(handler)
    flow.start(None)
    assert order == ["handled 1", "after emit"]


def test_the_caller_is_the_current_task_again_between_and_after_eager_starts():
    """Each eager first step runs as its carrier; the caller's task is the current one again
    before the next item starts and once the for_each has finished."""
    seen = []

    async def item(d):
        await d.async_set_state("last", d.input)  # never waits: every item finishes in its first step
        return d.input

    async def after(d):
        seen.append(asyncio.current_task())

    async def main():
        caller = asyncio.current_task()
        flow = async_for_each(item, after=after)
        await flow.async_start([1, 2, 3])
        return caller, asyncio.current_task()

    caller, afterwards = asyncio.run(main())
    assert seen == [caller] and afterwards is caller


def test_when_two_items_fail_in_the_same_turn_the_first_failure_is_the_one_reported():
    gate = {}

    async def item(d):
        await gate["open"]  # both items wake in the same turn, in start order
        raise (ValueError("first") if d.input == 0 else KeyError("second"))

    async def main():
        gate["open"] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, gate["open"].set_result, None)
        await async_for_each(item).async_start([0, 1])

    with pytest.raises(ChunkError, match=r"^chunk 'item' raised ValueError: first$"):
        asyncio.run(asyncio.wait_for(main(), 5.0))
