"""Paths that had no test: half-finished fan-outs and joins across save/load, what a loaded
execution reports, closed snapshots, saves while running, a failed run's other paths,
deep emit chains, and item coroutines a failing fan-out never started."""

import asyncio
import json

import pytest

from triggerflow_nb import ChunkError, SaveError, TriggerFlow


def round_trip(ex, flow):
    saved = json.loads(json.dumps(ex.save()))
    restored = flow.create_execution(auto_close=False)
    restored.load(saved)
    return saved, restored


def test_a_half_finished_for_each_keeps_its_finished_items_across_save_and_load():
    def build():
        flow = TriggerFlow(name="half-each")

        async def item(data):
            if data.input == 2 and not data.is_resume:
                await data.async_pause_for(type="slow item", resume_to="self", interrupt_id="two")
                return None
            return f"item {data.input}"

        flow.to(lambda data: data.input, name="items").for_each(name="each").to(item).end_for_each() \
            .to(lambda data: data.set_state("out", data.input), name="store")
        return flow

    ex = build().create_execution(auto_close=False)
    ex.start([1, 2, 3])
    saved, restored = round_trip(ex, build())
    assert saved["continuation"]["activations"][0]["slots"] == ["item 1", None, "item 3"]
    restored.continue_with("two", None)
    assert restored.close() == {"out": ["item 1", "item 2", "item 3"]}


def test_a_half_collected_and_join_completes_after_load():
    def build():
        flow = TriggerFlow(name="half-join")
        flow.when(["A", "B"], mode="and").to(lambda data: data.set_state("joined", data.input), name="joined")

        async def first(data):
            await data.async_emit("A", "a")
            await data.async_pause_for(type="wait for B", resume_to={"event": "B"}, interrupt_id="b")

        flow.to(first)
        return flow

    ex = build().create_execution(auto_close=False)
    ex.start(None)
    saved, restored = round_trip(ex, build())
    assert saved["continuation"]["joins"] == [{"node": "when:and(A,B)", "scope": "", "seen": {"A": "a"}}]
    restored.continue_with("b", "b")
    assert restored.close() == {"joined": {"event": {"A": "a", "B": "b"}}}


def test_a_loaded_execution_reports_the_saved_status_timestamps_and_node_status():
    def build():
        flow = TriggerFlow(name="meta")

        async def ask(data):
            await data.async_pause_for(type="ok?", interrupt_id="ask")

        flow.to(lambda data: data.set_state("seen", True), name="first").to(ask)
        return flow

    ex = build().create_execution(auto_close=False)
    ex.start(None)
    saved, restored = round_trip(ex, build())
    meta = restored.result.get_meta()
    assert (meta["status"], meta["lifecycle_state"], meta["created_at"], meta["started_at"], meta["closed_at"]) == (
        "waiting", "open", saved["created_at"], saved["started_at"], None)
    assert restored.node_status() == {"first": "done", "ask": "waiting"}
    assert restored.loaded_from == ex.id and restored.id != ex.id


def test_a_closed_snapshot_loads_as_a_record_that_cannot_run_again():
    flow = TriggerFlow(name="closed")
    flow.to(lambda data: data.set_state("v", 1))
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    saved, restored = round_trip(ex, flow)
    assert restored.lifecycle_state == "closed" and restored.status == "completed"
    assert restored.get_state() == {"v": 1} and restored.close() == {"v": 1}
    with pytest.raises(Exception, match="closed"):
        restored.emit("anything")


def test_save_is_refused_while_work_is_in_flight():
    flow = TriggerFlow(name="busy")
    seen = []

    async def busy(data):
        try:
            data.execution.save()
        except SaveError as exc:
            seen.append(str(exc))

    flow.to(busy)
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert seen == [f"cannot save execution {ex.id} while it is running (1 piece(s) of work in flight): save at a "
                    f"settled point, after start()/emit()/continue_with() has returned"]
    ex.close()


