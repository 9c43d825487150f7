"""``unseal()``: the inverse of ``seal()`` (issue 32, item 9).

A sealed execution accepts nothing new from outside; unsealing it opens it again, so outside
emits and continues are accepted once more. A closed execution, and one whose close() is
draining its work, cannot be unsealed.
"""

import asyncio
import threading

import pytest

from triggerflow_nb import LifecycleError, TriggerFlow
from triggerflow_nb.observe import ExecutionSealed, ExecutionUnsealed


def ping_flow(name="unseal"):
    flow = TriggerFlow(name=name)
    flow.to(lambda d: d.set_state("started_with", d.input), name="begin")
    flow.when("Ping").to(lambda d: d.append_state("pings", d.input), name="on_ping")
    return flow


def run(coro, bound=10):
    return asyncio.run(asyncio.wait_for(coro, bound))


def test_a_sealed_execution_accepts_emits_again_once_unsealed():
    ex = ping_flow().create_execution(auto_close=False)
    ex.start(1)
    ex.emit("Ping", "a")
    ex.seal()
    with pytest.raises(LifecycleError, match=r"^cannot emit 'Ping': execution \w+ of flow 'unseal' is sealed"):
        ex.emit("Ping", "refused")
    assert ex.unseal() is None
    assert (ex.lifecycle_state, ex.is_open(), ex.is_sealed()) == ("open", True, False)
    ex.emit("Ping", "b")
    ex.seal()
    ex.unseal()
    ex.emit("Ping", "c")
    assert ex.close() == {"started_with": 1, "pings": ["a", "b", "c"]}


def test_unseal_of_an_open_execution_changes_nothing_and_announces_nothing():
    ex = ping_flow().create_execution(auto_close=False)
    seen = []
    ex.channel.subscribe(seen.append, state_changes=False)
    ex.unseal()  # before start: open already
    ex.start(1)
    ex.unseal()
    assert ex.lifecycle_state == "open"
    assert [type(e) for e in seen if isinstance(e, (ExecutionSealed, ExecutionUnsealed))] == []
    ex.seal()
    ex.unseal()
    ex.unseal()  # the second is a no-op
    assert [type(e) for e in seen if isinstance(e, (ExecutionSealed, ExecutionUnsealed))] == [
        ExecutionSealed, ExecutionUnsealed]
    assert [e.execution_id for e in seen if isinstance(e, ExecutionUnsealed)] == [ex.id]
    ex.close()


def test_a_closed_execution_cannot_be_unsealed():
    ex = ping_flow().create_execution(auto_close=False)
    ex.start(1)
    ex.close()
    with pytest.raises(LifecycleError) as info:
        ex.unseal()
    assert str(info.value) == (
        f"cannot unseal execution {ex.id} of flow 'unseal': it is closed; to run on, load its snapshot into a "
        f"new execution: flow.create_execution(auto_close=False).load(saved, runtime_resources={{...}})"
    )
    assert ex.lifecycle_state == "closed"


def test_unseal_is_refused_while_close_drains_the_work_and_close_still_finishes():
    flow = TriggerFlow(name="draining")
    release = asyncio.Event()

    async def slow(data):
        await release.wait()
        data.set_state("done", True)

    flow.to(slow, name="slow")

    async def main():
        ex = flow.create_execution(auto_close=False)
        starting = asyncio.ensure_future(ex.async_start(None))
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(ex.async_close())
        await asyncio.sleep(0.01)
        assert ex.lifecycle_state == "sealed"
        with pytest.raises(LifecycleError) as info:
            await ex.async_unseal()
        release.set()
        snapshot = await closing
        await starting
        return ex, str(info.value), snapshot

    ex, message, snapshot = run(main())
    assert message == (
        f"cannot unseal execution {ex.id} of flow 'draining': close() is draining it; to run on, load its "
        f"snapshot into a new execution: flow.create_execution(auto_close=False).load(saved, "
        f"runtime_resources={{...}})"
    )
    assert snapshot == {"done": True}
    assert (ex.lifecycle_state, ex.status) == ("closed", "completed")


def test_a_close_cancelled_while_draining_leaves_it_sealed_and_unsealable():
    flow = TriggerFlow(name="cut-close")
    release = asyncio.Event()

    async def slow(data):
        await release.wait()

    flow.to(slow, name="slow")
    flow.when("Ping").to(lambda d: d.append_state("pings", d.input), name="on_ping")

    async def main():
        ex = flow.create_execution(auto_close=False)
        starting = asyncio.ensure_future(ex.async_start(None))
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(ex.async_close())
        await asyncio.sleep(0.01)
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        state_after_cut = ex.lifecycle_state
        await ex.async_unseal()
        release.set()
        await starting
        await ex.async_emit("Ping", 1)
        return state_after_cut, await ex.async_close()

    assert run(main()) == ("sealed", {"pings": [1]})


def test_unseal_from_inside_a_chunk_reopens_what_the_chunk_sealed():
    flow = TriggerFlow(name="inside")

    def toggle(data):
        data.execution.seal()
        data.set_state("sealed_inside", data.execution.lifecycle_state)
        data.execution.unseal()

    flow.to(toggle, name="toggle")
    flow.when("Ping").to(lambda d: d.set_state("ping", d.input), name="on_ping")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.emit("Ping", 7)
    assert ex.close() == {"sealed_inside": "sealed", "ping": 7}


def test_unseal_from_another_thread_goes_to_the_executions_loop():
    flow = ping_flow("thread")

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(1)
        await ex.async_seal()
        done = []
        thread = threading.Thread(target=lambda: (ex.unseal(), done.append(ex.lifecycle_state)))
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.005)  # the loop must run for the handed-over call to land
        await ex.async_emit("Ping", "from main")
        return done, await ex.async_close()

    assert run(main()) == (["open"], {"started_with": 1, "pings": ["from main"]})


def test_a_sealed_execution_saved_and_loaded_can_be_unsealed():
    flow = ping_flow("saved-sealed")
    ex = flow.create_execution(auto_close=False)
    ex.start(1)
    ex.seal()
    saved = ex.save()
    assert saved["lifecycle_state"] == "sealed"
    restored = flow.create_execution(auto_close=False).load(saved)
    assert restored.lifecycle_state == "sealed"
    restored.unseal()
    restored.emit("Ping", "after load")
    assert restored.close() == {"started_with": 1, "pings": ["after load"]}
