"""An execution paused after a Dask fan-out saves, loads elsewhere and goes on."""

import json

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.distributed import DaskExecutor

pytestmark = pytest.mark.timeout(120)


def review_flow(executor):
    flow = TriggerFlow(name="review")
    (
        flow.to(lambda d: d.set_state("n", len(d.input)) or d.input, name="first")
        .for_each(executor=executor).to(lambda d: d.input * d.input, name="square").end_for_each()
        .to(lambda d: d.set_state("squares", d.input) or d.pause_for(type="approval", payload=sum(d.input),
                                                                    interrupt_id="approve"), name="review")
        .to(lambda d: d.set_state("verdict", d.input), name="after")
    )
    return flow


def test_paused_after_the_fan_out_saves_loads_and_continues(client):
    flow = review_flow(DaskExecutor(client, batch_size=3))
    execution = flow.start_execution(list(range(8)))
    assert execution.get_pending_interrupts()["approve"]["payload"] == 140
    saved = json.loads(json.dumps(execution.save()))  # plain JSON: no client, no executor inside

    # Another "kernel": the same definition with its own client object and batch size.
    restored = review_flow(DaskExecutor(client, batch_size=5)).create_execution(auto_close=False)
    restored.load(saved)
    restored.continue_with("approve", "ok")
    assert restored.close() == {"n": 8, "squares": [i * i for i in range(8)], "verdict": "ok"}

    execution.continue_with("approve", "ok")  # the uninterrupted run ends the same
    assert execution.close() == restored.result.get_state()


def test_a_snapshot_saved_on_dask_loads_into_the_local_definition_and_back(client):
    on_dask = review_flow(DaskExecutor(client)).start_execution([1, 2, 3])
    local = review_flow(None).create_execution(auto_close=False)
    local.load(on_dask.save())
    local.continue_with("approve", "local")
    assert local.close() == {"n": 3, "squares": [1, 4, 9], "verdict": "local"}
    on_dask.close(pending_interrupts="cancel")


def test_a_fan_out_after_a_load_runs_on_the_loaded_flows_executor(client):
    flow = TriggerFlow(name="then_fan_out")
    (
        flow.to(lambda d: d.pause_for(type="go", interrupt_id="go"), name="wait")
        .for_each(executor=DaskExecutor(client, batch_size=2)).to(lambda d: d.input + 1, name="inc").end_for_each()
        .to(lambda d: d.set_state("out", d.input), name="after")
    )
    saved = flow.start_execution(None).save()
    restored = flow.create_execution(auto_close=False)
    restored.load(saved)
    restored.continue_with("go", [10, 20, 30])
    assert restored.close() == {"out": [11, 21, 31]}
