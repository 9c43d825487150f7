"""Live resources stay in the notebook process; workers build their own from providers."""

import asyncio
import os
import re
import threading
import uuid

import pytest
from dask_keys import scheduler_task_keys

import triggerflow_nb
from triggerflow_nb import EnvironmentProviderError, TriggerFlow
from triggerflow_nb.distributed import DaskExecutor, RemoteItemError, RemoteResourceError, RemoteSerializationError

pytestmark = pytest.mark.timeout(120)


class NeverShipped:
    """A live object: pickling it fails loudly, so a run that succeeds proves it never travelled."""

    def __reduce__(self):
        raise AssertionError("a live runtime resource was pickled")


@pytest.fixture
def provider(tmp_path):
    """A provider that logs every start and release (with the pid) to a file."""
    kind = f"test_conn_{uuid.uuid4().hex[:8]}"
    log = tmp_path / "provider.log"

    async def start(config):
        with open(log, "a") as f:
            f.write(f"start {os.getpid()}\n")
        return {"pid": os.getpid(), "dsn": config.get("dsn"), "id": uuid.uuid4().hex}

    async def release(resource):
        with open(log, "a") as f:
            f.write(f"release {resource['pid']}\n")

    triggerflow_nb.execution_environment.register(kind, start, release=release)
    yield kind, log
    triggerflow_nb.execution_environment.unregister(kind)


def log_lines(log):
    return log.read_text().splitlines() if log.exists() else []


def use_conn_flow(executor):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each(executor=executor)
        .to(lambda d: (d.input, d.require_resource("conn")["pid"], d.require_resource("conn")["dsn"]), name="use")
        .end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="after")
    )
    return flow


def test_workers_build_their_own_resource_once_and_the_live_one_never_travels(client, provider, worker_pids):
    kind, log = provider
    executor = DaskExecutor(client, batch_size=2, environments=[{"kind": kind, "key": "conn", "config": {"dsn": "x"}}])
    flow = use_conn_flow(executor)
    for _ in range(2):  # a second run reuses what each worker started
        out = flow.start(list(range(20)), runtime_resources={"conn": NeverShipped()})["out"]
        assert [o[0] for o in out] == list(range(20))
        assert {o[1] for o in out} <= worker_pids and {o[2] for o in out} == {"x"}
    starts = [line for line in log_lines(log) if line.startswith("start")]
    assert 1 <= len(starts) <= 2 and {int(s.split()[1]) for s in starts} <= worker_pids
    released = executor.release_worker_resources()
    assert sum(released.values()) == len(starts) and set(released) == set(client.scheduler_info()["workers"])
    assert sorted(line.split()[1] for line in log_lines(log) if line.startswith("release")) == sorted(
        s.split()[1] for s in starts)


def test_the_executions_managed_environments_are_rebuilt_on_workers(client, provider, worker_pids):
    kind, log = provider
    executor = DaskExecutor(client, batch_size=5)
    out = use_conn_flow(executor).start(list(range(10)), execution_environments=[
        {"kind": kind, "key": "conn", "config": {"dsn": "managed"}}])["out"]
    assert {o[1] for o in out} <= worker_pids and {o[2] for o in out} == {"managed"}
    pids = [int(line.split()[1]) for line in log_lines(log) if line.startswith("start")]
    assert os.getpid() in pids  # the notebook process mounted its own, as for any execution
    executor.release_worker_resources()


def test_a_handler_capturing_a_live_resource_is_refused_before_anything_is_submitted(client, tmp_path):
    db = {"connection": "live"}  # picklable, but a runtime resource: it must still not travel
    ran = tmp_path / "ran"

    def query(d):
        ran.write_text("yes")
        return db["connection"]

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(query).end_for_each()

    async def main():
        execution = flow.create_execution(auto_close=False, runtime_resources={"db": db})
        with pytest.raises(RemoteSerializationError) as info:
            await execution.async_start([1, 2])
        return execution, info.value

    before = set(scheduler_task_keys(client))
    execution, error = asyncio.run(main())
    assert str(error) == (
        "chunk 'query' in 'for_each@first' uses variable 'db', which is runtime resource 'db' of the notebook "
        "process; live resources are never shipped to Dask workers. Let each worker build its own: register a "
        "provider (triggerflow_nb.execution_environment.register('<kind>', start=...)), pass "
        "DaskExecutor(client, environments=[{'kind': '<kind>', 'key': 'db'}]) and call "
        "data.require_resource('db') inside the chunk")
    assert not ran.exists() and not set(scheduler_task_keys(client)) - before
    assert execution.status == "failed"


