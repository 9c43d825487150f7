"""``execution.on(event_type, callback)``: hooks for lifecycle and chunk events (issue 32, item 7).

A hook is a subscriber of the observation channel that only hears its kind of event: one
mechanism (``execution.channel``), two doors. It can be removed again.
"""

import asyncio
import logging
import threading

import pytest

from triggerflow_nb import ChunkError, InvalidArgumentError, TriggerFlow
from triggerflow_nb.observe import (
    HOOK_EVENTS,
    ChunkCancelled,
    ChunkFailed,
    ChunkFinished,
    ChunkStarted,
    ExecutionClosed,
    ExecutionSealed,
    ExecutionSettled,
    ExecutionStarted,
    ExecutionUnsealed,
    InterruptOpened,
    InterruptResumed,
    StateChanged,
)

NAMES = ["started", "sealed", "unsealed", "settled", "closed", "chunk_started", "chunk_finished", "chunk_failed",
         "chunk_cancelled", "interrupt_opened", "interrupt_resumed", "event_emitted", "stream_item",
         "state_changed", "*"]


def two_steps(name="hooked"):
    flow = TriggerFlow(name=name)
    flow.to(lambda d: d.input + 1, name="one").to(lambda d: d.set_state("two", d.input * 2), name="two")
    flow.when("Ping").to(lambda d: d.append_state("pings", d.input), name="on_ping")
    return flow


def test_lifecycle_hooks_hear_their_events_in_order():
    ex = two_steps().create_execution(auto_close=False)
    heard = []
    for name in ("started", "sealed", "unsealed", "settled", "closed"):
        ex.on(name, lambda event, name=name: heard.append((name, event)))
    ex.start(1)
    ex.seal()
    ex.unseal()
    ex.emit("Ping", "p")
    ex.close()
    assert heard == [
        ("started", ExecutionStarted(ex.id, 1)),
        ("settled", ExecutionSettled(ex.id, "idle")),
        ("sealed", ExecutionSealed(ex.id)),
        ("unsealed", ExecutionUnsealed(ex.id)),
        ("settled", ExecutionSettled(ex.id, "idle")),
        ("sealed", ExecutionSealed(ex.id)),
        ("closed", ExecutionClosed(ex.id, "completed", "closed")),
    ]


def test_chunk_hooks_hear_each_chunk_start_and_finish():
    ex = two_steps().create_execution(auto_close=False)
    heard = []
    ex.on("chunk_started", heard.append)
    ex.on("chunk_finished", heard.append)
    ex.start(1)
    ex.emit("Ping", 1)
    ex.close()
    assert heard == [ChunkStarted(ex.id, "one"), ChunkFinished(ex.id, "one"), ChunkStarted(ex.id, "two"),
                     ChunkFinished(ex.id, "two"), ChunkStarted(ex.id, "on_ping"), ChunkFinished(ex.id, "on_ping")]


def test_chunk_failed_carries_the_error_and_the_exception():
    flow = TriggerFlow(name="fails")

    def boom(data):
        raise ValueError("no good")

    flow.to(boom, name="boom")
    ex = flow.create_execution(auto_close=False)
    failed, closed = [], []
    ex.on("chunk_failed", failed.append)
    ex.on("closed", closed.append)
    with pytest.raises(ChunkError):
        ex.start(None)
    [event] = failed
    assert (type(event), event.execution_id, event.node_id, event.error) == (ChunkFailed, ex.id, "boom",
                                                                             "ValueError: no good")
    assert type(event.exception) is ValueError and str(event.exception) == "no good"
    assert closed == [ExecutionClosed(ex.id, "failed", "chunk 'boom' failed: ValueError: no good")]


def test_chunk_cancelled_is_heard_when_close_cuts_a_chunk():
    flow = TriggerFlow(name="cut")

    async def slow(data):
        await asyncio.sleep(30)

    flow.to(slow, name="slow")

    async def main():
        ex = flow.create_execution(auto_close=False)
        cancelled = []
        ex.on("chunk_cancelled", cancelled.append)
        starting = asyncio.ensure_future(ex.async_start(None))
        await asyncio.sleep(0.01)
        await ex.async_close(timeout=0.05)
        await asyncio.gather(starting, return_exceptions=True)
        return ex, cancelled

    ex, cancelled = asyncio.run(main())
    assert cancelled == [ChunkCancelled(ex.id, "slow", "CancelledError")]


