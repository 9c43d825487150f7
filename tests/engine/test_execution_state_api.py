"""State and resources reached on the execution, from outside a chunk (issue 32, items 2 and 4).

* ``execution.set_state(key, value, emit=True)`` / ``async_set_state``: a write that triggers
  ``when({"state": key})`` branches runs them, as an outside emit (refused unless open; the
  first one starts an execution nobody started), and waits for them; ``emit=False`` only writes.
* ``execution.require_runtime_resource(name)``: the ``data.require_resource`` rule from outside.
* ``execution.get_runtime_data`` / ``set_runtime_data`` (and async forms): deprecated aliases of
  state, with the same one-time DeprecationWarning as on ``data``.
"""

import asyncio
import threading
import warnings

import pytest

from triggerflow_nb import (
    InvalidArgumentError,
    LifecycleError,
    MissingResourceError,
    StateSerializationError,
    TriggerFlow,
)


def watched_flow(name="watched"):
    """A start chain, and a branch that runs whenever state "level" is written."""
    flow = TriggerFlow(name=name)
    flow.to(lambda d: d.set_state("started_with", d.input), name="begin")
    flow.when({"state": "level"}).to(lambda d: d.append_state("heard", d.input), name="on_level")
    return flow


def run(coro, bound=10):
    return asyncio.run(asyncio.wait_for(coro, bound))


# -- set_state / async_set_state with emit= ---------------------------------------------------------


def test_set_state_runs_the_state_branches_and_waits_for_them():
    ex = watched_flow().create_execution(auto_close=False)
    ex.start(1)
    ex.set_state("level", 3)
    assert ex.get_state() == {"started_with": 1, "level": 3, "heard": [3]}
    ex.set_state("level", 4, emit=True)
    ex.set_state("level", 5, emit=False)
    ex.set_state("other", "x")  # nothing listens: only written
    assert ex.close() == {"started_with": 1, "level": 5, "heard": [3, 4], "other": "x"}


def test_async_set_state_waits_for_the_branches_it_triggered():
    flow = TriggerFlow(name="async-write")
    flow.to(lambda d: None, name="begin")

    async def slow_listener(data):
        await asyncio.sleep(0.01)
        data.set_state("seen", data.input)

    flow.when({"state": "level"}).to(slow_listener, name="listener")

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(None)
        await ex.async_set_state("level", "high")
        after_write = ex.get_state()
        await ex.async_set_state("level", "low", emit=False)
        return after_write, await ex.async_close()

    assert run(main()) == ({"level": "high", "seen": "high"}, {"level": "low", "seen": "high"})


def test_a_triggering_write_to_a_sealed_execution_is_refused_before_anything_is_written():
    ex = watched_flow("sealed-write").create_execution(auto_close=False)
    ex.start(1)
    ex.seal()
    with pytest.raises(LifecycleError) as info:
        ex.set_state("level", 9)
    assert str(info.value) == (
        f"cannot set state 'level' with emit=True, which runs its when({{'state': 'level'}}) branches (pass "
        f"emit=False to only write it): execution {ex.id} of flow 'sealed-write' is sealed (a sealed execution "
        f"only drains what it already accepted; unseal() opens it again)"
    )
    assert ex.get_state() == {"started_with": 1}
    ex.set_state("level", 9, emit=False)  # a plain write is still allowed until the close
    ex.set_state("free", 1)  # nothing listens to it: a plain write
    assert ex.close() == {"started_with": 1, "level": 9, "free": 1}
    with pytest.raises(LifecycleError, match=r"^cannot set state 'level' with emit=True, .* is closed; create a "):
        ex.set_state("level", 10)
    with pytest.raises(LifecycleError) as info:
        ex.set_state("level", 10, emit=False)
    assert str(info.value) == f"cannot write state key 'level' from outside a chunk: execution {ex.id} is closed"


def test_a_triggering_write_before_start_starts_the_execution_like_an_emit():
    flow = watched_flow("seeded")
    seeded = flow.create_execution(auto_close=False)
    seeded.set_state("level", 1, emit=False)  # seeding before start: no branch, not started
    assert (seeded.status, seeded.get_state()) == ("created", {"level": 1})
    assert seeded.start(0) is seeded
    assert seeded.close() == {"level": 1, "started_with": 0}

    triggered = flow.create_execution(auto_close=False)
    triggered.set_state("level", 2)
    assert (triggered.status, triggered.get_state()) == ("idle", {"level": 2, "heard": [2]})
    with pytest.raises(LifecycleError, match=r"^execution \w+ was already started by an outside emit"):
        triggered.start(0)
    assert triggered.close() == {"level": 2, "heard": [2]}


