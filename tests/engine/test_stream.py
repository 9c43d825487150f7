import asyncio

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