def test_a_handler_closing_over_a_lock_is_refused_naming_the_variable(client):
    lock = threading.Lock()

    def guarded(d):
        with lock:
            return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(guarded).end_for_each()
    with pytest.raises(RemoteSerializationError, match=re.escape(
            "chunk 'guarded' in 'for_each@first' cannot be shipped to Dask workers (it uses variable 'lock', a "
            "lock, which cannot be pickled): ")):
        flow.start([1])


def test_requiring_a_notebook_only_resource_on_a_worker_says_how_to_provide_it(client):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(
        lambda d: d.require_resource("db"), name="use").end_for_each()
    with pytest.raises(RemoteResourceError) as info:
        flow.start([1], runtime_resources={"db": NeverShipped()})
    assert re.fullmatch(re.escape(
        "chunk 'use' needs runtime resource 'db', a live object of the notebook process, which is never shipped "
        "to Dask workers. Let each worker build its own: register a provider "
        "(triggerflow_nb.execution_environment.register('<kind>', start=...)) and pass "
        "execution_environments=[{'kind': '<kind>', 'key': 'db'}] to the execution, or "
        "DaskExecutor(client, environments=[...]) (item 0 of 'for_each@first', on Dask worker ") + r"tcp://[\d.:]+\)",
        str(info.value)), str(info.value)


def test_requiring_an_unknown_resource_on_a_worker_lists_what_workers_have(client):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(
        lambda d: d.get_resource("nope", "default-used") + "|" + str(d.require_resource("other")),
        name="use").end_for_each()
    with pytest.raises(RemoteResourceError, match=re.escape(
            "chunk 'use' needs runtime resource 'other', which Dask workers do not have (available on workers: "
            "none); provide it with a managed environment")):
        flow.start([1])


def test_an_unregistered_provider_kind_is_refused_at_submit(client):
    executor = DaskExecutor(client, environments=["no_such_kind_registered"])
    with pytest.raises(EnvironmentProviderError, match=re.escape(
            "no execution environment provider for kind 'no_such_kind_registered' (resource "
            "'no_such_kind_registered' on Dask workers)")):
        use_conn_flow(executor).start([1])


LIVE_DB = {"connection": "live"}  # a module global a handler can use: mounted as runtime resource "db" below


class QueryObject:
    """A callable object: its __call__ is what ships, and what is checked."""

    def __call__(self, d):
        return LIVE_DB["connection"]


class QueryClass:
    """A callable object whose __call__ is a classmethod (a bound method of the class)."""

    @classmethod
    def __call__(cls, d):
        return LIVE_DB["connection"]


@pytest.mark.parametrize("handler", [QueryObject(), QueryClass()], ids=["__call__", "classmethod __call__"])
def test_a_callable_object_using_a_live_resource_is_refused(client, handler):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(
        handler, name="query").end_for_each()
    with pytest.raises(RemoteSerializationError) as info:
        flow.start([1], runtime_resources={"db": LIVE_DB})
    assert str(info.value).startswith("chunk 'query' in 'for_each@first' uses variable 'LIVE_DB', which is runtime "
                                      "resource 'db' of the notebook process; live resources are never shipped")


def test_a_plain_value_captured_first_does_not_hide_a_live_resource(client):
    a_limit = 3  # plain values are skipped (`is` proves nothing for them); the check goes on to the next
    db = {"connection": "live"}

    def query(d):
        return db["connection"] * a_limit

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(query).end_for_each()
    with pytest.raises(RemoteSerializationError, match=re.escape(
            "chunk 'query' in 'for_each@first' uses variable 'db', which is runtime resource 'db' of the notebook "
            "process")):
        flow.start([1], runtime_resources={"db": db})


