"""runtime/retry.py: which chunk retry() would run again (``retryable``), the refusals and the
reopening of ``retry_failed_chunk``, and ``require_wired``.

``retryable`` and ``require_wired`` are checked on stubs of what they read; the retry itself
through real executions, whose parts it puts back together.
"""

import asyncio
from types import SimpleNamespace

import pytest

import triggerflow_nb
from triggerflow_nb import TriggerFlow
from triggerflow_nb.errors import ChunkError, FlowDefinitionError, InvalidArgumentError, LifecycleError
from triggerflow_nb.observe import ExecutionClosed, ExecutionReplaced, StateChanged
from triggerflow_nb.runtime.retry import require_wired, retry_failed_chunk, retryable
from triggerflow_nb.runtime.walk_state import WalkState

REFUSED = "retry() re-runs the chunk whose failure ended an execution; execution {id} is {where}"


def failed_data(node_id="step", frames=()):
    return SimpleNamespace(_node=SimpleNamespace(id=node_id), _frames=frames)


@pytest.mark.parametrize("status, announced, data, expected", [
    ("failed", True, failed_data(), "step"),
    ("failed", True, failed_data(frames=(("then", "if1", 0),)), "step"),
    ("failed", True, failed_data(frames=(("then", "if1", 0), ("slot", "fan#1", 2))), None),
    ("failed", True, None, None),
    ("failed", False, failed_data(), None),  # the failure's close has not finished
    ("completed", True, failed_data(), None),
    ("cancelled", True, failed_data(), None),
])
def test_retryable_names_the_failed_chunk_only_when_retry_could_run_it(status, announced, data, expected):
    walk = WalkState()
    walk.failed_chunk = data
    assert retryable(SimpleNamespace(status=status, announced=announced), walk) == expected


def test_require_wired_passes_when_nothing_is_missing_and_names_the_gap_otherwise():
    asked = []

    def gap(node_id, frames):
        asked.append((node_id, frames))
        return None if node_id == "here" else "arm 1 of the block 'if1'"

    walker = SimpleNamespace(continuation_gap=gap)
    require_wired(walker, "f", "here", (), "what", "since", "call()", "kept")
    with pytest.raises(FlowDefinitionError) as info:
        require_wired(walker, "f", "gone", (("then", "if1", 1),), "chunk 'gone' failed", "the failure", "retry()",
                      "the execution stays as it failed")
    assert str(info.value) == (
        "chunk 'gone' failed, and flow 'f' no longer has arm 1 of the block 'if1' it goes on through (its wiring "
        "changed since the failure): wire it back and call retry() again; the execution stays as it failed")
    assert asked == [("here", ()), ("gone", (("then", "if1", 1),))]


# -- refusals --------------------------------------------------------------------------------------------


def flaky_flow(fixed, name="flaky"):
    flow = TriggerFlow(name=name)

    def step(data):
        data.set_state("replaced", "by step")
        data.set_state("created", True)
        data.append_state("log", "step")
        if not fixed:
            raise ValueError("not yet")
        return data.input + 1

    flow.to(lambda data: data.set_state("replaced", "before") or data.input, name="first").to(step, name="step").to(
        lambda data: data.append_state("log", f"after {data.input}"), name="after")
    return flow


@pytest.mark.parametrize("stage, where", [("created", "open, created"), ("idle", "open, idle"),
                                          ("completed", "closed, completed")])
def test_retry_of_a_run_that_did_not_fail_is_refused(stage, where):
    ex = flaky_flow([True]).create_execution(auto_close=False)
    if stage != "created":
        ex.start(1)
    if stage == "completed":
        ex.close()
    with pytest.raises(LifecycleError) as info:
        ex.retry()
    assert str(info.value) == REFUSED.format(id=ex.id, where=where)


def test_retry_of_a_run_that_failed_outside_a_chunk_says_so():
    flow = TriggerFlow(name="predicate")
    flow.to(lambda data: data.input, name="first").if_condition(lambda data: 1 / 0).to(
        lambda data: None, name="then").end_condition()
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    with pytest.raises(LifecycleError) as info:
        ex.retry()
    assert str(info.value) == REFUSED.format(id=ex.id, where="closed, failed") + (
        " and did not fail in a chunk (a predicate or a release failed)")
    assert ex.retryable_chunk() is None


