import asyncio

import pytest

import triggerflow_nb
from triggerflow_nb import ChunkError, EnvironmentProviderError, TriggerFlow
from triggerflow_nb.environments.manager import ExecutionEnvironmentManager


class Pool:
    def __init__(self, config):
        self.config = config
        self.closed = False


@pytest.fixture
def provider():
    manager = triggerflow_nb.execution_environment
    log = {"started": [], "released": []}

    async def start(config):
        pool = Pool(config)
        log["started"].append(pool)
        return pool

    async def release(pool):
        pool.closed = True
        log["released"].append(pool)

    async def healthy(pool):
        return not pool.closed

    manager.register("pool", start, release=release, health_check=healthy, replace=True)
    yield log
    manager.unregister("pool")
    assert manager.active() == {}, "a test leaked a managed resource"


def uses_pool(fail=False):
    flow = TriggerFlow()

    def step(data):
        data.set_state("dsn", data.require_resource("db").config["dsn"])
        if fail:
            raise RuntimeError("chunk failed")

    flow.to(step)
    return flow


REQUEST = [{"kind": "pool", "key": "db", "config": {"dsn": "mem://1"}}]


def test_managed_resource_is_mounted_and_released_once_on_close(provider):
    snapshot = uses_pool().start(execution_environments=REQUEST)
    assert snapshot == {"dsn": "mem://1"}
    assert len(provider["started"]) == 1 and provider["released"] == provider["started"]


def test_released_exactly_once_on_failure(provider):
    with pytest.raises(ChunkError, match="chunk 'step' raised RuntimeError: chunk failed"):
        uses_pool(fail=True).start(execution_environments=REQUEST)
    assert provider["released"] == provider["started"] and len(provider["released"]) == 1


def test_released_on_cancelled_interrupts(provider):
    flow = TriggerFlow()
    flow.to(lambda d: d.pause_for(type="hold"))
    ex = flow.create_execution(auto_close=False, execution_environments=REQUEST)
    ex.start()
    assert ex.runtime_resources.level_of("db") == "managed"
    assert ex.runtime_resources.describe()["db"]["managed"] is True
    ex.close(pending_interrupts="cancel")
    ex.close(pending_interrupts="cancel")  # closing again releases nothing more
    assert len(provider["released"]) == 1


def test_reused_across_executions_with_reference_counting(provider):
    flow = uses_pool()

    async def main():
        one = await flow.async_start_execution(None, execution_environments=REQUEST)
        two = await flow.async_start_execution(None, execution_environments=REQUEST)
        assert one.runtime_resources.get("db") is two.runtime_resources.get("db")
        assert list(triggerflow_nb.execution_environment.active().values()) == [2]
        await one.async_close()
        assert provider["released"] == []
        await two.async_close()

    asyncio.run(main())
    assert len(provider["started"]) == 1 and len(provider["released"]) == 1


def test_manual_resources_are_never_released(provider):
    mine = Pool({"dsn": "manual"})
    flow = uses_pool()
    ex = flow.create_execution(auto_close=False, runtime_resources={"db": mine})
    ex.start()
    ex.close()
    assert mine.closed is False and provider["released"] == []


def test_managed_resources_are_re_ensured_after_load_not_prompted(provider):
    flow = TriggerFlow(name="managed")
    flow.to(lambda d: d.pause_for(type="hold")).to(lambda d: d.set_state("dsn", d.require_resource("db").config["dsn"]), name="use")
    ex = flow.create_execution(auto_close=False, execution_environments=REQUEST)
    ex.start()
    saved = ex.save()
    assert saved["environments"] == REQUEST and saved["resources"]["db"]["managed"] is True
    ex.close(pending_interrupts="cancel")
    restored = flow.create_execution(auto_close=False)
    restored.load(saved, prompt=False)  # nothing missing: the manager provides db again
    (iid,) = restored.get_pending_interrupts()
    restored.continue_with(iid, None)
    assert restored.close() == {"dsn": "mem://1"}
    assert len(provider["started"]) == 2 and len(provider["released"]) == 2


def test_unknown_kind_and_failing_start_are_typed_errors():
    manager = triggerflow_nb.execution_environment
    flow = uses_pool()
    with pytest.raises(EnvironmentProviderError, match=r"no execution environment provider for kind 'nope'; register one with"):
        flow.start(execution_environments=["nope"])

    async def broken(config):
        raise OSError("port busy")

    manager.register("broken", broken, replace=True)
    try:
        with pytest.raises(EnvironmentProviderError, match=r"provider 'broken' failed to start resource 'broken': OSError\('port busy'\)"):
            flow.start(execution_environments=["broken"])
    finally:
        manager.unregister("broken")


def test_register_and_request_validation():
    manager = ExecutionEnvironmentManager()

    def sync_start(config):
        return 1

    with pytest.raises(TypeError, match="provider 'x': start must be an async function"):
        manager.register("x", sync_start)

    async def start(config):
        return 1

    manager.register("x", start)
    with pytest.raises(ValueError, match="a provider for 'x' is already registered; pass replace=True"):
        manager.register("x", start)
    flow = TriggerFlow()
    with pytest.raises(TypeError, match="an execution environment request is a kind name or a dict with 'kind', got 3"):
        flow.create_execution(execution_environments=[3])
    with pytest.raises(ValueError, match=r"execution_environments mount two resources under one key: \['a', 'a'\]"):
        flow.create_execution(execution_environments=["a", {"kind": "b", "key": "a"}])
