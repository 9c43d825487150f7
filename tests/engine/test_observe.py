from triggerflow_nb import TriggerFlow
from triggerflow_nb.observe import (
    ChunkFinished, ChunkStarted, ExecutionClosed, ExecutionSealed, ExecutionStarted, StateChanged, StreamItem,
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
        ExecutionSealed(ex.id),
        ExecutionClosed(ex.id, "completed", "closed"),
    ]
    unsubscribe()
    assert not ex.channel


def test_failing_observer_does_not_break_the_run(capsys):
    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("ok", True))
    ex = flow.create_execution(auto_close=False)

    def broken(event):
        raise RuntimeError("observer bug")

    ex.channel.subscribe(broken)
    ex.start()
    assert ex.close() == {"ok": True}
    assert "observer bug" in capsys.readouterr().err


def test_flow_channel_sees_every_execution():
    flow = TriggerFlow()
    flow.to(lambda d: None)
    seen = []
    flow.channel.subscribe(lambda e: seen.append(type(e).__name__))
    flow.start()
    flow.start()
    assert seen.count("ExecutionStarted") == 2 and seen.count("ExecutionClosed") == 2
