"""The walker's reporting and limits: what the channel hears, predicates that fail, and the
inline-emit depth guard. Each case pins what a mutation run (scripts/mutate.py) showed no test held.
"""

import asyncio
import gc
import inspect
import time

import pytest

from triggerflow_nb import ChunkError, InvalidArgumentError, LifecycleError, StateSerializationError, TriggerFlow
from triggerflow_nb.observe import ChunkFailed, EventEmitted, SyncChunkHeldLoop
from triggerflow_nb.runtime.emit_depth import MAX_INLINE_EMIT_DEPTH


def watched(flow, value=None):
    ex = flow.create_execution(auto_close=False)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    try:
        ex.start(value)
    except ChunkError:
        pass
    return ex, events


def test_a_failed_chunk_and_an_emitted_event_are_reported_on_the_channel():
    flow = TriggerFlow(name="reported")

    async def emitter(data):
        await data.async_emit("Go", 1)

    def boom(data):
        raise ValueError("no")

    flow.to(emitter)
    flow.when("Go").to(boom)
    ex, events = watched(flow)
    assert EventEmitted(ex.id, "Go") in events
    (failed,) = [e for e in events if isinstance(e, ChunkFailed) and e.node_id == "boom"]
    assert (failed.node_id, failed.error, type(failed.exception)) == ("boom", "ValueError: no", ValueError)


def test_a_watched_sync_chunk_that_holds_the_loop_is_reported_once_with_its_time():
    flow = TriggerFlow(name="blocking")
    flow.to(lambda data: time.sleep(0.6), name="slow").to(lambda data: None, name="quick")
    ex, events = watched(flow)
    held = [e for e in events if isinstance(e, SyncChunkHeldLoop)]
    assert [(e.node_id, e.seconds >= 0.6) for e in held] == [("slow", True)]
    ex.close()


def _if_flow(predicate):
    flow = TriggerFlow(name="deciding")
    flow.to(lambda d: d.input, name="first").if_condition(predicate, name="check") \
        .to(lambda d: 1, name="one").end_condition()
    return flow


def test_a_failing_predicate_marks_its_block_failed():
    def broken(data):
        raise ValueError("cannot decide")

    ex, _ = watched(_if_flow(broken), 1)
    assert ex.status == "failed"
    assert ex.node_status()["if[check]@first"] == "failed"


def test_an_argument_error_in_a_predicate_is_the_predicate_failing():
    def misuse(data):
        data.emit_nowait("", 1)  # a wrong argument: the predicate's own fault

    ex = _if_flow(misuse).create_execution(auto_close=False)
    with pytest.raises(ChunkError) as info:
        ex.start(1)
    assert str(info.value) == ("chunk 'if[check]@first (if check)' raised InvalidArgumentError: an event name must "
                               "be a non-empty string, got ''")
    assert isinstance(info.value.__cause__, InvalidArgumentError)
    assert ex.node_status()["if[check]@first"] == "failed"


def test_a_lifecycle_error_in_a_predicate_reaches_the_caller_as_it_is():
    def closes(data):
        raise LifecycleError("the engine's own refusal")

    with pytest.raises(LifecycleError, match="^the engine's own refusal$"):
        _if_flow(closes).start(1)


def test_awaited_emits_run_inline_up_to_the_depth_limit_then_on_a_fresh_task():
    """A tick loop of awaited emits: the first MAX_INLINE_EMIT_DEPTH levels run in the emitter's
    task; the next level starts a task with a fresh stack, and the count starts again there (one
    level more: the fresh task itself starts at depth 0)."""
    flow = TriggerFlow(name="ticks")
    tasks = []
    levels = 2 * MAX_INLINE_EMIT_DEPTH + 3

    async def tick(data):
        tasks.append(asyncio.current_task())
        if data.input < levels:
            await data.async_emit("Tick", data.input + 1)

    async def begin(data):
        tasks.append(asyncio.current_task())
        await data.async_emit("Tick", 1)
        await data.async_emit("Tick", levels)  # after the deep loop: inline again, at depth 1

    flow.to(begin)
    flow.when("Tick").to(tick, name="on_tick")
    flow.start(None)
    boundaries = [i for i in range(1, len(tasks)) if tasks[i] is not tasks[i - 1]]
    assert boundaries == [MAX_INLINE_EMIT_DEPTH + 1, 2 * MAX_INLINE_EMIT_DEPTH + 2, levels + 1]
    assert tasks[-1] is tasks[0]  # the last emit, back at depth 1, ran inline in begin's task


