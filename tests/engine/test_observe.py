from triggerflow_nb import TriggerFlow
from triggerflow_nb.observe import (
    ChunkFinished,
    ChunkStarted,
    ExecutionClosed,
    ExecutionSealed,
    ExecutionSettled,
    ExecutionStarted,
    FanOutProgress,
    StateChanged,
    StreamItem,
)


def test_observation_channel_event_sequence():
    flow = TriggerFlow(name="obs")

    def step(data):
        data.set_state("k", 1)
        data.put_into_stream("item")
        return 1

    flow.to(step)
    ex = flow.create_execution(auto_close=False)
    events = []
    unsubscribe = ex.channel.subscribe(events.append)
    ex.start("in")
    ex.close()
    assert events == [
        ExecutionStarted(ex.id, "in"),
        ChunkStarted(ex.id, "step"),
        StateChanged(ex.id, "k", "set"),
        StreamItem(ex.id, 0, "item"),
        ChunkFinished(ex.id, "step"),
        ExecutionSettled(ex.id, "idle"),
        ExecutionSealed(ex.id),
        ExecutionClosed(ex.id, "completed", "closed"),
    ]
    unsubscribe()
    assert not ex.channel


def test_failing_observer_does_not_break_the_run(caplog):
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("ok", True))
    ex = flow.create_execution(auto_close=False)

    def broken(event):
        raise RuntimeError("observer bug")

    ex.channel.subscribe(broken)
    ex.start()
    assert ex.close() == {"ok": True}
    records = [r for r in caplog.records if r.name == "triggerflow_nb"]
    assert {r.levelname for r in records} == {"WARNING"}
    assert all("observer bug" in r.getMessage() for r in records)
    assert "failed on ExecutionStarted" in records[0].getMessage()


def test_flow_channel_sees_every_execution():
    flow = TriggerFlow()
    flow.to(lambda d: None)
    seen = []
    flow.channel.subscribe(lambda e: seen.append(type(e).__name__))
    flow.start()
    flow.start()
    assert seen.count("ExecutionStarted") == 2 and seen.count("ExecutionClosed") == 2


def test_state_change_events_only_for_subscribers_that_want_them():
    flow = TriggerFlow()
    flow.to(lambda d: [d.set_state(f"k{i % 3}", i) for i in range(10)], name="writes")
    ex = flow.create_execution(auto_close=False)
    quiet, loud = [], []
    ex.channel.subscribe(quiet.append, state_changes=False)
    ex.start()
    assert not any(isinstance(e, StateChanged) for e in quiet)
    assert ex.channel.wants_state_changes is False
    ex.channel.subscribe(loud.append)
    assert ex.channel.wants_state_changes is True


def test_state_key_tracker_notifies_once_per_round_and_lists_keys_in_order():
    flow = TriggerFlow()

    def writes(data):
        for i in range(100):
            data.set_state(f"k{i % 3}", i)
        data.set_state("late", True)

    flow.to(writes)
    ex = flow.create_execution(auto_close=False)
    notified = []
    tracker = ex.track_state_changes(lambda: notified.append(1))
    ex.start()
    assert notified == [1]
    assert tracker.take() == ["k0", "k1", "k2", "late"]
    assert tracker.take() == []
    ex.set_state("again", 1)
    assert notified == [1, 1] and tracker.take() == ["again"]
    tracker.close()
    ex.set_state("after_close", 1)
    assert notified == [1, 1] and ex._state.trackers == ()


def test_fan_out_progress_starts_at_zero():
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="items").for_each().to(lambda d: d.input, name="item").end_for_each()
    ex = flow.create_execution(auto_close=False)
    progress = []
    ex.channel.subscribe(lambda e: progress.append((e.done, e.total)) if isinstance(e, FanOutProgress) else None)
    ex.start([1, 2])
    assert progress == [(0, 2), (1, 2), (2, 2)]


def test_load_publishes_one_replaced_event_and_a_closed_execution_refuses_injection():
    import pytest

    from triggerflow_nb import LifecycleError
    from triggerflow_nb.observe import ExecutionReplaced

    flow = TriggerFlow(name="obs-load")

    async def hold(data):
        await data.async_pause_for(type="ok", interrupt_id="ok")

    flow.to(hold)
    ex = flow.create_execution(auto_close=False)
    ex.start(1)
    saved = ex.save()
    ex.close(pending_interrupts="cancel")
    with pytest.raises(LifecycleError, match=r"cannot inject resources \['db'\]: execution \w+ is closed; to run on"):
        ex.inject_resources(db=object())
    assert ex.runtime_resources.keys() == []

    target = flow.create_execution(auto_close=False)
    events = []
    target.channel.subscribe(events.append)
    target.load(saved)
    assert events == [ExecutionReplaced(target.id, "load")]
    assert target.fan_out_progress() == {}
    target.close(pending_interrupts="cancel")


def test_fan_out_progress_lists_open_activations_with_done_and_total():
    flow = TriggerFlow(name="obs-fan")

    async def item(data):
        if data.input == 2:
            await data.async_pause_for(type="ok", interrupt_id="two")
        return data.input

    flow.to(lambda d: [1, 2, 3], name="items").for_each().to(item).end_for_each()
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    (activation_id, progress), = ex.fan_out_progress().items()
    assert activation_id.startswith("for_each@items#") and progress == ("for_each@items", 2, 3)
    ex.continue_with("two", 2)
    assert ex.fan_out_progress() == {}
    ex.close()