def test_of_two_unpicklable_variables_the_first_is_named(client):
    a_lock = threading.Lock()
    z_lock = threading.RLock()

    def guarded(d):
        with a_lock, z_lock:
            return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(guarded).end_for_each()
    with pytest.raises(RemoteSerializationError, match=re.escape(
            "chunk 'guarded' in 'for_each@first' cannot be shipped to Dask workers (it uses variable 'a_lock', a "
            "lock, which cannot be pickled): ")):
        flow.start([1])


class Scaler:
    def __init__(self, factor):
        self.factor = factor

    def scale(self, d):
        return d.input * self.factor

    def __call__(self, d):
        return d.input + self.factor


def multiply(d, factor):
    return d.input * factor


def test_handlers_that_are_not_plain_functions_run_on_workers(client):
    import functools

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").batch(
        ("object", Scaler(100)), ("method", Scaler(10).scale), ("partial", functools.partial(multiply, factor=3)),
        ("builtin", repr), executor=DaskExecutor(client, batch_size=1),
    ).to(lambda d: d.set_state("out", d.input), name="after")
    out = flow.start(7, runtime_resources={"db": LIVE_DB})["out"]
    assert out == {"object": 107, "method": 70, "partial": 21, "builtin": "<WorkerData chunk='repr' item=3 input=7>"}


def test_a_handler_whose_closure_variable_was_never_set_fails_on_the_worker(client):
    def make():
        def handler(d):
            return missing

        if False:
            missing = None  # never runs: the handler's closure cell stays empty
        return handler

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(
        make(), name="handler").end_for_each()
    with pytest.raises(RemoteItemError) as info:
        flow.start([1])
    assert type(info.value.original) is NameError
    assert re.fullmatch(r"chunk 'handler' raised NameError: cannot access free variable 'missing' where it is not "
                        r"associated with a value in enclosing scope \(item 0 of 'for_each@first', on Dask worker "
                        r"tcp://[\d.:]+\)", str(info.value)), str(info.value)


def test_two_resources_of_one_kind_are_built_side_by_side_on_a_worker(client, provider, worker_pids):
    kind, log = provider
    executor = DaskExecutor(client, batch_size=10, environments=[
        {"kind": kind, "key": "a", "config": {"dsn": "A"}}, {"kind": kind, "key": "b", "config": {"dsn": "B"}}])
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=executor).to(
        lambda d: (d.require_resource("a")["dsn"], d.require_resource("b")["dsn"], d.require_resource("a")["pid"]),
        name="use").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    out = flow.start(list(range(4)))["out"]
    assert [o[:2] for o in out] == [["A", "B"]] * 4
    assert {o[2] for o in out} <= worker_pids
    starts = [line for line in log_lines(log) if line.startswith("start")]
    assert len(starts) == 2 and len(set(starts)) == 1  # one batch: both on the worker that ran it
    assert sum(executor.release_worker_resources().values()) == 2


def test_an_asynchronous_client_releases_what_the_workers_built(client, provider):
    from distributed import Client

    kind, log = provider

    async def main():
        async with Client(client.scheduler.address, asynchronous=True) as aclient:
            executor = DaskExecutor(aclient, batch_size=5, environments=[
                {"kind": kind, "key": "conn", "config": {"dsn": "async"}}])
            out = await use_conn_flow(executor).async_start(list(range(10)))
            return out, await executor.async_release_worker_resources()

    out, released = asyncio.run(main())
    assert [o[0] for o in out["out"]] == list(range(10)) and {o[2] for o in out["out"]} == {"async"}
    starts = [line for line in log_lines(log) if line.startswith("start")]
    assert set(released) == set(client.scheduler_info()["workers"]) and sum(released.values()) == len(starts) >= 1
    assert len([line for line in log_lines(log) if line.startswith("release")]) == len(starts)
