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


def watched(flow, value=None, **options):
    ex = flow.create_execution(auto_close=False, **options)
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


@pytest.mark.parametrize("concurrency", [None, 2], ids=["unlimited", "limited"])
def test_a_watched_sync_chunk_that_holds_the_loop_is_reported_once_with_its_time(concurrency):
    flow = TriggerFlow(name="blocking")
    flow.to(lambda data: time.sleep(0.6), name="slow").to(lambda data: None, name="quick")
    ex, events = watched(flow, concurrency=concurrency)
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
            walker = data.execution._walker  # this execution's coroutines, not another test's leftovers
            names = [o.cr_code.co_name for o in mine
                     if walker is o.cr_frame.f_locals.get("self")
                     or data.execution is o.cr_frame.f_locals.get("data", data).execution]
            alive.update({name: names.count(name) for name in ("tick", "walk", "dispatch_event")})

    flow.to(lambda data: data.async_emit("Tick", 1), name="begin")
    flow.when("Tick").to(tick)
    flow.start(None)
    fresh_stacks = levels // (MAX_INLINE_EMIT_DEPTH + 1)  # a fresh task every MAX+1 levels
    # a walk per level, and begin's own
    assert alive == {"tick": levels, "walk": levels + 1, "dispatch_event": fresh_stacks}


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


# -- the emit depth, limited chunks, predicates: cases a mutation run showed no test held ---------------

@pytest.mark.parametrize("watch", [False, True], ids=["walked-directly", "dispatched"])
def test_the_emit_depth_counts_nested_awaited_emits_and_drops_back_after_each(watch):
    """Unwatched, an emit to one plain listener is walked directly; watched, it goes through the
    dispatch. Either way a handler runs one level deeper than its emitter, and the emitter is back
    at its own level once the emit returns (or the next emit would start a fresh stack too early)."""
    from triggerflow_nb.runtime.emit_depth import emit_depth

    flow = TriggerFlow(name="depths")
    seen = []

    async def begin(data):
        seen.append(("begin", emit_depth.get()))
        await data.async_emit("A", None)
        seen.append(("after A", emit_depth.get()))
        await data.async_emit("B", None)
        seen.append(("after B", emit_depth.get()))

    async def on_a(data):
        seen.append(("A", emit_depth.get()))
        await data.async_emit("B", None)
        seen.append(("A after B", emit_depth.get()))

    flow.to(begin)
    flow.when("A").to(on_a)
    flow.when("B").to(lambda data: seen.append(("B", emit_depth.get())), name="on_b")
    ex = flow.create_execution(auto_close=False)
    if watch:
        ex.channel.subscribe(lambda event: None, state_changes=False)
    ex.start(None)
    assert seen == [("begin", 0), ("A", 1), ("B", 2), ("A after B", 1), ("after A", 0), ("B", 1), ("after B", 0)]


def test_an_awaited_emit_reaches_every_listener_or_none():
    flow = TriggerFlow(name="fan-in-listeners")
    heard = []

    async def begin(data):
        await data.async_emit("Nobody", 1)
        await data.async_emit("Both", 2)
        heard.append("back")

    flow.to(begin)
    flow.when("Both").to(lambda data: heard.append(("first", data.input)), name="first")
    flow.when("Both").to(lambda data: heard.append(("second", data.input)), name="second")
    flow.start(None)
    assert heard == [("first", 2), ("second", 2), "back"]


class Verdict:
    """A result that is neither a plain value nor awaitable: it must pass on as it is."""

    def __bool__(self):
        return True


def two_parallel_steps(flow, make):
    """START -> begin -> (left, right) concurrently; ``make(name)`` builds each step's handler."""
    begin = flow.to(lambda data: data.input, name="begin")
    begin.to(make("left"), name="left")
    begin.to(make("right"), name="right")


def returns_a_recording_coroutine(ran_in, name, result):
    """A sync function that returns a coroutine; the coroutine notes the task it runs in."""
    async def work(data):
        ran_in[name] = asyncio.current_task()
        await asyncio.sleep(0)
        return result

    return lambda data: work(data)


