"""Concurrent paths start inline and get a task only when they first suspend (walker._start_inline).

These pin down what that must not change: user async code still runs in a task of its
own (asyncio.timeout, current_task), failures and cancellation still propagate, a long
synchronous fan-out still lets the event loop run, and a sub-flow's child goes down
with its cancelled parent step.
"""

import asyncio

import pytest

from triggerflow_nb import ChunkError, TriggerFlow
from triggerflow_nb.observe import ExecutionClosed


def test_a_synchronous_for_each_body_creates_no_task_per_item(sink):
    task_counts = []

    def body(d):
        task_counts.append(len(asyncio.all_tasks()))
        return d.input + 1

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(body).end_for_each().to(
        lambda d: sink.append(d.input), name="after")
    flow.start(list(range(300)))
    assert sink == [list(range(1, 301))]
    assert len(set(task_counts)) == 1  # the same number of tasks for item 0 and item 299


def test_async_code_after_a_sync_step_runs_in_a_task_of_its_own(sink):
    tasks = {}

    def root(d):
        return d.input

    async def record_root(d):
        tasks["root"] = asyncio.current_task()
        return d.input

    async def item(d):
        tasks[d.input] = asyncio.current_task()
        await asyncio.sleep(0)
        assert asyncio.current_task() is tasks[d.input]
        return d.input

    flow = TriggerFlow()
    (
        flow.to(record_root)
        .for_each()
        .to(lambda d: d.input * 10, name="sync_first")  # the item starts inline...
        .to(item)  # ...and moves into its own task before this runs
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([1, 2, 3])
    assert sink == [[10, 20, 30]]
    item_tasks = [tasks[10], tasks[20], tasks[30]]
    assert len({id(t) for t in item_tasks}) == 3
    assert all(t is not tasks["root"] for t in item_tasks)


def test_asyncio_timeout_in_an_item_cancels_only_that_item(sink):
    async def maybe_slow(d):
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(5 if d.input == "slow" else 0)
        except TimeoutError:
            return f"{d.input}: timed out"
        return f"{d.input}: done"

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .to(lambda d: d.input, name="sync_first")
        .to(maybe_slow)
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(["fast", "slow", "fast too"])
    assert sink == [["fast: done", "slow: timed out", "fast too: done"]]


def test_async_predicates_in_an_item_run_in_its_own_task(sink):
    root_task = {}

    async def first(d):
        root_task["task"] = asyncio.current_task()
        return d.input

    async def not_root_task(d):
        await asyncio.sleep(0)
        return asyncio.current_task() is not root_task["task"]

    flow = TriggerFlow()
    (
        flow.to(first)
        .for_each()
        .if_condition(not_root_task).to(lambda d: "own task", name="own")
        .else_condition().to(lambda d: "root task", name="root")
        .end_condition()
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([1, 2])
    assert sink == [["own task", "own task"]]


def test_a_failing_item_after_a_sync_step_cancels_the_suspended_items(overlap):
    async def item(d):
        if d.input == 2:
            await asyncio.sleep(0.01)
            raise ValueError("item 2 failed")
        await overlap.hold(d.input, 5)

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(lambda d: d.input, name="sync_first").to(item).end_for_each()
    with pytest.raises(ChunkError, match=r"^chunk 'item' raised ValueError: item 2 failed$"):
        flow.start([0, 1, 2, 3])
    assert sorted(overlap.log) == [("enter", 0), ("enter", 1), ("enter", 3), ("exit", 0), ("exit", 1), ("exit", 3)]


def test_a_sync_failure_while_items_start_stops_the_others_before_their_user_code(overlap):
    async def wait(d):
        await overlap.hold(d.input, 5)

    def sync_first(d):
        if d.input == 2:
            raise RuntimeError("refused at once")
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(sync_first).to(wait).end_for_each()
    execution = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError, match=r"^chunk 'sync_first' raised RuntimeError: refused at once$"):
        execution.start([0, 1, 2, 3])
    # Items 0 and 1 had stopped at the edge of their async step, waiting for a task of their
    # own; they are cancelled before reaching it (and see the cancellation). Item 3 never starts.
    assert overlap.log == []
    assert execution.node_status() == {"first": "done", "for_each@first": "running", "sync_first": "failed",
                                       "wait": "cancelled"}


def test_a_long_synchronous_fan_out_lets_the_event_loop_run():
    ticks = 0
    seen = []

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    def body(d):
        seen.append(ticks)
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(body).end_for_each()

    async def main():
        task = asyncio.get_running_loop().create_task(ticker())
        try:
            await flow.async_start(list(range(5000)))
        finally:
            task.cancel()

    asyncio.run(main())
    assert len(seen) == 5000
    assert seen[-1] - seen[0] >= 4  # the loop turned at least every 1,024 items


def test_a_cancelled_sub_flow_step_closes_its_child_and_cancels_its_work():
    child = TriggerFlow(name="slow_child")
    child_work = []
    closed = []

    async def background(d):
        child_work.append("started")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            child_work.append("cancelled")
            raise

    def kick(d):
        d.emit_nowait("Background", d.input)  # owned by the child execution
        return d.input

    child.to(kick)
    child.when("Background").to(background)
    child.channel.subscribe(lambda e: closed.append(e.status) if isinstance(e, ExecutionClosed) else None)

    async def boom(d):
        await asyncio.sleep(0.02)
        raise RuntimeError("sibling failed")

    parent = TriggerFlow(name="parent")
    head = parent.to(lambda d: d.input, name="first")
    head.to_sub_flow(child, name="run_child")
    head.to(boom)
    with pytest.raises(ChunkError, match=r"^chunk 'boom' raised RuntimeError: sibling failed$"):
        parent.start(1)
    assert child_work == ["started", "cancelled"]
    assert closed == ["cancelled"]


def test_the_execution_concurrency_cap_holds_for_paths_started_inline(overlap, sink):
    async def hold(d):
        await overlap.hold(d.input, 0.005)
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(lambda d: d.input, name="sync_first").to(
        hold).end_for_each().to(lambda d: sink.append(d.input), name="after")
    execution = flow.create_execution(concurrency=2, auto_close=False)
    execution.start(list(range(6)))
    execution.close()
    assert overlap.max_active == 2
    assert sink == [list(range(6))]


def test_a_chunk_listener_of_a_sync_item_chunk_may_wait(sink):
    """A sync chunk's `when(chunk)` listener that waits moves the item into a task mid-emit."""

    def x(d):
        return d.input * 2

    async def listener(d):
        await asyncio.sleep(0.001 * (4 - d.input))
        await d.async_append_state("seen", d.input)

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each().to(x).end_for_each().to(
        lambda d: sink.append(d.input), name="after")
    flow.when({"chunk": "x"}).to(listener)
    out = flow.start([1, 2, 3])
    assert sorted(out["seen"]) == [2, 4, 6]
    assert sink == [[2, 4, 6]]


def test_a_path_started_inline_that_first_waits_on_a_future_goes_on_when_it_is_done():
    """An outer item's path starts inline (its first step is sync) and first suspends inside the
    engine, on the future a nested for_each of waiting async items joins on: its task must take
    that future over and wait on it, not resume the path before the inner items are done."""
    flow = TriggerFlow(name="nested-inline")

    async def inner(data):
        await asyncio.sleep(0.01 * data.input)
        return data.input * 2

    (flow.to(lambda data: [[1, 2], [3]], name="rows").for_each()
         .to(lambda data: data.input, name="row").for_each().to(inner).end_for_each()
         .end_for_each().to(lambda data: data.set_state("out", data.input), name="store"))

    assert asyncio.run(asyncio.wait_for(flow.async_start(None), 5.0)) == {"out": [[2, 4], [6]]}