def test_outside_writes_are_checked_like_a_chunks():
    advice = ("State must stay serializable (it goes into the close snapshot and save()); put live objects such "
              "as clients, locks, sockets or callbacks into runtime_resources instead (create_execution("
              "runtime_resources={'level': obj}) and data.require_resource('level')). (from outside a chunk)")

    async def main():
        ex = watched_flow("checked").create_execution(auto_close=False)
        await ex.async_start(1)
        refused = []
        for write in (lambda: ex.set_state(3, "x"), lambda: ex.set_state("level", threading.Lock()),
                      lambda: ex.async_set_state("level", object()), lambda: ex.async_set_state(None, 1)):
            try:
                outcome = write()
                if asyncio.iscoroutine(outcome):
                    await outcome
            except (InvalidArgumentError, StateSerializationError) as exc:
                refused.append((type(exc).__name__, str(exc)))
        return refused, await ex.async_close()

    refused, snapshot = run(main())
    assert refused == [
        ("InvalidArgumentError", "state keys must be strings, got 3"),
        ("StateSerializationError", f"state key 'level': value is a _thread.lock, which is not JSON-compatible. "
                                    f"{advice}"),
        ("StateSerializationError", f"state key 'level': value is a builtins.object, which is not "
                                    f"JSON-compatible. {advice}"),
        ("InvalidArgumentError", "state keys must be strings, got None"),
    ]
    assert snapshot == {"started_with": 1}  # nothing written, no branch run


def test_a_failing_state_branch_reaches_the_writer():
    flow = TriggerFlow(name="failing-branch")
    flow.to(lambda d: None, name="begin")

    def refuse(data):
        raise ValueError(f"level {data.input} is too high")

    flow.when({"state": "level"}).to(refuse, name="refuse")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(Exception) as info:
        ex.set_state("level", 11)
    assert (type(info.value).__name__, str(info.value)) == ("ChunkError", "chunk 'refuse' raised ValueError: level "
                                                                         "11 is too high")
    assert (ex.status, ex.result.get_state()) == ("failed", {"level": 11})


def test_set_state_from_another_thread_runs_the_branches_on_the_executions_loop():
    flow = watched_flow("threaded")

    async def main():
        ex = flow.create_execution(auto_close=False)
        await ex.async_start(1)
        loop_thread = threading.get_ident()
        ran_on = []
        ex.channel.subscribe(lambda e: ran_on.append(threading.get_ident()), state_changes=False)
        thread = threading.Thread(target=lambda: ex.set_state("level", "from thread"))
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.005)
        return set(ran_on) == {loop_thread}, await ex.async_close()

    assert run(main()) == (True, {"started_with": 1, "level": "from thread", "heard": ["from thread"]})


# -- require_runtime_resource -------------------------------------------------------------------------


def test_require_runtime_resource_gives_the_object_itself_or_names_what_is_missing():
    flow = TriggerFlow(name="resources")
    flow.to(lambda d: None, name="begin")
    shared, own = object(), {"client": "c"}
    flow.update_runtime_resources(shared=shared)
    ex = flow.create_execution(auto_close=False, runtime_resources={"own": own})
    assert ex.require_runtime_resource("own") is own
    assert ex.require_runtime_resource("shared") is shared
    with pytest.raises(MissingResourceError) as info:
        ex.require_runtime_resource("db")
    assert str(info.value) == (
        f"missing runtime resource 'db' in execution {ex.id}; present: 'own', 'shared'. Inject it with "
        f"flow.create_execution(runtime_resources={{...}}), flow.update_runtime_resources(...), or "
        f"load(saved, runtime_resources={{...}})."
    )
    assert isinstance(info.value, KeyError) and info.value.missing == ["db"]
    ex.inject_resources(db=own)
    assert ex.require_runtime_resource("db") is own
    ex.start(None)
    ex.close()
    assert ex.require_runtime_resource("own") is own  # still readable after the close, as runtime_resources is


# -- the deprecated runtime_data aliases ---------------------------------------------------------------


def test_runtime_data_aliases_on_the_execution_work_and_warn_once_per_api():
    ex = watched_flow("aliases").create_execution(auto_close=False)
    ex.start(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ex.set_runtime_data("level", 2)
        ex.set_runtime_data("quiet", 1, emit=False)
        assert ex.get_runtime_data("level") == 2
        assert ex.get_runtime_data("absent", "dflt") == "dflt"
        assert ex.get_runtime_data() == {"started_with": 1, "level": 2, "heard": [2], "quiet": 1}

        async def both():
            await ex.async_set_runtime_data("level", 3)
            await ex.async_set_runtime_data("level", 4, emit=False)
            return await ex.async_get_runtime_data("level")

        assert run(both()) == 4
    assert [(w.category, str(w.message), w.filename) for w in caught] == [
        (DeprecationWarning, "execution.set_runtime_data() is deprecated; use execution.set_state() (runtime_data "
                             "is the old name of state)", __file__),
        (DeprecationWarning, "execution.get_runtime_data() is deprecated; use execution.get_state() (runtime_data "
                             "is the old name of state)", __file__),
        (DeprecationWarning, "execution.async_set_runtime_data() is deprecated; use execution.async_set_state() "
                             "(runtime_data is the old name of state)", __file__),
        (DeprecationWarning, "execution.async_get_runtime_data() is deprecated; use execution.get_state() "
                             "(runtime_data is the old name of state)", __file__),
    ]
    assert ex.close() == {"started_with": 1, "level": 4, "heard": [2, 3], "quiet": 1}


def test_the_aliases_refuse_what_set_state_refuses():
    ex = watched_flow("alias-refusals").create_execution(auto_close=False)
    ex.start(1)
    ex.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(LifecycleError, match=r"^cannot set state 'level' with emit=True"):
            ex.set_runtime_data("level", 1)
        with pytest.raises(LifecycleError, match=r"^cannot write state key 'other' from outside a chunk"):
            ex.set_runtime_data("other", 1)
        assert ex.get_runtime_data() == {"started_with": 1}
