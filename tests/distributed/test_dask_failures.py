"""Failures on workers behave like local ones: named, typed, the rest cancelled, state kept."""

import asyncio
import gc
import os
import re
import sys
import time

import pytest
from dask_keys import scheduler_task_keys

from triggerflow_nb import TriggerFlow
from triggerflow_nb.distributed import (
    DaskExecutor,
    RemoteItemError,
    RemoteOperationError,
    RemoteStateWriteError,
    RemoteWorkerLostError,
)
from triggerflow_nb.errors import full_traceback
from triggerflow_nb.observe import ChunkCancelled, ChunkFinished, ChunkStarted

pytestmark = pytest.mark.timeout(120)


def one_step_flow(handler, executor, name=None):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.set_state("before", "kept") or d.input, name="first")
        .for_each(executor=executor).to(handler, name=name).end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="after")
    )
    return flow


def run_until_failed(flow, items):
    async def main():
        execution = flow.create_execution(auto_close=False)
        with pytest.raises(Exception) as info:
            await execution.async_start(items)
        return execution, info.value

    return asyncio.run(main())


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


async def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(0.02)


def test_an_item_error_names_chunk_item_and_worker_and_keeps_state(client):
    workers = set(client.scheduler_info()["workers"])

    def check(d):
        if d.input == 13:
            raise ValueError(f"bad item {d.input}")
        return d.input

    execution, error = run_until_failed(one_step_flow(check, DaskExecutor(client, batch_size=4)), list(range(20)))
    assert type(error) is RemoteItemError
    match = re.fullmatch(r"chunk 'check' raised ValueError: bad item 13 \(item 13 of 'for_each@first', "
                         r"on Dask worker (tcp://127\.0\.0\.1:\d+)\)", str(error))
    assert match, str(error)
    assert match.group(1) in workers and error.worker == match.group(1)
    assert error.item_index == 13 and error.chunk_name == "check" and error.block_id == "for_each@first"
    assert type(error.original) is ValueError and error.__cause__ is error.original
    assert "in check\nValueError: bad item 13" in error.remote_traceback
    assert execution.status == "failed"
    assert execution.result.get_state() == {"before": "kept"}
    assert execution.node_status()["check"] == "failed"
    assert execution.result.get_meta()["close_reason"].startswith("chunk 'check' failed: ValueError: bad item 13")


def test_an_exception_that_cannot_travel_back_still_names_its_type_and_message(client):
    class Unshippable(Exception):
        def __reduce__(self):
            raise TypeError("no pickling")

    def check(d):
        raise Unshippable("local only")

    _, error = run_until_failed(one_step_flow(check, DaskExecutor(client)), [7])
    assert type(error) is RemoteItemError and type(error.original) is RuntimeError
    assert str(error).startswith("chunk 'check' raised RuntimeError: Unshippable: local only (item 0 of")


def test_an_item_error_cancels_the_other_items(client, tmp_path):
    started = tmp_path / "started"

    def item(d):
        with open(started, "a") as f:
            f.write(f"{d.input}\n")
        if d.input == 1:
            raise KeyError("one")
        time.sleep(0.4)
        return d.input

    t0 = time.monotonic()
    _, error = run_until_failed(one_step_flow(item, DaskExecutor(client, batch_size=1)), list(range(30)))
    assert time.monotonic() - t0 < 5  # it did not wait for 30 x 0.4 s of items
    assert str(error).startswith("chunk 'item' raised KeyError: 'one' (item 1 of 'for_each@first', on Dask worker")
    time.sleep(1.0)  # anything not cancelled would start meanwhile
    ran = lines(started)
    assert "1" in ran and len(ran) <= 4, ran  # at most the items already on the 2 workers
    asyncio.run(wait_for(lambda: not scheduler_task_keys(client)))


