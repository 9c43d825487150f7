"""Chunks inside patterns use state, resources, emit and stream exactly as on the main chain;
patterns combine; re-running a wiring with blocks (a notebook cell run twice) changes nothing."""

import asyncio

import pytest

from triggerflow_nb import TriggerFlow


class Client:
    """A live object: only ever a runtime resource, never state."""

    def __init__(self):
        self.calls = []


def layered(tag):
    """A handler that touches every layer, as a chunk on the main chain would."""

    async def handler(d):
        client = d.require_resource("client")
        client.calls.append((tag, d.input))
        await d.async_append_state("visited", [tag, d.input])
        d.state.set(f"last_{tag}", d.input)
        await d.async_put_into_stream((tag, d.input))
        await d.async_emit("Touched", [tag, d.input])
        d.emit_nowait("TouchedLater", tag)
        return f"{tag}:{d.input}"

    handler.__name__ = f"layered_{tag}"
    return handler


def on_events(flow):
    flow.when("Touched").to(lambda d: d.append_state("touched", d.input), name="record_touched")
    flow.when("TouchedLater").to(lambda d: d.append_state("later", d.input), name="record_later")


WIRINGS = {
    "main chain": lambda c: c.to(layered("main")),
    "if arm": lambda c: c.if_condition(lambda d: True, name="always").to(layered("if")).end_condition(),
    "else arm": lambda c: (c.if_condition(lambda d: False, name="never").to(lambda d: "no", name="no")
                           .else_condition().to(layered("else")).end_condition()),
    "match case": lambda c: c.match().case(7).to(layered("case")).end_match(),
    "batch branch": lambda c: c.batch(("only", layered("batch"))).to(lambda d: d.input["only"], name="unwrap"),
    "for_each body": lambda c: c.for_each().to(layered("each")).end_for_each().to(lambda d: d.input[0],
                                                                                  name="first_item"),
}


@pytest.mark.parametrize("where", list(WIRINGS))
def test_a_chunk_inside_a_pattern_uses_every_layer_as_on_the_main_chain(where):
    flow = TriggerFlow(name=f"layers in {where}")
    on_events(flow)
    WIRINGS[where](flow.to(lambda d: d.input, name="first")).to(lambda d: d.set_state("out", d.input), name="out")
    client = Client()

    async def main():
        execution = flow.create_execution(runtime_resources={"client": client}, auto_close=False)
        await execution.async_start(7)
        snapshot = await execution.async_close()
        stream = [item async for item in execution.get_async_runtime_stream(timeout=1)]
        return snapshot, stream

    snapshot, stream = asyncio.run(main())
    tag = {"main chain": "main", "if arm": "if", "else arm": "else", "match case": "case",
           "batch branch": "batch", "for_each body": "each"}[where]
    assert snapshot == {
        "visited": [[tag, 7]],
        f"last_{tag}": 7,
        "touched": [[tag, 7]],
        "later": [tag],
        "out": f"{tag}:7",
    }
    assert stream == [(tag, 7)]
    assert client.calls == [(tag, 7)]


def test_a_sub_flow_chunk_uses_its_own_state_and_captured_resources_and_streams_to_the_parent():
    child = TriggerFlow(name="layered_child")
    on_events(child)
    child.to(layered("child"))
    parent = TriggerFlow(name="layered_parent")
    parent.to(lambda d: d.input, name="first").to_sub_flow(
        child, capture={"resources": {"client": "resources.client"}},
        write_back={"state.child_snapshot": "snapshot"})
    client = Client()

    async def main():
        execution = parent.create_execution(runtime_resources={"client": client}, auto_close=False)
        await execution.async_start(3)
        snapshot = await execution.async_close()
        return snapshot, [item async for item in execution.get_async_runtime_stream(timeout=1)]

    snapshot, stream = asyncio.run(main())
    assert snapshot == {"child_snapshot": {
        "visited": [["child", 3]], "last_child": 3, "touched": [["child", 3]], "later": ["child"],
    }}
    assert stream == [("child", 3)]
    assert client.calls == [("child", 3)]


def build_pipeline(flow, reviewer):
    """if + for_each + sub-flow (+ match and batch) in one wiring."""

    def is_batch(d):
        return isinstance(d.input, list)

    def keep_items(d):
        d.set_state("items", d.input)
        return d.input

    async def score(d):
        await asyncio.sleep(0.001 * (5 - len(d.input)))  # finish out of order
        return {"word": d.input, "score": len(d.input)}

    (
        flow.to(lambda d: d.input, name="receive")
        .if_condition(is_batch)
        .for_each(concurrency=2)
        .match()
        .case("a").to(lambda d: {"word": d.input, "score": 1, "tag": "tiny"}, name="tiny")
        .case_else()
        .to(score)
        .to_sub_flow(reviewer, capture={"input": "value"}, write_back={"value": "result"}, name="review")
        .end_match()
        .end_for_each()
        .to(keep_items)
        .batch(("words", lambda d: [r["word"] for r in d.input]),
               ("total", lambda d: sum(r["score"] for r in d.input)))
        .else_condition()
        .to(lambda d: {"words": [d.input], "total": len(d.input)}, name="single")
        .end_condition()
        .to(lambda d: d.set_state("summary", d.input), name="summarize")
    )


