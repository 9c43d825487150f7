"""Managed environments and load(): mounted before anything is applied, never half-loaded."""

import pytest

import triggerflow_nb
from triggerflow_nb import EnvironmentProviderError, InvalidArgumentError, TriggerFlow


@pytest.fixture
def flaky_provider():
    manager = triggerflow_nb.execution_environment
    behaviour = {"fail": False}

    async def start(config):
        if behaviour["fail"]:
            raise ConnectionError("db is down")
        return {"dsn": config.get("dsn")}

    async def release(resource):
        pass

    manager.register("db", start, release=release, replace=True, timeout=1.0)
    yield behaviour
    manager.unregister("db")
    assert manager.active() == {}, "a test leaked a managed resource"


def paused_flow():
    flow = TriggerFlow(name="approve")

    async def ask(data):
        data.set_state("asked", True)
        await data.async_pause_for(type="approval", interrupt_id="approve-1")

    flow.to(ask).to(lambda data: data.set_state("answer", data.input))
    return flow


def test_a_managed_environment_that_cannot_be_mounted_leaves_the_target_untouched(flaky_provider):
    ex = paused_flow().create_execution(auto_close=False, execution_environments=[{"kind": "db", "config": {"dsn": "x"}}])
    ex.start(None)
    saved = ex.save()
    ex.close(pending_interrupts="cancel")

    flaky_provider["fail"] = True
    target = paused_flow().create_execution(auto_close=False)
    with pytest.raises(EnvironmentProviderError,
                       match=r"^provider 'db' failed to start resource 'db': ConnectionError\('db is down'\)$"):
        target.load(saved)
    assert target.is_fresh() and target.status == "created" and target.get_state() == {}
    assert target.get_pending_interrupts() == {}

    flaky_provider["fail"] = False  # the same target loads once the provider is back
    target.load(saved)
    assert target.runtime_resources.get("db") == {"dsn": "x"}
    target.continue_with("approve-1", "yes")
    assert target.close() == {"asked": True, "answer": "yes"}


def test_one_key_cannot_be_both_managed_and_passed_by_hand(flaky_provider):
    with pytest.raises(InvalidArgumentError,
                       match=r"^runtime resource key\(s\) \['db'\] are both passed in runtime_resources and requested "
                             r"as managed execution_environments: keep one"):
        paused_flow().create_execution(runtime_resources={"db": object()}, execution_environments=["db"])


def test_load_refuses_a_hand_passed_resource_under_a_managed_key(flaky_provider):
    ex = paused_flow().create_execution(auto_close=False, execution_environments=["db"])
    ex.start(None)
    saved = ex.save()
    ex.close(pending_interrupts="cancel")
    target = paused_flow().create_execution(auto_close=False)
    with pytest.raises(InvalidArgumentError, match=r"^runtime resource key\(s\) \['db'\] are both passed"):
        target.load(saved, runtime_resources={"db": object()})
    assert target.is_fresh()


def test_inspect_load_is_not_ready_while_a_managed_environment_has_no_provider(flaky_provider):
    ex = paused_flow().create_execution(auto_close=False, execution_environments=[{"kind": "db", "key": "conn"}])
    ex.start(None)
    saved = ex.save()
    ex.close(pending_interrupts="cancel")
    closed = ex.save()  # closed: load() mounts nothing, so it needs no provider

    triggerflow_nb.execution_environment.unregister("db")
    target = paused_flow().create_execution(auto_close=False)
    report = target.inspect_load(saved)
    assert report["ready"] is False and report["missing_resource_keys"] == []
    assert report["diagnostics"] == [
        "pending interrupts after load: ['approve-1'] (resume with continue_with)",
        "managed resource 'conn' needs an execution environment provider for kind 'db', and none is registered: "
        "register one with triggerflow_nb.execution_environment.register('db', start=..., release=...) before "
        "load()",
    ]
    with pytest.raises(EnvironmentProviderError, match=r"^no execution environment provider for kind 'db'; "):
        target.load(saved)  # what the report foretold
    assert target.is_fresh()
    assert target.inspect_load(closed)["ready"] is True

    triggerflow_nb.execution_environment.register("db", _start_db, replace=True)
    report = target.inspect_load(saved)
    assert report["ready"] is True
    assert report["diagnostics"][-1] == "managed resource 'conn' (db) will be re-ensured by the environment manager"


async def _start_db(config):
    return {"dsn": config.get("dsn")}