def test_cancelling_the_running_cell_cancels_the_dask_tasks(client, tmp_path):
    started = tmp_path / "started"

    def item(d):
        with open(started, "a") as f:
            f.write(f"{d.input}\n")
        time.sleep(0.3)
        return d.input

    flow = one_step_flow(item, DaskExecutor(client, batch_size=1))
    seen = []

    def watch(event):
        if isinstance(event, (ChunkStarted, ChunkFinished, ChunkCancelled)):
            seen.append((type(event).__name__, event.node_id, getattr(event, "reason", None)))

    async def main():
        execution = flow.create_execution(auto_close=False)
        execution.channel.subscribe(watch, state_changes=False)
        task = asyncio.ensure_future(execution.async_start(list(range(40))))
        await wait_for(lambda: len(lines(started)) >= 2)
        task.cancel()  # what Kernel -> Interrupt does to the cell's await
        with pytest.raises(asyncio.CancelledError):
            await task
        return execution

    execution = asyncio.run(main())
    asyncio.run(wait_for(lambda: not scheduler_task_keys(client)))
    count = len(lines(started))
    time.sleep(0.8)
    # Nothing starts after the cancel has settled, and the fan-out was cut short. How many items
    # started before the cancel reached the workers depends on the machine's load (8 were seen).
    assert len(lines(started)) == count and count < 40
    assert execution.node_status()["for_each@first"] == "running"  # cut short, as a local for_each
    assert execution.node_status()["item"] == "cancelled"
    assert execution.result.get_state() == {"before": "kept"}
    # The body chunk shows as started when the batches are submitted, then as cut short.
    assert seen == [("ChunkStarted", "first", None), ("ChunkFinished", "first", None),
                    ("ChunkStarted", "item", None), ("ChunkCancelled", "item", "CancelledError")]


def test_close_with_a_timeout_mid_fan_out_cancels_it(client, tmp_path):
    started = tmp_path / "started"

    def item(d):
        with open(started, "a") as f:
            f.write(f"{d.input}\n")
        time.sleep(0.3)
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.emit_nowait("Go", d.input), name="first")
    flow.when("Go").for_each(executor=DaskExecutor(client, batch_size=1)).to(item).end_for_each().to(
        lambda d: d.set_state("out", d.input), name="after")

    async def main():
        execution = await flow.async_start_execution(list(range(40)))
        await wait_for(lambda: len(lines(started)) >= 1)
        snapshot = await execution.async_close(timeout=0.2)
        return execution, snapshot

    execution, snapshot = asyncio.run(main())
    assert snapshot == {} and execution.status == "cancelled"
    asyncio.run(wait_for(lambda: not scheduler_task_keys(client)))
    count = len(lines(started))
    time.sleep(0.8)
    # Nothing starts after the cancel has settled, and the fan-out was cut short. How many items
    # started before the cancel reached the workers depends on the machine's load (8 were seen).
    assert len(lines(started)) == count and count < 40


@pytest.mark.parametrize("write", [
    lambda d: d.set_state("x", 1),
    lambda d: d.append_state("x", 1),
    lambda d: d.del_state("x"),
    lambda d: d.state.set("x", 1),
])
def test_state_writes_on_workers_are_refused_with_advice(client, write):
    execution, error = run_until_failed(one_step_flow(write, DaskExecutor(client), name="write"), [5])
    assert type(error) is RemoteStateWriteError
    assert re.fullmatch(
        r"chunk 'write' tried to write state key 'x': state is a read-only snapshot on Dask workers \(taken when "
        r"the fan-out started\): return the value from the item's chunk instead and write it to state after "
        r"end_for_each\(\), where the next step receives the results in item order "
        r"\(item 0 of 'for_each@first', on Dask worker tcp://127\.0\.0\.1:\d+\)", str(error)), str(error)
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}


def test_async_state_writes_are_refused_too(client):
    async def write(d):
        await d.async_set_state("x", 1)

    _, error = run_until_failed(one_step_flow(write, DaskExecutor(client), name="write"), [5])
    assert type(error) is RemoteStateWriteError


