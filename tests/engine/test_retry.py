"""execution.retry(): a failed chunk runs again in place, after its code was fixed, from the state
before it (its own writes undone, other writes kept); errors reach callers with the user's frames."""

from __future__ import annotations

import asyncio
import os
import traceback

import pytest

import triggerflow_nb
from triggerflow_nb import ChunkError, InvalidArgumentError, LifecycleError, TriggerFlow
from triggerflow_nb.errors import full_traceback
from triggerflow_nb.observe import ExecutionReplaced

PACKAGE = os.path.dirname(triggerflow_nb.__file__)


def ledger_flow(fixed: dict) -> TriggerFlow:
    flow = TriggerFlow(name="ledger")

    def prepare(data):
        data.set_state("total", 10)
        data.set_state("seen", ["prepare"])
        return data.input

    def book(data):
        data.set_state("total", data.get_state("total") + data.input)  # replaces an existing key
        data.append_state("seen", "book")                                # appends to an existing list
        data.set_state("receipt", f"r-{data.input}")                     # creates a key
        if not fixed["book"]:
            raise ValueError(f"cannot book {data.input}")
        return data.input * 2

    def after(data):
        data.append_state("seen", f"after {data.input}")

    flow.to(prepare).to(book).to(after)
    return flow


def test_retry_runs_the_fixed_chunk_from_the_state_before_it_and_continues():
    fixed = {"book": False}
    flow = ledger_flow(fixed)
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError, match="chunk 'book' raised ValueError: cannot book 5"):
        ex.start(5)
    # the failure left the chunk's partial writes
    assert ex.get_state() == {"total": 15, "seen": ["prepare", "book"], "receipt": "r-5"}
    assert (ex.lifecycle_state, ex.status, ex.retryable_chunk()) == ("closed", "failed", "book")

    with pytest.raises(ChunkError, match="cannot book 5"):  # not fixed yet: fails again, same way
        ex.retry()
    assert ex.get_state() == {"total": 15, "seen": ["prepare", "book"], "receipt": "r-5"}  # not doubled
    assert ex.status == "failed"

    fixed["book"] = True
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    assert ex.retry("book") is ex  # not closed (auto_close=False): the execution, as start() gives
    assert ex.get_state() == {"total": 15, "seen": ["prepare", "book", "after 10"], "receipt": "r-5"}
    assert events[0] == ExecutionReplaced(ex.id, "retry")
    assert (ex.lifecycle_state, ex.status, ex.retryable_chunk()) == ("open", "idle", None)
    assert ex.node_status() == {"prepare": "done", "book": "done", "after": "done"}
    assert ex.close() == {"total": 15, "seen": ["prepare", "book", "after 10"], "receipt": "r-5"}


def test_retry_undoes_only_the_failed_chunks_writes():
    flow = TriggerFlow(name="undo")
    fixed = {"ok": False}
    saw = []  # the state each run of the failing chunk started from

    def first(data):
        data.set_state("kept", 1)

    def fails(data):
        saw.append(data.get_state())
        data.set_state("kept", 2)
        data.del_state("gone")  # removing counts as a write: the key comes back
        data.set_state("new", True)
        if not fixed["ok"]:
            raise KeyError("nope")
        return "done"

    flow.to(first).to(fails).to(lambda data: data.set_state("last", data.input), name="last")
    ex = flow.create_execution(auto_close=False)
    ex.set_state("gone", "here")  # written from outside before the run
    with pytest.raises(ChunkError):
        ex.start(None)
    assert ex.get_state() == {"kept": 2, "new": True}
    fixed["ok"] = True
    assert ex.retry() is ex
    assert ex.get_state() == {"kept": 2, "new": True, "last": "done"}
    assert saw == [{"gone": "here", "kept": 1}, {"gone": "here", "kept": 1}]  # the same state both times
    ex.close()