def test_retry_of_another_chunk_than_the_failed_one_is_refused_and_changes_nothing():
    ex = flaky_flow([]).create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    before = ex.get_state()
    with pytest.raises(InvalidArgumentError) as info:
        ex.retry("after")
    assert str(info.value) == (f"chunk 'after' did not fail in execution {ex.id}: retry('step') (or retry()) re-runs "
                               f"the one that did")
    assert (ex.get_state(), ex.status, ex.lifecycle_state, ex.retryable_chunk()) == (before, "failed", "closed", "step")


def test_retry_of_a_chunk_that_failed_inside_a_for_each_is_refused():
    flow = TriggerFlow(name="fan")
    flow.to(lambda data: [1, 2], name="items").for_each().to(lambda data: 1 / (data.input - 2), name="divide") \
        .end_for_each()
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(None)
    with pytest.raises(LifecycleError) as info:
        ex.retry()
    assert str(info.value) == ("chunk 'divide' failed inside a batch or for_each, whose other items were cancelled "
                               "with it; retry() cannot rebuild them: start a new execution")


def test_a_retry_refused_for_a_wiring_gap_leaves_the_failed_run_exactly_as_it_was():
    ex = flaky_flow([]).create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    before = (ex.get_state(), ex.status, ex.lifecycle_state, ex.node_status(), ex.result.get_meta()["close_reason"])
    events = []
    ex.channel.subscribe(events.append)
    walker = SimpleNamespace(continuation_gap=lambda node_id, frames: f"the chunk {node_id!r}")

    async def retry():
        await retry_failed_chunk(None, execution_id=ex.id, flow=ex.flow, lifecycle=ex._lifecycle,
                                 walk_state=ex._walk_state, state=ex._state, walker=walker, work=ex._work,
                                 resources=ex._resources, channel=ex._channel)

    with pytest.raises(FlowDefinitionError) as info:
        asyncio.run(asyncio.wait_for(retry(), 5))
    assert str(info.value) == (
        "chunk 'step' failed, and flow 'flaky' no longer has the chunk 'step' it goes on through (its wiring changed "
        "since the failure): wire it back and call retry() again; the execution stays as it failed")
    assert (ex.get_state(), ex.status, ex.lifecycle_state, ex.node_status(),
            ex.result.get_meta()["close_reason"]) == before
    assert events == []


# -- the retry ----------------------------------------------------------------------------------------


def test_retry_undoes_the_chunks_writes_reopens_and_runs_it_again():
    fixed = []
    ex = flaky_flow(fixed).create_execution(auto_close=False)
    ex.set_state("log", ["outside"])
    with pytest.raises(ChunkError):
        ex.start(1)
    assert ex.get_state() == {"log": ["outside", "step"], "replaced": "by step", "created": True}
    assert ex.node_status() == {"first": "done", "step": "failed"}
    events = []
    ex.channel.subscribe(events.append)
    seen_at_start = []
    ex.channel.subscribe(lambda event: seen_at_start.append((ex.get_state(), ex.node_status(), ex.lifecycle_state))
                         if isinstance(event, ExecutionReplaced) else None, state_changes=False)
    fixed.append(True)
    assert ex.retry() is ex
    # the state before the chunk, its failed status gone, the run open again
    assert seen_at_start == [({"log": ["outside"], "replaced": "before"}, {"first": "done"}, "open")]
    assert ex.get_state() == {"log": ["outside", "step", "after 2"], "replaced": "by step", "created": True}
    assert (ex.status, ex.lifecycle_state, ex.retryable_chunk(), ex.result.get_meta()["error"]) == (
        "idle", "open", None, None)
    assert ex.node_status() == {"first": "done", "step": "done", "after": "done"}
    assert events[0] == ExecutionReplaced(ex.id, "retry")
    assert [e.key for e in events if isinstance(e, StateChanged)] == ["replaced", "created", "log", "log"]
    assert ex.close() == ex.get_state()


def test_a_retry_that_fails_again_leaves_the_same_state_and_can_be_retried_again():
    fixed = []
    ex = flaky_flow(fixed).create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    after_first = ex.get_state()
    with pytest.raises(ChunkError, match="^chunk 'step' raised ValueError: not yet$"):
        ex.retry()
    assert (ex.get_state(), ex.status, ex.retryable_chunk()) == (after_first, "failed", "step")
    fixed.append(True)
    ex.retry("step")
    assert ex.get_state()["log"] == ["step", "after 2"]
    ex.close()


