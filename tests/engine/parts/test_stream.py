"""``RuntimeStream`` (runtime/stream.py) on its own: puts and their checks, the hand-off from
a worker thread, a sub-flow's parent stream, readers, and the sync reader.

Built directly: the stream reads only ``state`` and ``home_loop`` of its lifecycle.
"""

import asyncio
import threading
from types import SimpleNamespace

import pytest

from triggerflow_nb.errors import LifecycleError
from triggerflow_nb.observe import Channel, StreamItem
from triggerflow_nb.runtime.stream import RuntimeStream, read_synchronously


def make_stream(owner="ex-1", observe=True):
    channel = Channel()
    events = []
    if observe:
        channel.subscribe(lambda event: events.append((event, threading.get_ident())))
    lifecycle = SimpleNamespace(state="open", home_loop=None)
    return RuntimeStream(owner, lifecycle, channel), lifecycle, events


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def in_thread(fn, *args):
    """Call ``fn(*args)`` in a plain thread (no event loop there); return what it raised, or None."""
    raised = []

    def target():
        try:
            fn(*args)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    return raised[0] if raised else None


# -- puts ------------------------------------------------------------------------------------------


def test_put_item_keeps_every_item_in_order_and_announces_each_with_its_index():
    stream, _, events = make_stream()
    for item in ("a", {"b": 1}, None):
        stream.put_item(item)
    assert stream.items == ["a", {"b": 1}, None]
    me = threading.get_ident()
    assert events == [(StreamItem("ex-1", 0, "a"), me), (StreamItem("ex-1", 1, {"b": 1}), me),
                      (StreamItem("ex-1", 2, None), me)]


def test_an_item_is_kept_by_identity_not_copied_or_checked():
    stream, _, _ = make_stream()
    live = {1, 2}  # not JSON: the stream is not state, and nothing of it is saved
    stream.put_item(live)
    assert stream.items[0] is live


def test_put_returns_the_index_and_announces_nothing():
    stream, _, events = make_stream()
    assert [stream.put("x"), stream.put("y")] == [0, 1]
    assert events == []


@pytest.mark.parametrize("state", ["open", "sealed"])
def test_a_sealed_execution_still_takes_items(state):
    stream, lifecycle, _ = make_stream()
    lifecycle.state = state
    stream.put_item(1)
    assert stream.items == [1]


def test_put_item_after_the_close_is_refused_and_nothing_is_announced():
    stream, lifecycle, events = make_stream()
    stream.put_item("kept")
    lifecycle.state = "closed"
    events.clear()
    with pytest.raises(LifecycleError) as info:
        stream.put_item("late")
    assert str(info.value) == "cannot put into the stream of execution ex-1: it is closed"
    assert (stream.items, events) == (["kept"], [])


def test_the_lifecycle_state_decides_not_the_closed_flag():
    """``closed`` only ends readers; retry() reopens it. A put is refused by the lifecycle alone."""
    stream, lifecycle, _ = make_stream()
    stream.close()
    stream.put_item("after the readers ended")
    assert stream.items == ["after the readers ended"]


@pytest.mark.parametrize("count, expected", [(None, [1, 2, 3]), (2, [2, 3]), (3, [1, 2, 3]), (10, [1, 2, 3]),
                                             (1, [3]), (0, [])])
def test_last_returns_the_last_items_as_a_new_list(count, expected):
    stream, _, _ = make_stream()
    for item in (1, 2, 3):
        stream.put(item)
    got = stream.last(count)
    assert got == expected
    got.append("mine")
    assert stream.items == [1, 2, 3]


# -- a sub-flow's parent stream ------------------------------------------------------------------------


def test_an_item_goes_on_to_the_parent_stream_and_its_grandparent():
    child, _, child_events = make_stream("child")
    parent, _, parent_events = make_stream("parent")
    grand, _, grand_events = make_stream("grand")
    child.parent, parent.parent = parent, grand
    parent.put_item("own")
    child.put_item("from child")
    assert (child.items, parent.items, grand.items) == (["from child"], ["own", "from child"], ["own", "from child"])
    assert [e for e, _ in child_events] == [StreamItem("child", 0, "from child")]
    assert [e for e, _ in parent_events] == [StreamItem("parent", 0, "own"), StreamItem("parent", 1, "from child")]
    assert [e for e, _ in grand_events] == [StreamItem("grand", 0, "own"), StreamItem("grand", 1, "from child")]


def test_a_closed_parent_is_skipped_without_an_error():
    child, _, _ = make_stream("child")
    parent, parent_lifecycle, parent_events = make_stream("parent")
    child.parent = parent
    parent_lifecycle.state = "closed"
    child.put_item(1)
    assert (child.items, parent.items, parent_events) == ([1], [], [])


def test_a_closed_child_refuses_before_the_parent_hears_anything():
    child, child_lifecycle, _ = make_stream("child")
    parent, _, _ = make_stream("parent")
    child.parent = parent
    child_lifecycle.state = "closed"
    with pytest.raises(LifecycleError, match="^cannot put into the stream of execution child: it is closed$"):
        child.put_item(1)
    assert parent.items == []


# -- puts from a worker thread -------------------------------------------------------------------------