def test_with_auto_close_retry_returns_the_close_snapshot():
    fixed = {"book": False}
    ex = ledger_flow(fixed).create_execution(auto_close_timeout=0.05)
    with pytest.raises(ChunkError):
        ex.start(1)
    fixed["book"] = True
    assert ex.retry() == {"total": 11, "seen": ["prepare", "book", "after 2"], "receipt": "r-1"}
    assert (ex.lifecycle_state, ex.status) == ("closed", "completed")


def test_retry_is_refused_with_the_reason():
    flow = ledger_flow({"book": True})
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(LifecycleError, match=r"retry\(\) re-runs the chunk whose failure ended an execution; "
                                             r"execution \w+ is open, created$"):
        ex.retry()
    ex.start(1)
    with pytest.raises(LifecycleError, match="is open, idle"):
        ex.retry()

    broken = ledger_flow({"book": False}).create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        broken.start(1)
    with pytest.raises(InvalidArgumentError, match=r"chunk 'after' did not fail in execution \w+: "
                                                   r"retry\('book'\) \(or retry\(\)\) re-runs the one that did"):
        broken.retry("after")

    fan = TriggerFlow(name="fan")
    fan.to(lambda d: [1, 2], name="items").for_each().to(
        lambda d: 1 / (d.input - 2), name="divide").end_for_each()
    inside = fan.create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        inside.start(None)
    assert inside.retryable_chunk() is None
    with pytest.raises(LifecycleError, match="chunk 'divide' failed inside a batch or for_each"):
        inside.retry()


def test_a_raised_chunk_error_shows_the_callers_and_the_chunks_frames_only():
    ex = ledger_flow({"book": False}).create_execution(auto_close=False)
    with pytest.raises(ChunkError) as caught:
        ex.start(3)
    error = caught.value
    cause_files = {frame.filename for frame in traceback.extract_tb(error.__cause__.__traceback__)}
    assert cause_files == {__file__}  # the user's chunk, no walker frame
    files = [frame.filename for frame in traceback.extract_tb(error.__traceback__)]
    # the caller, then at most the three sync-bridge frames (IPython hides all but start())
    assert files[0] == __file__ and len(files) <= 4
    assert [os.path.basename(f) for f in files[1:]] == ["execution.py", "execution.py", "_loop_bridge.py"]
    full = full_traceback(error)
    assert "walker.py" in full and "in walk" in full and "cannot book 3" in full
    assert traceback.extract_tb(error.__cause__.__traceback__)[-1].name == "book"  # left as it was

    async def awaited():
        with pytest.raises(ChunkError) as again:
            await ledger_flow({"book": False}).async_start(4)
        names = [frame.name for frame in traceback.extract_tb(again.value.__traceback__)]
        assert names[0] == "awaited" and "_walk" not in names

    asyncio.run(awaited())


def test_start_returns_the_close_snapshot_when_closed_and_the_execution_while_open():
    flow = TriggerFlow(name="returns")

    async def maybe_pause(data):
        data.set_state("seen", data.input)
        if data.input == "pause":
            await data.async_pause_for(type="ok", interrupt_id="ok")

    flow.to(maybe_pause)
    # a dict exactly when the execution closed; the execution itself while it stays open
    open_one = flow.create_execution(auto_close=False)
    assert open_one.start("a") is open_one and open_one.get_state() == {"seen": "a"}
    open_one.close()
    waiting = flow.create_execution(auto_close_timeout=0.01)
    assert waiting.start("pause") is waiting and waiting.status == "waiting" and waiting.is_open()
    waiting.close(pending_interrupts="cancel")
    # auto_close with no timeout never closes by itself: start() returns instead of waiting forever
    never = flow.create_execution(auto_close=True, auto_close_timeout=None)
    assert never.start("b") is never and never.is_open()
    never.close()
    closing = flow.create_execution(auto_close_timeout=0.01)
    assert closing.start("c") == {"seen": "c"} and closing.is_closed()