def test_a_chunk_refused_by_the_engine_is_marked_failed():
    flow = TriggerFlow(name="refused-write")
    flow.to(lambda data: data.set_state("client", object()), name="store_client")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(StateSerializationError):
        ex.start(None)
    assert (ex.status, ex.node_status()) == ("failed", {"store_client": "failed"})


def test_an_awaited_emit_to_one_plain_listener_keeps_only_its_walk_and_the_handler_alive_per_level():
    """What a loop of handlers that await their emits keeps alive per level (memory, and work for
    the garbage collector): the handler's coroutine and the path walking it, no dispatch under
    them; only the levels that start a fresh stack go through the dispatch."""
    flow = TriggerFlow(name="deep-ticks")
    levels = 250
    alive = {}

    async def tick(data):
        if data.input < levels:
            await data.async_emit("Tick", data.input + 1)
        else:
            mine = (o for o in gc.get_objects() if inspect.iscoroutine(o) and o.cr_frame is not None)
            names = [o.cr_code.co_name for o in mine  # this execution's, not another test's leftovers
                     if data.execution in (o.cr_frame.f_locals.get("self"), o.cr_frame.f_locals.get("data", data).execution)]
            alive.update({name: names.count(name) for name in ("tick", "_walk", "_dispatch_event")})

    flow.to(lambda data: data.async_emit("Tick", 1), name="begin")
    flow.when("Tick").to(tick)
    flow.start(None)
    fresh_stacks = levels // (MAX_INLINE_EMIT_DEPTH + 1)  # a fresh task every MAX+1 levels
    # a walk per level, and begin's own
    assert alive == {"tick": levels, "_walk": levels + 1, "_dispatch_event": fresh_stacks}


@pytest.mark.parametrize("emit", ["nowait", "awaited"])
def test_a_watched_and_an_unwatched_run_of_emits_run_the_handlers_in_the_same_order(emit):
    """Unwatched, an emit to one plain listener walks it directly; watched, through the dispatch
    (which reports the event): the handlers must run in the same order either way."""
    def run(watch):
        flow = TriggerFlow(name="order")
        order = []

        async def begin(data):
            for n in range(3):
                order.append(f"emit {n}")
                if emit == "nowait":
                    data.emit_nowait("One", n)
                else:
                    await data.async_emit("One", n)
                await data.async_emit("Two", n)
            order.append("begin done")

        async def one(data):
            order.append(f"one {data.input}")
            await asyncio.sleep(0)
            order.append(f"one {data.input} after sleep")

        flow.to(begin)
        flow.when("One").to(one)
        flow.when("Two").to(lambda data: order.append(f"two-a {data.input}"), name="two_a")
        flow.when("Two").to(lambda data: order.append(f"two-b {data.input}"), name="two_b")
        ex = flow.create_execution(auto_close=False)
        if watch:
            ex.channel.subscribe(lambda event: None, state_changes=False)
        ex.start(None)
        ex.close(timeout=5)
        return order

    assert run(watch=False) == run(watch=True)
    per_emit = {  # emit_nowait: the One handlers start after begin; awaited: each finishes first
        "nowait": [[f"emit {n}", f"two-a {n}", f"two-b {n}"] for n in range(3)] + [["begin done"]]
        + [[f"one {n}" for n in range(3)], [f"one {n} after sleep" for n in range(3)]],
        "awaited": [[f"emit {n}", f"one {n}", f"one {n} after sleep", f"two-a {n}", f"two-b {n}"]
                    for n in range(3)] + [["begin done"]],
    }
    assert run(watch=False) == [step for group in per_emit[emit] for step in group]
