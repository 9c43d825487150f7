"""A Dask fan-out gives exactly what the local for_each/batch gives, in item order."""

import asyncio
import os
import time

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.distributed import DaskExecutor
from triggerflow_nb.observe import ChunkFinished, ChunkStarted, FanOutProgress

pytestmark = pytest.mark.timeout(120)


def words_flow(executor=None, name="words"):
    """A two-chunk body and steps after the loop, as in tests/patterns/test_for_each.py."""
    flow = TriggerFlow(name=name)
    (
        flow.to(lambda d: d.input, name="first")
        .for_each(executor=executor).to(lambda d: f"w{d.input}", name="tag")
        .to(lambda d: (d.input, len(d.input)), name="measure")
        .end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="after")
    )
    return flow


def test_same_results_and_order_as_the_local_for_each(client):
    items = list(range(2000))
    local = words_flow().start(items)
    remote = words_flow(DaskExecutor(client, batch_size=64)).start(items)
    assert remote == local
    assert remote["out"][:3] == [["w0", 2], ["w1", 2], ["w2", 2]]  # tuples come back as lists in state
    assert len(remote["out"]) == 2000


def test_results_keep_item_order_when_batches_finish_in_reverse(client, worker_pids):
    def slow_first(d):
        time.sleep(0.05 * (6 - d.input))  # item 0 sleeps longest: later batches finish first
        return (d.input, os.getpid())

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client, batch_size=1)).to(
        slow_first).end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    out = flow.start(list(range(6)))["out"]
    assert [index for index, _ in out] == [0, 1, 2, 3, 4, 5]
    pids = {pid for _, pid in out}
    assert pids <= worker_pids and os.getpid() not in pids


def test_items_ran_in_worker_processes_on_both_workers(client, worker_pids):
    def where(d):
        time.sleep(0.02)
        return os.getpid()

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client, batch_size=2)).to(
        where).end_for_each().to(lambda d: d.set_state("pids", sorted(set(d.input))), name="after")
    assert flow.start(list(range(40)))["pids"] == sorted(worker_pids)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 10, 11, 1000])
def test_every_batch_size_gives_the_same_list(client, batch_size):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client, batch_size=batch_size)).to(
        lambda d: d.input * 3, name="triple").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    assert flow.start(list(range(10)))["out"] == [i * 3 for i in range(10)]


@pytest.mark.parametrize("value, expected", [([], []), ("abc", ["abcabc"]), (5, [10]), ((1, 2), [2, 4])])
def test_empty_input_and_scalars_as_locally(client, value, expected):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(
        lambda d: d.input * 2, name="double").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    assert flow.start(value) == {"out": expected}


def test_an_empty_body_passes_items_through_without_dask(client):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).end_for_each().to(
        lambda d: d.set_state("out", d.input), name="after")
    assert flow.start([3, 1, 2]) == {"out": [3, 1, 2]}


def test_async_handlers_run_on_the_workers_loop(client):
    async def fetch(d):
        await asyncio.sleep(0.001)
        return {"item": d.input, "pid": os.getpid()}

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client, batch_size=5)).to(
        fetch).end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    out = flow.start(list(range(12)))["out"]
    assert [o["item"] for o in out] == list(range(12))
    assert os.getpid() not in {o["pid"] for o in out}

    def loop_threads():
        import threading

        return [thread.daemon for thread in threading.enumerate() if thread.name == "triggerflow_nb-worker-loop"]

    # A daemon thread: the worker's loop never keeps a worker process from exiting.
    by_worker = client.run(loop_threads)
    assert [flags for flags in by_worker.values() if flags] and all(
        flags in ([], [True]) for flags in by_worker.values()), by_worker


def test_batch_branches_run_on_dask_and_join_by_name(client):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").batch(
        ("double", lambda d: d.input * 2), ("pid", lambda d: os.getpid()), ("neg", lambda d: -d.input),
        executor=DaskExecutor(client, batch_size=1),
    ).to(lambda d: d.set_state("out", d.input), name="after")
    out = flow.start(21)["out"]
    assert list(out) == ["double", "pid", "neg"]
    assert out["double"] == 42 and out["neg"] == -21 and out["pid"] != os.getpid()


def test_workers_read_state_as_it_was_at_fan_out_time(client):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.set_state("factor", 10) or d.input, name="first")
        .for_each(executor=DaskExecutor(client, batch_size=2))
        .to(lambda d: (d.input * d.get_state("factor"), d.get_state("missing", "dflt"), d.state["factor"],
                       sorted(d.get_state())), name="scale")
        .end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="after")
    )
    assert flow.start([1, 2, 3])["out"] == [[10, "dflt", 10, ["factor"]], [20, "dflt", 10, ["factor"]],
                                            [30, "dflt", 10, ["factor"]]]


