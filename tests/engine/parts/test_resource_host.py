"""``ResourceHost`` (runtime/resource_host.py) on its own: runtime resources and their events,
the managed environments it mounts, adopts and releases, and its snapshot slice."""

import asyncio
import json

import pytest

import triggerflow_nb
from triggerflow_nb.errors import EnvironmentProviderError, InvalidArgumentError, LifecycleError
from triggerflow_nb.observe import Channel, ResourcesChanged
from triggerflow_nb.runtime.resource_host import ResourceHost, check_managed_keys_are_free

POOL = [{"kind": "parts_pool", "key": "db", "config": {"dsn": "x"}}]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def make_host(given=None, flow_level=None, requests=None, observe=True):
    channel = Channel()
    events = []
    if observe:
        channel.subscribe(events.append)
    return ResourceHost("ex-1", channel, given, {} if flow_level is None else flow_level, requests), events


@pytest.fixture
def pool():
    manager = triggerflow_nb.execution_environment
    log = []

    async def start(config):
        log.append(("start", config))
        return {"dsn": config.get("dsn"), "n": sum(1 for entry in log if entry[0] == "start")}

    async def release(resource):
        log.append(("release", resource["n"]))

    manager.register("parts_pool", start, release=release, replace=True)
    yield log
    manager.unregister("parts_pool")
    assert manager.active() == {}, "a test leaked a managed resource"


# -- runtime resources ---------------------------------------------------------------------------


def test_set_and_delete_change_the_resources_and_each_announces_resources_changed():
    client = object()
    host, events = make_host(flow_level={"shared": 1})
    host.set("client", client)
    host.set("shared", 2)  # execution-level wins over the flow-level default
    host.delete("client")
    host.delete("shared")  # hides the flow-level default too
    host.delete("never")
    assert events == [ResourcesChanged("ex-1")] * 5
    assert (host.resources.keys(), host.resources.get("shared", "gone")) == ([], "gone")


def test_nothing_is_published_without_a_subscriber():
    host, events = make_host(observe=False)
    host.set("a", 1)
    host.delete("a")
    assert events == []


def test_a_key_that_is_not_a_str_is_refused_and_not_announced():
    host, events = make_host()
    with pytest.raises(InvalidArgumentError) as info:
        host.set(3, object())
    assert str(info.value) == "a runtime resource key must be a string, got 3"
    assert events == []


@pytest.mark.parametrize("requests, message", [
    ("db", "execution_environments must be a list, got str"),
    ("", "execution_environments must be a list, got str"),
    ({}, "execution_environments must be a list, got dict"),
    ([3], "an execution environment request is a kind name or a dict with 'kind', got 3"),
    ([{"kind": "p", "extra": 1}], "execution environment request has unknown keys ['extra']; use kind, key, config"),
    (["p", {"kind": "q", "key": "p"}], "execution_environments mount two resources under one key: ['p', 'p']"),
    ([{"kind": "p", "config": {"s": {1}}}],
     "execution environment config must be JSON-compatible (it is saved): Object of type set is not JSON serializable"),
])
def test_malformed_environment_requests_are_refused_at_creation(requests, message):
    with pytest.raises(InvalidArgumentError) as info:
        make_host(requests=requests)
    assert str(info.value) == message


def test_requests_are_normalized_to_plain_dicts():
    host, _ = make_host(requests=["cache", {"kind": "parts_pool", "key": "db", "config": {"dsn": "x"}}])
    assert host.requests == [{"kind": "cache", "key": "cache", "config": {}},
                             {"kind": "parts_pool", "key": "db", "config": {"dsn": "x"}}]
    assert make_host(requests=[])[0].requests == make_host(requests=None)[0].requests == []


def test_a_key_both_given_by_hand_and_requested_as_managed_is_refused():
    with pytest.raises(InvalidArgumentError) as info:
        make_host(given={"db": object(), "cache": 1, "free": 2}, requests=["cache", *POOL])
    assert str(info.value) == (
        "runtime resource key(s) ['cache', 'db'] are both passed in runtime_resources and requested as managed "
        "execution_environments: keep one (a managed resource is started and released for you)")


def test_check_managed_keys_are_free_passes_without_a_clash():
    check_managed_keys_are_free([{"kind": "k", "key": "db", "config": {}}], None)
    check_managed_keys_are_free([{"kind": "k", "key": "db", "config": {}}], {"other": 1})
    check_managed_keys_are_free([], {"db": 1})


# -- managed environments ------------------------------------------------------------------------


def test_mount_without_requests_does_nothing():
    host, events = make_host()
    run(host.mount(lambda: pytest.fail("not asked when nothing is mounted")))
    assert (host.leases, host.resources.keys(), events) == ([], [], [])