def test_interrupt_hooks_hear_the_pause_and_the_resume():
    flow = TriggerFlow(name="pauses")

    async def ask(data):
        await data.async_pause_for(type="approval", interrupt_id="ask-1")

    flow.to(ask, name="ask").to(lambda d: d.set_state("answer", d.input), name="after")
    ex = flow.create_execution(auto_close=False)
    heard = []
    ex.on("interrupt_opened", heard.append)
    ex.on("interrupt_resumed", heard.append)
    ex.start(None)
    ex.continue_with("ask-1", "yes")
    assert ex.close() == {"answer": "yes"}
    assert heard == [InterruptOpened(ex.id, "ask-1", "ask"), InterruptResumed(ex.id, "ask-1")]


def test_state_changed_reaches_only_the_hooks_that_ask_for_it():
    ex = two_steps().create_execution(auto_close=False)
    state, started = [], []
    ex.on("state_changed", state.append)
    ex.on("chunk_started", started.append)
    ex.start(1)
    ex.close()
    assert state == [StateChanged(ex.id, "two", "set")]
    assert [type(e) for e in started] == [ChunkStarted, ChunkStarted]


def test_star_hears_what_a_channel_subscriber_hears():
    ex = two_steps().create_execution(auto_close=False)
    by_hook, by_channel = [], []
    ex.on("*", by_hook.append)
    ex.channel.subscribe(by_channel.append)
    ex.start(1)
    ex.emit("Ping", 2)
    ex.close()
    assert by_hook == by_channel
    assert {type(e) for e in by_hook} >= {ExecutionStarted, ChunkStarted, StateChanged, ExecutionClosed}


def test_every_name_maps_to_one_kind_of_event():
    assert [*HOOK_EVENTS, "*"] == NAMES
    assert len(set(HOOK_EVENTS.values())) == len(HOOK_EVENTS)


def test_a_removed_hook_hears_nothing_more_and_the_run_is_unobserved_again():
    ex = two_steps().create_execution(auto_close=False)
    heard = []
    remove = ex.on("chunk_started", heard.append)
    assert ex.channel.active is True
    ex.start(1)
    assert remove() is None
    remove()  # twice: harmless
    assert ex.channel.active is False
    ex.emit("Ping", 1)
    ex.close()
    assert heard == [ChunkStarted(ex.id, "one"), ChunkStarted(ex.id, "two")]


def test_a_failing_hook_is_logged_and_the_run_goes_on(caplog):
    ex = two_steps().create_execution(auto_close=False)

    def broken(event):
        raise RuntimeError("hook broke")

    after = []
    ex.on("chunk_finished", broken)
    ex.on("chunk_finished", after.append)
    with caplog.at_level(logging.WARNING, logger="triggerflow_nb"):
        ex.start(1)
        assert ex.close() == {"two": 4}
    assert [r.getMessage().split(" failed on ")[1] for r in caplog.records] == [
        "ChunkFinished: RuntimeError('hook broke')", "ChunkFinished: RuntimeError('hook broke')"]
    assert len(after) == 2  # the hook after the broken one still heard both


def test_bad_hooks_are_refused_with_a_typed_error():
    ex = two_steps().create_execution(auto_close=False)
    for bad in ("chunk.started", "Started", "", None, ChunkStarted):
        with pytest.raises(InvalidArgumentError) as info:
            ex.on(bad, print)
        assert str(info.value) == f"execution.on() takes one of {NAMES} as event_type, got {bad!r}"
    with pytest.raises(InvalidArgumentError, match=r"^execution.on\(\) needs a callable callback, got int$"):
        ex.on("started", 3)

    async def coroutine_hook(event):
        pass

    with pytest.raises(InvalidArgumentError) as info:
        ex.on("closed", coroutine_hook)
    assert str(info.value) == (
        "execution.on('closed', ...) got an async function: hooks are called synchronously, inside the run; use "
        "a plain function (start async work from it with asyncio.ensure_future if you must)"
    )
    assert ex.channel.active is False  # nothing was subscribed by the refused calls


def test_a_hook_added_from_another_thread_hears_the_run():
    ex = two_steps().create_execution(auto_close=False)
    heard = []
    removers = []
    thread = threading.Thread(target=lambda: removers.append(ex.on("chunk_finished", heard.append)))
    thread.start()
    thread.join(5)
    ex.start(1)
    removers[0]()
    ex.close()
    assert heard == [ChunkFinished(ex.id, "one"), ChunkFinished(ex.id, "two")]
