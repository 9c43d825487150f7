import asyncio
import re
import warnings

import pytest

from triggerflow_nb import ChunkError, InvalidArgumentError, TriggerFlow

MESSAGE = (
    "flow_data is shared by every execution of flow 'shared' and is not saved: {op}({key!r}) may race with "
    "other executions. Use execution state (data.set_state / data.get_state) for per-execution values, or "
    "pass no_warning=True if flow-wide sharing is intended."
)


def test_every_flow_data_call_warns_with_runtime_warning():
    flow = TriggerFlow(name="shared")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flow.set_flow_data("counter", 0)  # RuntimeWarning
        flow.get_flow_data("counter")
        flow.append_flow_data("log", "a")
        flow.del_flow_data("log")
    assert [(w.category, str(w.message)) for w in caught] == [
        (RuntimeWarning, MESSAGE.format(op="set_flow_data", key="counter")),
        (RuntimeWarning, MESSAGE.format(op="get_flow_data", key="counter")),
        (RuntimeWarning, MESSAGE.format(op="append_flow_data", key="log")),
        (RuntimeWarning, MESSAGE.format(op="del_flow_data", key="log")),
    ]
    assert all(w.filename == __file__ for w in caught)  # points at the caller's line


def test_warns_on_every_call_not_once():
    flow = TriggerFlow(name="shared")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # the default filter would dedupe per location if we used one
        for _ in range(3):
            flow.set_flow_data("counter", 0)
    assert len(caught) == 3


def test_no_warning_silences(no_warnings):
    flow = TriggerFlow(name="shared")
    flow.set_flow_data("counter", 0, no_warning=True)  # silenced
    flow.append_flow_data("counter", 1, no_warning=True)
    assert flow.get_flow_data("counter", no_warning=True) == [0, 1]
    flow.del_flow_data("counter", no_warning=True)
    assert flow.get_flow_data("counter", "gone", no_warning=True) == "gone"


def test_flow_data_is_shared_across_executions_and_not_in_snapshot():
    flow = TriggerFlow(name="shared")

    async def count(data):
        n = await data.async_get_flow_data("runs", 0, no_warning=True)
        await data.async_set_flow_data("runs", n + 1, no_warning=True)
        data.set_state("n", n + 1)

    flow.to(count)
    assert flow.start() == {"n": 1}
    assert flow.start() == {"n": 2}
    assert flow.get_flow_data("runs", no_warning=True) == 2


def test_concurrent_executions_clobber_flow_data():
    flow = TriggerFlow(name="shared")

    async def read_modify_write(data):
        value = data.get_flow_data("total", 0, no_warning=True)
        await asyncio.sleep(0.01)
        data.set_flow_data("total", value + data.input, no_warning=True)

    flow.to(read_modify_write)

    async def main():
        await asyncio.gather(flow.async_start(1), flow.async_start(10))

    asyncio.run(main())
    assert flow.get_flow_data("total", no_warning=True) in (1, 10)  # one write was lost: that's the lesson


def test_chunk_flow_data_warning_points_at_chunk_line():
    flow = TriggerFlow(name="shared")
    flow.to(lambda d: d.set_flow_data("x", 1))
    with pytest.warns(RuntimeWarning) as caught:
        flow.start()
    # Only the flow_data warning: a coroutine an earlier test left behind may warn here too.
    [warning] = [w for w in caught if "set_flow_data" in str(w.message)]
    assert warning.filename == __file__


def test_async_flow_api_variants_warn():
    flow = TriggerFlow(name="shared")

    async def main():
        await flow.async_set_flow_data("k", 1)
        await flow.async_append_flow_data("k", 2)
        value = await flow.async_get_flow_data("k")
        await flow.async_del_flow_data("k")
        return value

    with pytest.warns(RuntimeWarning) as caught:
        assert asyncio.run(main()) == [1, 2]
    assert len(caught) == 4


@pytest.mark.parametrize("call", [
    lambda flow: flow.set_flow_data(1, "x", no_warning=True),
    lambda flow: flow.append_flow_data(("a",), "x", no_warning=True),
    lambda flow: flow.del_flow_data(None, no_warning=True),
])
def test_flow_data_keys_must_be_strings(call):
    flow = TriggerFlow(name="keys")
    with pytest.raises(InvalidArgumentError) as info:
        call(flow)
    assert re.fullmatch(r"flow_data keys must be strings, got (1|\('a',\)|None)", str(info.value)), str(info.value)
    assert flow._flow_data.snapshot() == {}


def test_a_chunk_writing_flow_data_under_a_non_string_key_fails_with_the_typed_error():
    flow = TriggerFlow(name="keys")
    flow.to(lambda data: data.set_flow_data(7, "x", no_warning=True), name="write")
    with pytest.raises(ChunkError) as info:
        flow.start(None)
    assert type(info.value.original) is InvalidArgumentError
    assert str(info.value.original) == "flow_data keys must be strings, got 7"
