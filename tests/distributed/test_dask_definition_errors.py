"""Wrong arguments and unsupported bodies are refused when written, with typed errors."""

import re

import pytest

from triggerflow_nb import FlowDefinitionError, TriggerFlow, TriggerFlowError
from triggerflow_nb.distributed import DaskExecutor, ExecutorConfigError, RemoteBodyError

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("client", ["tcp://127.0.0.1:8786", None, 42, object()])
def test_the_client_must_be_a_dask_client(client):
    with pytest.raises(ExecutorConfigError) as info:
        DaskExecutor(client)
    assert str(info.value) == (
        "DaskExecutor needs a dask.distributed.Client (e.g. Client(LocalCluster(n_workers=2)) or "
        f"Client('tcp://scheduler:8786')), got {type(client).__name__}")
    assert isinstance(info.value, TriggerFlowError) and isinstance(info.value, TypeError)


@pytest.mark.parametrize("batch_size", [0, -3, 1.5, True, "100", None])
def test_batch_size_must_be_a_positive_int(client, batch_size):
    with pytest.raises(ExecutorConfigError) as info:
        DaskExecutor(client, batch_size=batch_size)
    assert str(info.value) == f"DaskExecutor(batch_size=...) must be a positive int, got {batch_size!r}"


@pytest.mark.parametrize("environments, message", [
    ([42], "DaskExecutor(environments=...): an execution environment request is a kind name or a dict with "
           "'kind', got 42"),
    ([{"kind": "a", "config": {"f": object}}], "DaskExecutor(environments=...): execution environment config "
                                               "must be JSON-compatible (it is saved): "),
    (["a", "a"], "DaskExecutor(environments=...): execution_environments mount two resources under one key: "
                 "['a', 'a']"),
])
def test_environments_must_be_requests(client, environments, message):
    with pytest.raises(ExecutorConfigError, match="^" + re.escape(message)):
        DaskExecutor(client, environments=environments)


@pytest.mark.parametrize("executor", ["dask", 3, object()])
@pytest.mark.parametrize("method", ["for_each", "batch"])
def test_executor_must_be_an_item_executor(executor, method):
    flow = TriggerFlow()
    chain = flow.to(lambda d: d.input, name="first")
    with pytest.raises(FlowDefinitionError) as info:
        if method == "for_each":
            chain.for_each(executor=executor)
        else:
            chain.batch(("a", lambda d: 1), executor=executor)
    assert str(info.value) == (
        f"{method}(executor=...) must be None or an item executor such as "
        f"triggerflow_nb.distributed.DaskExecutor(client, batch_size=...), got {type(executor).__name__}")
    assert "first" in flow._graph.nodes and len(flow._graph.nodes) == 2  # nothing stray registered


def test_the_executor_class_instead_of_an_instance_is_refused():
    flow = TriggerFlow()
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor)
    assert str(info.value) == ("for_each(executor=...) got the class DaskExecutor, not an executor: create one, "
                               "e.g. DaskExecutor(client, batch_size=500)")


_SUPPORTED = ("only a plain chain of chunks (.to(a).to(b)...) can run on an executor; run nested blocks, "
              "sub-flows, pauses and event branches after end_for_each(), or drop executor= to run it here")


@pytest.mark.parametrize("body, block", [
    (lambda c: c.if_condition(lambda d: True).to(lambda d: 1, name="x").end_condition(),
     r"an if block 'if\[<lambda:[0-9a-f]{6}>\]@for_each@first#0'"),
    (lambda c: c.for_each().to(lambda d: 1, name="x").end_for_each(), "a for_each block 'for_each@for_each@first#0'"),
    (lambda c: c.batch(("a", lambda d: 1)), r"a batch block 'batch\[a\]@for_each@first#0'"),
    (lambda c: c.to(lambda d: 1, name="x").match().case(1).to(lambda d: 2, name="y").end_match(),
     "a match block 'match@x'"),
])
def test_bodies_with_blocks_are_refused_at_end_for_each(client, body, block):
    flow = TriggerFlow()
    chain = body(flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)))
    with pytest.raises(RemoteBodyError) as info:
        chain.end_for_each()
    assert re.fullmatch(f"'for_each@first' has {block} in its body: " + re.escape(_SUPPORTED), str(info.value)), \
        str(info.value)
    assert isinstance(info.value, FlowDefinitionError)


def test_a_sub_flow_in_the_body_is_refused(client):
    child = TriggerFlow(name="child")
    child.to(lambda d: d.input, name="c")
    flow = TriggerFlow()
    chain = flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to_sub_flow(child)
    with pytest.raises(RemoteBodyError, match=re.escape(
            "'for_each@first' has a sub_flow block 'sub_flow[child]@for_each@first#0' in its body: " + _SUPPORTED)):
        chain.end_for_each()


def test_an_event_branch_on_a_body_chunk_is_refused_when_the_run_starts(client):
    flow = TriggerFlow()
    (flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client))
     .to(lambda d: d.input, name="body").end_for_each())
    flow.when({"chunk": "body"}).to(lambda d: None, name="listener")  # wired later, in another cell
    with pytest.raises(RemoteBodyError, match=re.escape(
            "'for_each@first': a when() branch listens to body chunk 'body', but chunk events are not sent from "
            "workers: " + _SUPPORTED)):
        flow.start([1])


def test_a_side_path_from_the_body_is_refused_when_the_run_starts(client):
    flow = TriggerFlow()
    chain = flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client))
    body = chain.to(lambda d: d.input, name="a")
    body.to(lambda d: d.input, name="b").end_for_each()
    body.to(lambda d: None, name="side")  # a second successor of 'a'
    with pytest.raises(RemoteBodyError, match=re.escape(
            "'for_each@first': body chunk 'a' has 2 successors ['b', 'side']: " + _SUPPORTED)):
        flow.start([1])


def test_a_rerun_cell_without_executor_runs_locally_again(client):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").for_each(executor=DaskExecutor(client)).to(
        lambda d: d.input, name="x").end_for_each()
    flow.to(lambda d: d.input, name="first").for_each().to(lambda d: d.input, name="x").end_for_each()
    assert flow._graph.nodes["for_each@first"].executor is None


class NumberLabel:
    """Has what the protocol names (a label and run_job), but its label is not text."""

    label = 3

    async def run_job(self, job, on_batch):
        raise AssertionError("never run")


@pytest.mark.parametrize("method", ["for_each", "batch"])
def test_an_executor_whose_label_is_not_a_string_is_refused(method):
    flow = TriggerFlow()
    chain = flow.to(lambda d: d.input, name="first")
    with pytest.raises(FlowDefinitionError) as info:
        if method == "for_each":
            chain.for_each(executor=NumberLabel())
        else:
            chain.batch(("a", lambda d: 1), executor=NumberLabel())
    assert str(info.value) == (
        f"{method}(executor=...) must be None or an item executor such as "
        f"triggerflow_nb.distributed.DaskExecutor(client, batch_size=...), got NumberLabel")
