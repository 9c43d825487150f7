import asyncio
import threading

from triggerflow_nb import TriggerFlow


def make_flow():
    flow = TriggerFlow()

    async def produce(data):
        for i in range(3):
            await data.async_put_into_stream({"i": i})
            await asyncio.sleep(0.005)
        data.put_into_stream("last")

    flow.to(produce)
    return flow


def test_stream_items_in_order_and_late_reader_gets_everything():
    ex = make_flow().create_execution(auto_close=False)
    ex.start()
    ex.close()
    assert list(ex.get_runtime_stream(timeout=1)) == [{"i": 0}, {"i": 1}, {"i": 2}, "last"]
    assert list(ex.get_runtime_stream(timeout=1)) == [{"i": 0}, {"i": 1}, {"i": 2}, "last"]


def test_async_stream_reader_running_alongside_ends_at_close():
    flow = make_flow()

    async def main():
        ex = flow.create_execution(auto_close=True, auto_close_timeout=0.0)
        reader = asyncio.ensure_future(_collect(ex.get_async_runtime_stream("go", timeout=5)))
        return await reader, ex.lifecycle_state

    assert asyncio.run(main()) == ([{"i": 0}, {"i": 1}, {"i": 2}, "last"], "closed")


async def _collect(agen):
    return [item async for item in agen]


def test_stream_timeout_ends_reading_without_losing_items():
    async def main():
        ex = make_flow().create_execution(auto_close=False)
        await ex.run(None, until="settled")
        first = await _collect(ex.get_async_runtime_stream(timeout=0.05))  # open, so it times out
        await ex.async_close()
        second = await _collect(ex.get_async_runtime_stream(timeout=0.05))
        return first, second

    first, second = asyncio.run(main())
    assert first == second == [{"i": 0}, {"i": 1}, {"i": 2}, "last"]


def test_items_put_from_a_chunks_worker_thread_reach_a_waiting_reader_at_once():
    """A chunk streams from a thread (a blocking client in asyncio.to_thread): each item must wake
    the reader right away, not at the loop's next turn after the thread is done. The producer
    waits for the reader to acknowledge each item before it puts the next."""
    flow = TriggerFlow(name="stream-from-thread")
    acks = [threading.Event() for _ in range(3)]
    late = []

    def produce(data):
        for index, ack in enumerate(acks):
            data.put_into_stream(index)
            if not ack.wait(2.0):
                late.append(index)

    async def work(data):
        await asyncio.to_thread(produce, data)

    flow.to(work)

    async def main():
        ex = flow.create_execution(auto_close=False)
        starting = asyncio.ensure_future(ex.async_start(None))
        got = []
        async for item in ex.get_async_runtime_stream(timeout=5):
            got.append(item)
            acks[item].set()
            if len(got) == 3:
                break
        await asyncio.wait_for(starting, 5)
        return got

    assert asyncio.run(main()) == [0, 1, 2]
    assert late == []