def test_a_for_each_nested_in_a_local_one_runs_on_dask(client):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .for_each(executor=DaskExecutor(client, batch_size=2)).to(lambda d: d.input * 2, name="double").end_for_each()
        .to(lambda d: sum(d.input), name="row_sum")
        .end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="after")
    )
    assert flow.start([[1, 2], [3], [], 4]) == {"out": [6, 6, 0, 8]}


def test_progress_advances_once_per_finished_batch(client):
    flow = words_flow(DaskExecutor(client, batch_size=4))
    seen = []

    async def main():
        execution = flow.create_execution(auto_close=False)
        execution.channel.subscribe(lambda e: seen.append(e) if isinstance(e, FanOutProgress) else None)
        await execution.async_start(list(range(10)))
        await execution.async_close()
        return execution

    execution = asyncio.run(main())
    done = [e.done for e in seen]
    assert {e.total for e in seen} == {10}
    assert done[0] == 0 and done[-1] == 10 and len(done) == 4  # the start, then one per batch of 4, 4, 2
    assert sorted(b - a for a, b in zip(done, done[1:])) == [2, 4, 4]
    statuses = execution.node_status()
    assert statuses["for_each@first"] == "done" and statuses["tag"] == "done" and statuses["measure"] == "done"


def test_body_chunks_are_started_before_the_batches_and_finished_after_them(client):
    flow = words_flow(DaskExecutor(client, batch_size=4))
    seen = []

    def watch(event):
        if isinstance(event, (ChunkStarted, ChunkFinished, FanOutProgress)):
            seen.append((type(event).__name__, event.node_id, event.execution_id))

    async def main():
        execution = flow.create_execution(auto_close=False)
        execution.channel.subscribe(watch, state_changes=False)
        await execution.async_start(list(range(10)))
        await execution.async_close()
        return execution

    execution = asyncio.run(main())
    assert {run for _, _, run in seen} == {execution.id}
    assert [event[:2] for event in seen] == [
        ("ChunkStarted", "first"), ("ChunkFinished", "first"),
        ("FanOutProgress", "for_each@first"),  # done=0, before anything is submitted
        ("ChunkStarted", "tag"), ("ChunkStarted", "measure"),  # once each for the whole fan-out
        ("FanOutProgress", "for_each@first"), ("FanOutProgress", "for_each@first"),
        ("FanOutProgress", "for_each@first"),  # one per batch of 4, 4, 2
        ("ChunkFinished", "tag"), ("ChunkFinished", "measure"),
        ("ChunkStarted", "after"), ("ChunkFinished", "after"),
    ]


def test_the_executor_changes_neither_the_fingerprint_nor_the_blueprint(client):
    plain, on_dask = words_flow(), words_flow(DaskExecutor(client))
    assert on_dask.flow_graph.fingerprint() == plain.flow_graph.fingerprint()
    assert words_flow(DaskExecutor(client, batch_size=3)).flow_graph.fingerprint() == plain.flow_graph.fingerprint()


def test_the_graph_shows_the_block_runs_on_dask(client):
    dot = words_flow(DaskExecutor(client)).to_dot()
    assert '[label="for_each on Dask" shape=trapezium' in dot
    assert '[label="for_each" shape=trapezium' in words_flow().to_dot()


def test_concurrency_caps_the_batches_in_flight(client, tmp_path):
    spans = tmp_path / "spans"

    def timed_item(d):
        start = time.time()
        time.sleep(0.05)
        with open(spans, "a") as f:
            f.write(f"{start} {time.time()}\n")
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(concurrency=1, executor=DaskExecutor(client, batch_size=2)).to(
        timed_item).end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    assert flow.start(list(range(8))) == {"out": list(range(8))}
    intervals = sorted(tuple(map(float, line.split())) for line in spans.read_text().splitlines())
    assert len(intervals) == 8
    # One batch at a time on two workers: no two items ever overlap.
    assert all(prev_end <= next_start for (_, prev_end), (next_start, _) in zip(intervals, intervals[1:]))


def test_an_asynchronous_client_on_the_flows_loop_works_too(client):
    from distributed import Client

    async def main():
        async with Client(client.scheduler.address, asynchronous=True) as aclient:
            flow = TriggerFlow()
            flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(aclient, batch_size=3)).to(
                lambda d: -d.input, name="neg").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
            return await flow.async_start(list(range(10)))

    assert asyncio.run(main()) == {"out": [-i for i in range(10)]}