def test_a_failed_runs_other_path_stops_at_its_next_step():
    flow = TriggerFlow(name="stops")
    steps = []

    async def slow_path(data):
        await asyncio.sleep(0.05)
        steps.append("slow done")
        return 1

    def boom(data):
        raise RuntimeError("boom")

    flow.to(slow_path).to(lambda data: steps.append("after slow"), name="after_slow")
    flow.to(boom)
    with pytest.raises(ChunkError, match="^chunk 'boom' raised RuntimeError: boom$"):
        flow.start(None)
    assert "after slow" not in steps


def test_a_deep_chain_of_awaited_emits_does_not_hit_the_recursion_limit():
    flow = TriggerFlow(name="deep-emits")

    async def on_tick(data):
        await data.async_append_state("ticks", data.input)
        if data.input < 3000:
            await data.async_emit("tick", data.input + 1)

    flow.when("tick").to(on_tick)
    flow.to(lambda data: data.emit("tick", 1), name="go")
    assert flow.start(None)["ticks"] == list(range(1, 3001))


def test_a_failing_fan_out_closes_the_item_coroutines_it_never_started():
    # filterwarnings turns "coroutine ... was never awaited" into an error (pyproject.toml)
    flow = TriggerFlow(name="fail-fast")

    async def item(data):
        if data.input == 0:
            raise ValueError("first item fails")
        await asyncio.sleep(0)
        return data.input

    flow.to(lambda data: data.input, name="items").for_each(concurrency=2).to(item).end_for_each()
    with pytest.raises(ChunkError, match="^chunk 'item' raised ValueError: first item fails$"):
        flow.start(list(range(50)))


def test_a_failure_while_an_interrupt_waits_cancels_it_and_the_snapshot_loads():
    """Found by the panel agreement property: the failed run's snapshot kept a waiting interrupt,
    which its own load refused (a closed execution cannot be resumed)."""
    from triggerflow_nb import ChunkError, TriggerFlow

    def build():
        flow = TriggerFlow(name="fail-while-waiting")

        async def ask(data):
            await data.async_pause_for(type="approve", interrupt_id="approve")

        def boom(data):
            raise ValueError("broke")

        flow.to(ask)
        flow.when("Boom").to(boom)
        return flow

    ex = build().create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(ChunkError, match=r"^chunk 'boom' raised ValueError: broke"):
        ex.emit("Boom")
    assert (ex.lifecycle_state, ex.status, ex.get_pending_interrupts()) == ("closed", "failed", {})
    saved = ex.save()
    assert [(i["id"], i["status"], i["continuation"]) for i in saved["interrupts"]] == [("approve", "cancelled", [])]
    target = build().create_execution(auto_close=False)
    target.load(saved)
    assert (target.lifecycle_state, target.status) == ("closed", "failed")


def test_load_refuses_a_flow_without_a_handler_for_a_chunk_of_the_snapshot():
    """The same wiring in a fresh kernel, loaded before the cell registering a handler ran:
    load() says which chunk is missing, instead of a KeyError when the resumed path reaches it."""
    from triggerflow_nb import FlowDefinitionError, TriggerFlow

    async def ask(data):
        await data.async_pause_for(type="ok", interrupt_id="ok")

    def build(register_finish):
        flow = TriggerFlow(name="half-registered")
        flow.to(ask).to("finish")
        if register_finish:
            flow.chunk("finish")(lambda data: data.set_state("done", True))
        return flow

    ex = build(True).create_execution(auto_close=False)
    ex.start(None)
    saved = ex.save()
    ex.close(pending_interrupts="cancel")

    target = build(False).create_execution(auto_close=False)
    message = ("flow 'half-registered' uses chunk names with no handler: ['finish']; register them with "
               "@flow.chunk('name') or pass the function to .to(...)")
    assert target.inspect_load(saved) == {"ready": False, "missing_resource_keys": [],
                                          "diagnostics": [f"FlowDefinitionError: {message}"]}
    with pytest.raises(FlowDefinitionError) as info:
        target.load(saved)
    assert str(info.value) == message
    assert target.is_fresh()