@pytest.mark.parametrize("call, what", [
    (lambda d: d.emit("E", 1), "emit"),
    (lambda d: d.put_into_stream(1), "put_into_stream"),
    (lambda d: d.pause_for(type="approval"), "pause_for"),
    (lambda d: d.get_flow_data("k", no_warning=True), "*_flow_data"),
])
def test_notebook_only_operations_on_workers_are_refused(client, call, what):
    _, error = run_until_failed(one_step_flow(call, DaskExecutor(client), name="op"), [5])
    assert type(error) is RemoteOperationError
    assert str(error).startswith(f"chunk 'op' called data.{what}() on a Dask worker, where it is not supported: ")


def test_a_worker_lost_mid_batch_is_retried_once(client, tmp_path):
    marker = tmp_path / "died-once"

    def die_once(d):
        if d.input == 3 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-batch
        return d.input * 2

    flow = one_step_flow(die_once, DaskExecutor(client, batch_size=2))
    assert flow.start(list(range(8)))["out"] == [0, 2, 4, 6, 8, 10, 12, 14]
    assert marker.exists()


def test_a_worker_lost_again_on_the_retry_fails_the_items(client):
    def always_die(d):
        if d.input == 2:
            os._exit(1)
        return d.input

    # One batch, so that no other batch queued on a dying worker can be the one given up first.
    execution, error = run_until_failed(one_step_flow(always_die, DaskExecutor(client, batch_size=4)), list(range(4)))
    assert type(error) is RemoteWorkerLostError
    assert str(error).startswith("Dask workers died while running items 0..3 of 'for_each@first', also after "
                                 "Dask's retry: Attempted to run task 'triggerflow_nb-for_each@first-")
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}


def test_an_item_that_cannot_travel_is_refused_naming_its_index(client):
    import threading

    flow = one_step_flow(lambda d: d.input, DaskExecutor(client, batch_size=2), name="same")
    execution, error = run_until_failed(flow, [1, 2, 3, threading.Lock(), 5])
    assert type(error).__name__ == "RemoteSerializationError"
    assert str(error).startswith("item 3 of 'for_each@first' (lock) cannot be shipped to Dask workers: ")
    assert execution.status == "failed"


def test_a_result_that_cannot_travel_back_fails_its_item(client):
    import threading

    def make(d):
        return threading.Lock() if d.input == 2 else d.input

    _, error = run_until_failed(one_step_flow(make, DaskExecutor(client, batch_size=4)), [0, 1, 2, 3])
    assert type(error).__name__ == "RemoteSerializationError"
    assert re.fullmatch(r"the result of chunk 'make' for item 2 \(lock\) cannot be sent back from the worker: .*; "
                        r"return plain data "
                        r"\(numbers, strings, lists, dicts\) \(item 2 of 'for_each@first', on Dask worker "
                        r"tcp://[\d.:]+\)", str(error)), str(error)


def test_a_closed_client_is_refused_with_advice(client):
    from distributed import Client

    closed = Client(client.scheduler.address, timeout=30)
    executor = DaskExecutor(closed)
    closed.close(timeout=10)
    execution, error = run_until_failed(one_step_flow(lambda d: d.input, executor, name="same"), [1, 2])
    assert type(error).__name__ == "ExecutorConfigError"
    assert str(error) == ("the Dask client of 'for_each@first' is closed: connect a new Client and pass "
                          "DaskExecutor(new_client, ...) to the block (re-run its cell)")
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}


def _rebuild_on_workers_only(value):
    # Asked of Dask, not of a pid taken at import: the process that imported this module may
    # not be the one that runs the test (scripts/mutate.py imports once and forks per mutant).
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not in a worker: the notebook process
        raise RuntimeError("only rebuilt on workers") from None
    return WorkerOnly(value)


