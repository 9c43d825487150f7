"""``wait_for_result=`` is accepted by every entry point TriggerFlow code passes it to, and ignored
with a DeprecationWarning (issue 32, item 3): once per process per entry point, at the caller's line."""

import asyncio
import warnings

import pytest

from triggerflow_nb import InvalidArgumentError, TriggerFlow

CLOSES = "flow.start() always waits for the execution to close and returns the close snapshot"
CREATE_ONLY = ("create_execution() only creates the execution; execution.start(value) returns the close snapshot "
               "once it has closed by itself (auto_close), else the execution")
HANDLE_RETURNED = ("start_execution() returns the execution once its start has settled; close() it (or let "
                   "auto_close) for the close snapshot")
START_WAITS = ("start() returns the close snapshot once the execution has closed by itself (auto_close), else the "
               "execution once its work has settled")


def make_flow():
    flow = TriggerFlow(name="waits")
    flow.to(lambda d: d.set_state("got", d.input), name="take")
    return flow


def caught_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [(w.category, str(w.message), w.filename) for w in caught]


def deprecation(call, instead):
    return (DeprecationWarning, f"{call}(wait_for_result=...) is deprecated and ignored: {instead}", __file__)


def test_every_sync_entry_point_ignores_it_and_warns_once_at_the_callers_line():
    flow = make_flow()

    def calls():
        results = [flow.start(1, wait_for_result=True), flow.start(2, wait_for_result=False)]
        created = flow.create_execution(auto_close=False, wait_for_result=True)
        results.append(created.start(3, wait_for_result=True))
        results.append(created.close())
        handle = flow.start_execution(4, wait_for_result=True)
        results.append((handle.status, handle.close()))
        again = flow.create_execution(auto_close_timeout=0.0, wait_for_result=5)
        results.append(again.start(5, wait_for_result=10))
        return results

    results, seen = caught_warnings(calls)
    assert results[:2] == [{"got": 1}, {"got": 2}]
    assert results[2] is not None and results[3] == {"got": 3}
    assert results[4:] == [("idle", {"got": 4}), {"got": 5}]
    assert seen == [
        deprecation("flow.start", CLOSES),
        deprecation("flow.create_execution", CREATE_ONLY),
        deprecation("execution.start", START_WAITS),
        deprecation("flow.start_execution", HANDLE_RETURNED),
    ]


def test_the_async_entry_points_warn_at_the_awaiting_line_too():
    flow = make_flow()

    async def main():
        closed = await flow.async_start(1, wait_for_result=True)
        handle = await flow.async_start_execution(2, wait_for_result=True)
        mid = handle.status
        await handle.async_close()
        created = flow.create_execution(auto_close_timeout=0.0)
        started = await created.async_start(3, wait_for_result=True)
        return closed, mid, handle.result.get_state(), started

    result, seen = caught_warnings(lambda: asyncio.run(main()))
    assert result == ({"got": 1}, "idle", {"got": 2}, {"got": 3})
    assert seen == [
        deprecation("flow.start", CLOSES),
        deprecation("flow.start_execution", HANDLE_RETURNED),
        deprecation("execution.start", START_WAITS),
    ]


def test_none_is_not_a_use_of_it_and_nothing_warns(no_warnings):
    flow = make_flow()
    assert flow.start(1, wait_for_result=None) == {"got": 1}
    ex = flow.create_execution(auto_close=False, wait_for_result=None)
    assert ex.start(2, wait_for_result=None) is ex
    assert ex.close() == {"got": 2}
    handle = flow.start_execution(3, wait_for_result=None)
    assert handle.close() == {"got": 3}


def test_it_changes_nothing_about_what_start_returns():
    """Agently code passes wait_for_result=False to get the handle back: here start() returns what it
    always returns (the close snapshot when the execution closes by itself)."""
    flow = make_flow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ex = flow.create_execution(auto_close_timeout=0.0)
        assert ex.start(1, wait_for_result=False) == {"got": 1}
        held = flow.create_execution(auto_close=False)
        assert held.start(2, wait_for_result=True) is held
        held.close()


def test_it_is_keyword_only_and_other_unknown_options_are_still_refused():
    flow = make_flow()
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(TypeError):
        ex.start(1, True)  # wait_for_result is keyword-only; a second positional is a mistake
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidArgumentError, match=r"^flow.start\(\) got unexpected keyword arguments "
                                                       r"\['timeout'\]$"):
            flow.start(1, wait_for_result=True, timeout=3)
        with pytest.raises(TypeError, match=r"unexpected keyword argument 'timeout'"):
            flow.start_execution(1, wait_for_result=True, timeout=3)
    assert [str(w.message).split(":")[0] for w in caught] == [
        "flow.start(wait_for_result=...) is deprecated and ignored", "flow.start_execution(wait_for_result=...) "
        "is deprecated and ignored"]