def test_a_put_from_a_worker_thread_is_handed_to_the_running_home_loop_and_wakes_a_waiting_reader():
    stream, lifecycle, events = make_stream()

    async def main():
        lifecycle.home_loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        reader = stream.iterate(None)
        waiting = asyncio.ensure_future(anext(reader))
        await asyncio.sleep(0)  # the reader waits for a first item
        await asyncio.to_thread(stream.put_item, "from thread")
        first = await asyncio.wait_for(waiting, 5)
        await reader.aclose()
        return first, loop_thread

    first, loop_thread = run(main())
    assert first == "from thread" and stream.items == ["from thread"]
    assert events == [(StreamItem("ex-1", 0, "from thread"), loop_thread)]  # appended on the loop, not the thread


def test_a_worker_threads_put_reaches_the_parent_on_the_loop_too():
    child, lifecycle, _ = make_stream("child")
    parent, _, parent_events = make_stream("parent")
    child.parent = parent

    async def main():
        lifecycle.home_loop = asyncio.get_running_loop()
        await asyncio.to_thread(child.put_item, 1)
        await asyncio.wait_for(anext(parent.iterate(None)), 5)
        return threading.get_ident()

    loop_thread = run(main())
    assert parent.items == [1] and parent_events == [(StreamItem("parent", 0, 1), loop_thread)]


def test_a_put_from_a_thread_without_a_home_loop_is_kept_right_there():
    stream, _, events = make_stream()
    assert in_thread(stream.put_item, "x") is None
    assert stream.items == ["x"]
    ((event, thread),) = events
    assert event == StreamItem("ex-1", 0, "x") and thread != threading.get_ident()


def test_a_put_from_a_thread_while_the_home_loop_is_not_running_is_kept_right_there():
    stream, lifecycle, _ = make_stream()
    loop = asyncio.new_event_loop()
    try:
        lifecycle.home_loop = loop
        assert in_thread(stream.put_item, "x") is None
    finally:
        loop.close()
    assert stream.items == ["x"]


def test_a_put_from_a_worker_thread_after_the_close_is_refused_in_that_thread():
    stream, lifecycle, _ = make_stream()

    async def main():
        lifecycle.home_loop = asyncio.get_running_loop()
        lifecycle.state = "closed"
        with pytest.raises(LifecycleError) as info:
            await asyncio.to_thread(stream.put_item, "late")
        return str(info.value)

    assert run(main()) == "cannot put into the stream of execution ex-1: it is closed"
    assert stream.items == []


# -- readers -------------------------------------------------------------------------------------------


def test_a_reader_gets_every_item_from_the_first_and_ends_at_close():
    stream, _, _ = make_stream()
    stream.put_item(1)
    stream.put_item(2)

    async def main():
        seen = []

        async def read():
            async for item in stream.iterate(None):
                seen.append(item)

        reader = asyncio.create_task(read())
        await asyncio.sleep(0)
        assert seen == [1, 2]  # the early items at once, then it waits
        stream.put_item(3)
        await asyncio.sleep(0)
        stream.close()
        await asyncio.wait_for(reader, 5)
        late = [item async for item in stream.iterate(None)]  # a late reader still reads all
        return seen, late

    assert run(main()) == ([1, 2, 3], [1, 2, 3])


def test_two_readers_each_get_every_item():
    stream, _, _ = make_stream()

    async def main():
        async def read():
            return [item async for item in stream.iterate(None)]

        readers = [asyncio.create_task(read()) for _ in range(2)]
        await asyncio.sleep(0)
        for item in "abc":
            stream.put_item(item)
            await asyncio.sleep(0)
        stream.close()
        return await asyncio.wait_for(asyncio.gather(*readers), 5)

    assert run(main()) == [["a", "b", "c"], ["a", "b", "c"]]


def test_a_reader_stops_after_the_timeout_without_a_new_item_and_a_later_put_still_works():
    stream, _, _ = make_stream()
    stream.put_item("only")

    async def main():
        got = [item async for item in stream.iterate(0.01)]
        stream.put_item("after")  # the timed-out reader's waiter is done: waking it must not fail
        return got, list(stream._waiters)

    assert run(main()) == (["only"], [])
    assert stream.items == ["only", "after"]


def test_close_wakes_a_waiting_reader():
    stream, _, _ = make_stream()

    async def main():
        reader = asyncio.ensure_future(anext(stream.iterate(None)))
        await asyncio.sleep(0)
        stream.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, 5)

    run(main())
    assert stream.closed is True


# -- the sync reader -------------------------------------------------------------------------------------


def test_read_synchronously_runs_each_step_on_the_given_loop_and_ends_with_the_stream():
    stream, _, _ = make_stream()
    for item in (1, 2, 3):
        stream.put_item(item)
    stream.close()
    loop = asyncio.new_event_loop()
    try:
        assert list(read_synchronously(stream.iterate(None), loop.run_until_complete)) == [1, 2, 3]
    finally:
        loop.close()


def test_a_sync_reader_that_stops_early_closes_the_async_generator():
    log = []

    async def items():
        try:
            for n in range(10):
                yield n
        finally:
            log.append("closed")

    loop = asyncio.new_event_loop()
    try:
        reader = read_synchronously(items(), loop.run_until_complete)
        assert [next(reader), next(reader)] == [0, 1]
        reader.close()
    finally:
        loop.close()
    assert log == ["closed"]


def test_a_failing_async_generator_raises_to_the_sync_reader_and_is_closed():
    async def items():
        yield 1
        raise ValueError("broken reader")

    loop = asyncio.new_event_loop()
    try:
        reader = read_synchronously(items(), loop.run_until_complete)
        assert next(reader) == 1
        with pytest.raises(ValueError, match="^broken reader$"):
            next(reader)
        assert list(reader) == []
    finally:
        loop.close()