def make_reviewer():
    reviewer = TriggerFlow(name="reviewer")

    def review(d):
        d.put_into_stream(f"reviewed {d.input['word']}")
        verdict = "long" if d.input["score"] > 3 else "short"
        d.set_result({**d.input, "tag": verdict})

    reviewer.to(review)
    return reviewer


def test_if_for_each_and_sub_flow_together():
    flow = TriggerFlow(name="pipeline")
    build_pipeline(flow, make_reviewer())

    async def main():
        execution = flow.create_execution(auto_close=False)
        await execution.async_start(["a", "tree", "in", "forest"])
        snapshot = await execution.async_close()
        return snapshot, [item async for item in execution.get_async_runtime_stream(timeout=1)]

    with pytest.warns(DeprecationWarning, match="set_result"):
        snapshot, stream = asyncio.run(main())
    assert snapshot == {
        "items": [
            {"word": "a", "score": 1, "tag": "tiny"},
            {"word": "tree", "score": 4, "tag": "long"},
            {"word": "in", "score": 2, "tag": "short"},
            {"word": "forest", "score": 6, "tag": "long"},
        ],
        "summary": {"words": ["a", "tree", "in", "forest"], "total": 13},
    }
    assert sorted(stream) == ["reviewed forest", "reviewed in", "reviewed tree"]
    assert flow.start("solo") == {"summary": {"words": ["solo"], "total": 4}}


def wire_everything(flow, child):
    """A notebook cell with every block kind in it."""

    def positive(d):
        return d.input > 0

    def even(d):
        return d.input % 2 == 0

    (
        flow.to(lambda d: d.input, name="first")
        .for_each(concurrency=3)
        .if_condition(positive)
        .match()
        .case(2).to(lambda d: "two", name="two")
        .case_else()
        .if_condition(even).to(lambda d: d.input // 2, name="half").else_condition().end_condition()
        .end_match()
        .elif_condition(lambda d: d.input == 0, name="zero").to(lambda d: "zero", name="zero_word")
        .else_condition().to_sub_flow(child, write_back={"value": "snapshot.neg"})
        .end_condition()
        .end_for_each()
        .batch(("items", lambda d: d.input), ("count", lambda d: len(d.input)))
        .to(lambda d: d.set_state("out", d.input), name="store")
    )


def graph_shape(flow):
    graph = flow._graph
    return (
        list(graph.nodes),
        graph.edges(),
        {n.id: [(b.label, b.entry, b.tail, b.is_default, b.case_value) for b in n.branches]
         for n in graph.nodes.values()},
        sorted(flow._handlers),
        set(flow._open_blocks),
        {k: list(v) for k, v in graph.listeners.items()},
    )


def test_rerunning_a_wiring_with_blocks_does_not_duplicate_edges_or_arms():
    child = TriggerFlow(name="negate")
    child.to(lambda d: d.set_state("neg", -d.input), name="negate")
    flow = TriggerFlow(name="cell")
    wire_everything(flow, child)
    shape = graph_shape(flow)
    expected = {"out": {"items": ["two", 2, 3, "zero", 5], "count": 5}}
    assert flow.start([2, 4, 3, 0, -5]) == expected
    wire_everything(flow, child)  # the same cell, run again
    wire_everything(flow, child)
    assert graph_shape(flow) == shape
    assert flow.start([2, 4, 3, 0, -5]) == expected


def test_rerunning_an_edited_predicate_or_arm_replaces_it():
    flow = TriggerFlow(name="edited")

    def wire(limit, label):
        def big(d):
            return d.input > limit

        (
            flow.to(lambda d: d.input, name="first")
            .if_condition(big).to(lambda d: label, name="label")
            .else_condition().to(lambda d: "small", name="small")
            .end_condition()
            .to(lambda d: d.set_state("out", d.input), name="store")
        )

    wire(10, "big")
    assert flow.start(5) == {"out": "small"}
    wire(1, "huge")  # the cell edited and run again
    assert flow.start(5) == {"out": "huge"}
    if_nodes = [n for n in flow._graph.nodes.values() if n.kind == "if"]
    assert [len(n.branches) for n in if_nodes] == [2]
