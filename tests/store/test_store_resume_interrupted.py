"""A resume cut short keeps the stored run waiting; only a real failure is saved as failed.

A worker resumes a stored execution that waits on an interrupt, and the path it continues
is cut: the notebook's Interrupt button (KeyboardInterrupt in the chunk), or the awaiting
task cancelled (``asyncio.wait_for``, a worker shutting down). The row must keep its last
waiting version, so that ``list(has_pending=True)`` and ``next_runnable`` still find it and
a second resume runs it. A chunk that fails is different: the run really ended, and the row
says so.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from triggerflow_nb import ChunkError, TriggerFlow
from triggerflow_nb.store import async_resume, resume, save_execution

FLOW_NAME = "gated"


def build_gated_flow() -> TriggerFlow:
    flow = TriggerFlow(name=FLOW_NAME)

    @flow.chunk
    async def ask(data):
        await data.async_pause_for(type="go", resume_to="next")

    @flow.chunk
    async def work(data):
        await data.require_resource("gate")()  # a live object: what it does is the test's choice
        await data.async_set_state("done", data.input)

    flow.to(ask).to(work)
    return flow


FLOW = build_gated_flow()


async def opens() -> None:
    return None


def stored_waiting(store) -> str:
    paused = FLOW.create_execution(auto_close=False)
    paused.start(None)
    assert save_execution(paused, store) == 1
    return paused.id


def assert_still_waiting(store, execution_id: str) -> None:
    stored = store.get(execution_id)
    assert (stored.version, stored.lease_owner, stored.snapshot["status"]) == (1, None, "waiting")
    assert [s.execution_id for s in store.list(has_pending=True)] == [execution_id]
    lease = store.next_runnable(FLOW_NAME, owner="worker-2", ttl=30)
    assert lease is not None and lease.execution_id == execution_id
    store.release(lease)


def resumed_again(store, execution_id: str) -> dict:
    done = resume(FLOW, store, execution_id, owner="worker-2", runtime_resources={"gate": opens}, payload="second")
    stored = store.get(execution_id)
    assert (stored.version, stored.snapshot["status"], stored.lease_owner) == (2, "completed", None)
    return done.get_state()


def test_a_resume_interrupted_in_its_chunk_leaves_the_row_waiting(store):
    execution_id = stored_waiting(store)

    async def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        resume(FLOW, store, execution_id, owner="worker-1", runtime_resources={"gate": interrupted}, payload="first")
    assert_still_waiting(store, execution_id)
    assert resumed_again(store, execution_id) == {"done": "second"}


def test_a_cancelled_async_resume_leaves_the_row_waiting(store):
    execution_id = stored_waiting(store)
    entered = []

    async def hangs() -> None:
        entered.append(True)
        await asyncio.sleep(3600)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(async_resume(FLOW, store, execution_id, owner="worker-1",
                                                runtime_resources={"gate": hangs}, payload="first"), 0.5)

    asyncio.run(main())
    assert entered == [True]  # the chunk did start: the cut came while it ran
    assert_still_waiting(store, execution_id)
    assert resumed_again(store, execution_id) == {"done": "second"}


def test_an_async_resume_cancelled_while_it_claims_leaves_no_lease(store):
    """The claim runs in a thread that the cancel cannot stop: the lease it takes after the cancel
    must be given back, not held until it expires."""
    execution_id = stored_waiting(store)
    claiming, go_on = threading.Event(), threading.Event()
    claim = store.claim

    def slow_claim(*args, **kwargs):
        claiming.set()
        assert go_on.wait(10)
        return claim(*args, **kwargs)

    store.claim = slow_claim
    given_back = threading.Event()
    release = store.release

    def watched_release(lease):
        release(lease)
        given_back.set()

    store.release = watched_release

    async def main() -> None:
        task = asyncio.ensure_future(async_resume(FLOW, store, execution_id, owner="worker-1",
                                                  runtime_resources={"gate": opens}, payload="first"))
        assert await asyncio.to_thread(claiming.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        go_on.set()  # the claim lands after the cancel

    asyncio.run(main())
    # The late claim's own thread gives the lease back. Waited for here: asyncio.run waits for
    # that thread only when no earlier test made the loop re-entrant (nest_asyncio's run does not).
    assert given_back.wait(10)
    del store.claim, store.release
    assert_still_waiting(store, execution_id)
    assert resumed_again(store, execution_id) == {"done": "second"}


def test_a_resume_whose_chunk_fails_is_saved_as_failed(store):
    execution_id = stored_waiting(store)

    async def breaks() -> None:
        raise ConnectionError("mail server down")

    with pytest.raises(ChunkError, match="^chunk 'work' raised ConnectionError: mail server down$"):
        resume(FLOW, store, execution_id, owner="worker-1", runtime_resources={"gate": breaks}, payload="first")
    stored = store.get(execution_id)
    assert (stored.version, stored.lease_owner, stored.snapshot["status"]) == (2, None, "failed")
    assert list(store.list(has_pending=True)) == []
    assert store.next_runnable(FLOW_NAME, owner="worker-2", ttl=30) is None
