import asyncio

import pytest

from triggerflow_nb import ChunkError, LifecycleError, TriggerFlow
from triggerflow_nb.observe import ChunkCancelled


def failing_flow():
    flow = TriggerFlow(name="boom")

    def ok(data):
        data.set_state("before", data.input)
        return data.input

    def explode(data):
        raise ValueError("no good")

    flow.to(ok).to(explode).to(lambda d: d.set_state("never", True))
    return flow


def test_chunk_error_reaches_caller_with_chunk_name_and_cause():
    with pytest.raises(ChunkError) as info:
        failing_flow().start(1)
    assert str(info.value) == "chunk 'explode' raised ValueError: no good"
    assert info.value.chunk_name == "explode"
    assert isinstance(info.value.__cause__, ValueError) and info.value.original is info.value.__cause__


def test_failed_execution_keeps_state_readable_and_savable():
    ex = failing_flow().create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(7)
    assert ex.status == "failed" and ex.lifecycle_state == "closed"
    assert ex.result.get_state() == {"before": 7}
    meta = ex.result.get_meta()
    assert meta["close_reason"] == "chunk 'explode' failed: ValueError: no good"
    assert meta["error"] == "ChunkError: chunk 'explode' raised ValueError: no good"
    with pytest.raises(ChunkError):  # close() does not hide the failure
        ex.close()
    assert ex.node_status() == {"ok": "done", "explode": "failed"}


def test_failure_in_background_emit_surfaces_at_close():
    flow = TriggerFlow()
    flow.to(lambda d: d.emit_nowait("E"))

    def bad(data):
        raise KeyError("k")

    flow.when("E").to(bad)
    ex = flow.create_execution(auto_close=False)
    ex.start()
    with pytest.raises(ChunkError, match="chunk 'bad' raised KeyError: 'k'"):
        ex.close()


def test_failure_in_one_branch_cancels_siblings():
    flow = TriggerFlow()
    cancelled = []

    async def slow(data):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def fast_fail(data):
        await asyncio.sleep(0.01)
        raise RuntimeError("branch failed")

    flow.to(lambda d: d.input).batch(("slow", slow), ("bad", fast_fail))
    with pytest.raises(ChunkError, match="chunk 'fast_fail' raised RuntimeError: branch failed"):
        flow.start(1)
    assert cancelled == [True]


def test_async_error_and_sync_error_are_the_same_shape():
    flow = TriggerFlow()

    async def explode(data):
        raise ZeroDivisionError("div")

    flow.to(explode)
    with pytest.raises(ChunkError, match="chunk 'explode' raised ZeroDivisionError: div"):
        asyncio.run(flow.async_start(None))


def test_writes_after_close_are_rejected():
    flow = TriggerFlow()
    keep = {}
    flow.to(lambda d: keep.setdefault("data", d))
    ex = flow.create_execution(auto_close=False)
    ex.start()
    ex.close()
    with pytest.raises(LifecycleError, match=rf"cannot write state key 'x' in chunk '<lambda:\w+>': execution {ex.id} is closed"):
        keep["data"].set_state("x", 1)


def test_keyboard_interrupt_in_a_chunk_leaves_execution_open_and_inspectable():
    """What an interrupted notebook cell does: the path stops, nothing is lost, close() still works."""
    flow = TriggerFlow()

    def first(data):
        data.set_state("first", 1)

    def interrupted(data):
        raise KeyboardInterrupt

    flow.to(first).to(interrupted)
    ex = flow.create_execution(auto_close=False)
    seen = []
    ex.channel.subscribe(seen.append)
    with pytest.raises(KeyboardInterrupt):
        ex.start()
    assert ChunkCancelled(ex.id, "interrupted", "KeyboardInterrupt") in seen
    assert (ex.lifecycle_state, ex.status) == ("open", "idle")
    assert ex.node_status() == {"first": "done", "interrupted": "cancelled"}
    assert ex.result.get_state() == {"first": 1}
    assert ex.close() == {"first": 1}
    # closing it keeps the record honest: the run was cut short, not completed
    assert ex.status == "cancelled"
    assert ex.result.get_meta()["close_reason"] == "closed after an interrupt (KeyboardInterrupt in chunk 'interrupted')"


def test_an_interrupted_flow_start_closes_its_execution():
    from triggerflow_nb.observe import ExecutionClosed

    flow = TriggerFlow()
    seen = []
    flow.channel.subscribe(seen.append)

    def interrupted(data):
        data.set_state("before", 1)
        raise KeyboardInterrupt

    flow.to(interrupted)
    with pytest.raises(KeyboardInterrupt):
        flow.start()
    closed = [e for e in seen if isinstance(e, ExecutionClosed)]  # closed before the interrupt left start()
    assert (closed[0].status, closed[0].reason) == ("cancelled", "interrupted (KeyboardInterrupt in chunk 'interrupted')")


def test_auto_close_after_an_interrupt_reports_cancelled(eventually):
    import asyncio

    flow = TriggerFlow()

    def interrupted(data):
        raise KeyboardInterrupt

    flow.to(interrupted)

    async def main():
        ex = flow.create_execution(auto_close_timeout=0.01)
        try:
            await ex.run(None, until="settled")
        except KeyboardInterrupt:
            pass
        await eventually(ex.is_closed)
        return ex

    ex = asyncio.run(main())
    assert (ex.lifecycle_state, ex.status) == ("closed", "cancelled")
    assert ex.result.get_meta()["close_reason"] == (
        "auto-close after 0.01s idle, after an interrupt (KeyboardInterrupt in chunk 'interrupted')")