def test_mount_acquires_and_mounts_under_the_key_and_release_gives_it_back_once(pool):
    host, events = make_host(requests=POOL)

    async def main():
        await host.mount(lambda: False)
        mounted = (host.resources.get("db"), sorted(host.resources.managed_keys), len(host.leases))
        await host.release(None)
        await host.release(None)  # nothing left to release
        return mounted

    assert run(main()) == ({"dsn": "x", "n": 1}, ["db"], 1)
    assert pool == [("start", {"dsn": "x"}), ("release", 1)]
    assert host.leases == [] and events == []  # mounting is not a ResourcesChanged


def test_a_mount_that_finds_the_execution_closed_releases_what_it_acquired(pool):
    host, _ = make_host(requests=POOL)
    with pytest.raises(LifecycleError) as info:
        run(host.mount(lambda: True))
    assert str(info.value) == "execution ex-1 was closed while its managed environments were starting"
    assert pool == [("start", {"dsn": "x"}), ("release", 1)]
    assert (host.leases, host.resources.keys()) == ([], [])


def test_mount_then_runs_the_work_only_once_mounted(pool):
    host, _ = make_host(requests=POOL)
    seen = []

    async def work():
        seen.append(host.resources.get("db"))

    async def main():
        await host.mount_then(lambda: False, work)
        await host.release(None)

    run(main())
    assert seen == [{"dsn": "x", "n": 1}]


def test_a_failed_mount_never_calls_the_work():
    host, _ = make_host(requests=[{"kind": "parts_nobody", "key": "db", "config": {}}])
    called = []

    async def work():
        called.append(1)

    with pytest.raises(EnvironmentProviderError) as info:
        run(host.mount_then(lambda: False, work))
    assert str(info.value) == (
        "no execution environment provider for kind 'parts_nobody'; register one with "
        "triggerflow_nb.execution_environment.register('parts_nobody', start=..., release=...)")
    assert (called, host.leases) == ([], [])


def test_adopt_mounts_leases_and_appends_to_those_held(pool):
    host, _ = make_host(requests=POOL)

    async def main():
        leases = await ResourceHost.acquire_for_restore(host.requests, "open")
        host.adopt(leases)
        host.adopt([])
        held = list(host.leases)
        await host.release(5)
        return leases, held

    leases, held = run(main())
    assert held == leases and [lease.key for lease in leases] == ["db"]
    assert (host.resources.get("db"), host.resources.level_of("db")) == ({"dsn": "x", "n": 1}, "managed")


@pytest.mark.parametrize("lifecycle, requests", [("closed", POOL), ("open", []), ("sealed", [])])
def test_acquire_for_restore_acquires_nothing_for_a_closed_snapshot_or_no_request(pool, lifecycle, requests):
    assert run(ResourceHost.acquire_for_restore(requests, lifecycle)) == []
    assert pool == []


def test_deleting_a_managed_key_makes_it_a_plain_absent_key_but_the_lease_is_still_released(pool):
    host, _ = make_host(requests=POOL)

    async def main():
        await host.mount(lambda: False)
        host.delete("db")
        managed = set(host.resources.managed_keys)
        await host.release(None)
        return managed

    assert run(main()) == set()
    assert pool == [("start", {"dsn": "x"}), ("release", 1)]


# -- the snapshot slice ------------------------------------------------------------------------------


def test_capture_lists_keys_types_levels_and_requests_never_the_objects(pool):
    host, _ = make_host(given={"client": object(), "n": 3}, flow_level={"shared": "s", "n": 1}, requests=POOL)

    async def main():
        await host.mount(lambda: False)
        captured = host.capture()
        await host.release(None)
        return captured

    keys, described, environments = run(main())
    assert keys == ["client", "db", "n", "shared"]
    assert described == {
        "client": {"type": "object", "level": "execution", "managed": False},
        "db": {"type": "dict", "level": "execution", "managed": True},
        "n": {"type": "int", "level": "execution", "managed": False},
        "shared": {"type": "str", "level": "flow", "managed": False},
    }
    assert environments == POOL
    environments[0]["config"]["dsn"] = "changed"
    assert host.requests == POOL  # a copy


def test_the_slice_restores_into_a_fresh_host_with_the_live_objects_given_again(pool):
    client = object()
    source, _ = make_host(given={"client": client}, flow_level={"shared": 1}, requests=POOL)

    async def main():
        await source.mount(lambda: False)
        keys, described, environments = json.loads(json.dumps(source.capture()))
        target, events = make_host(flow_level={"shared": 1})
        target.restore({"client": client}, environments)
        target.adopt(await ResourceHost.acquire_for_restore(target.requests, "open"))
        again = target.capture()
        await source.release(None)
        await target.release(None)
        return (keys, described, environments), again, target, events

    captured, again, target, events = run(main())
    assert again == captured
    assert target.requests == POOL and target.resources.get("client") is client
    assert events == []  # restore sets resources without announcing them
    assert pool == [("start", {"dsn": "x"}), ("release", 1)]  # one shared resource, released by the last holder


def test_restore_without_requests_keeps_the_hosts_own():
    host, _ = make_host(requests=["cache"])
    host.restore({"a": 1}, [])
    assert host.requests == [{"kind": "cache", "key": "cache", "config": {}}]
    assert host.resources.keys() == ["a"]