def test_a_retry_that_fails_in_another_chunk_makes_that_one_the_chunk_to_retry():
    fixed, after_fixed = [], []
    flow = TriggerFlow(name="two-faults")

    def step(data):
        if not fixed:
            raise ValueError("step broke")
        return data.input

    def after(data):
        if not after_fixed:
            raise ValueError("after broke")
        data.set_state("done", data.input)

    flow.to(step, name="step").to(after, name="after")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError, match="step broke"):
        ex.start(1)
    fixed.append(True)
    with pytest.raises(ChunkError, match="after broke"):
        ex.retry()
    assert (ex.retryable_chunk(), ex.node_status()) == ("after", {"step": "done", "after": "failed"})
    with pytest.raises(InvalidArgumentError, match=r"^chunk 'step' did not fail in execution \w+: retry\('after'\)"):
        ex.retry("step")
    after_fixed.append(True)
    ex.retry("after")
    assert ex.close() == {"done": 1}


def test_a_successful_retry_cannot_be_repeated():
    fixed = []
    ex = flaky_flow(fixed).create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    fixed.append(True)
    ex.retry()
    with pytest.raises(LifecycleError) as info:
        ex.retry()
    assert str(info.value) == REFUSED.format(id=ex.id, where="open, idle")
    ex.close()


def test_retry_brings_back_the_interrupts_that_the_failures_close_cancelled():
    fixed = []
    flow = TriggerFlow(name="paused")
    flow.to(lambda data: data.pause_for(interrupt_id="approval"), name="ask")

    def fail(data):
        if not fixed:
            raise ValueError("broken")
        data.set_state("failed_once", True)

    flow.when("Fail").to(fail, name="fail")
    flow.when("Approved").to(lambda data: data.set_state("approved", data.input), name="approved")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(ChunkError):
        ex.emit("Fail")
    assert ex.get_interrupt("approval")["status"] == "cancelled"
    fixed.append(True)
    ex.retry()
    assert (ex.status, list(ex.get_pending_interrupts())) == ("waiting", ["approval"])
    ex.continue_with("approval", "yes")
    assert ex.close() == {"failed_once": True}


def test_a_retry_with_auto_close_returns_the_close_snapshot_with_a_completed_close():
    fixed = []
    ex = flaky_flow(fixed).create_execution(auto_close_timeout=0.01)
    events = []
    ex.channel.subscribe(events.append, state_changes=False)
    with pytest.raises(ChunkError):
        ex.start(1)
    fixed.append(True)
    assert ex.retry() == {"replaced": "by step", "created": True, "log": ["step", "after 2"]}
    closes = [e for e in events if isinstance(e, ExecutionClosed)]
    assert closes == [ExecutionClosed(ex.id, "failed", "chunk 'step' failed: ValueError: not yet"),
                      ExecutionClosed(ex.id, "completed", "auto-close after 0.01s idle")]


@pytest.fixture
def release_fails_once():
    manager = triggerflow_nb.execution_environment
    releases = []

    async def start(config):
        return "resource"

    async def release(resource):
        releases.append(resource)
        if len(releases) == 1:
            raise RuntimeError("first release fails")

    manager.register("parts_retry_pool", start, release=release, replace=True)
    yield releases
    manager.unregister("parts_retry_pool")
    assert manager.active() == {}, "a test leaked a managed resource"


def test_the_close_after_a_retry_does_not_raise_the_failed_closes_release_error(release_fails_once):
    """The failure's close could not release its environment; retry() reopened the run and mounted a
    new one, whose release succeeds. That later close must not raise the earlier close's error."""
    fixed = []
    ex = flaky_flow(fixed).create_execution(auto_close=False, execution_environments=["parts_retry_pool"])
    with pytest.raises(ChunkError):
        ex.start(1)
    fixed.append(True)
    ex.retry()
    reopened_meta = ex.result.get_meta()["release_error"]
    try:
        ex.close()
        raised = None
    except Exception as exc:
        raised = f"{type(exc).__name__}: {exc}"
    assert (reopened_meta, raised) == (None, None)
    assert release_fails_once == ["resource", "resource"]
