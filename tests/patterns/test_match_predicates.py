"""match: predicate cases (sync and async), and mode="hit_all"."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggerflow_nb import ChunkError, FlowDefinitionError, InvalidArgumentError, TriggerFlow


def sized(sink):
    flow = TriggerFlow(name="sized")

    async def is_huge(data):
        await asyncio.sleep(0)
        return data.input > 100

    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case(0).to(lambda d: "zero", name="on_zero")
        .case(is_huge).to(lambda d: "huge", name="on_huge")
        .case(lambda d: d.input > 10).to(lambda d: "big", name="on_big")
        .case(lambda d: d.input > 5).to(lambda d: "medium", name="on_medium")
        .case_else().to(lambda d: "small", name="on_small")
        .end_match()
        .to(lambda d: sink.append(d.input), name="after")
    )
    return flow


@pytest.mark.parametrize("value, expected", [(0, "zero"), (500, "huge"), (50, "big"), (7, "medium"), (3, "small")])
def test_predicate_cases_are_tried_in_order_and_the_first_true_wins(sink, value, expected):
    sized(sink).start(value)
    assert sink == [expected]


def test_a_lambda_case_is_a_predicate_not_a_value_compared_with_equality(sink):
    flow = TriggerFlow()
    flow.match().case(lambda d: d.input.startswith("x")).to(lambda d: "x-word", name="x") \
        .case_else().to(lambda d: "other", name="other").end_match().to(lambda d: sink.append(d.input), name="after")
    flow.start("xylophone")
    assert sink == ["x-word"]


def test_predicates_see_data_and_are_not_called_past_the_first_hit(sink):
    calls = []

    def check(tag, verdict):
        def predicate(data):
            calls.append((tag, data.input, data.get_state("k")))
            return verdict
        predicate.__name__ = tag
        return predicate

    flow = TriggerFlow()
    flow.to(lambda d: d.set_state("k", "v") or d.input, name="first").match() \
        .case(check("no", False)).to(lambda d: "no", name="on_no") \
        .case(check("yes", True)).to(lambda d: "yes", name="on_yes") \
        .case(check("later", True)).to(lambda d: "later", name="on_later") \
        .end_match().to(lambda d: sink.append(d.input), name="after")
    flow.start(1)
    assert (calls, sink) == ([("no", 1, "v"), ("yes", 1, "v")], ["yes"])


def test_a_predicate_that_raises_fails_the_run_naming_the_match_and_case():
    def broken(data):
        raise KeyError("nope")

    flow = TriggerFlow()
    flow.match(name="router").case(broken).to(lambda d: 1, name="one").end_match()
    with pytest.raises(ChunkError) as info:
        flow.start(1)
    assert str(info.value) == "chunk 'router (case broken)' raised KeyError: 'nope'"


def test_case_name_labels_a_predicate_and_is_refused_for_a_value():
    flow = TriggerFlow()
    chain = flow.match(name="m").case(lambda d: True, name="always")
    assert [arm.label for arm in flow.flow_graph.nodes["m"].branches] == ["case always"]
    with pytest.raises(InvalidArgumentError) as info:
        chain.to(lambda d: d, name="x").case(3, name="three")
    assert str(info.value) == ".case(3, name=...): name= labels predicate cases only"


# -- hit_all -----------------------------------------------------------------------------------------

def thresholds(sink, **case_else):
    flow = TriggerFlow(name="thresholds")
    chain = (
        flow.to(lambda d: d.input, name="first")
        .match(mode="hit_all")
        .case(lambda d: d.input > 1).to(lambda d: f"{d.input}>1", name="gt1")
        .case(5).to(lambda d: "is five", name="five")
        .case(lambda d: d.input > 2).to(lambda d: f"{d.input}>2", name="gt2")
        .case(lambda d: d.input > 9).to(lambda d: f"{d.input}>9", name="gt9")
    )
    if case_else:
        chain = chain.case_else().to(lambda d: f"none for {d.input}", name="none")
    chain.end_match().to(lambda d: sink.append(d.input), name="after")
    return flow


@pytest.mark.parametrize("value, expected", [
    (5, ["5>1", "is five", "5>2"]), (3, ["3>1", "3>2"]), (2, ["2>1"]), (10, ["10>1", "10>2", "10>9"]),
])
def test_hit_all_runs_every_matching_case_and_hands_on_their_results_in_case_order(sink, value, expected):
    thresholds(sink).start(value)
    assert sink == [expected]


def test_hit_all_consults_every_predicate_case_not_only_the_last(sink):
    # 5 > 9 is false: a closure that saw only the last predicate would run nothing here.
    thresholds(sink).start(5)
    assert sink == [["5>1", "is five", "5>2"]]


def test_hit_all_without_a_match_runs_case_else_and_passes_its_result_bare(sink):
    thresholds(sink, case_else=True).start(0)
    thresholds(sink).start(0)
    assert sink == ["none for 0", 0]


def test_hit_all_with_a_match_skips_case_else(sink):
    thresholds(sink, case_else=True).start(3)
    assert sink == [["3>1", "3>2"]]


def test_hit_all_runs_the_matching_cases_concurrently_and_keeps_case_order(overlap, sink):
    async def slow(data):
        await overlap.hold("slow", 0.03)
        return "slow"

    async def fast(data):
        await overlap.hold("fast", 0.005)
        return "fast"

    flow = TriggerFlow()
    flow.match(mode="hit_all").case(lambda d: True).to(slow).case(lambda d: True).to(fast) \
        .end_match().to(lambda d: sink.append(d.input), name="after")
    flow.start(None)
    assert sink == [["slow", "fast"]]
    assert overlap.max_active == 2
    assert overlap.log == [("enter", "slow"), ("enter", "fast"), ("exit", "fast"), ("exit", "slow")]


def test_hit_all_under_execution_concurrency_one_runs_cases_one_at_a_time_in_case_order(overlap, sink):
    def case(tag, seconds):
        async def run(data):
            await overlap.hold(tag, seconds)
            return tag
        run.__name__ = f"run_{tag}"
        return run

    flow = TriggerFlow()
    flow.match(mode="hit_all").case(lambda d: True).to(case("a", 0.02)).case(lambda d: False).to(case("b", 0)) \
        .case(lambda d: True).to(case("c", 0.001)).end_match().to(lambda d: sink.append(d.input), name="after")
    ex = flow.create_execution(concurrency=1, auto_close=False)
    ex.start(None)
    ex.close()
    assert sink == [["a", "c"]]
    assert overlap.max_active == 1
    assert overlap.log == [("enter", "a"), ("exit", "a"), ("enter", "c"), ("exit", "c")]


def test_an_empty_hit_all_case_passes_the_input_into_its_slot(sink):
    flow = TriggerFlow()
    flow.match(mode="hit_all").case(lambda d: True).case(lambda d: True).to(lambda d: d.input * 2, name="dbl") \
        .end_match().to(lambda d: sink.append(d.input), name="after")
    flow.start(21)
    assert sink == [[21, 42]]


def test_hit_all_nested_in_for_each_gives_each_item_its_own_list(sink):
    flow = TriggerFlow()
    flow.for_each(concurrency=2) \
        .match(mode="hit_all").case(lambda d: d.input % 2 == 0).to(lambda d: "even", name="even") \
        .case(lambda d: d.input % 3 == 0).to(lambda d: "three", name="three").end_match() \
        .end_for_each().to(lambda d: sink.append(d.input), name="after")
    flow.start([1, 2, 3, 6])
    assert sink == [[1, ["even"], ["three"], ["even", "three"]]]


def test_hit_all_inside_a_sub_flow():
    child = TriggerFlow(name="child")
    child.match(mode="hit_all").case(lambda d: d.input > 0).to(lambda d: "pos", name="pos") \
        .case(lambda d: d.input > 1).to(lambda d: "big", name="big").end_match() \
        .to(lambda d: d.set_state("hits", d.input), name="keep")
    flow = TriggerFlow(name="parent")
    flow.to_sub_flow(child, write_back={"state.hits": "snapshot.hits"})
    assert flow.start(2) == {"hits": ["pos", "big"]}


@settings(max_examples=60, deadline=None)
@given(value=st.integers(-5, 20), bounds=st.lists(st.integers(-5, 20), min_size=1, max_size=5))
def test_hit_all_results_are_exactly_the_true_predicates_in_order(value, bounds):
    seen = []
    flow = TriggerFlow()
    chain = flow.match(mode="hit_all")
    for index, bound in enumerate(bounds):
        chain = chain.case(lambda d, b=bound: d.input >= b, name=f"ge{index}") \
            .to(lambda d, i=index: i, name=f"arm{index}")
    chain.end_match().to(lambda d: seen.append(d.input), name="after")
    flow.start(value)
    expected = [i for i, bound in enumerate(bounds) if value >= bound]
    assert seen == [expected if expected else value]


def test_match_mode_is_checked():
    with pytest.raises(InvalidArgumentError) as info:
        TriggerFlow().match(mode="all")
    assert str(info.value) == "match(mode=...) must be one of ('hit_first', 'hit_all'), got 'all'"


def test_an_unclosed_hit_all_match_says_to_add_end_match():
    flow = TriggerFlow(name="open")
    flow.to(lambda d: d, name="first").match(mode="hit_all", name="m").case(1).to(lambda d: d, name="one")
    with pytest.raises(FlowDefinitionError) as info:
        flow.start(1)
    assert str(info.value) == (
        "flow 'open' has unclosed blocks: 'm' (a hit_all match: add .end_match() after its last step; what follows "
        "gets the list of the matching cases' results)"
    )