def test_a_limited_sync_chunk_that_returns_a_coroutine_is_awaited_in_a_task_of_its_own():
    """Under a concurrency limit as without one: a sync handler that returns a coroutine has it
    awaited, and the user's coroutine runs in its own task, not in the caller's."""
    flow = TriggerFlow(name="limited")
    ran_in = {}
    two_parallel_steps(flow, lambda name: returns_a_recording_coroutine(ran_in, name, f"{name} done"))

    async def main():
        ex = flow.create_execution(auto_close=False, concurrency=2)
        await ex.async_start(1)
        return ex, asyncio.current_task()

    ex, caller = asyncio.run(asyncio.wait_for(main(), 10))
    assert ex.node_status() == {"begin": "done", "left": "done", "right": "done"}
    assert len({ran_in["left"], ran_in["right"], caller}) == 3


def test_a_limited_sync_chunk_result_that_is_not_awaitable_passes_on_as_it_is():
    flow = TriggerFlow(name="limited-plain")
    verdict = Verdict()
    flow.to(lambda data: verdict, name="make").to(lambda data: data.set_state("got", data.input is verdict),
                                                  name="check")
    ex = flow.create_execution(auto_close=False, concurrency=1)
    ex.start(None)
    assert ex.get_state("got") is True


def test_a_predicate_verdict_that_is_not_awaitable_is_used_as_it_is():
    flow = TriggerFlow(name="odd-verdict")
    flow.to(lambda data: data.input, name="begin").if_condition(lambda data: Verdict(), name="odd") \
        .to(lambda data: data.set_state("took", "then"), name="then").else_condition() \
        .to(lambda data: data.set_state("took", "else"), name="otherwise").end_condition()
    ex = flow.create_execution(auto_close=False)
    ex.start(1)
    assert ex.get_state("took") == "then"


def test_a_sync_predicate_that_returns_a_coroutine_is_awaited_in_a_task_of_its_own():
    flow = TriggerFlow(name="async-verdicts")
    ran_in = {}
    begin = flow.to(lambda data: data.input, name="begin")
    for name in ("left", "right"):
        begin.if_condition(returns_a_recording_coroutine(ran_in, name, True), name=name).to(lambda data: data.input, name=f"then_{name}").end_condition()

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(1)
        return ex, asyncio.current_task()

    ex, caller = asyncio.run(asyncio.wait_for(main(), 10))
    assert ex.node_status()["then_left"] == ex.node_status()["then_right"] == "done"
    assert len({ran_in["left"], ran_in["right"], caller}) == 3


def test_a_hit_all_match_with_an_empty_else_arm_passes_its_input_on_when_nothing_matches():
    flow = TriggerFlow(name="empty-else")
    flow.to(lambda data: data.input, name="begin").match(mode="hit_all").case(1) \
        .to(lambda data: "one", name="one").case_else().end_match() \
        .to(lambda data: data.set_state("after", data.input), name="after")
    ex = flow.create_execution(auto_close=False)
    ex.start(7)
    assert ex.get_state("after") == 7


def test_retry_reruns_the_first_failure_when_a_second_chunk_fails_while_it_is_cut():
    flow = TriggerFlow(name="two-failures")

    async def begin(data):
        await data.async_emit("Go", None)

    async def fails_first(data):
        await asyncio.sleep(0.01)
        raise ValueError("first")

    async def fails_when_cut(data):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            raise ValueError("second") from None

    flow.to(begin)
    flow.when("Go").to(fails_first)
    flow.when("Go").to(fails_when_cut)
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError, match="^chunk 'fails_first' raised ValueError: first"):
        ex.start(None)
    # begin failed too: the error came back through its awaited emit
    assert ex.node_status() == {"begin": "failed", "fails_first": "failed", "fails_when_cut": "failed"}
    assert ex.retryable_chunk() == "fails_first"


def test_a_watched_run_reports_only_the_events_that_were_emitted():
    """A finished chunk dispatches its done event only when something listens to it: no
    EventEmitted for chunks nobody waits for."""
    flow = TriggerFlow(name="quiet-done")

    async def begin(data):
        await data.async_emit("Go", 1)

    flow.to(begin)
    flow.when("Go").to(lambda data: data.input, name="on_go")
    ex, events = watched(flow)
    assert [e for e in events if isinstance(e, EventEmitted)] == [EventEmitted(ex.id, "Go")]
