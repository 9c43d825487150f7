"""The walker talks to any ItemExecutor, not to Dask: a minimal in-process one proves the contract."""

import uuid

import cloudpickle
import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.distributed import ItemExecutor, RemoteItemError
from triggerflow_nb.distributed.batch_outcome import unpack
from triggerflow_nb.distributed.batch_runner import run_batch


class ReversedBatches:
    """Runs batches of 2 here, last batch first, through the same worker-side runner Dask uses."""

    label = "reversed batches"

    def __init__(self):
        self.batches = []

    async def run_job(self, job, on_batch):
        blob = cloudpickle.dumps((job.bodies, job.context))
        spans = [list(range(i, min(i + 2, len(job.items)))) for i in range(0, len(job.items), 2)]
        for span in reversed(spans):
            self.batches.append(span)
            batch = [(i, job.body_of[i], job.items[i]) for i in span]
            on_batch(unpack(run_batch(uuid.uuid4().hex, blob, cloudpickle.dumps(batch))))


def test_results_are_joined_in_item_order_whatever_order_batches_report():
    executor = ReversedBatches()
    assert isinstance(executor, ItemExecutor)
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=executor).to(
        lambda d: d.input * 10, name="x10").end_for_each().to(lambda d: d.set_state("out", d.input), name="after")
    assert flow.start([1, 2, 3, 4, 5]) == {"out": [10, 20, 30, 40, 50]}
    assert executor.batches == [[4], [2, 3], [0, 1]]
    assert flow.to_dot().count('label="for_each on reversed batches"') == 1


def test_an_error_record_fails_the_fan_out_with_the_item_index():
    def item(d):
        if d.input == 3:
            raise ValueError("three")
        return d.input

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=ReversedBatches()).to(item).end_for_each()
    with pytest.raises(RemoteItemError) as info:
        flow.start([0, 1, 2, 3, 4])
    assert str(info.value).startswith("chunk 'item' raised ValueError: three (item 3 of 'for_each@first', on Dask "
                                      "worker pid ")
