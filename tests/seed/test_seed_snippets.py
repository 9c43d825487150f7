"""Every snippet of shared/spec/seed-state-and-resources.txt, verbatim but for the import."""

import warnings

import pytest

from triggerflow_nb import MissingResourceError, TriggerFlow, TriggerFlowRuntimeData


class FakeDB:
    def __init__(self):
        self.queries = []

    async def fetch(self, sql):
        self.queries.append(sql)
        return [(1,)]


class FakeLogger:
    def __init__(self):
        self.lines = []

    def info(self, line):
        self.lines.append(line)


def search_function(q):
    return [q]


def test_state_snippet():
    flow = TriggerFlow()

    async def step(data: TriggerFlowRuntimeData):
        await data.async_set_state("greeting", f"hello {data.input}")
        current = data.get_state("greeting")
        data.set_state("read_back", current)  # (assertion aid, not in the seed)

    flow.to(step)
    # "Whatever you put in state at the time of close() shows up in the close snapshot."
    assert flow.start("world") == {"greeting": "hello world", "read_back": "hello world"}


def test_flow_data_snippet():
    flow = TriggerFlow()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flow.set_flow_data("counter", 0) # RuntimeWarning
        flow.set_flow_data("counter", 0, no_warning=True) # silenced
    assert [w.category for w in caught] == [RuntimeWarning]


def test_runtime_resources_snippets_and_require_resource():
    flow = TriggerFlow()
    my_db_client, my_logger = FakeDB(), FakeLogger()

    async def step(data: TriggerFlowRuntimeData):
        logger = data.require_resource("logger")
        logger.info(f"received: {data.input}")
        db = data.require_resource("db")
        rows = await db.fetch("SELECT 1")  # noqa: F841  (the seed snippet, verbatim)

    flow.to(step)
    execution = flow.create_execution(
        runtime_resources={
            "db": my_db_client,
            "logger": my_logger,
            "search_tool": search_function,
        },
    )
    execution.auto_close_timeout = 0.0  # (the default 10 s of idleness would only slow the test)
    assert execution.start("ping") == {}
    assert my_logger.lines == ["received: ping"] and my_db_client.queries == ["SELECT 1"]
    assert execution.result.get_meta()["resource_keys"] == ["db", "logger", "search_tool"]


def test_flow_level_update_runtime_resources_snippet():
    flow = TriggerFlow()
    my_logger = FakeLogger()
    flow.update_runtime_resources(logger=my_logger)
    flow.to(lambda data: data.require_resource("logger").info(data.input))
    flow.start("hi")
    assert my_logger.lines == ["hi"]


def test_require_resource_raises_when_not_injected_get_resource_default():
    flow = TriggerFlow()
    flow.to(lambda data: data.set_state("opt", data.get_resource("cache", default="none")))
    assert flow.start() == {"opt": "none"}
    other = TriggerFlow()
    other.to(lambda data: data.require_resource("logger"), name="needs_logger")
    with pytest.raises(MissingResourceError):
        other.start()


def test_save_and_load_snippet_with_reinjection():
    flow = TriggerFlow(name="seed")
    my_db_client, my_logger = FakeDB(), FakeLogger()

    async def ask(data: TriggerFlowRuntimeData):
        await data.async_set_state("question", data.input)
        await data.async_pause_for(type="approval", payload=data.input)

    async def use(data: TriggerFlowRuntimeData):
        db = data.require_resource("db")
        rows = await db.fetch("SELECT 1")  # noqa: F841  (the seed snippet, verbatim)
        data.require_resource("logger").info(f"approved {data.input}")
        await data.async_set_state("rows", rows)

    flow.to(ask).to(use)
    execution = flow.create_execution(
        auto_close=False,
        runtime_resources={"db": my_db_client, "logger": my_logger, "search_tool": search_function},
    )
    execution.start("deploy?")

    saved = execution.save()
    # saved contains state, lifecycle metadata, interrupt state, and resource_keys
    # but NOT the live objects themselves
    assert saved["state"] == {"question": "deploy?"}
    assert saved["resource_keys"] == ["db", "logger", "search_tool"]
    assert saved["status"] == "waiting" and saved["lifecycle_state"] == "open"
    assert [i["type"] for i in saved["interrupts"]] == ["approval"]
    assert "flow_data" not in saved

    new_db_client, new_logger = FakeDB(), FakeLogger()
    restored = flow.create_execution(
        auto_close=False,
        runtime_resources={"db": new_db_client, "logger": new_logger, "search_tool": search_function},
    )
    restored.load(saved)
    (interrupt_id,) = restored.get_pending_interrupts()
    restored.continue_with(interrupt_id, "yes")
    assert restored.close() == {"question": "deploy?", "rows": [[1]]}
    assert new_logger.lines == ["approved yes"] and my_logger.lines == []


def test_forgetting_to_reinject_fails_with_keys_listed():
    flow = TriggerFlow(name="seed2")
    flow.to(lambda data: data.pause_for(type="wait"))
    execution = flow.create_execution(auto_close=False, runtime_resources={"db": FakeDB()})
    execution.start()
    saved = execution.save()
    restored = flow.create_execution(auto_close=False)
    with pytest.raises(MissingResourceError) as info:
        restored.load(saved)
    assert info.value.missing == ["db"]
