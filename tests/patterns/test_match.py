"""match / case / case_else / end_match: a switch on data.input."""

import pytest

from triggerflow_nb import TriggerFlow


def router(sink):
    flow = TriggerFlow(name="router")
    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case("add").to(lambda d: "adding", name="on_add")
        .case("remove").to(lambda d: "removing", name="on_remove")
        .case_else().to(lambda d: f"unknown {d.input!r}", name="on_other")
        .end_match()
        .to(lambda d: sink.append(d.input), name="after")
    )
    return flow


@pytest.mark.parametrize("value, expected", [("add", "adding"), ("remove", "removing"), ("list", "unknown 'list'"),
                                             (None, "unknown None")])
def test_the_matching_case_runs_and_its_value_flows_on(sink, value, expected):
    router(sink).start(value)
    assert sink == [expected]


@pytest.mark.parametrize("value", ["c", 3, None, ["a"]])
def test_no_match_and_no_case_else_passes_the_input_unchanged(sink, value):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case("a").to(lambda d: "A", name="on_a")
        .case("b").to(lambda d: "B", name="on_b")
        .end_match()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(value)
    assert sink == [value]


def test_cases_compare_with_equality_on_any_value(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case(1).to(lambda d: "one", name="on_one")
        .case("1").to(lambda d: "string one", name="on_str_one")
        .case((1, 2)).to(lambda d: "pair", name="on_pair")
        .case({"k": 1}).to(lambda d: "dict", name="on_dict")
        .case(None).to(lambda d: "none", name="on_none")
        .end_match()
        .to(lambda d: sink.append(d.input), name="after")
    )
    for value in (1, "1", (1, 2), {"k": 1}, None, 2):
        flow.start(value)
    assert sink == ["one", "string one", "pair", "dict", "none", 2]


def test_the_first_matching_case_wins(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case("x").to(lambda d: "first x", name="first_x")
        .case("x").to(lambda d: "second x", name="second_x")
        .end_match()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start("x")
    assert sink == ["first x"]


def test_multi_step_and_empty_case_arms(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case(2).to(lambda d: d.input * 10, name="x10").to(lambda d: d.input + 1, name="plus1")
        .case(3)  # empty arm: passes the input through
        .case_else().to(lambda d: -d.input, name="negate")
        .end_match()
        .to(lambda d: sink.append(d.input), name="after")
    )
    for value in (2, 3, 4):
        flow.start(value)
    assert sink == [21, 3, -4]


def test_match_with_no_cases_passes_through(sink):
    flow = TriggerFlow()
    flow.to(lambda d: d.input, name="first").match().end_match().to(lambda d: sink.append(d.input), name="after")
    flow.start("same")
    assert sink == ["same"]


def test_match_inside_an_if_arm_and_if_inside_a_case(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .if_condition(lambda d: isinstance(d.input, str), name="is_str")
        .match()
        .case("hi").to(lambda d: "greeting", name="greeting")
        .case_else()
        .if_condition(lambda d: len(d.input) > 3, name="is_long").to(lambda d: "long word", name="long_word")
        .else_condition().to(lambda d: "short word", name="short_word")
        .end_condition()
        .end_match()
        .else_condition().to(lambda d: "not text", name="not_text")
        .end_condition()
        .to(lambda d: sink.append(d.input), name="after")
    )
    for value in ("hi", "hello", "yo", 7):
        flow.start(value)
    assert sink == ["greeting", "long word", "short word", "not text"]


def test_match_inside_a_for_each_body(sink):
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .for_each()
        .match()
        .case("a").to(lambda d: 1, name="one")
        .case("b").to(lambda d: 2, name="two")
        .end_match()
        .end_for_each()
        .to(lambda d: sink.append(d.input), name="after")
    )
    flow.start(["a", "b", "c", "a"])
    assert sink == [[1, 2, "c", 1]]


def test_match_on_the_start_input_directly():
    flow = TriggerFlow()
    (
        flow.to(lambda d: d.input, name="first")
        .match()
        .case("go").to(lambda d: d.set_state("went", True), name="go")
        .end_match()
    )
    assert flow.start("go") == {"went": True}
    assert flow.start("stay") == {}