class WorkerOnly:
    """A result that pickles on the worker but cannot be rebuilt in the notebook process."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return (_rebuild_on_workers_only, (self.value,))


def test_a_result_that_cannot_be_rebuilt_in_the_notebook_fails_its_item(client):
    workers = set(client.scheduler_info()["workers"])

    def make(d):
        return WorkerOnly(d.input) if d.input == 6 else d.input

    execution, error = run_until_failed(one_step_flow(make, DaskExecutor(client, batch_size=4)), list(range(8)))
    assert type(error).__name__ == "RemoteSerializationError"
    match = re.fullmatch(r"the result of chunk 'make' for item 6 cannot be rebuilt in the notebook process: "
                         r"RuntimeError: only rebuilt on workers; return plain data \(numbers, strings, lists, "
                         r"dicts\) or make its type importable here \(item 6 of 'for_each@first', on Dask worker "
                         r"(tcp://127\.0\.0\.1:\d+)\)", str(error))
    assert match, str(error)
    assert match.group(1) in workers and error.worker == match.group(1)
    assert (error.item_index, error.chunk_name) == (6, "make")
    assert type(error.__cause__) is RuntimeError and str(error.__cause__) == "only rebuilt on workers"
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}
    assert execution.node_status()["make"] == "failed"


class StopItem(BaseException):
    """Not an Exception: what `except Exception` in a worker would let through."""


@pytest.mark.parametrize("stop, shown", [
    (StopItem("custom"), "StopItem: custom"),
    (KeyboardInterrupt("interrupted"), "KeyboardInterrupt: interrupted"),
    (SystemExit(3), "SystemExit: 3"),
])
def test_an_item_raising_a_base_exception_names_its_index_chunk_and_worker(client, stop, shown):
    workers = set(client.scheduler_info()["workers"])

    def check(d):
        if d.input == 5:
            raise stop
        return d.input

    execution, error = run_until_failed(one_step_flow(check, DaskExecutor(client, batch_size=4)), list(range(8)))
    assert type(error) is RemoteItemError
    match = re.fullmatch(rf"chunk 'check' raised {shown} \(item 5 of 'for_each@first', on Dask worker "
                         rf"(tcp://127\.0\.0\.1:\d+)\)", str(error))
    assert match, str(error)
    assert match.group(1) in workers and error.worker == match.group(1)
    assert (error.item_index, error.chunk_name, error.block_id) == (5, "check", "for_each@first")
    assert type(error.original).__name__ == type(stop).__name__ and error.__cause__ is error.original
    assert ", in check\n" in error.remote_traceback
    assert error.remote_traceback.splitlines()[-1].endswith(shown)
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}
    assert execution.node_status()["check"] == "failed"
    assert len(client.scheduler_info()["workers"]) == 2  # no worker died of it


def test_a_body_that_cannot_be_rebuilt_on_workers_names_the_items_and_the_worker(client, tmp_path, monkeypatch):
    import importlib

    (tmp_path / "notebook_only_helpers.py").write_text("def double(d):\n    return d.input * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the notebook process has the module; workers do not
    helpers = importlib.import_module("notebook_only_helpers")
    workers = set(client.scheduler_info()["workers"])

    try:
        execution, error = run_until_failed(one_step_flow(helpers.double, DaskExecutor(client, batch_size=4)),
                                            list(range(3)))
    finally:
        del sys.modules["notebook_only_helpers"]
    assert type(error).__name__ == "RemoteSerializationError"
    match = re.fullmatch(r"items 0\.\.2 of 'for_each@first' could not start on Dask worker (tcp://127\.0\.0\.1:\d+): "
                         r"the body's handlers or the items cannot be rebuilt there \(ModuleNotFoundError: No module "
                         r"named 'notebook_only_helpers'\); install every module they use on the workers, for the "
                         r"same Python as the notebook, or define the handlers in a notebook cell \(they then travel "
                         r"by value\) \(item 0 of 'for_each@first', on Dask worker \1\)", str(error))
    assert match, str(error)
    assert match.group(1) in workers and error.worker == match.group(1)
    assert (error.item_index, error.chunk_name) == (0, "double")
    assert execution.node_status()["double"] == "failed"
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}


@pytest.mark.parametrize("batch_size, items", [(1, "item 3"), (2, r"items 2\.\.3")])
def test_a_batch_that_cannot_start_names_its_one_item_or_its_range(client, tmp_path, monkeypatch, batch_size, items):
    import importlib

    (tmp_path / "notebook_only_items.py").write_text("class Point:\n    def __init__(self, x):\n        self.x = x\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the notebook process has the item's class; workers do not
    points = importlib.import_module("notebook_only_items")
    try:
        execution, error = run_until_failed(one_step_flow(lambda d: d.input, DaskExecutor(client, batch_size=batch_size),
                                                          name="same"), [0, 1, 2, points.Point(3), 4])
    finally:
        del sys.modules["notebook_only_items"]
    first = 3 if batch_size == 1 else 2  # the failing batch's first item
    assert type(error).__name__ == "RemoteSerializationError"
    assert re.fullmatch(rf"{items} of 'for_each@first' could not start on Dask worker (tcp://127\.0\.0\.1:\d+): "
                        r"the body's handlers or the items cannot be rebuilt there \(ModuleNotFoundError: No module "
                        r"named 'notebook_only_items'\); install every module they use on the workers, for the "
                        r"same Python as the notebook, or define the handlers in a notebook cell \(they then travel "
                        rf"by value\) \(item {first} of 'for_each@first', on Dask worker \1\)", str(error)), str(error)
    assert (error.item_index, error.chunk_name) == (first, "same")
    assert execution.status == "failed" and execution.result.get_state() == {"before": "kept"}


def test_a_kept_error_holds_none_of_the_cancelled_batches(client):
    def item(d):
        if d.input == 0:
            raise ValueError("first")
        time.sleep(0.3)
        return d.input

    before = set(client.refcount)
    # The error keeps its whole traceback (full_traceback), the executor's frame included; that frame
    # must not keep the Dask futures of the batches it cancelled (nor their results on the cluster).
    execution, error = run_until_failed(one_step_flow(item, DaskExecutor(client, batch_size=1)), list(range(12)))
    assert type(error) is RemoteItemError and error.item_index == 0
    assert "in run_job\n" in full_traceback(error)

    def held():
        gc.collect()  # what only a reference cycle holds is not held
        return sorted(str(key) for key in set(client.refcount) - before if str(key).startswith("triggerflow_nb-"))

    deadline = time.monotonic() + 10  # the client drops a key on its own loop, soon after its last future
    while held() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held() == []
    assert execution.status == "failed"


def test_a_cancel_reaches_batches_that_another_holder_wants_too(client, tmp_path):
    from distributed import Future

    started = tmp_path / "started"

    def item(d):
        with open(started, "a") as f:
            f.write(f"{d.input}\n")
        time.sleep(0.3)
        return d.input

    flow = one_step_flow(item, DaskExecutor(client, batch_size=1))
    published = []

    async def main():
        execution = flow.create_execution(auto_close=False)
        task = asyncio.ensure_future(execution.async_start(list(range(40))))

        def batches():
            return [key for key in scheduler_task_keys(client) if key.startswith("triggerflow_nb-for_each@first-")]

        await wait_for(lambda: len(batches()) == 40)  # all submitted, the first ones running
        # Batches 20.. are still queued (two workers, 0.3 s an item): a published dataset wants them too.
        late = [key for key in batches() if int(key.rsplit("-", 1)[1]) >= 20]
        client.publish_dataset(late_batches=[Future(key, client) for key in late])
        published.append("late_batches")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return late

    try:
        late = asyncio.run(main())
        assert len(late) == 20
        # Cancelled with force=True: released for every holder, so the scheduler forgets them.
        asyncio.run(wait_for(lambda: not set(late) & set(scheduler_task_keys(client)), timeout=10))
    finally:
        for name in published:  # what the dataset still holds goes with it
            client.unpublish_dataset(name)
    assert len(lines(started)) < 40
