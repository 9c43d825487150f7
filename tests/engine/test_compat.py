import warnings

import pytest

from triggerflow_nb import TriggerFlow, TriggerFlowEventData, TriggerFlowRuntimeData


def test_event_data_alias():
    assert TriggerFlowEventData is TriggerFlowRuntimeData


def test_runtime_data_aliases_work_and_warn_once_per_api():
    flow = TriggerFlow()

    def step(data):
        data.set_runtime_data("a", 1)
        data.set_runtime_data("b", 2)
        data.append_runtime_data("l", 1)
        data.del_runtime_data("b")
        data.set_state("read", data.get_runtime_data("a"))

    flow.to(step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert flow.start() == {"a": 1, "l": [1], "read": 1}
        flow.start()  # a second run warns no more
    assert [str(w.message) for w in caught] == [
        "data.set_runtime_data() is deprecated; use data.set_state() (runtime_data is the old name of state)",
        "data.append_runtime_data() is deprecated; use data.append_state() (runtime_data is the old name of state)",
        "data.del_runtime_data() is deprecated; use data.del_state() (runtime_data is the old name of state)",
        "data.get_runtime_data() is deprecated; use data.get_state() (runtime_data is the old name of state)",
    ]
    assert all(w.category is DeprecationWarning for w in caught)


def test_end_set_result_get_result_use_final_result_key():
    flow = TriggerFlow()
    with pytest.warns(DeprecationWarning, match=r"flow.end\(\) / chain.end\(\) is deprecated"):
        flow.to(lambda d: d.input * 2).end()
    ex = flow.create_execution(auto_close=False)
    ex.start(21)
    with pytest.warns(DeprecationWarning, match=r"execution.get_result\(\) is deprecated"):
        assert ex.get_result() == 42
    assert ex.close() == {"$final_result": 42}

    other = TriggerFlow()
    other.to(lambda d: d.set_result("r"))
    with pytest.warns(DeprecationWarning, match=r"data.set_result\(\) is deprecated"):
        assert other.start() == {"$final_result": "r"}
