"""The walker's reporting and limits: what the channel hears, predicates that fail, and the
inline-emit depth guard. Each case pins what a mutation run (scripts/mutate.py) showed no test held.
"""

import asyncio
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
