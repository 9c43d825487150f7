"""batch(("a", h1), ("b", h2), ..., concurrency=None): named branches on the same input."""

import asyncio

import pytest

from triggerflow_nb import ChunkError, TriggerFlow


def test_branches_get_the_same_input_and_the_next_step_gets_a_dict_in_declared_order(sink):
    seen = []

    def upper(d):
        seen.append(("upper", d.input))
        return d.input.upper()

    async def length(d):
        seen.append(("length", d.input))
        return len(d.input)

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .batch(("upper", upper), ("length", length), ("same", lambda d: d.input))
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start("hello")
    assert sink == [{"upper": "HELLO", "length": 5, "same": "hello"}]
    assert list(sink[0]) == ["upper", "length", "same"]
    assert sorted(seen) == [("length", "hello"), ("upper", "hello")]


def test_branches_run_concurrently(overlap, sink):
    async def a(d):
        await overlap.hold("a", 0.05)
        return "A"

    async def b(d):
        await overlap.hold("b", 0.05)
        return "B"

    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").batch(("a", a), ("b", b)).to(lambda d: sink.append(d.input), name="after")
    flow.start(None)
    # both entered before either left: the two sleeps overlapped
    assert overlap.log[:2] == [("enter", "a"), ("enter", "b")]
    assert sorted(overlap.log[2:]) == [("exit", "a"), ("exit", "b")]
    assert overlap.max_active == 2
    assert sink == [{"a": "A", "b": "B"}]


def test_concurrency_1_serializes_the_branches(overlap, sink):
    def branch(name):
        async def run(d):
            await overlap.hold(name, 0.01)
            return name * 2

        run.__name__ = f"branch_{name}"
        return run

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .batch(("a", branch("a")), ("b", branch("b")), ("c", branch("c")), concurrency=1)
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(None)
    assert overlap.max_active == 1
    assert overlap.log == [("enter", "a"), ("exit", "a"), ("enter", "b"), ("exit", "b"), ("enter", "c"), ("exit", "c")]
    assert sink == [{"a": "aa", "b": "bb", "c": "cc"}]


def test_concurrency_2_caps_branches_in_flight(overlap, sink):
    def branch(name, seconds):
        async def run(d):
            await overlap.hold(name, seconds)
            return name

        run.__name__ = f"branch_{name}"
        return run

    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .batch(*[(n, branch(n, 0.01 * (i + 1))) for i, n in enumerate("abcde")], concurrency=2)
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(None)
    assert overlap.max_active == 2
    assert [e for e in overlap.log if e[0] == "enter"][:2] == [("enter", "a"), ("enter", "b")]
    assert sink == [{"a": "a", "b": "b", "c": "c", "d": "d", "e": "e"}]


def test_the_same_handler_twice_and_chunk_names_as_branches(sink):
    flow = TriggerFlow()

    @flow.chunk("shout")
    def shout(d):
        return f"{d.input}!"

    def double(d):
        return d.input * 2

    (
        flow.to(lambda d: d.input, name="first")
        .batch(("x", double), ("y", double), ("z", "shout"), ("none", lambda d: None))
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start("ab")
    assert sink == [{"x": "abab", "y": "abab", "z": "ab!", "none": None}]


def test_a_batch_right_after_a_batch(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .batch(("inc", lambda d: d.input + 1), ("dec", lambda d: d.input - 1))
        .batch(("sum", lambda d: d.input["inc"] + d.input["dec"]), ("keys", lambda d: sorted(d.input)))
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(10)
    assert sink == [{"sum": 20, "keys": ["dec", "inc"]}]


def test_a_batch_inside_a_for_each_body(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .batch(("sq", lambda d: d.input ** 2), ("neg", lambda d: -d.input))
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start([1, 2, 3])
    assert sink == [[{"sq": 1, "neg": -1}, {"sq": 4, "neg": -2}, {"sq": 9, "neg": -3}]]


def test_a_failing_branch_fails_the_run_with_its_name_and_cancels_its_sibling(overlap):
    async def slow(d):
        await overlap.hold("slow", 5)

    async def broken(d):
        await asyncio.sleep(0.01)
        raise RuntimeError("branch broke")

    flow = TriggerFlow(name="batch_fail")
    flow.to(lambda d: d.input, name="first").batch(("slow", slow), ("broken", broken))
    with pytest.raises(ChunkError) as info:
        flow.start(None)
    assert str(info.value) == "chunk 'broken' raised RuntimeError: branch broke"
    assert overlap.log == [("enter", "slow"), ("exit", "slow")]  # left early: cancelled, not after 5 s
